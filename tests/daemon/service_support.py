"""The daemon in-process for its tests: `Daemon.serve()` on a thread over a temporary manifest (file source, dotenv
sink), and a probe in `Runner.plan` that sees every run start and end and can hold one until the test lets it go."""

from __future__ import annotations

import contextlib
import json
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from syncd.daemon.manifest_source import FileManifest
from syncd.daemon.service import Daemon, DaemonOptions
from syncd.engine import Selection
from syncd.model import Plan
from syncd.registry import Registry, default_registry
from syncd.run import Runner
from tests.daemon.process import wait_until

DEADLINE = 20.0

MANIFEST = """\
version: 1
instance: {instance}
defaults:
  schedule: {schedule}
source:
  type: file
  path: secrets.yaml
targets:
  app-env: {{type: dotenv, path: out/app.env}}
syncs:
  - name: db
    from: apps/db
    to:
      - target: app-env
        name: "DB_{{key|env}}"
{extra}"""

API_SYNC = """\
  - name: api
    from: apps/api
    to:
      - target: app-env
        name: "API_{key|env}"
"""


def manifest_text(*, schedule: str = "1s", extra: str = API_SYNC, instance: str = "svc") -> str:
    return MANIFEST.format(schedule=schedule, extra=extra, instance=instance)


def write_source(root: Path, values: Mapping[str, Mapping[str, str]]) -> None:
    lines = ["apps:"]
    for app, keys in values.items():
        lines.append(f"  {app}:")
        lines += [f"    {key}: {value}" for key, value in keys.items()]
    (root / "secrets.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")


def env_file(root: Path) -> str:
    path = root / "out" / "app.env"
    return path.read_text(encoding="utf-8") if path.exists() else ""


def audit_records(state: Path) -> list[dict[str, Any]]:
    path = state / "audit.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


@dataclass
class Workdir:
    root: Path
    state: Path

    @property
    def manifest(self) -> Path:
        return self.root / "syncd.yaml"

    def options(self, **overrides: Any) -> DaemonOptions:
        settings: dict[str, Any] = {
            "origin": FileManifest(self.manifest),
            "poll_interval": 0.1,
            "state_dir": self.state,
            "listen": "127.0.0.1:0",
            "shutdown_timeout": 10.0,
        }
        settings.update(overrides)
        return DaemonOptions(**settings)


def make_workdir(tmp_path: Path, manifest: str | None = None) -> Workdir:
    root = tmp_path / "deployment"
    root.mkdir()
    (root / "syncd.yaml").write_text(manifest_text() if manifest is None else manifest, encoding="utf-8")
    write_source(root, {"db": {"password": "pw-svc-1", "user": "app"}, "api": {"token": "tok-svc-1"}})
    return Workdir(root, tmp_path / "state")


class Serving:
    """`daemon.serve()` on a thread; `stop()` asks it to stop and returns its exit code."""

    def __init__(self, daemon: Daemon) -> None:
        self.daemon = daemon
        self.code: int | None = None
        self.error: BaseException | None = None
        # Called the moment serve() returns (on its thread); what it returns is kept in `seen_at_return`.
        self.at_return: Callable[[], Any] | None = None
        self.seen_at_return: Any = None
        self.thread = threading.Thread(target=self._serve, name="syncd-serve", daemon=True)

    def _serve(self) -> None:
        try:
            self.code = self.daemon.serve()
        except BaseException as exc:
            self.error = exc
        if self.at_return is not None:
            self.seen_at_return = self.at_return()

    def in_call(self, function: str, module: str = "service.py") -> bool:
        """Whether serve()'s thread is inside a call of `function` (of the daemon's service module) now."""
        return in_call(self.thread.ident, function, module)

    def start(self) -> Serving:
        self.thread.start()
        return self

    def started(self) -> Serving:
        wait_until(
            lambda: self.error is not None or (self.daemon.health()[0] and self.daemon.readiness()[0]),
            "the daemon starting",
            DEADLINE,
        )
        if self.error is not None:
            raise self.error
        return self

    def join(self, timeout: float = DEADLINE) -> int | None:
        self.thread.join(timeout)
        assert not self.thread.is_alive(), "serve() did not return"
        if self.error is not None:
            raise self.error
        return self.code

    def stop(self, timeout: float = DEADLINE) -> int | None:
        self.daemon.request_stop()
        return self.join(timeout)


@contextlib.contextmanager
def serving(
    options: DaemonOptions, registry: Registry | None = None, *, env: Mapping[str, str] | None = None
) -> Iterator[Serving]:
    daemon = Daemon(options, registry or default_registry(), env=env or {})
    running = Serving(daemon).start()
    try:
        yield running.started()
    finally:
        if running.thread.is_alive():
            daemon.request_stop()
            running.thread.join(DEADLINE)


def in_call(thread: int | None, function: str, module: str = "service.py") -> bool:
    """Whether the thread `thread` is inside a call of `function` (of the daemon's service module) now."""
    frame = sys._current_frames().get(thread) if thread is not None else None
    while frame is not None:
        if frame.f_code.co_name == function and frame.f_code.co_filename.endswith(module):
            return True
        frame = frame.f_back
    return False


def last_run(daemon: Daemon, sync: str) -> dict[str, Any] | None:
    return daemon.status()["syncs"].get(sync, {}).get("last_run")


@dataclass
class RunRecord:
    syncs: tuple[str, ...]
    thread: str
    started: float = field(default_factory=time.monotonic)
    ended: threading.Event = field(default_factory=threading.Event)


class RunProbe:
    """Wraps `Runner.plan`: every run's syncs, in order, and whether two runs of one sync ever planned at once.
    `hold(sync)` makes the next runs of `sync` wait in their plan until `release()`."""

    def __init__(self) -> None:
        self.runs: list[RunRecord] = []
        self.overlaps: list[tuple[str, ...]] = []
        self._active: dict[str, int] = {}
        self._lock = threading.Lock()
        self._held: set[str] = set()
        self._gate = threading.Event()
        self._gate.set()
        self.failure: Callable[[tuple[str, ...]], None] | None = None

    def install(self, monkeypatch: pytest.MonkeyPatch) -> RunProbe:
        original = Runner.plan
        probe = self

        def plan(runner: Runner, source: Any, sinks: Any, selection: Selection, **kwargs: Any) -> Plan:
            syncs = tuple(
                sorted(selection.syncs) if selection.syncs is not None else (s.name for s in runner.manifest.syncs)
            )
            record = probe._enter(syncs)
            try:
                if probe._held.intersection(syncs):
                    probe._gate.wait(DEADLINE)
                if probe.failure is not None:
                    probe.failure(syncs)
                return original(runner, source, sinks, selection, **kwargs)
            finally:
                probe._leave(record)

        monkeypatch.setattr(Runner, "plan", plan)
        return self

    def _enter(self, syncs: tuple[str, ...]) -> RunRecord:
        record = RunRecord(syncs, threading.current_thread().name)
        with self._lock:
            if any(self._active.get(name) for name in syncs):
                self.overlaps.append(syncs)
            for name in syncs:
                self._active[name] = self._active.get(name, 0) + 1
            self.runs.append(record)
        return record

    def _leave(self, record: RunRecord) -> None:
        with self._lock:
            for name in record.syncs:
                self._active[name] -= 1
        record.ended.set()

    def hold(self, *syncs: str) -> None:
        self._held.update(syncs)
        self._gate.clear()

    def release(self) -> None:
        self._held.clear()
        self._gate.set()

    def runs_of(self, sync: str) -> list[RunRecord]:
        with self._lock:
            return [run for run in self.runs if sync in run.syncs]

    def active(self, sync: str) -> bool:
        with self._lock:
            return bool(self._active.get(sync))
