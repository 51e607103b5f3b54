"""The daemon following its manifest file in-process: a valid new one replaces the jobs, an invalid one or one naming
another instance keeps the old, an unchanged file counts `unchanged`, a deleted one `unreachable` until restored."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from apscheduler.triggers.interval import IntervalTrigger

from syncd.daemon.service import Daemon
from tests.daemon.process import wait_until
from tests.daemon.service_support import (
    env_file,
    last_run,
    make_workdir,
    manifest_text,
    serving,
    write_source,
)

CACHE_SYNC = """\
  - name: cache
    from: apps/db
    schedule: 1s
    to:
      - target: app-env
        name: "CACHE_{key|env}"
"""


def _reloads(daemon: Daemon, result: str) -> float:
    return daemon.metrics.registry.get_sample_value("syncd_manifest_reloads_total", {"result": result}) or 0.0


def _last_reload(daemon: Daemon) -> dict[str, Any]:
    return daemon.status()["manifest"]["last_reload"] or {}


def _jobs(daemon: Daemon) -> set[str]:
    return {job.id for job in daemon.scheduler.get_jobs() if job.id.startswith("sync:")}


def test_a_valid_new_manifest_replaces_the_jobs(tmp_path: Path) -> None:
    """A new manifest that drops `api`, adds `cache` and moves `db` to an hourly schedule: api's job and its metric
    series go, cache's job comes and runs, db's job takes the new interval."""
    work = make_workdir(tmp_path)
    with serving(work.options()) as running:
        daemon = running.daemon
        wait_until(lambda: last_run(daemon, "api"), "api's first run")
        registry = daemon.metrics.registry
        assert registry.get_sample_value("syncd_runs_total", {"sync": "api", "result": "ok"})
        work.manifest.write_text(manifest_text(schedule="1h", extra=CACHE_SYNC), encoding="utf-8")
        wait_until(lambda: _last_reload(daemon).get("result") == "ok", "the reload")
        assert _jobs(daemon) == {"sync:db", "sync:cache"}
        assert "api" not in daemon.status()["syncs"]
        trigger = daemon.scheduler.get_job("sync:db").trigger
        assert isinstance(trigger, IntervalTrigger)
        assert trigger.interval.total_seconds() == 3600
        assert daemon.scheduler.get_job("sync:cache").trigger.interval.total_seconds() == 1
        wait_until(lambda: "CACHE_PASSWORD" in env_file(work.root), "cache's first run")
        wait_until(lambda: (last_run(daemon, "cache") or {}).get("trigger") == "schedule", "cache on its schedule")
        samples = [s for metric in registry.collect() for s in metric.samples if s.labels.get("sync") == "api"]
        assert samples == []
        assert _reloads(daemon, "ok") == 1


def test_an_invalid_manifest_keeps_the_last_good_one(tmp_path: Path) -> None:
    """A new manifest with errors is counted `invalid`, its errors are in the status, and the old one keeps running
    on its schedule."""
    work = make_workdir(tmp_path)
    with serving(work.options()) as running:
        daemon = running.daemon
        wait_until(lambda: last_run(daemon, "db"), "the first run")
        digest = daemon.status()["manifest"]["digest"]
        work.manifest.write_text(manifest_text().replace("schedule: 1s", "schedule: often"), encoding="utf-8")
        wait_until(lambda: _last_reload(daemon).get("result") == "invalid", "the invalid reload")
        reload = _last_reload(daemon)
        assert reload["errors"] and "schedule" in reload["errors"][0]
        assert reload["error"] == reload["errors"][0]
        assert _reloads(daemon, "invalid") == 1
        assert daemon.status()["manifest"]["digest"] == digest
        assert _jobs(daemon) == {"sync:db", "sync:api"}
        write_source(work.root, {"db": {"password": "pw-svc-after", "user": "app"}, "api": {"token": "tok-svc-1"}})
        wait_until(lambda: "pw-svc-after" in env_file(work.root), "the old manifest's next tick")


def test_a_manifest_naming_another_instance_is_refused(tmp_path: Path) -> None:
    """A new manifest for another instance is refused as invalid (the lock and audit trail stay with the process's
    instance); the old one keeps running."""
    work = make_workdir(tmp_path)
    with serving(work.options()) as running:
        daemon = running.daemon
        wait_until(lambda: last_run(daemon, "db"), "the first run")
        work.manifest.write_text(manifest_text(instance="other"), encoding="utf-8")
        wait_until(lambda: _last_reload(daemon).get("result") == "invalid", "the refused reload")
        assert "instance 'other' instead of 'svc'" in _last_reload(daemon)["error"]
        assert daemon.status()["instance"] == "svc"


def test_a_reload_of_an_unchanged_file_counts_unchanged(tmp_path: Path) -> None:
    """`request_reload()` with the file as it was counts `unchanged` and queues no run."""
    work = make_workdir(tmp_path)
    with serving(work.options(poll_interval=60)) as running:
        daemon = running.daemon
        wait_until(lambda: last_run(daemon, "db"), "the first run")
        first = last_run(daemon, "db")
        daemon.request_reload()
        wait_until(lambda: _reloads(daemon, "unchanged") == 1, "the unchanged reload")
        assert _last_reload(daemon)["result"] == "unchanged"
        assert _reloads(daemon, "ok") == 0
        assert last_run(daemon, "db") == first


def test_a_deleted_manifest_is_unreachable_until_restored(tmp_path: Path) -> None:
    """A deleted manifest file counts `unreachable` and the last good manifest keeps running; a restored file with a
    new schedule is loaded."""
    work = make_workdir(tmp_path)
    with serving(work.options()) as running:
        daemon = running.daemon
        wait_until(lambda: last_run(daemon, "db"), "the first run")
        text = work.manifest.read_text(encoding="utf-8")
        work.manifest.unlink()
        wait_until(lambda: _reloads(daemon, "unreachable") >= 1, "the unreachable reload")
        assert _last_reload(daemon)["result"] == "unreachable"
        assert _jobs(daemon) == {"sync:db", "sync:api"}
        work.manifest.write_text(text.replace("schedule: 1s", "schedule: 1h"), encoding="utf-8")
        wait_until(lambda: _last_reload(daemon).get("result") == "ok", "the restored manifest")
        assert daemon.scheduler.get_job("sync:db").trigger.interval.total_seconds() == 3600


def test_a_restored_manifest_as_it_was_shows_in_the_status(tmp_path: Path) -> None:
    """A manifest deleted and then put back unchanged ends the `unreachable` state: the status's last reload says
    `unchanged`, not the stale error."""
    work = make_workdir(tmp_path)
    with serving(work.options()) as running:
        daemon = running.daemon
        wait_until(lambda: last_run(daemon, "db"), "the first run")
        text = work.manifest.read_text(encoding="utf-8")
        work.manifest.unlink()
        wait_until(lambda: _last_reload(daemon).get("result") == "unreachable", "the unreachable reload")
        work.manifest.write_text(text, encoding="utf-8")
        wait_until(lambda: _last_reload(daemon).get("result") != "unreachable", "the restored manifest recognised")
        assert _last_reload(daemon)["result"] == "unchanged"
