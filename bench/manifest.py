"""Benchmark: loading and validating a large manifest, at 1,000 / 10,000 / 98,000 syncs.

Each sync is a short flow mapping of about 100 bytes with two destinations, so 98,000 syncs make a
manifest of about 10 MB. Prints a Markdown table: size, wall time and peak memory of
`load_manifest` (read, parse, validate), with tracemalloc on and, separately, off.

    python bench/manifest.py                 # 1000, 10000, 98000
    python bench/manifest.py 1000 10000      # chosen sizes
    python bench/manifest.py --profile 10000 [tottime]  # cProfile's top functions instead
"""

from __future__ import annotations

import cProfile
import functools
import pstats
import sys
import tempfile
import time
from pathlib import Path

from measure import measure

from syncd.manifest import load_manifest
from syncd.registry import Registry

HEADER = """version: 1
instance: bench
source: {type: file, path: secrets}
targets:
  env: {type: dotenv, path: out/app.env}
  aws: {type: aws-secrets-manager, region: eu-west-1}
syncs:
"""
SYNC = (
    '  - {{name: app{i:05d}, from: apps/app{i:05d}, to: [{{target: aws, name: "prod/{{sync}}"}}, {{target: env}}]}}\n'
)


def write_manifest(directory: Path, syncs: int) -> Path:
    path = directory / f"syncd-{syncs}.yaml"
    with open(path, "w", encoding="utf-8") as out:
        out.write(HEADER)
        for index in range(syncs):
            out.write(SYNC.format(i=index))
    return path


def main(argv: list[str]) -> None:
    profile = "--profile" in argv
    sizes = [int(a) for a in argv if a.isdigit()] or [1000, 10000, 98000]
    registry = Registry()
    with tempfile.TemporaryDirectory(prefix="syncd-bench-") as work:
        if profile:
            path = write_manifest(Path(work), sizes[0])
            cProfile.runctx("load_manifest(path, registry)", globals(), locals(), str(Path(work) / "prof"))
            order = "tottime" if "tottime" in argv else "cumulative"
            pstats.Stats(str(Path(work) / "prof")).sort_stats(order).print_stats(25)
            return
        print("| syncs | manifest MB | load + validate, wall s | peak MiB (tracemalloc) | wall s, tracemalloc off |")
        print("|---:|---:|---:|---:|---:|")
        for size in sizes:
            path = write_manifest(Path(work), size)
            manifest, elapsed, peak = measure(functools.partial(load_manifest, path, registry))
            assert len(manifest.syncs) == size
            del manifest
            started = time.perf_counter()
            load_manifest(path, registry)
            plain = time.perf_counter() - started
            megabytes = path.stat().st_size / 1e6
            print(f"| {size:,} | {megabytes:.1f} | {elapsed:.2f} | {peak:.1f} | {plain:.2f} |", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
