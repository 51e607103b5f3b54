"""A sync's entry in /v1/status, as the service builds it from the last RunOutcome."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from syncd.daemon.outcome import RunOutcome, RunResult, TargetOutcome, Trigger
from syncd.daemon.status import sync_document

STARTED = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def test_a_sync_entry_holds_its_last_run_next_run_and_per_target_counts() -> None:
    """The entry gives the last run's id, trigger, times, result and error, the next run, and per target the drift
    counts and how many changes applied and failed; it is plain JSON."""
    outcome = RunOutcome(
        run_id="r-42",
        sync="app",
        trigger=Trigger.API,
        started_at=STARTED,
        finished_at=STARTED + timedelta(seconds=1.5),
        result=RunResult.FAILED,
        targets=(
            TargetOutcome("prod-env", RunResult.OK, drift={"update": 1, "create": 2}, applied=3),
            TargetOutcome("kube", RunResult.FAILED, drift={"delete": 1}, failed=1, error_classes=("ItemMoved",) * 2),
        ),
        error="1 change failed on target 'kube'",
        manifest_commit="c0ffee",
    )
    entry = sync_document(outcome, STARTED + timedelta(minutes=5), running=False)
    assert json.loads(json.dumps(entry)) == entry
    assert entry["next_run"] == "2026-01-02T03:09:05+00:00"
    assert entry["running"] is False
    last = entry["last_run"]
    assert (last["run_id"], last["trigger"], last["result"]) == ("r-42", "api", "failed")
    assert (last["started_at"], last["finished_at"]) == (
        "2026-01-02T03:04:05+00:00",
        "2026-01-02T03:04:06.500000+00:00",
    )
    assert last["duration_seconds"] == 1.5
    assert last["error"] == "1 change failed on target 'kube'"
    assert last["manifest"] == {"commit": "c0ffee", "digest": None}
    assert last["targets"]["prod-env"] == {
        "result": "ok",
        "drift": {"create": 2, "update": 1},
        "applied": 3,
        "failed": 0,
        "problems": 0,
        "error_classes": [],
    }
    assert last["targets"]["kube"]["error_classes"] == ["ItemMoved"]


def test_a_sync_that_never_ran_has_no_last_run() -> None:
    """Before its first run a sync's entry says so with nulls."""
    assert sync_document(None, None, running=True) == {"running": True, "next_run": None, "last_run": None}
