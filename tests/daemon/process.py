"""`syncd run` in a real process of its own, for tests: its JSON log events read as they come, its HTTP port found
from its start-up event, signals sent, its exit awaited. The process runs the command line's `main` with the
redactor off, so a leak test that scans its output proves values stay out by themselves."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

LAUNCH = """
import sys
from syncd.cli import main
from syncd.testing.leaks import redactor_off
with redactor_off():
    code = main(sys.argv[1:])
sys.exit(code)
"""
DEADLINE = 30.0


class DaemonProcess:
    def __init__(self, argv: Sequence[str], *, env: Mapping[str, str] | None = None, cwd: Path | None = None) -> None:
        self.argv = ["run", "--log-format", "json", "--log-level", "info", *argv]
        full_env = {**os.environ, **(env or {})}
        self.proc = subprocess.Popen(
            [sys.executable, "-c", LAUNCH, *self.argv],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=full_env,
            cwd=cwd,
        )
        self.stdout: list[str] = []
        self.stderr: list[str] = []
        self._seen = threading.Condition()
        self._readers = [
            threading.Thread(target=self._read, args=(self.proc.stdout, self.stdout), daemon=True),
            threading.Thread(target=self._read, args=(self.proc.stderr, self.stderr), daemon=True),
        ]
        for reader in self._readers:
            reader.start()
        self.url = ""

    def _read(self, stream: Any, lines: list[str]) -> None:
        for line in stream:
            with self._seen:
                lines.append(line)
                self._seen.notify_all()
        with self._seen:
            self._seen.notify_all()

    def events(self) -> list[dict[str, Any]]:
        """Every JSON log event so far (lines that are not JSON are left out)."""
        out = []
        with self._seen:
            lines = list(self.stderr)
        for line in lines:
            try:
                event = json.loads(line)
            except ValueError:
                continue
            if isinstance(event, dict):
                out.append(event)
        return out

    def wait_for_event(
        self, name: str, where: Callable[[dict[str, Any]], bool] = lambda e: True, *, after: int = 0,
        deadline: float = DEADLINE,
    ) -> dict[str, Any]:  # fmt: skip
        """The first event named `name` (among events from index `after` on) for which `where` holds."""
        end = time.monotonic() + deadline
        while True:
            for event in self.events()[after:]:
                if event.get("event") == name and where(event):
                    return event
            if self.proc.poll() is not None and not any(r.is_alive() for r in self._readers):
                raise AssertionError(f"syncd run exited ({self.proc.returncode}) before {name!r}:\n{self.output()}")
            left = end - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no {name!r} event within {deadline}s:\n{self.output()}")
            with self._seen:
                self._seen.wait(min(left, 0.5))

    def started(self) -> str:
        """The base URL of its HTTP endpoints, once it has started."""
        event = self.wait_for_event("syncd run started")
        self.url = f"http://{event['listen']}"
        return self.url

    def http(self, method: str, path: str, headers: Mapping[str, str] | None = None) -> tuple[int, dict[str, str], str]:
        request = urllib.request.Request(self.url + path, method=method, headers=dict(headers or {}))
        try:
            with urllib.request.urlopen(request, timeout=10) as answer:
                return answer.status, dict(answer.headers), answer.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, dict(error.headers), error.read().decode()

    def send(self, sig: signal.Signals) -> None:
        self.proc.send_signal(sig)

    def wait(self, timeout: float) -> int:
        code = self.proc.wait(timeout)
        for reader in self._readers:
            reader.join(5)
        return code

    def output(self) -> str:
        with self._seen:
            return "".join(self.stdout) + "".join(self.stderr)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


def wait_until(
    check: Callable[[], Any], what: str, deadline: float = DEADLINE, process: DaemonProcess | None = None
) -> Any:
    """Poll `check` until it returns something true, or fail naming `what` (and the daemon's output)."""
    end = time.monotonic() + deadline
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > end:
            detail = f":\n{process.output()}" if process else ""
            raise AssertionError(f"{what} did not happen within {deadline}s{detail}")
        time.sleep(0.05)
