"""`syncd policy`, and its aliases `iam-policy` and `vault-policy`: the least privilege each part needs. No network
call."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from syncd.cli.invocation import Invocation, allow_configuration, load, setup_logging
from syncd.cli.options import ConfigOpt, LogFormat, LogFormatOpt, LogLevel, LogLevelOpt
from syncd.cli.output import print_json, print_text
from syncd.errors import ConfigError

PolicyTargetOpt = Annotated[
    str | None,
    typer.Option("--target", help="Print only this target's policy, ready to load.", show_default=False),
]
PolicySourceOpt = Annotated[bool, typer.Option("--source", help="Print only the source's policy.")]


def _policies(config: Path | None, target: str | None, source_only: bool, kind: str | None) -> dict[str, Any]:
    from syncd.policy import access_policies

    if target and source_only:
        raise ConfigError("--target and --source each select one policy; give one of them")
    manifest = load(config)

    # Lenient: credentials the policies do not need may be unreadable here (an operator's laptop). No call is made.
    def open_source() -> Any:
        client = Invocation.clients.get("source")
        return allow_configuration(manifest.open_source(Invocation.env, client=client, lenient=True))

    def open_sink(name: str) -> Any:
        client = Invocation.clients.get(name)
        return allow_configuration(manifest.open_sink(name, Invocation.env, client=client, lenient=True))

    return access_policies(
        manifest,
        open_source,
        open_sink,
        targets=[target] if target else [] if source_only else None,
        include_source=not target,
        kind=kind,
    )


def policy(
    config: ConfigOpt = None,
    target: PolicyTargetOpt = None,
    source_only: PolicySourceOpt = False,
    log_format: LogFormatOpt = LogFormat.console,
    log_level: LogLevelOpt = LogLevel.warning,
) -> None:
    """Print the least privilege each part needs, in its own access system's language (IAM JSON, Vault HCL,
    Kubernetes RBAC YAML, the GitLab token's scope and roles).
    No network call. With --target or --source, only that policy, ready to load."""
    from syncd.policy import kind_name

    setup_logging(log_level, log_format)
    policies = _policies(config, target, source_only, None)
    if target or source_only:
        _print_policy(next(iter(policies.values())))
        return
    for index, (part, answer) in enumerate(policies.items()):
        title = "source" if part == "source" else f"target {part!r}"
        print_text(("\n" if index else "") + f"# {title}: {kind_name(answer.kind)} policy\n")
        _print_policy(answer)


def _print_policy(answer: Any) -> None:
    """One policy as its system reads it: JSON redacted value by value (never its text), anything else as text."""
    import json

    if answer.kind == "iam":
        print_json(json.loads(answer.text))
    else:
        print_text(answer.text if answer.text.endswith("\n") else answer.text + "\n")


def iam_policy(
    config: ConfigOpt = None,
    target: PolicyTargetOpt = None,
    source_only: PolicySourceOpt = False,
    log_format: LogFormatOpt = LogFormat.console,
    log_level: LogLevelOpt = LogLevel.warning,
) -> None:
    """Print the least-privilege IAM policy each AWS target (and an AWS source) needs, as JSON ('syncd policy'
    for every kind). No network call."""
    import json

    setup_logging(log_level, log_format)
    policies = {part: json.loads(answer.text) for part, answer in _policies(config, target, source_only, "iam").items()}
    if source_only or target:
        print_json(next(iter(policies.values())))
        return
    document: dict[str, Any] = {"source": policies.pop("source")} if "source" in policies else {}
    if policies:
        document["targets"] = policies
    print_json(document)


def vault_policy(
    config: ConfigOpt = None,
    target: PolicyTargetOpt = None,
    source_only: PolicySourceOpt = False,
    log_format: LogFormatOpt = LogFormat.console,
    log_level: LogLevelOpt = LogLevel.warning,
) -> None:
    """Print the least-privilege Vault policy (HCL) of a Vault source and each Vault target ('syncd policy' for
    every kind). No network call."""
    setup_logging(log_level, log_format)
    policies = _policies(config, target, source_only, "vault")
    print_text("\n".join(answer.text for answer in policies.values()))
