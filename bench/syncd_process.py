"""One syncd command in a process of its own: its exit code, wall time and peak memory.

The bench drives syncd only through its command line entry, `syncd.cli.main(argv)`, so it measures whatever the
connectors do inside without knowing them. Each command runs in a fresh Python process (this file, run as a
script), so the peak RSS is that command's alone, not the bench's or a server's.

    python bench/syncd_process.py RESULT_FILE plan -c syncd.yaml -f json

The child writes `{"code", "wall_s", "cpu_s", "peak_rss_mb"}` to RESULT_FILE; syncd's own stdout and stderr go where
the parent sends them. The wall time and the CPU time (user + system of every thread, from the child's getrusage)
cover `main(argv)` only, not the interpreter's start or the import of the command line module (`bench/startup.py`
measures those).
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

# A run that takes longer is stuck (a server that stopped answering, a prompt): the bench stops with an error.
TIMEOUT_SECONDS = 1800


@dataclass(frozen=True)
class SyncdRun:
    """What one syncd command did, seen from outside."""

    argv: tuple[str, ...]
    code: int
    wall_s: float
    cpu_s: float
    peak_rss_mb: float
    stdout: str
    stderr: str


class SyncdFailed(RuntimeError):
    """A syncd command the bench needed to succeed ended with another exit code."""


def run_syncd(argv: Sequence[str], cwd: Path, env: Mapping[str, str], expect: int = 0) -> SyncdRun:
    """Run `syncd ARGV` in a child process from `cwd` with exactly `env`; raise SyncdFailed on another exit code."""
    result_file = cwd / f".syncd-run-{os.getpid()}-{time.monotonic_ns()}.json"
    child = [sys.executable, str(Path(__file__).resolve()), str(result_file), *argv]
    done = subprocess.run(
        child, cwd=cwd, env=dict(env), capture_output=True, text=True, timeout=TIMEOUT_SECONDS, check=False
    )
    try:
        measured = json.loads(result_file.read_text())
    except FileNotFoundError:
        raise SyncdFailed(f"syncd {' '.join(argv)} died (exit code {done.returncode}):\n{done.stderr}") from None
    finally:
        result_file.unlink(missing_ok=True)
    run = SyncdRun(
        tuple(argv),
        measured["code"],
        measured["wall_s"],
        measured["cpu_s"],
        measured["peak_rss_mb"],
        done.stdout,
        done.stderr,
    )
    if run.code != expect:
        raise SyncdFailed(f"syncd {' '.join(argv)} exited {run.code}, expected {expect}:\n{run.stderr}")
    return run


def _peak_rss_mb() -> float:
    """This process's peak resident memory in MiB, since its exec.

    On Linux, getrusage's ru_maxrss carries over the peak of the image before exec, which is a fork of the bench
    (with moto loaded, 200 MiB and more); /proc/self/status's VmHWM belongs to the new image alone.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    # ru_maxrss is in KiB on Linux and in bytes on macOS.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / (2**20 if sys.platform == "darwin" else 1024)


def _cpu_s() -> float:
    """User + system CPU seconds of this process so far, all its threads together."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _child(result_file: str, argv: list[str]) -> int:
    from syncd.cli import main

    cpu_before = _cpu_s()
    started = time.perf_counter()
    code = main(argv)
    wall = time.perf_counter() - started
    cpu = _cpu_s() - cpu_before
    peak = _peak_rss_mb()
    Path(result_file).write_text(json.dumps({"code": code, "wall_s": wall, "cpu_s": cpu, "peak_rss_mb": peak}))
    return code


if __name__ == "__main__":
    # Run as a script, this folder comes first on the path; its modules must not shadow any that syncd imports.
    here = Path(__file__).resolve().parent
    sys.path[:] = [entry for entry in sys.path if Path(entry or ".").resolve() != here]
    sys.exit(_child(sys.argv[1], sys.argv[2:]))
