"""apply on a terminal: it shows the plan, asks, and applies only on 'yes'. Run in a real pseudo-terminal."""

from __future__ import annotations

import os
import pty
import select
import shutil
import subprocess
import sys
import time
from pathlib import Path

QUICKSTART = Path(__file__).parent.parent / "examples" / "quickstart"
DEADLINE = 30.0


def _read_until(fd: int, needle: bytes, deadline: float) -> bytes:
    seen = b""
    while needle not in seen:
        remaining = deadline - time.monotonic()
        assert remaining > 0, f"timed out waiting for {needle!r}; saw {seen[-500:]!r}"
        ready, _, _ = select.select([fd], [], [], remaining)
        if ready:
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                break
            if not chunk:
                break
            seen += chunk
    return seen


def _run_with_answer(tmp_path: Path, answer: bytes) -> tuple[int, bytes]:
    shutil.copytree(QUICKSTART, tmp_path / "qs", ignore=shutil.ignore_patterns("out"))
    controller, terminal = pty.openpty()
    env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"} | {"COLUMNS": "120", "TERM": "xterm"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "syncd", "apply", "-c", str(tmp_path / "qs" / "syncd.yaml")],
        stdin=terminal,
        stdout=terminal,
        stderr=terminal,
        env=env,
        close_fds=True,
    )
    os.close(terminal)
    deadline = time.monotonic() + DEADLINE
    try:
        shown = _read_until(controller, b"Only 'yes' applies", deadline)
        os.write(controller, answer + b"\n")
        shown += _read_until(controller, b"\x00never", deadline)
    finally:
        code = proc.wait(timeout=DEADLINE)
        os.close(controller)
    return code, shown


def test_yes_on_a_terminal_applies(tmp_path: Path) -> None:
    """Answering 'yes' at the prompt applies the plan, shown in colour."""
    code, shown = _run_with_answer(tmp_path, b"yes")
    assert code == 0, shown
    assert b"\x1b[" in shown  # coloured on a terminal
    assert b"6 applied, 0 failed." in shown
    assert (tmp_path / "qs" / "out" / "api.env").exists()


def test_anything_but_yes_cancels(tmp_path: Path) -> None:
    """Any other answer cancels and writes nothing."""
    code, shown = _run_with_answer(tmp_path, b"y")
    assert code == 1
    assert b"cancelled" in shown
    assert not (tmp_path / "qs" / "out").exists()
