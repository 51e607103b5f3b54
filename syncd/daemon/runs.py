"""One run of the daemon: plan (and apply, unless a dry run) for some syncs, and what came of it per sync."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import datetime

from syncd.daemon.outcome import RunOutcome, RunResult, TargetOutcome, Trigger
from syncd.manifest import Manifest
from syncd.model import ChangeResult, Plan


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
    for name in syncs:
        sync = by_name[name]
        targets = list(dict.fromkeys(d.spec.target for d in sync.destinations))
        parts = tuple(_target_outcome(name, target, plan, results, dry_run) for target in targets)
        source_errors = sum(1 for p in plan.problems if p.sync == name and p.target is None) if plan else 0
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
    sync: str, target: str, plan: Plan | None, results: Sequence[ChangeResult], dry_run: bool
) -> TargetOutcome:
    if plan is None:
        return TargetOutcome(target, RunResult.ERROR)
    drift = Counter(c.action.value for c in plan.changes if c.sync == sync and c.target == target and c.is_drift)
    mine = [r for r in results if r.change.sync == sync and r.change.target == target]
    failed = [r for r in mine if not r.ok]
    # A problem of the whole target (unreachable, refused) holds back every sync that writes there.
    problems = sum(1 for p in plan.problems if p.target == target and p.sync in (sync, None))
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
