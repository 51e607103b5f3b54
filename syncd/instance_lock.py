"""One writer per instance on one machine: an advisory lock on `<state dir>/<instance>.lock`.

`syncd apply` holds it while it plans and applies, `syncd run` for as long as it runs, so two processes of one
instance never write at once. The holder writes who it is into the file (pid, host, command, since), so the one
refused can say whom it waited for. The kernel drops the lock when the holder's process ends, however it ends: a
crashed holder never leaves a stale lock behind. (Across machines, `syncd run --leader-elect` uses a Kubernetes
Lease instead.)
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType

from syncd.durations import format_duration
from syncd.errors import ConfigError

# How often a waiting process tries the lock again.
RETRY_SECONDS = 0.2


class LockHeld(ConfigError):
    """Another process of the same instance holds the lock."""


class InstanceLock:
    """The lock of `instance` in `state_dir`; `command` says what holds it ("syncd apply", "syncd run")."""

    def __init__(self, state_dir: Path, instance: str, command: str, subject: str | None = None) -> None:
        self.path = state_dir / f"{instance}.lock"
        self.instance = instance
        self.command = command
        # What the lock keeps to one process, for the message: "instance 'prod'" unless told otherwise.
        self.subject = subject or f"instance {instance!r}"
        self._descriptor: int | None = None

    def acquire(self, wait: float | None = 0.0, stop: threading.Event | None = None) -> None:
        """Take the lock, waiting up to `wait` seconds for its holder (None: as long as it takes, or until `stop` is
        set). LockHeld names the holder when it is not free in time; ConfigError when the file cannot be opened."""
        descriptor = self._open()
        deadline = None if wait is None else time.monotonic() + wait
        stop = stop or threading.Event()
        while True:
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                left = None if deadline is None else deadline - time.monotonic()
                if (left is not None and left <= 0) or stop.is_set():
                    holder = _holder(self.path)
                    os.close(descriptor)
                    raise LockHeld(self._held_message(holder, wait)) from None
                stop.wait(RETRY_SECONDS if left is None else min(RETRY_SECONDS, left))
            except OSError as exc:
                os.close(descriptor)
                raise ConfigError(f"cannot lock {self.path}: {exc.strerror}") from None
        self._descriptor = descriptor
        self._write_holder(descriptor)

    def release(self) -> None:
        descriptor, self._descriptor = self._descriptor, None
        if descriptor is None:
            return
        with contextlib.suppress(OSError):
            os.ftruncate(descriptor, 0)
        # Closing the descriptor releases the lock too, so a failed unlock loses nothing.
        with contextlib.suppress(OSError):
            fcntl.flock(descriptor, fcntl.LOCK_UN)
        with contextlib.suppress(OSError):
            os.close(descriptor)

    @property
    def held(self) -> bool:
        return self._descriptor is not None

    def __enter__(self) -> InstanceLock:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.release()

    def _open(self) -> int:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            return os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except OSError as exc:
            raise ConfigError(
                f"cannot open the instance lock {self.path}: {exc.strerror}; give a writable --state-dir"
            ) from None

    def _write_holder(self, descriptor: int) -> None:
        holder = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "command": self.command,
            "since": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        with contextlib.suppress(OSError):
            os.ftruncate(descriptor, 0)
            os.pwrite(descriptor, json.dumps(holder).encode(), 0)

    def _held_message(self, holder: dict[str, object] | None, wait: float | None) -> str:
        who = "another syncd process"
        if holder:
            where = f"pid {holder.get('pid')} on {holder.get('host')}, since {holder.get('since')}"
            who = f"{holder.get('command', 'syncd')} ({where})"
        waited = "" if not wait else f" after waiting {format_duration(wait)}"
        return (
            f"{self.subject} is locked by {who}{waited}: only one syncd at a time may hold it "
            f"({self.path}). Wait for it to finish, or pass --lock-wait DURATION (or 'forever') to wait"
        )


def _holder(path: Path, patience: float = 1.0) -> dict[str, object] | None:
    """Who holds the lock, as its holder wrote it; the holder writes just after it takes the lock, so an empty file
    is read again for up to `patience` seconds."""
    deadline = time.monotonic() + patience
    while True:
        try:
            holder = json.loads(path.read_text(encoding="utf-8") or "null")
        except (OSError, ValueError):
            holder = None
        if isinstance(holder, dict):
            return holder
        if time.monotonic() >= deadline:
            return None
        time.sleep(0.02)
