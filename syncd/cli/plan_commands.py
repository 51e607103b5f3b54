"""`syncd plan` and `syncd apply`: the plan shown, saved and carried out; the apply prompt and the progress bar."""

from __future__ import annotations

import contextlib
import functools
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, ParamSpec, TypeVar

import typer

from syncd.cli.invocation import Invocation, load, open_runner, selection_of, setup_logging
from syncd.cli.options import (
    EXIT_DRIFT,
    EXIT_ERROR,
    EXIT_OK,
    ConfigOpt,
    Format,
    LockWaitOpt,
    LogFormat,
    LogFormatOpt,
    LogLevel,
    LogLevelOpt,
    MassDeleteOpt,
    StateDirOpt,
    SyncOpt,
    TargetOpt,
    lock_wait_seconds,
)
from syncd.cli.output import log_error, print_error, print_json, print_text, use_color
from syncd.collector import young_threshold_raised
from syncd.errors import ConfigError
from syncd.planfile import check_stale, load_saved, plan_to_dict, results_to_dict, save, saved_manifest_path
from syncd.report import render_markdown, render_results, render_table, summary_line
from syncd.secret import REDACTOR

if TYPE_CHECKING:
    from syncd.audit import AuditLog
    from syncd.instance_lock import InstanceLock
    from syncd.manifest import Manifest
    from syncd.model import ChangeResult, Plan

P = ParamSpec("P")
R = TypeVar("R")


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
    for problem in plan.problems if Invocation.log_format is LogFormat.json else ():
        log_error("problem", target=problem.target, sync=problem.sync, address=problem.address, message=problem.message)
    if not printed:
        return
    if fmt is Format.json:
        print_json(plan_to_dict(plan, str(manifest.path)))
    elif fmt is Format.markdown:
        print_text(render_markdown(plan))
    else:
        print_text(render_table(plan, color=use_color()))


def _threshold_raised_throughout(command: Callable[P, R]) -> Callable[P, R]:
    """`command` run with the collector's young threshold raised from start to end: a one-shot command keeps most of
    what it makes (the manifest, the plan, its report) to its end (see syncd/collector.py). The daemon raises it only
    for each plan: raised for its whole life, its resident memory grew from tick to tick."""

    @functools.wraps(command)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        with young_threshold_raised():
            return command(*args, **kwargs)

    return run


@_threshold_raised_throughout
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
    setup_logging(log_level, log_format)
    manifest = load(config)
    selection = selection_of(sync, target)
    with open_runner(manifest, selection) as (runner, source, sinks):
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
        save(REDACTOR.redact_tree(plan_to_dict(result, str(manifest.path))), out)
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
        print_text("Apply cancelled; nothing was changed.\n")
        raise typer.Exit(EXIT_ERROR)


@_threshold_raised_throughout
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
    state_dir: StateDirOpt = None,
    lock_wait: LockWaitOpt = "0",
    log_format: LogFormatOpt = LogFormat.console,
    log_level: LogLevelOpt = LogLevel.warning,
) -> None:
    """Compute the plan and carry it out (asks first on a terminal; elsewhere needs --yes). Every change made or
    tried is recorded in the audit log (see 'syncd audit'). Holds the instance's lock from plan to the end, so two
    applies (or an apply and `syncd run`) of one instance never write at once."""
    from syncd.engine import Selection

    setup_logging(log_level, log_format)
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
        manifest = load(config)
        selection = Selection.of_saved_plan(saved, manifest)
    else:
        manifest = load(config)
        selection = selection_of(sync, target)
    audit_log = _checked_audit_log(state_dir)
    with _instance_lock(state_dir, manifest, lock_wait), open_runner(manifest, selection) as (runner, source, sinks):
        fresh = runner.plan(source, sinks, selection, allow_mass_delete=allow_mass_delete)
        _allow_names(fresh, manifest)
        if saved is not None:
            check_stale(saved, fresh)
        _show_plan(fresh, fmt, manifest, printed=fmt is not Format.json)
        if not fresh.has_drift:
            if fmt is Format.json:
                print_json(results_to_dict(fresh, [], str(manifest.path)))
            raise typer.Exit(EXIT_ERROR if fresh.problems else EXIT_OK)
        if saved is None and not yes:
            _confirm(fresh)
        done: list[ChangeResult] = []
        with _progress(len(fresh.drift)) as advance:

            def record(result: ChangeResult) -> None:
                done.append(result)
                advance(result)

            try:
                results = runner.apply(fresh, sinks, progress=record)
            except BaseException:
                # Interrupted: the changes made so far are recorded all the same.
                _audit(audit_log, fresh, done, manifest)
                raise
        # Recorded before the lock goes: the next holder's records come after these.
        audited = _audit(audit_log, fresh, results, manifest)
    _show_results(fresh, results, fmt, manifest)
    if fresh.problems or not all(r.ok for r in results) or not audited:
        raise typer.Exit(EXIT_ERROR)


def _instance_lock(state_dir: Path | None, manifest: Manifest, lock_wait: str) -> InstanceLock:
    """The instance's lock, taken (waiting up to --lock-wait for its holder); released when the block ends."""
    from syncd.instance_lock import InstanceLock
    from syncd.state_dir import default_state_dir

    lock = InstanceLock(state_dir or default_state_dir(), manifest.instance, "syncd apply")
    lock.acquire(lock_wait_seconds(lock_wait))
    return lock


def _checked_audit_log(state_dir: Path | None) -> AuditLog:
    """The audit log apply will append to, checked before anything is applied: a log that cannot be written stops
    apply with nothing changed."""
    from syncd.audit import AuditLog
    from syncd.state_dir import AUDIT_FILE, default_state_dir

    audit_log = AuditLog((state_dir or default_state_dir()) / AUDIT_FILE)
    try:
        audit_log.check()
    except ConfigError as exc:
        raise ConfigError(
            f"{exc}; apply records every change there, so it stopped before changing anything "
            "(give a writable --state-dir, or set SYNCD_STATE_DIR)"
        ) from None
    return audit_log


def _audit(audit_log: AuditLog, fresh: Plan, results: Sequence[ChangeResult], manifest: Manifest) -> bool:
    """The run's records appended to the audit log; False (the error reported) when they could not be written."""
    from syncd.audit import AuditWriteError, audit_records, manifest_reference

    records = audit_records(
        results,
        run_id=Invocation.run_id,
        instance=manifest.instance,
        manifest=manifest_reference(fresh.manifest_digest),
        trigger="cli",
    )
    try:
        audit_log.append(records)
    except AuditWriteError as exc:
        print_error(str(exc))
        return False
    return True


def _show_results(fresh: Plan, results: Sequence[ChangeResult], fmt: Format, manifest: Manifest) -> None:
    if fmt is Format.json:
        print_json(results_to_dict(fresh, results, str(manifest.path)))
    else:
        print_text(render_results(results, color=use_color()))
