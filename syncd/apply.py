"""Apply: carry out a plan's changes through the sinks.

Each target runs in its own thread with a bounded pool for its changes; one
failing target never stops the others. Transient errors are retried with
backoff; every change gets a result. A target that keeps answering with
transient errors is taken as down: its remaining changes are not attempted
(a circuit breaker per target, see `TargetBreaker`), and the next run retries
them. Apply follows the actions and nothing else: it never re-decides what
to do. One exception keeps that promise: a write refused because its item
moved since the plan (`ItemMoved`: a version bumped by another writer) is
planned again for that one item, and written once more only if nothing syncd
compares moved but the version, so the change is still the one the plan
showed.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor

import structlog

from syncd.connector import Scope, Sink
from syncd.diff import Policy, diff_item
from syncd.engine import describe_error
from syncd.errors import ItemMoved, SyncdError, TransientError
from syncd.model import Action, ActualItem, Change, ChangeResult, ConflictPolicy, DesiredItem, Plan, Status
from syncd.retry import RetryPolicy
from syncd.settings import DEFAULT_BREAKER, DEFAULT_SETTINGS, Settings, TargetBreaker
from syncd.threads import in_callers_context

log = structlog.get_logger("syncd.apply")

MayWrite = Callable[[], bool]
Progress = Callable[[ChangeResult], None]


class _TargetDown(SyncdError):
    """A change that was not attempted, or not retried, because its target was taken as down."""


class _NotLeader(SyncdError):
    """A change not attempted, or not retried, because this process may no longer write (it stopped leading)."""


NOT_LEADER = "this replica stopped leading before the change was made; the new leader's run makes it"


class _Interrupted(SyncdError):
    """A change not attempted because apply was interrupted (Ctrl-C): calls under way finish, no new one starts."""


INTERRUPTED = "apply was interrupted before this change was made"


class _Breaker:
    """One target's count of changes that failed transiently, shared by the target's worker threads."""

    def __init__(self, target: str, settings: TargetBreaker) -> None:
        self.target = target
        self.settings = settings
        self._lock = threading.Lock()
        self._in_a_row = 0
        self._total = 0
        self.reason: str | None = None

    def record(self, ok: bool, transient: bool) -> None:
        with self._lock:
            if ok:
                self._in_a_row = 0
                return
            if not transient:
                return
            self._in_a_row += 1
            self._total += 1
            if self.reason is None and (
                self._in_a_row >= self.settings.consecutive or self._total >= self.settings.total
            ):
                failed = (
                    f"{self._in_a_row} of its changes in a row"
                    if self._in_a_row >= self.settings.consecutive
                    else f"{self._total} of its changes"
                )
                self.reason = (
                    f"not attempted: target {self.target!r} is taken as down, since {failed} failed with "
                    "transient errors; the next run retries"
                )
                log.warning("target down", target=self.target, failed_in_a_row=self._in_a_row, failed=self._total)


def replan(sink: Sink, change: Change, moved: ItemMoved) -> Change:
    """The write `change` planned, made again against the item as it is now. Only a version may have moved (another
    writer touched what syncd does not compare: a label of its own, say): then the same change on a fresh
    `expected`. A NOOP when the item already is as wanted. Anything else (a new value, marker, description, or
    tag or flag syncd sets) raises ItemMoved: what another writer put there is never overwritten unseen."""
    desired = change.desired
    assert desired is not None and change.difference is not None
    instance = desired.owner.instance
    observed = sink.observe([desired], Scope(instance, (desired.address,)))
    current = observed.items.get(desired.address)
    policy = Policy(on_conflict=ConflictPolicy.ADOPT if change.difference.adopt else ConflictPolicy.FAIL)
    fresh = diff_item(instance, desired, current, policy)
    if fresh.action is Action.NOOP:
        return fresh
    if _compared(current, desired) != _compared(change.actual, desired):
        now = "; ".join(fresh.reasons) or fresh.action.value
        raise ItemMoved(
            f"{moved.message}, and it changed in what syncd compares (it now needs {fresh.action.value}: {now}); "
            "run plan again",
            target=change.target,
            address=change.address,
        ) from None
    return fresh


def _compared(item: ActualItem | None, desired: DesiredItem) -> tuple[object, ...] | None:
    """What the diff reads of `item` for `desired`: everything but its version."""
    if item is None:
        return None
    return (
        item.owner,
        item.data,
        item.description,
        {key: item.tags.get(key) for key in desired.tags},
        {key: item.flags.get(key) for key in desired.flags},
        item.pending_deletion,
        item.marker_only,
        dict(item.fixed),
    )


def _run_change(
    sink: Sink, change: Change, retry: RetryPolicy, breaker: _Breaker, may_write: MayWrite | None = None
) -> ChangeResult:
    attempts = 0
    if breaker.reason is not None:
        return ChangeResult(change, Status.FAILED, breaker.reason, 0, "target_down")
    # What the next write expects; replaced once when the item moved but the change still stands.
    planned = change
    replanned = False

    def once() -> None:
        nonlocal attempts, planned, replanned
        if attempts and breaker.reason is not None:
            # Another change found the target down: retrying this one would only cost more time.
            raise _TargetDown(breaker.reason)
        if may_write is not None and not may_write():
            raise _NotLeader(NOT_LEADER)
        attempts += 1
        if change.action is Action.DELETE:
            assert change.actual is not None
            sink.delete(change.actual)
            return
        assert planned.desired is not None and planned.difference is not None
        try:
            sink.write(planned.desired, planned.actual, planned.difference)
        except ItemMoved as moved:
            # A buffered sink holds its lock for the whole batch: it cannot observe in the middle of one.
            if replanned or sink.capabilities.buffered:
                raise
            # Set only once the item was read again: a transient error reading it leaves the retry its re-plan.
            planned = replan(sink, change, moved)
            replanned = True
            log.info("change planned again", target=change.target, address=change.address, why=moved.message)
            if planned.action is not Action.NOOP:
                assert planned.desired is not None and planned.difference is not None
                if may_write is not None and not may_write():
                    raise _NotLeader(NOT_LEADER) from None
                sink.write(planned.desired, planned.actual, planned.difference)

    try:
        retry.call(once)
    except _TargetDown as exc:
        return ChangeResult(change, Status.FAILED, str(exc), attempts, "target_down")
    except _NotLeader as exc:
        return ChangeResult(change, Status.FAILED, str(exc), attempts, "not_leader")
    except _Interrupted as exc:
        return ChangeResult(change, Status.FAILED, str(exc), attempts, "interrupted")
    except Exception as exc:
        breaker.record(ok=False, transient=isinstance(exc, TransientError))
        return ChangeResult(change, Status.FAILED, describe_error(exc), attempts, type(exc).__name__)
    breaker.record(ok=True, transient=False)
    return ChangeResult(change, Status.APPLIED, None, attempts)


def _apply_target(
    target: str,
    sink: Sink,
    changes: list[Change],
    retry: RetryPolicy,
    concurrency: int,
    progress: Progress,
    breaker: TargetBreaker = DEFAULT_BREAKER,
    may_write: MayWrite | None = None,
) -> list[ChangeResult]:
    to_run = [c for c in changes if c.action in (Action.CREATE, Action.UPDATE, Action.DELETE)]
    results: list[ChangeResult] = [
        ChangeResult(c, Status.FAILED, "conflict: " + "; ".join(c.reasons), 0, "conflict")
        for c in changes
        if c.action is Action.CONFLICT
    ]
    for result in results:
        progress(result)
    # A buffered sink commits at the end of its batch: its successes are reported only then.
    report_at_once = not sink.capabilities.buffered
    done: list[ChangeResult] = []
    try:
        with sink.batch():
            workers = max(1, min(concurrency, sink.capabilities.max_concurrency, len(to_run) or 1))
            down = _Breaker(target, breaker)
            with ThreadPoolExecutor(max_workers=workers, thread_name_prefix=f"syncd-{target}") as pool:
                for result in pool.map(
                    in_callers_context(lambda c: _run_change(sink, c, retry, down, may_write)), to_run
                ):
                    done.append(result)
                    if report_at_once or not result.ok:
                        progress(result)
    except Exception as exc:
        # The batch could not be committed: nothing it held can be called applied.
        error = f"could not commit the batch: {describe_error(exc)}"
        failed = [
            ChangeResult(r.change, Status.FAILED, error, r.attempts, type(exc).__name__) if r.ok else r for r in done
        ]
        for before, after in zip(done, failed, strict=True):
            if before.ok:
                progress(after)
        return results + failed
    if not report_at_once:
        for result in done:
            if result.ok:
                progress(result)
    return results + done


def apply_plan(
    plan: Plan,
    sinks: Mapping[str, Sink],
    *,
    retry: RetryPolicy | None = None,
    concurrency: Mapping[str, int] | None = None,
    progress: Progress | None = None,
    breaker: TargetBreaker | None = None,
    settings: Settings = DEFAULT_SETTINGS,
    may_write: MayWrite | None = None,
) -> tuple[ChangeResult, ...]:
    """Carry out every change of `plan`; targets the delete guard refused are left alone, and a target `breaker`
    takes as down gets its remaining changes failed without a call. `may_write` is asked before every write call
    (the daemon's leadership): once it says no, no further call is made (a buffered sink's batch, already staged,
    is still committed). Interrupted (Ctrl-C), apply lets the calls under way finish, starts no other, and
    re-raises."""
    retry = retry or settings.retry
    breaker = breaker or settings.breaker
    lock = threading.Lock()

    def report(result: ChangeResult) -> None:
        # A failed change is an error event, so logs at the default level (and JSON logs) show every failure.
        (log.info if result.ok else log.error)(
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
                change, Status.FAILED, "refused: the plan deletes more than the delete guard allows", 0, "refused"
            )
            report(result)
            results.append(result)
    limits = concurrency or {}
    workers = max(1, min(settings.apply_targets, len(by_target)))
    interrupted = threading.Event()

    def allowed() -> bool:
        if interrupted.is_set():
            raise _Interrupted(INTERRUPTED)
        return may_write is None or may_write()

    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="syncd-apply") as pool:
        try:
            futures = [
                pool.submit(
                    in_callers_context(_apply_target),
                    t,
                    sinks[t],
                    changes,
                    retry,
                    limits.get(t, 4),
                    report,
                    breaker,
                    allowed,
                )
                for t, changes in by_target.items()
            ]
            for future in futures:
                results.extend(future.result())
        except BaseException:
            interrupted.set()  # leaving the pool waits for the calls under way; the rest fail as interrupted
            raise
    return tuple(results)
