"""Benchmark: calls per operation, wall time and peak memory at 100 / 1,000 / 10,000 secrets.

Runs the real pipeline (manifest → file source → expand → diff → apply) into an in-memory
document sink and a dotenv per-key sink, both wrapped to count calls. Prints a Markdown table.

    python bench/run.py              # 100, 1000, 10000
    python bench/run.py 100 1000     # chosen sizes
"""

from __future__ import annotations

import json
import sys
import tempfile
import textwrap
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from measure import measure

from syncd import logs
from syncd.apply import apply_plan
from syncd.connector import ConnectorSpec
from syncd.engine import make_plan
from syncd.manifest import load_manifest
from syncd.registry import Registry
from syncd.testing import MemorySink, MemorySource, RecordingSink

MANIFEST = """
version: 1
instance: bench
defaults: {prune: true}
source: {type: file, path: secrets.json}
targets:
  docs: {type: memory}
  env: {type: dotenv, path: out/bench.env}
syncs:
  - name: apps
    from: apps/
    to:
      - {target: docs, name: "apps/{relpath}"}
      - {target: env, name: "{relpath|env}_{key|env}"}
"""


def _calls(sinks: dict[str, RecordingSink]) -> str:
    counts: Counter[str] = Counter()
    for name, sink in sinks.items():
        for call in sink.calls:
            counts[f"{name}.{call.method}"] += 1
        sink.clear()
    return ", ".join(f"{k}={v}" for k, v in sorted(counts.items())) or "none"


def run(size: int) -> list[tuple[str, ...]]:
    work = Path(tempfile.mkdtemp(prefix="syncd-bench-"))
    secrets = {"apps": {f"app{i:05d}": {"user": f"user{i}", "password": f"pw-{i}-bench"} for i in range(size)}}
    (work / "secrets.json").write_text(json.dumps(secrets))
    (work / "syncd.yaml").write_text(textwrap.dedent(MANIFEST))
    registry = Registry()
    registry.register(ConnectorSpec("memory", "bench", source=MemorySource, sink=MemorySink))
    manifest = load_manifest(work / "syncd.yaml", registry)
    sinks = {"docs": RecordingSink(MemorySink("docs")), "env": RecordingSink(manifest.open_sink("env"))}
    rows = []

    def step(label: str, fn: Callable[[], Any]) -> Any:
        result, elapsed, peak = measure(fn)
        rows.append((str(size), label, f"{elapsed:.2f}", f"{peak:.1f}", _calls(sinks)))
        return result

    def plan() -> Any:
        return make_plan(manifest, manifest.open_source(), sinks)

    first = step("plan (empty sinks)", plan)
    step("apply (create all)", lambda: apply_plan(first, sinks))
    steady = step("plan (steady state, no drift)", plan)
    assert not steady.has_drift, "the steady state must have no drift"
    step("apply (steady state)", lambda: apply_plan(steady, sinks))
    secrets["apps"]["app00000"]["password"] = "pw-changed"
    (work / "secrets.json").write_text(json.dumps(secrets))
    one = step("plan (one secret changed)", plan)
    step("apply (one secret changed)", lambda: apply_plan(one, sinks))
    return rows


def main(argv: list[str]) -> None:
    sizes = [int(a) for a in argv] or [100, 1000, 10000]
    logs.configure("warning")
    print("| secrets | operation | wall s | peak MiB | sink calls |")
    print("|---:|---|---:|---:|---|")
    for size in sizes:
        for row in run(size):
            print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main(sys.argv[1:])
