"""The daemon's runs in-process: one run of a sync at a time, a trigger during a run is not lost, a full run waits for
a sync's run in progress, and the audit records say why each run started."""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path

import pytest

from syncd.daemon.http import TriggerAnswer
from syncd.daemon.service import Daemon
from syncd.registry import default_registry
from tests.daemon.process import wait_until
from tests.daemon.service_support import (
    API_SYNC,
    DEADLINE,
    RunProbe,
    Serving,
    audit_records,
    env_file,
    in_call,
    last_run,
    make_workdir,
    manifest_text,
    serving,
    write_source,
)


def test_a_sync_never_runs_twice_at_once_and_resumes_with_one_late_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While a run of a sync holds, its one-second schedule fires twice and starts nothing; once the run ends, runs
    resume one per tick, not as a burst of the ticks missed."""
    work = make_workdir(tmp_path)
    probe = RunProbe().install(monkeypatch)
    probe.hold("db")
    with serving(work.options()) as running:
        daemon = running.daemon
        wait_until(lambda: probe.active("db"), "the first run of db")
        job = daemon.scheduler.get_job("sync:db")
        first_tick = job.next_run_time
        wait_until(
            lambda: daemon.scheduler.get_job("sync:db").next_run_time >= first_tick + timedelta(seconds=2),
            "two ticks of db's schedule",
        )
        assert len(probe.runs_of("db")) == 1
        probe.release()
        wait_until(lambda: len(probe.runs_of("db")) >= 3 and probe.runs_of("db")[2].ended.is_set(), "two more runs")
        runs = probe.runs_of("db")
        assert probe.overlaps == []
        assert runs[2].started - runs[1].started > 0.5, "the missed ticks ran as a burst"


def test_a_trigger_during_a_run_runs_right_after_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`trigger(name)` while a run of that sync holds is accepted, and a run with trigger "api" follows the one in
    progress."""
    work = make_workdir(tmp_path, manifest_text(schedule="1h"))
    probe = RunProbe().install(monkeypatch)
    probe.hold("db")
    with serving(work.options()) as running:
        daemon = running.daemon
        wait_until(lambda: probe.active("db"), "the first run of db")
        assert daemon.trigger("db") is TriggerAnswer.ACCEPTED
        # The requested run has found db busy (the daemon remembers to run it again).
        wait_until(lambda: "db" in daemon._again, "the requested run meeting the run in progress")
        probe.release()
        wait_until(lambda: (last_run(daemon, "db") or {}).get("trigger") == "api", "the requested run")
        assert [run.syncs for run in probe.runs] == [("db", "api"), ("db",)]
        assert probe.overlaps == []


class RefusingLock:
    """A sync's lock whose refused try waits, before it answers, until the run holding the lock has finished and its
    thread has left `Daemon._run`: the widest window for a trigger to fall between a run's end and its look at the
    triggers it met."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.holder: int | None = None
        self.refused = threading.Event()

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        taken = self._lock.acquire(blocking, timeout)
        if taken:
            self.holder = threading.get_ident()
            return True
        holder = self.holder
        wait_until(lambda: not self._lock.locked() and not in_call(holder, "_run"), "the holding run ending")
        self.refused.set()
        return False

    def release(self) -> None:
        self._lock.release()

    def locked(self) -> bool:
        return self._lock.locked()


def test_a_trigger_meeting_a_run_as_it_ends_is_not_lost(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A trigger whose run finds the sync busy, while the run in progress ends and looks for triggers it met, still
    runs: it is never dropped between the two."""
    work = make_workdir(tmp_path, manifest_text(schedule="1h"))
    probe = RunProbe().install(monkeypatch)
    probe.hold("db")
    daemon = Daemon(work.options(), default_registry(), env={})
    lock = RefusingLock()
    daemon._busy["db"] = lock  # type: ignore[assignment]
    running = Serving(daemon).start()
    try:
        running.started()
        wait_until(lambda: probe.active("db"), "the first run of db")
        assert daemon.trigger("db") is TriggerAnswer.ACCEPTED
        probe.release()
        assert lock.refused.wait(DEADLINE)
        wait_until(lambda: (last_run(daemon, "db") or {}).get("trigger") == "api", "the requested run", deadline=5)
    finally:
        assert running.stop() == 0


def test_a_full_run_waits_for_a_run_in_progress(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A reload's full run, queued while a scheduled run of one sync holds, waits for it and then runs every sync;
    the two never plan at once."""
    # api runs hourly: only the full run takes its lock while the test looks.
    hourly_api = API_SYNC.replace("    from: apps/api\n", "    from: apps/api\n    schedule: 1h\n")
    work = make_workdir(tmp_path, manifest_text(extra=hourly_api))
    probe = RunProbe().install(monkeypatch)
    with serving(work.options()) as running:
        daemon = running.daemon
        wait_until(lambda: probe.runs and probe.runs[0].ended.is_set(), "the first full run")
        probe.hold("db")
        wait_until(lambda: probe.active("db"), "a scheduled run of db")
        held = probe.runs_of("db")[-1]
        assert held.syncs == ("db",)
        work.manifest.write_text(manifest_text(extra=hourly_api) + "# edited\n", encoding="utf-8")
        wait_until(lambda: (daemon.status()["manifest"]["last_reload"] or {}).get("result") == "ok", "the reload")
        # The full run has taken api's lock and waits for db's.
        wait_until(lambda: daemon.status()["syncs"]["api"]["running"], "the full run waiting")
        assert not held.ended.is_set()
        probe.release()
        wait_until(lambda: any(r.syncs == ("db", "api") for r in probe.runs[1:]), "the reload's full run")
        full = next(r for r in probe.runs[1:] if r.syncs == ("db", "api"))
        assert full.started > held.started
        assert probe.overlaps == []


def test_audit_records_say_how_each_run_started(tmp_path: Path) -> None:
    """The full run at start writes records with trigger "start", a scheduled run "schedule"; each names the manifest
    by its digest."""
    work = make_workdir(tmp_path)
    with serving(work.options()) as running:
        daemon = running.daemon
        wait_until(lambda: audit_records(work.state), "the first run's records")
        write_source(work.root, {"db": {"password": "pw-svc-2", "user": "app"}, "api": {"token": "tok-svc-1"}})
        wait_until(lambda: "pw-svc-2" in env_file(work.root), "the scheduled run")
        digest = daemon.status()["manifest"]["digest"]
    records = audit_records(work.state)
    assert {r["trigger"] for r in records if r["action"] == "create"} == {"start"}
    updates = [r for r in records if r["action"] == "update"]
    assert updates and {r["trigger"] for r in updates} == {"schedule"}
    assert {r["manifest"] for r in records} == {f"sha256:{digest}"}


def test_audit_records_of_a_requested_run_say_api(tmp_path: Path) -> None:
    """A run started by `trigger(name)` writes records with trigger "api"."""
    work = make_workdir(tmp_path, manifest_text(schedule="1h"))
    with serving(work.options()) as running:
        daemon = running.daemon
        wait_until(lambda: last_run(daemon, "db"), "the first run")
        write_source(work.root, {"db": {"password": "pw-svc-3", "user": "app"}, "api": {"token": "tok-svc-1"}})
        assert daemon.trigger("db") is TriggerAnswer.ACCEPTED
        wait_until(lambda: "pw-svc-3" in env_file(work.root), "the requested run")
    updates = [r for r in audit_records(work.state) if r["action"] == "update"]
    assert updates and {r["trigger"] for r in updates} == {"api"}
    assert {r["sync"] for r in updates} == {"db"}
