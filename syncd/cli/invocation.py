"""What one invocation was handed from outside, and the set-up its commands share: logging, the manifest, the
selection, the run service with its connectors. Names the commands print on purpose are allowed here, before
anything is printed (see Redactor.allow)."""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from syncd.cli.options import LogFormat, LogLevel
from syncd.secret import REDACTOR

if TYPE_CHECKING:
    from syncd.connector import Sink, Source
    from syncd.engine import Selection
    from syncd.manifest import Manifest
    from syncd.registry import Registry
    from syncd.run import Runner
    from syncd.settings import Settings


class Invocation:
    """What one invocation was handed from outside: the registry, any ready-made SDK clients, the settings."""

    registry: Registry | None = None
    clients: Mapping[str, Any] = {}
    env: Mapping[str, str] | None = None
    settings: Settings | None = None
    argv: Sequence[str] = ()
    # Set once logging is set up; errors before that (usage errors) look at argv.
    log_format: LogFormat | None = None
    # The id every log line of this invocation carries (set with logging), also stamped on its audit records.
    run_id: str = ""


def setup_logging(level: LogLevel, fmt: LogFormat) -> None:
    import structlog

    from syncd import logs

    logs.configure(level.value, fmt.value)
    Invocation.log_format = fmt
    # Every log line of one invocation carries the same id, to follow a run through the logs; from every
    # thread, so it is the run's context, not a context variable.
    structlog.contextvars.clear_contextvars()
    Invocation.run_id = uuid.uuid4().hex[:12]
    logs.start_run(run_id=Invocation.run_id)


def config_path(config: Path | None) -> Path:
    if config is not None:
        return config
    return Path(os.environ.get("SYNCD_CONFIG") or "syncd.yaml")


def load(config: Path | None) -> Manifest:
    from syncd.manifest import allow_manifest_names, load_manifest
    from syncd.registry import default_registry

    manifest = load_manifest(config_path(config), Invocation.registry or default_registry())
    allow_manifest_names(manifest)
    return manifest


def selection_of(syncs: list[str] | None, targets: list[str] | None) -> Selection:
    from syncd.engine import Selection

    return Selection(frozenset(syncs) if syncs else None, frozenset(targets) if targets else None)


@contextlib.contextmanager
def open_runner(manifest: Manifest, selection: Selection) -> Iterator[tuple[Runner, Source, dict[str, Sink]]]:
    """The run service for this invocation, with the run's source and sinks; every connection is closed after,
    since a command line process runs once."""
    from syncd.run import Connections, Runner
    from syncd.settings import DEFAULT_SETTINGS

    connections = Connections(Invocation.env, Invocation.clients)
    runner = Runner(manifest, connections, Invocation.settings or DEFAULT_SETTINGS)
    try:
        # Every unset variable and invalid option of the source and the targets, reported together.
        with runner.connectors(selection) as (source, sinks):
            for connector in (source, *sinks.values()):
                allow_configuration(connector)
            yield runner, source, sinks
    finally:
        connections.close()


def allow_configuration(connector: Source | Sink) -> Source | Sink:
    """A connector's options that are configuration, not credentials (a region, a path, an address), as resolved:
    messages print them, and a value equal to one must not hide them (see Redactor.allow)."""
    from pydantic import BaseModel

    from syncd.connector import Sink
    from syncd.secret_options import is_secret_option

    options = getattr(connector, "options", None)
    if not isinstance(options, BaseModel):
        return connector
    pending: list[tuple[tuple[str | int, ...], Any]] = [((), options.model_dump())]
    while pending:
        path, value = pending.pop()
        if isinstance(value, str) and not is_secret_option(type(options), path):
            REDACTOR.allow([value])
        elif isinstance(value, dict):
            pending += [((*path, key), item) for key, item in value.items()]
        elif isinstance(value, list | tuple):
            pending += [((*path, index), item) for index, item in enumerate(value)]
    if isinstance(connector, Sink):
        REDACTOR.allow([connector.describe()])
    return connector
