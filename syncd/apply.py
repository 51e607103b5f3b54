"""Apply: carry out a plan's changes through the sinks.

Each target runs in its own thread with a bounded pool for its changes; one
failing target never stops the others. Transient errors are retried with
backoff; every change gets a result. Apply follows the actions and nothing
else: it never re-decides what to do.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor

import structlog

from syncd.connector import Sink
from syncd.engine import describe_error
from syncd.model import Action, Change, ChangeResult, Plan, Status
from syncd.retry import DEFAULT_RETRY, RetryPolicy

log = structlog.get_logger("syncd.apply")

Progress = Callable[[ChangeResult], None]


def _run_change(sink: Sink, change: Change, retry: RetryPolicy) -> ChangeResult:
    attempts = 0

    def once() -> None:
        nonlocal attempts
        attempts += 1
        if change.action is Action.DELETE:
            assert change.actual is not None
            sink.delete(change.actual)
        else:
            assert change.desired is not None
            sink.write(change.desired, change.actual)

    try:
        retry.call(once)
    except Exception as exc:
        return ChangeResult(change, Status.FAILED, describe_error(exc), attempts)
    return ChangeResult(change, Status.APPLIED, None, attempts)


def _apply_target(
    target: str, sink: Sink, changes: list[Change], retry: RetryPolicy, concurrency: int, progress: Progress
) -> list[ChangeResult]:
    to_run = [c for c in changes if c.action in (Action.CREATE, Action.UPDATE, Action.DELETE)]
    results: list[ChangeResult] = [
        ChangeResult(c, Status.FAILED, "conflict: " + "; ".join(c.reasons), 0)
        for c in changes
        if c.action is Action.CONFLICT
    ]
    for result in results:
        progress(result)
    # A buffered sink commits at the end of its batch: its successes are reported only then.
    report_at_once = not _buffered(sink)
    done: list[ChangeResult] = []
    try:
        with sink.batch():
            workers = max(1, min(concurrency, sink.max_concurrency, len(to_run) or 1))
            with ThreadPoolExecutor(max_workers=workers, thread_name_prefix=f"syncd-{target}") as pool:
                for result in pool.map(lambda c: _run_change(sink, c, retry), to_run):
                    done.append(result)
                    if report_at_once or not result.ok:
                        progress(result)
    except Exception as exc:
        # The batch could not be committed: nothing it held can be called applied.
        error = f"could not commit the batch: {describe_error(exc)}"
        failed = [ChangeResult(r.change, Status.FAILED, error, r.attempts) if r.ok else r for r in done]
        for before, after in zip(done, failed, strict=True):
            if before.ok:
                progress(after)
        return results + failed
    if not report_at_once:
        for result in done:
            if result.ok:
                progress(result)
    return results + done


def _buffered(sink: Sink) -> bool:
    return type(sink).batch is not Sink.batch


def apply_plan(
    plan: Plan,
    sinks: Mapping[str, Sink],
    *,
    retry: RetryPolicy = DEFAULT_RETRY,
    concurrency: Mapping[str, int] | None = None,
    progress: Progress | None = None,
) -> tuple[ChangeResult, ...]:
    """Carry out every change of `plan`; targets the delete guard refused are left alone."""
    lock = threading.Lock()

    def report(result: ChangeResult) -> None:
        log.info(
            "change",
            target=result.change.target,
            address=result.change.address,
            action=result.change.action.value,
            status=result.status.value,
            error=result.error,
            attempts=result.attempts,
        )
        if progress:
            with lock:
                progress(result)

    by_target: dict[str, list[Change]] = {}
    for change in plan.changes:
        if change.action is not Action.NOOP:
            by_target.setdefault(change.target, []).append(change)
    results: list[ChangeResult] = []
    for target in plan.refused_targets:
        for change in by_target.pop(target, []):
            result = ChangeResult(
                change, Status.FAILED, "refused: the plan deletes more than the delete guard allows", 0
            )
            report(result)
            results.append(result)
    limits = concurrency or {}
    with ThreadPoolExecutor(max_workers=max(1, min(8, len(by_target))), thread_name_prefix="syncd-apply") as pool:
        futures = [
            pool.submit(_apply_target, t, sinks[t], changes, retry, limits.get(t, 4), report)
            for t, changes in by_target.items()
        ]
        for future in futures:
            results.extend(future.result())
    return tuple(results)
