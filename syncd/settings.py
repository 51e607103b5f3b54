"""The tuning values of a run in one place: readers, chunk sizes, workers, retries, the per-target breaker."""

from __future__ import annotations

from dataclasses import dataclass

from syncd.retry import DEFAULT_RETRY, RetryPolicy


@dataclass(frozen=True)
class TargetBreaker:
    """When apply takes a target as down and stops its remaining changes.

    A change counts against its target when it still fails with a transient error (throttling, 5xx, a timeout,
    a refused connection) once its retries are spent. The target is taken as down after `consecutive` such
    changes in a row (a success resets the run) or `total` of them in one apply, whichever comes first: its
    changes not yet started are not attempted, those in flight stop retrying, and each gets the same error.
    """

    consecutive: int = 3
    total: int = 10


DEFAULT_BREAKER = TargetBreaker()


@dataclass(frozen=True)
class Settings:
    """`source_readers`: source reads at once (each a `read_many` of `source_chunk` paths); `target_readers`:
    targets observed at once; `apply_targets`: targets applied at once (each with its own `concurrency` from the
    manifest); `retry`: the one retry layer, for every connector call; `breaker`: when a target is taken as
    down during apply."""

    source_readers: int = 8
    source_chunk: int = 50
    target_readers: int = 8
    apply_targets: int = 8
    retry: RetryPolicy = DEFAULT_RETRY
    breaker: TargetBreaker = DEFAULT_BREAKER


DEFAULT_SETTINGS = Settings()
