"""The small commands: `syncd validate` (the manifest, no network call), `syncd schema` (its JSON Schema) and
`syncd version`."""

from __future__ import annotations

from syncd import __version__
from syncd.cli.invocation import Invocation, load, setup_logging
from syncd.cli.options import ConfigOpt, LogFormat, LogFormatOpt, LogLevel, LogLevelOpt
from syncd.cli.output import print_text
from syncd.planfile import dumps


def validate(
    config: ConfigOpt = None,
    log_format: LogFormatOpt = LogFormat.console,
    log_level: LogLevelOpt = LogLevel.warning,
) -> None:
    """Check the manifest: schema, connectors' options, names. Makes no network call."""
    setup_logging(log_level, log_format)
    manifest = load(config)
    syncs = len(manifest.syncs)
    targets = len(manifest.spec.targets)
    print_text(f"{manifest.path}: valid ({syncs} sync{'s' * (syncs != 1)}, {targets} target{'s' * (targets != 1)}).\n")


def json_schema() -> None:
    """Print the manifest's JSON Schema (every installed connector's options included), for editors."""
    from syncd.registry import default_registry
    from syncd.schema import manifest_json_schema

    print_text(dumps(manifest_json_schema(Invocation.registry or default_registry())))


def version() -> None:
    """Print syncd's version."""
    print_text(f"syncd {__version__}\n")
