"""What one finished run of one sync looks like: what the daemon's status, metrics, notifications and audit log are
made from. Names and counts only, never a value."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


class RunResult(StrEnum):
    OK = "ok"  # in sync, or every change applied
    DRIFT = "drift"  # drift found and not applied (a dry run)
    FAILED = "failed"  # a change failed, or a problem held part of the run back
    ERROR = "error"  # the run could not plan at all (the source unreachable, a manifest reference unset)


class Trigger(StrEnum):
    START = "start"  # the first run when the daemon starts or a manifest is loaded
    SCHEDULE = "schedule"
    API = "api"  # POST /v1/syncs/{name}/run


@dataclass(frozen=True)
class TargetOutcome:
    """One target's part of a run: the drift the plan found there (action name → count, no-change left out), and how
    many changes applied and failed, with the failures' error classes (`ChangeResult.error_class`)."""

    target: str
    result: RunResult
    drift: Mapping[str, int] = field(default_factory=dict)
    applied: int = 0
    failed: int = 0
    problems: int = 0
    error_classes: tuple[str, ...] = ()


@dataclass(frozen=True)
class RunOutcome:
    """One run of one sync. `error` is one sentence when the run failed as a whole (no value in it)."""

    run_id: str
    sync: str
    trigger: Trigger
    started_at: datetime
    finished_at: datetime
    result: RunResult
    dry_run: bool = False
    targets: tuple[TargetOutcome, ...] = ()
    # Problems of the source side (a path that could not be read), counted apart from the targets'.
    source_errors: int = 0
    error: str | None = None
    manifest_commit: str | None = None
    manifest_digest: str | None = None

    @property
    def duration(self) -> float:
        return (self.finished_at - self.started_at).total_seconds()

    def drift_total(self) -> int:
        return sum(sum(t.drift.values()) for t in self.targets)
