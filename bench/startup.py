"""Start-up time of the command line: each command run N times in fresh processes, median wall and CPU time.

    python bench/startup.py          # 15 runs of each command
    python bench/startup.py 40       # 40 runs

Run from the repository root. The commands are the quickstart's: they read local files only and write nothing.
The first row is the interpreter alone, the floor under every other row.
"""

from __future__ import annotations

import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
QUICKSTART = "examples/quickstart/syncd.yaml"
COMMANDS: list[tuple[str, list[str]]] = [
    ("python -c pass", ["-c", "pass"]),
    ("syncd version", ["-m", "syncd", "version"]),
    ("syncd validate (quickstart)", ["-m", "syncd", "validate", "-c", QUICKSTART]),
    ("syncd plan (quickstart)", ["-m", "syncd", "plan", "-c", QUICKSTART]),
    ("syncd plan -f json (quickstart)", ["-m", "syncd", "plan", "-c", QUICKSTART, "-f", "json"]),
]


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_once(args: list[str]) -> tuple[float, float]:
    """Wall and CPU seconds (user + system) of one fresh process."""
    cpu_before = _children_cpu()
    started = time.perf_counter()
    done = subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, check=False)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(args)} exited {done.returncode}: {done.stderr.decode(errors='replace')}")
    return wall, _children_cpu() - cpu_before


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 15
    print(f"{runs} runs each, Python {sys.version.split()[0]}")
    print("| command | median wall s | median CPU s |\n|---|---:|---:|")
    for label, args in COMMANDS:
        samples = [run_once(args) for _ in range(runs)]
        wall = statistics.median(s[0] for s in samples)
        cpu = statistics.median(s[1] for s in samples)
        print(f"| `{label}` | {wall:.3f} | {cpu:.3f} |")


if __name__ == "__main__":
    main()
