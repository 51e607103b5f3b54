"""file source → dotenv: one variable per key (per-key), so 2 variables per source secret, in one file.

A file has no API calls: calls_total, calls_floor, naive_calls and first_apply_calls are 0, and the figures that
matter are the wall times and the memory. writes_steady_state is 1 if the steady-state apply replaced the file
(a new inode or modification time), else 0.
"""

from __future__ import annotations

import textwrap
from collections import Counter
from pathlib import Path

from bench.workload import Counted, Result, result, run_cycle, syncd_env, write_file_source

CONNECTOR = "dotenv"
SOURCE = "file"
ENV_FILE = "out/bench.env"

MANIFEST = """
version: 1
instance: bench
defaults: {prune: true}
source: {type: file, path: secrets.json}
targets:
  env: {type: dotenv, path: out/bench.env}
syncs:
  - name: apps
    from: apps/
    to: [{target: env, name: "{relpath|env}_{key|env}"}]
"""


class FileCounter:
    """`CallCounter` for one file: no calls, and one write when the file was replaced since `reset`."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._seen: tuple[int, int] | None = None

    def _stat(self) -> tuple[int, int] | None:
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            return None
        return stat.st_ino, stat.st_mtime_ns

    def reset(self) -> None:
        self._seen = self._stat()

    def counts(self) -> Counter[str]:
        return Counter()

    def writes(self) -> int:
        return int(self._stat() != self._seen)


def run(secrets: int, workdir: Path) -> Result:
    write_file_source(workdir, secrets)
    (workdir / "syncd.yaml").write_text(textwrap.dedent(MANIFEST))
    cycle = run_cycle(FileCounter(workdir / ENV_FILE), workdir, syncd_env({}), items=2 * secrets)
    return result(
        connector=CONNECTOR,
        source=SOURCE,
        secrets=secrets,
        items=2 * secrets,
        cycle=cycle,
        naive=Counted(Counter(), 0),
        calls_floor=0,
        first_apply_floor=0,
    )
