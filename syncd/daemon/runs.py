"""What one run of the daemon came to, per sync and target: the outcomes status, metrics and notifications show."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from datetime import datetime

from syncd.daemon.outcome import RunOutcome, RunResult, TargetOutcome, Trigger
from syncd.manifest import Manifest
from syncd.model import Change, ChangeResult, Plan


def outcomes_of(
    manifest: Manifest,
    syncs: Sequence[str],
    plan: Plan | None,
    results: Sequence[ChangeResult],
    *,
    run_id: str,
    trigger: Trigger,
    started_at: datetime,
    finished_at: datetime,
    dry_run: bool,
    manifest_commit: str | None,
    error: str | None = None,
) -> list[RunOutcome]:
    """Each of `syncs`' share of one run: its targets' drift, applied and failed changes and problems. A run that
    could not plan (`error`) is an error for every sync it was for."""
    outcomes = []
    by_name = {sync.name: sync for sync in manifest.syncs}
    # Grouped once: a full run of many syncs would otherwise scan every change once per sync and target.
    changes: dict[tuple[str | None, str], list[Change]] = defaultdict(list)
    done: dict[tuple[str | None, str], list[ChangeResult]] = defaultdict(list)
    problems: Counter[tuple[str | None, str | None]] = Counter()
    for change in plan.changes if plan else ():
        changes[change.sync, change.target].append(change)
    for result in results:
        done[result.change.sync, result.change.target].append(result)
    for problem in plan.problems if plan else ():
        problems[problem.sync, problem.target] += 1
    for name in syncs:
        sync = by_name[name]
        targets = list(dict.fromkeys(d.spec.target for d in sync.destinations))
        parts = tuple(
            _target_outcome(
                target,
                None if plan is None else changes[name, target],
                done[name, target],
                # A problem of the whole target (unreachable, refused) holds back every sync that writes there.
                problems[name, target] + problems[None, target],
                dry_run,
            )
            for target in targets
        )
        source_errors = problems[name, None]
        if error is not None:
            result = RunResult.ERROR
        elif source_errors or any(t.result is RunResult.FAILED for t in parts):
            result = RunResult.FAILED
        elif any(t.result is RunResult.DRIFT for t in parts):
            result = RunResult.DRIFT
        else:
            result = RunResult.OK
        outcomes.append(
            RunOutcome(
                run_id=run_id,
                sync=name,
                trigger=trigger,
                started_at=started_at,
                finished_at=finished_at,
                result=result,
                dry_run=dry_run,
                targets=parts if error is None else (),
                source_errors=source_errors,
                error=error,
                manifest_commit=manifest_commit,
                manifest_digest=manifest.digest,
            )
        )
    return outcomes


def _target_outcome(
    target: str, changes: list[Change] | None, mine: list[ChangeResult], problems: int, dry_run: bool
) -> TargetOutcome:
    if changes is None:
        return TargetOutcome(target, RunResult.ERROR)
    drift = Counter(c.action.value for c in changes if c.is_drift)
    failed = [r for r in mine if not r.ok]
    if failed or problems:
        result = RunResult.FAILED
    elif drift and (dry_run or not mine):
        result = RunResult.DRIFT
    else:
        result = RunResult.OK
    return TargetOutcome(
        target=target,
        result=result,
        drift=dict(sorted(drift.items())),
        applied=len(mine) - len(failed),
        failed=len(failed),
        problems=problems,
        error_classes=tuple(sorted({r.error_class or "error" for r in failed})),
    )
