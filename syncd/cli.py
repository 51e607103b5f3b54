"""The command line: validate, plan, apply, policy (iam-policy, vault-policy), schema, version.

Exit codes: 0 success (in sync), 1 error, 2 drift found (plan with
--detailed-exitcode). Usage errors exit 1 too, so 2 always means drift.

Start-up time: a command imports what it uses. The modules that pull in
the pydantic models, structlog, rich, YAML or a connector (manifest, engine,
apply, policy, logs, the progress bar) are imported inside the functions
that need them, so `syncd version` loads none of them (bench/startup.py).
"""

from __future__ import annotations

import contextlib
import enum
import os
import sys
import uuid
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from syncd import __version__
from syncd.errors import ConfigError, SyncdError
from syncd.planfile import check_stale, dumps, load_saved, plan_to_dict, results_to_dict, saved_manifest_path
from syncd.report import render_markdown, render_results, render_table, summary_line
from syncd.secret import REDACTOR

if TYPE_CHECKING:
    from syncd.connector import Sink, Source
    from syncd.engine import Selection
    from syncd.manifest import Manifest
    from syncd.model import ChangeResult, Plan
    from syncd.registry import Registry
    from syncd.run import Runner
    from syncd.settings import Settings

EXIT_OK, EXIT_ERROR, EXIT_DRIFT = 0, 1, 2


class Format(enum.StrEnum):
    table = "table"
    json = "json"
    markdown = "markdown"


class LogFormat(enum.StrEnum):
    console = "console"
    json = "json"


class LogLevel(enum.StrEnum):
    debug = "debug"
    info = "info"
    warning = "warning"
    error = "error"


ConfigOpt = Annotated[
    Path | None,
    typer.Option(
        "--config", "-c", help="Manifest file. Default: $SYNCD_CONFIG, then ./syncd.yaml.", show_default=False
    ),
]
SyncOpt = Annotated[list[str] | None, typer.Option("--sync", help="Only this sync (repeatable).", show_default=False)]
TargetOpt = Annotated[
    list[str] | None, typer.Option("--target", help="Only this target (repeatable).", show_default=False)
]
LogFormatOpt = Annotated[
    LogFormat, typer.Option("--log-format", envvar="SYNCD_LOG_FORMAT", help="Log lines on stderr.")
]
LogLevelOpt = Annotated[
    LogLevel, typer.Option("--log-level", envvar="SYNCD_LOG_LEVEL", help="Least severe level logged.")
]
MassDeleteOpt = Annotated[
    bool,
    typer.Option("--allow-mass-delete", help="Let a target's deletes exceed the delete guard's limits."),
]

app = typer.Typer(
    name="syncd",
    help="Keep secrets in many places equal to one source of truth: validate, plan, apply.",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


class _Run:
    """What one invocation was handed from outside: the registry, any ready-made SDK clients, the settings."""

    registry: Registry | None = None
    clients: Mapping[str, Any] = {}
    env: Mapping[str, str] | None = None
    settings: Settings | None = None
    argv: Sequence[str] = ()
    # Set once logging is set up; errors before that (usage errors) look at argv.
    log_format: LogFormat | None = None


def _config_path(config: Path | None) -> Path:
    if config is not None:
        return config
    return Path(os.environ.get("SYNCD_CONFIG") or "syncd.yaml")


def _load(config: Path | None) -> Manifest:
    from syncd.manifest import load_manifest
    from syncd.registry import default_registry

    manifest = load_manifest(_config_path(config), _Run.registry or default_registry())
    # Names every command may print, allowed before anything is logged or written (see Redactor.allow).
    REDACTOR.allow([manifest.instance, str(manifest.path), *manifest.spec.targets, *(s.name for s in manifest.syncs)])
    REDACTOR.allow(sync.spec.from_ for sync in manifest.syncs)
    return manifest


def _selection(syncs: list[str] | None, targets: list[str] | None) -> Selection:
    from syncd.engine import Selection

    return Selection(frozenset(syncs) if syncs else None, frozenset(targets) if targets else None)


@contextlib.contextmanager
def _runner(manifest: Manifest, selection: Selection) -> Iterator[tuple[Runner, Source, dict[str, Sink]]]:
    """The run service for this invocation, with the run's source and sinks; every connection is closed after,
    since a command line process runs once."""
    from syncd.run import Connections, Runner
    from syncd.settings import DEFAULT_SETTINGS

    connections = Connections(_Run.env, _Run.clients)
    runner = Runner(manifest, connections, _Run.settings or DEFAULT_SETTINGS)
    try:
        # Every unset variable and invalid option of the source and the targets, reported together.
        with runner.connectors(selection) as (source, sinks):
            for connector in (source, *sinks.values()):
                _allow_configuration(connector)
            yield runner, source, sinks
    finally:
        connections.close()


def _printable(text: str) -> str:
    """`text` with what UTF-8 cannot encode (a lone surrogate in a name a source gave) as a backslash escape, so
    the output stays valid UTF-8 whatever the terminal's error handler."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _out(text: str) -> None:
    """Free text on stdout; the redactor replaces only whole tokens, so words and names are never cut."""
    sys.stdout.write(_printable(REDACTOR.redact(text)))
    sys.stdout.flush()


def _out_json(data: Any) -> None:
    """A JSON document on stdout, redacted on its string values before it is serialised: never the JSON text."""
    sys.stdout.write(dumps(REDACTOR.redact_tree(data)))
    sys.stdout.flush()


def _log_error(event: str, **fields: Any) -> None:
    """One error-level event through syncd's logging: a JSON line with the run's run_id under --log-format json."""
    import structlog  # here, so that a command that logs nothing never loads it

    structlog.get_logger("syncd").error(event, **fields)


def _color() -> bool:
    return sys.stdout.isatty() and "NO_COLOR" not in os.environ


def _allow_configuration(connector: Source | Sink) -> Source | Sink:
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


def _allow_names(plan: Plan, manifest: Manifest) -> None:
    """The names a report prints on purpose are never taken for values (see Redactor.allow)."""
    names: list[str | None] = [manifest.instance, str(manifest.path), *manifest.spec.targets]
    names += [sync.name for sync in manifest.syncs]
    names += plan.source_versions
    for change in plan.changes:
        names += [change.address, change.sync]
        for item in (change.desired, change.actual):
            names += getattr(item, "data", None) or ()
    names += [problem.address for problem in plan.problems]
    REDACTOR.allow(names)


def _show_plan(plan: Plan, fmt: Format, manifest: Manifest, *, printed: bool = True) -> None:
    """Print the plan (unless apply prints only its results); with JSON logs, log one `problem` event per
    problem too. Console logs leave problems to the report, which a person reads. The caller has allowed the
    plan's names (`_allow_names`)."""
    for problem in plan.problems if _Run.log_format is LogFormat.json else ():
        _log_error(
            "problem", target=problem.target, sync=problem.sync, address=problem.address, message=problem.message
        )
    if not printed:
        return
    if fmt is Format.json:
        _out_json(plan_to_dict(plan, str(manifest.path)))
    elif fmt is Format.markdown:
        _out(render_markdown(plan))
    else:
        _out(render_table(plan, color=_color()))


def _setup_logging(level: LogLevel, fmt: LogFormat) -> None:
    import structlog

    from syncd import logs

    logs.configure(level.value, fmt.value)
    _Run.log_format = fmt
    # Every log line of one invocation carries the same id, to follow a run through the logs; from every
    # thread, so it is the run's context, not a context variable.
    structlog.contextvars.clear_contextvars()
    logs.start_run(run_id=uuid.uuid4().hex[:12])


@app.command()
def validate(
    config: ConfigOpt = None,
    log_format: LogFormatOpt = LogFormat.console,
    log_level: LogLevelOpt = LogLevel.warning,
) -> None:
    """Check the manifest: schema, connectors' options, names. Makes no network call."""
    _setup_logging(log_level, log_format)
    manifest = _load(config)
    syncs = len(manifest.syncs)
    targets = len(manifest.spec.targets)
    _out(f"{manifest.path}: valid ({syncs} sync{'s' * (syncs != 1)}, {targets} target{'s' * (targets != 1)}).\n")


@app.command()
def plan(
    config: ConfigOpt = None,
    sync: SyncOpt = None,
    target: TargetOpt = None,
    fmt: Annotated[Format, typer.Option("--format", "-f", help="How to print the plan.")] = Format.table,
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Save the plan (JSON, no values) for 'syncd apply FILE'.")
    ] = None,
    detailed_exitcode: Annotated[
        bool, typer.Option("--detailed-exitcode", help="Exit 0 when in sync, 2 when there is drift, 1 on error.")
    ] = False,
    allow_mass_delete: MassDeleteOpt = False,
    log_format: LogFormatOpt = LogFormat.console,
    log_level: LogLevelOpt = LogLevel.warning,
) -> None:
    """Show what apply would change. Reads everything, writes nothing."""
    _setup_logging(log_level, log_format)
    manifest = _load(config)
    selection = _selection(sync, target)
    with _runner(manifest, selection) as (runner, source, sinks):
        result = runner.plan(source, sinks, selection, allow_mass_delete=allow_mass_delete)
    _allow_names(result, manifest)
    if out is not None:
        _write_plan_file(out, result, manifest)
    _show_plan(result, fmt, manifest)
    if result.problems:
        raise typer.Exit(EXIT_ERROR)
    if detailed_exitcode and result.has_drift:
        raise typer.Exit(EXIT_DRIFT)


def _write_plan_file(out: Path, result: Plan, manifest: Manifest) -> None:
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(dumps(REDACTOR.redact_tree(plan_to_dict(result, str(manifest.path)))), encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot write the plan to {str(out)!r}: {exc.strerror}") from None


@contextlib.contextmanager
def _progress(total: int) -> Iterator[Any]:
    if not sys.stderr.isatty() or total < 2:
        yield lambda result: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    console = Console(file=sys.stderr)
    columns = (TextColumn("applying"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task("apply", total=total)
        yield lambda result: progress.advance(task)


def _confirm(plan_result: Plan) -> None:
    if not sys.stdin.isatty():
        raise ConfigError("apply needs --yes when it is not run from a terminal (or apply a saved plan file)")
    answer = typer.prompt(
        f"Apply {summary_line(plan_result)[:-1]}? Only 'yes' applies", default="", show_default=False, err=True
    )
    if answer.strip() != "yes":
        _out("Apply cancelled; nothing was changed.\n")
        raise typer.Exit(EXIT_ERROR)


@app.command()
def apply(
    plan_file: Annotated[
        Path | None, typer.Argument(help="A plan saved by 'syncd plan -o FILE'; refused if the world moved since.")
    ] = None,
    config: ConfigOpt = None,
    sync: SyncOpt = None,
    target: TargetOpt = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Apply without asking.")] = False,
    allow_mass_delete: MassDeleteOpt = False,
    fmt: Annotated[Format, typer.Option("--format", "-f", help="How to print plan and results.")] = Format.table,
    log_format: LogFormatOpt = LogFormat.console,
    log_level: LogLevelOpt = LogLevel.warning,
) -> None:
    """Compute the plan and carry it out (asks first on a terminal; elsewhere needs --yes)."""
    from syncd.engine import Selection

    _setup_logging(log_level, log_format)
    saved = load_saved(plan_file) if plan_file else None
    if saved is not None:
        if sync or target:
            raise ConfigError("--sync and --target cannot be combined with a saved plan: the plan holds its selection")
        # Without -c, the manifest the plan was made from (a relative path is taken from the current directory).
        if config is None and (config := saved_manifest_path(saved)) is not None and not config.exists():
            raise ConfigError(
                f"the saved plan {str(plan_file)!r} was made from manifest {str(config)!r}, which does not exist "
                "here (a relative path is taken from the current directory); give the manifest with -c"
            )
        manifest = _load(config)
        selection = Selection.of_saved_plan(saved, manifest)
    else:
        manifest = _load(config)
        selection = _selection(sync, target)
    with _runner(manifest, selection) as (runner, source, sinks):
        fresh = runner.plan(source, sinks, selection, allow_mass_delete=allow_mass_delete)
        _allow_names(fresh, manifest)
        if saved is not None:
            check_stale(saved, fresh)
        _show_plan(fresh, fmt, manifest, printed=fmt is not Format.json)
        if not fresh.has_drift:
            if fmt is Format.json:
                _out_json(results_to_dict(fresh, [], str(manifest.path)))
            raise typer.Exit(EXIT_ERROR if fresh.problems else EXIT_OK)
        if saved is None and not yes:
            _confirm(fresh)
        with _progress(len(fresh.drift)) as advance:
            results = runner.apply(fresh, sinks, progress=advance)
    _show_results(fresh, results, fmt, manifest)
    if fresh.problems or not all(r.ok for r in results):
        raise typer.Exit(EXIT_ERROR)


def _show_results(fresh: Plan, results: Sequence[ChangeResult], fmt: Format, manifest: Manifest) -> None:
    if fmt is Format.json:
        _out_json(results_to_dict(fresh, results, str(manifest.path)))
    else:
        _out(render_results(results, color=_color()))


PolicyTargetOpt = Annotated[
    str | None,
    typer.Option("--target", help="Print only this target's policy, ready to load.", show_default=False),
]
PolicySourceOpt = Annotated[bool, typer.Option("--source", help="Print only the source's policy.")]


def _policies(config: Path | None, target: str | None, source_only: bool, kind: str | None) -> dict[str, Any]:
    from syncd.policy import access_policies

    if target and source_only:
        raise ConfigError("--target and --source each select one policy; give one of them")
    manifest = _load(config)

    # Lenient: credentials the policies do not need may be unreadable here (an operator's laptop). No call is made.
    def open_source() -> Any:
        return _allow_configuration(manifest.open_source(_Run.env, client=_Run.clients.get("source"), lenient=True))

    def open_sink(name: str) -> Any:
        return _allow_configuration(manifest.open_sink(name, _Run.env, client=_Run.clients.get(name), lenient=True))

    return access_policies(
        manifest,
        open_source,
        open_sink,
        targets=[target] if target else [] if source_only else None,
        include_source=not target,
        kind=kind,
    )


@app.command("policy")
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

    _setup_logging(log_level, log_format)
    policies = _policies(config, target, source_only, None)
    if target or source_only:
        _out_policy(next(iter(policies.values())))
        return
    for index, (part, answer) in enumerate(policies.items()):
        title = "source" if part == "source" else f"target {part!r}"
        _out(("\n" if index else "") + f"# {title}: {kind_name(answer.kind)} policy\n")
        _out_policy(answer)


def _out_policy(answer: Any) -> None:
    """One policy as its system reads it: JSON redacted value by value (never its text), anything else as text."""
    import json

    if answer.kind == "iam":
        _out_json(json.loads(answer.text))
    else:
        _out(answer.text if answer.text.endswith("\n") else answer.text + "\n")


@app.command("iam-policy")
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

    _setup_logging(log_level, log_format)
    policies = {part: json.loads(answer.text) for part, answer in _policies(config, target, source_only, "iam").items()}
    if source_only or target:
        _out_json(next(iter(policies.values())))
        return
    document: dict[str, Any] = {"source": policies.pop("source")} if "source" in policies else {}
    if policies:
        document["targets"] = policies
    _out_json(document)


@app.command("vault-policy")
def vault_policy(
    config: ConfigOpt = None,
    target: PolicyTargetOpt = None,
    source_only: PolicySourceOpt = False,
    log_format: LogFormatOpt = LogFormat.console,
    log_level: LogLevelOpt = LogLevel.warning,
) -> None:
    """Print the least-privilege Vault policy (HCL) of a Vault source and each Vault target ('syncd policy' for
    every kind). No network call."""
    _setup_logging(log_level, log_format)
    policies = _policies(config, target, source_only, "vault")
    _out("\n".join(answer.text for answer in policies.values()))


@app.command("schema")
def json_schema() -> None:
    """Print the manifest's JSON Schema (every installed connector's options included), for editors."""
    from syncd.registry import default_registry
    from syncd.schema import manifest_json_schema

    _out(dumps(manifest_json_schema(_Run.registry or default_registry())))


@app.command()
def version() -> None:
    """Print syncd's version."""
    _out(f"syncd {__version__}\n")


def _json_logs() -> bool:
    """Whether errors go out as JSON log events: --log-format json, or SYNCD_LOG_FORMAT=json."""
    if _Run.log_format is not None:
        return _Run.log_format is LogFormat.json
    argv = list(_Run.argv)
    given = [argv[i + 1] for i, arg in enumerate(argv[:-1]) if arg == "--log-format"]
    given += [arg.partition("=")[2] for arg in argv if arg.startswith("--log-format=")]
    return (given[-1] if given else os.environ.get("SYNCD_LOG_FORMAT")) == LogFormat.json.value


def _error(message: str, issues: Sequence[Any] = ()) -> None:
    """An error on stderr: `error: ...` lines, or with JSON logs one `error` event per line (per manifest issue,
    with its `where` and `field`)."""
    if _json_logs():
        if _Run.log_format is None:
            _setup_logging(LogLevel.error, LogFormat.json)
        if issues:
            for issue in issues:
                where, field = getattr(issue, "where", None), getattr(issue, "field", None) or None
                _log_error("error", message=getattr(issue, "message", str(issue)), where=where, field=field)
        else:
            for line in message.splitlines() or [""]:
                _log_error("error", message=line)
        return
    for line in _printable(REDACTOR.redact(message)).splitlines() or [""]:
        sys.stderr.write(f"error: {line}\n")
    sys.stderr.flush()


def main(
    argv: Sequence[str] | None = None,
    *,
    registry: Registry | None = None,
    clients: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
    settings: Settings | None = None,
) -> int:
    """Run the command line; returns the exit code. `registry`, `clients`, `env` and `settings` (the run's tuning
    values: retries, readers, the breaker) are for embedding and tests."""
    _Run.registry, _Run.clients, _Run.env, _Run.settings = registry, clients or {}, env, settings
    _Run.argv, _Run.log_format = list(argv) if argv is not None else sys.argv[1:], None
    command = typer.main.get_command(app)
    try:
        result = command.main(args=list(argv) if argv is not None else None, prog_name="syncd", standalone_mode=False)
    except typer.Exit as exc:
        return exc.exit_code
    except typer.Abort:
        _error("aborted; nothing more is changed")
        return 130
    except SyncdError as exc:
        _error(str(exc), getattr(exc, "issues", ()))
        return EXIT_ERROR
    except Exception as exc:
        # Typer may bring its own copy of click, so its usage errors are recognised by name.
        names = {cls.__name__ for cls in type(exc).__mro__}
        if "ClickException" not in names:
            raise
        if "NoArgsIsHelpError" in names:
            _out(exc.format_message() + "\n")  # type: ignore[attr-defined]
            return EXIT_OK
        ctx = getattr(exc, "ctx", None)
        hint = f" (see '{ctx.command_path} --help')" if ctx is not None else ""
        _error(exc.format_message() + hint)  # type: ignore[attr-defined]
        return EXIT_ERROR
    return result if isinstance(result, int) else EXIT_OK


def entry() -> None:
    sys.exit(main())
