"""The parts of the /v1/status document made from runs: one sync's entry, from its last RunOutcome and its next
run. The service adds the document's top level (docs/http-api.md); names, counts and times only, never a value."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from syncd.daemon.outcome import RunOutcome


def run_document(outcome: RunOutcome) -> dict[str, Any]:
    """One finished run: when, why, how it ended, and per target the drift found and the changes applied and failed."""
    return {
        "run_id": outcome.run_id,
        "trigger": str(outcome.trigger),
        "started_at": outcome.started_at.isoformat(),
        "finished_at": outcome.finished_at.isoformat(),
        "duration_seconds": round(outcome.duration, 3),
        "result": str(outcome.result),
        "dry_run": outcome.dry_run,
        "error": outcome.error,
        "source_errors": outcome.source_errors,
        "manifest": {"commit": outcome.manifest_commit, "digest": outcome.manifest_digest},
        "targets": {
            target.target: {
                "result": str(target.result),
                "drift": dict(sorted(target.drift.items())),
                "applied": target.applied,
                "failed": target.failed,
                "problems": target.problems,
                "error_classes": sorted(set(target.error_classes)),
            }
            for target in outcome.targets
        },
    }


def sync_document(last_run: RunOutcome | None, next_run: datetime | None, running: bool) -> dict[str, Any]:
    """One sync's entry in /v1/status."""
    return {
        "running": running,
        "next_run": next_run.isoformat() if next_run is not None else None,
        "last_run": run_document(last_run) if last_run is not None else None,
    }
