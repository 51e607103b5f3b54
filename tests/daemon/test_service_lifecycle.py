"""The daemon in-process over its life: shutdown with applies in flight, dry runs, the instance lock, a source that is
down, and leader election through a fake elector."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
import structlog.testing

from syncd.connector import ConnectorSpec, LeaderElection
from syncd.daemon.http import TriggerAnswer
from syncd.daemon.service import Daemon
from syncd.errors import TransientError
from syncd.instance_lock import InstanceLock, LockHeld
from syncd.registry import Registry
from tests.daemon.process import wait_until
from tests.daemon.service_support import (
    DEADLINE,
    RunProbe,
    Serving,
    audit_records,
    env_file,
    last_run,
    make_workdir,
    serving,
    write_source,
)
from tests.leakscan import assert_no_leaks, redactor_off

ROTATED = {"db": {"password": "pw-svc-rotated", "user": "app"}, "api": {"token": "tok-svc-1"}}


def _sample(daemon: Daemon, name: str, **labels: str) -> float | None:
    return daemon.metrics.registry.get_sample_value(name, labels)


# Shutdown


def test_stop_during_an_apply_lets_it_finish_and_returns_0(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`request_stop()` while a run is under way waits for it: its changes land, its audit records are written, and
    `serve()` returns 0."""
    work = make_workdir(tmp_path)
    probe = RunProbe().install(monkeypatch)
    with serving(work.options()) as running:
        wait_until(lambda: audit_records(work.state), "the first run")
        probe.hold("db")
        write_source(work.root, ROTATED)
        wait_until(lambda: probe.active("db"), "a run of db")
        running.at_return = lambda: (env_file(work.root), audit_records(work.state))
        running.daemon.request_stop()
        wait_until(
            lambda: (
                not running.thread.is_alive()
                or (running.in_call("_shutdown") and running.in_call("wait_for", "threading.py"))
            ),
            "the shutdown waiting for the run",
        )
        probe.release()
        assert running.join() == 0
    written, records = running.seen_at_return
    assert "pw-svc-rotated" in written
    assert [r["address"] for r in records if r["action"] == "update"] == ["DB_PASSWORD"]


def test_a_run_outlasting_the_shutdown_deadline_keeps_the_lock_until_it_ends(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With a run still going at the shutdown deadline, `serve()` returns about then, but the instance lock stays
    held until that run ends: no other process of the instance may write while its changes may still land."""
    work = make_workdir(tmp_path)
    probe = RunProbe().install(monkeypatch)
    with serving(work.options(shutdown_timeout=0.5)) as running:
        wait_until(lambda: audit_records(work.state), "the first run")
        probe.hold("db")
        write_source(work.root, ROTATED)
        wait_until(lambda: probe.active("db"), "a run of db")
        assert running.stop(timeout=5) == 0
        with pytest.raises(LockHeld):
            InstanceLock(work.state, "svc", "test").acquire(0)
        probe.release()
        wait_until(lambda: probe.runs_of("db")[-1].ended.is_set(), "the run ending")
        wait_until(lambda: _lock_free(work.state), "the lock released after the run")
    assert "pw-svc-rotated" in env_file(work.root)


def _lock_free(state: Path) -> bool:
    lock = InstanceLock(state, "svc", "test")
    try:
        lock.acquire(0)
    except LockHeld:
        return False
    lock.release()
    return True


# Dry run


def test_a_dry_run_plans_and_never_writes(tmp_path: Path) -> None:
    """`dry_run` plans every tick, writes nothing (no sink file, no audit record), ends in `drift`, and sets the
    drift gauges."""
    work = make_workdir(tmp_path)
    with serving(work.options(dry_run=True)) as running:
        daemon = running.daemon
        wait_until(lambda: (last_run(daemon, "db") or {}).get("trigger") == "schedule", "a scheduled dry run")
        run = last_run(daemon, "db")
        assert run is not None
        assert run["result"] == "drift"
        assert run["targets"]["app-env"]["drift"] == {"create": 2}
        assert _sample(daemon, "syncd_drift_items", sync="db", target="app-env", action="create") == 2
        assert _sample(daemon, "syncd_runs_total", sync="db", result="drift")
    assert not (work.root / "out").exists()
    assert audit_records(work.state) == []


# The instance lock


def test_a_second_daemon_of_the_instance_fails_at_once_naming_the_holder(tmp_path: Path) -> None:
    """A second `serve()` of the same instance and state directory raises LockHeld at once, naming `syncd run` and
    the holder's pid."""
    work = make_workdir(tmp_path)
    with serving(work.options()):
        second = Serving(Daemon(work.options(), Registry(), env={})).start()
        second.thread.join(DEADLINE)
        if second.thread.is_alive():
            second.stop()
        assert isinstance(second.error, LockHeld)
    message = str(second.error)
    assert "instance 'svc' is locked by syncd run (pid " in message
    assert "--lock-wait" in message


def test_a_second_daemon_with_lock_wait_takes_over_when_the_first_stops(tmp_path: Path) -> None:
    """With `lock_wait` None (forever) the second daemon waits, runs nothing, and starts once the first stops."""
    work = make_workdir(tmp_path)
    first = Serving(Daemon(work.options(), Registry(), env={})).start().started()
    second = Serving(Daemon(work.options(lock_wait=None), Registry(), env={})).start()
    try:
        wait_until(lambda: last_run(first.daemon, "db"), "the first daemon's run")
        assert not second.daemon.scheduler.running
        assert first.stop() == 0
        second.started()
        wait_until(lambda: last_run(second.daemon, "db"), "the second daemon's run")
    finally:
        assert second.stop() == 0


# A source that is down


def test_a_source_that_raises_is_an_error_and_the_next_tick_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run whose source is down (reading it raises) ends in `error` for its syncs and writes nothing; the schedule
    goes on, and the first run after the source is back succeeds."""
    work = make_workdir(tmp_path)
    probe = RunProbe().install(monkeypatch)
    down = threading.Event()
    down.set()

    def unreachable(syncs: tuple[str, ...]) -> None:
        if down.is_set():
            raise TransientError("source: vault.example.com:8200 refused the connection")

    with serving(work.options()) as running:
        daemon = running.daemon
        wait_until(lambda: audit_records(work.state), "the first run")
        probe.failure = unreachable
        write_source(work.root, ROTATED)
        wait_until(lambda: (last_run(daemon, "db") or {}).get("result") == "error", "a run with the source down")
        failed_run = last_run(daemon, "db")
        assert failed_run is not None
        assert failed_run["error"] == "source: vault.example.com:8200 refused the connection"
        wait_until(
            lambda: (last_run(daemon, "db") or {}).get("run_id") not in (None, failed_run["run_id"]),
            "the next tick",
        )
        assert last_run(daemon, "db")["result"] == "error"
        assert "pw-svc-rotated" not in env_file(work.root)
        down.clear()
        wait_until(lambda: "pw-svc-rotated" in env_file(work.root), "the run after the source is back")
        assert _sample(daemon, "syncd_runs_total", sync="db", result="error")


def test_a_source_that_cannot_be_read_logs_no_value(tmp_path: Path) -> None:
    """A source file broken around a planted value fails each run (a problem of the source) and the schedule goes on;
    the value reaches no log line, status, audit record or state file (the redactor off)."""
    work = make_workdir(tmp_path)
    planted = "pw-planted-down-5e1f0a"
    with redactor_off(), structlog.testing.capture_logs() as logs, serving(work.options()) as running:
        daemon = running.daemon
        wait_until(lambda: audit_records(work.state), "the first run")
        (work.root / "secrets.yaml").write_text(f"apps:\n  db: {{password: {planted}\n  api: [\n", encoding="utf-8")
        wait_until(lambda: (last_run(daemon, "db") or {}).get("result") == "failed", "a run with the source broken")
        failed_run = last_run(daemon, "db")
        wait_until(
            lambda: (last_run(daemon, "db") or {}).get("run_id") not in (None, failed_run["run_id"]),
            "the next tick",
        )
        status = repr(daemon.status())
        write_source(work.root, ROTATED)
        wait_until(lambda: "pw-svc-rotated" in env_file(work.root), "the run after the source is mended")
        wait_until(lambda: last_run(daemon, "db")["result"] == "ok", "that run's outcome")
    assert any(entry.get("event") == "problem" for entry in logs)
    assert_no_leaks({"planted": planted}, texts={"logs": repr(logs), "status": status}, paths=[work.state])


# Leadership


class FakeElector:
    """An elector the test drives: `lead()` and `lose()` flip leadership and call the daemon back as a real one
    would."""

    identity = "replica-a"

    def __init__(self) -> None:
        self.leading = False
        self.holder_name = "replica-b"
        self.campaigning = threading.Event()
        self.stop: threading.Event | None = None
        self._started: Callable[[], None] | None = None
        self._stopped: Callable[[], None] | None = None

    @property
    def is_leader(self) -> bool:
        return self.leading

    @property
    def holder(self) -> str | None:
        return self.holder_name

    def describe(self) -> str:
        return "lease test/syncd-svc"

    def run(
        self,
        stop: threading.Event,
        on_started_leading: Callable[[], None] | None = None,
        on_stopped_leading: Callable[[], None] | None = None,
    ) -> None:
        self._started, self._stopped = on_started_leading, on_stopped_leading
        self.stop = stop
        self.campaigning.set()
        stop.wait()

    def lead(self) -> None:
        self.leading, self.holder_name = True, self.identity
        assert self._started is not None
        self._started()

    def lose(self) -> None:
        self.leading, self.holder_name = False, "replica-b"
        assert self._stopped is not None
        self._stopped()


def _elected_registry(elector: FakeElector) -> Registry:
    return Registry(
        {
            "file": "connectors.local:file_spec",
            "dotenv": "connectors.local:dotenv_spec",
            "kubernetes": ConnectorSpec(name="kubernetes", summary="the Lease", leader_elector=lambda _: elector),
        }
    )


def test_a_follower_runs_nothing_and_a_new_leader_runs_everything_at_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A follower plans nothing on its ticks and refuses triggers; becoming leader starts a full run at once; losing
    leadership during a run, before its apply, writes nothing."""
    work = make_workdir(tmp_path)
    probe = RunProbe().install(monkeypatch)
    elector = FakeElector()
    options = work.options(election=LeaderElection(name="syncd-svc"))
    with serving(options, _elected_registry(elector)) as running:
        daemon = running.daemon
        assert elector.campaigning.wait(10)
        first_tick = daemon.scheduler.get_job("sync:db").next_run_time
        wait_until(
            lambda: daemon.scheduler.get_job("sync:db").next_run_time >= first_tick + timedelta(seconds=2),
            "two ticks of db's schedule",
        )
        assert daemon.trigger("db") is TriggerAnswer.NOT_LEADER
        assert probe.runs == []
        assert daemon.status()["leader"]["is_leader"] is False

        elector.lead()
        wait_until(lambda: last_run(daemon, "api"), "the new leader's full run")
        assert probe.runs[0].syncs == ("db", "api")
        assert last_run(daemon, "db")["trigger"] == "start"
        written = env_file(work.root)
        assert "pw-svc-1" in written

        probe.hold("db")
        write_source(work.root, ROTATED)
        wait_until(lambda: probe.active("db"), "a run of db")
        elector.lose()
        probe.release()
        wait_until(lambda: (last_run(daemon, "db") or {}).get("result") == "error", "the run that lost leadership")
        assert "stopped leading" in last_run(daemon, "db")["error"]
        assert env_file(work.root) == written
        assert [r for r in audit_records(work.state) if r["action"] == "update"] == []


def test_a_leader_keeps_its_lease_while_a_run_outlasts_the_shutdown_deadline(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A leader whose run is still going at the shutdown deadline returns from `serve()` without ending its campaign
    (the lease is neither given up nor left to lapse); the campaign ends once that run does."""
    work = make_workdir(tmp_path)
    probe = RunProbe().install(monkeypatch)
    elector = FakeElector()
    options = work.options(election=LeaderElection(name="syncd-svc"), shutdown_timeout=0.5)
    with serving(options, _elected_registry(elector)) as running:
        assert elector.campaigning.wait(10)
        elector.lead()
        wait_until(lambda: audit_records(work.state), "the first run")
        probe.hold("db")
        write_source(work.root, ROTATED)
        wait_until(lambda: probe.active("db"), "a run of db")
        assert running.stop(timeout=5) == 0
        assert elector.stop is not None
        assert not elector.stop.is_set()
        probe.release()
        assert elector.stop.wait(10)
    assert "pw-svc-rotated" in env_file(work.root)
