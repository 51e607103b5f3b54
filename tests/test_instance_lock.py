"""One writer per instance on one machine: the lock in the state directory."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from syncd.errors import ConfigError
from syncd.instance_lock import InstanceLock, LockHeld

HOLD = """
import sys, time
from pathlib import Path
from syncd.instance_lock import InstanceLock
lock = InstanceLock(Path(sys.argv[1]), "prod", "syncd run")
lock.acquire()
print("held", flush=True)
sys.stdin.readline()
"""


def test_a_second_holder_is_refused_naming_the_first(tmp_path: Path) -> None:
    """While one lock of an instance is held, another is refused at once with the holder's pid and command."""
    first = InstanceLock(tmp_path, "prod", "syncd run")
    first.acquire()
    try:
        with pytest.raises(LockHeld) as refused:
            InstanceLock(tmp_path, "prod", "syncd apply").acquire(0)
        message = str(refused.value)
        assert f"pid {os.getpid()}" in message and "syncd run" in message and "--lock-wait" in message
        InstanceLock(tmp_path, "staging", "syncd apply").acquire(0)  # another instance is another lock
    finally:
        first.release()
    second = InstanceLock(tmp_path, "prod", "syncd apply")
    second.acquire(0)
    second.release()


def test_a_waiting_holder_gets_the_lock_when_it_is_released(tmp_path: Path) -> None:
    """With a wait, the second holder takes the lock as soon as the first lets it go."""
    first = InstanceLock(tmp_path, "prod", "syncd run")
    first.acquire()
    got = threading.Event()

    def wait_for_it() -> None:
        with InstanceLock(tmp_path, "prod", "syncd apply") as second:
            second.acquire(None)
            got.set()

    waiter = threading.Thread(target=wait_for_it)
    waiter.start()
    assert not got.wait(0.5)
    first.release()
    assert got.wait(10)
    waiter.join(10)


def test_a_wait_that_runs_out_says_how_long_it_waited(tmp_path: Path) -> None:
    """A bounded wait that ends with the lock still held is refused, saying it waited."""
    with InstanceLock(tmp_path, "prod", "syncd run") as first:
        first.acquire()
        with pytest.raises(LockHeld, match="after waiting 300ms"):
            InstanceLock(tmp_path, "prod", "syncd apply").acquire(0.3)


def test_the_lock_of_a_killed_process_is_free(tmp_path: Path) -> None:
    """The kernel drops the lock with its process: a holder killed with SIGKILL leaves nothing stale."""
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(tmp_path)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        with pytest.raises(LockHeld, match=f"pid {holder.pid}"):
            InstanceLock(tmp_path, "prod", "syncd apply").acquire(0)
    finally:
        holder.kill()
        holder.wait(10)
    with InstanceLock(tmp_path, "prod", "syncd apply") as lock:
        lock.acquire(0)
        assert lock.held


def test_an_unwritable_state_dir_is_one_sentence(tmp_path: Path) -> None:
    """A state directory that cannot hold the lock file is named, with what to do."""
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(ConfigError, match=r"cannot open the instance lock .*--state-dir"):
        InstanceLock(blocker / "state", "prod", "syncd apply").acquire(0)
