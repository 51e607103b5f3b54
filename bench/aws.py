"""Benchmark of the AWS sinks: API calls per operation (counted by the server), wall time and peak memory.

Runs the real pipeline (manifest → file source → expand → diff → apply) into
`aws-secrets-manager` (one document secret per source secret) and `aws-ssm`
(one parameter per key), both on moto's server over HTTP behind the counting
middleware of `tests/fakes/aws.py`. The server runs in a child process, so
the wall time and peak memory are syncd's alone. Prints a Markdown table.

    python bench/aws.py                  # 100, 1000, 10000
    python bench/aws.py 100 1000         # chosen sizes
    python bench/aws.py --only sm 10000  # one target: sm or ssm (moto's SSM slows down past ~5,000 parameters)
"""

from __future__ import annotations

import json
import multiprocessing
import os
import sys
import tempfile
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from measure import measure

from syncd import logs
from syncd.apply import apply_plan
from syncd.engine import make_plan
from syncd.manifest import load_manifest
from syncd.registry import default_registry
from tests.fakes.aws import AwsFake


class RemoteFake:
    """The fake AWS server in a child process, driven through a pipe: its endpoint, counts and resets."""

    def __init__(self) -> None:
        self._conn, child = multiprocessing.Pipe()
        self._process = multiprocessing.Process(target=_serve, args=(child,), daemon=True)
        self._process.start()
        self.endpoint: str = self._conn.recv()

    def _ask(self, command: str) -> Any:
        self._conn.send(command)
        return self._conn.recv()

    def counts(self) -> dict[str, int]:
        return self._ask("counts")

    def reset_counts(self) -> None:
        self._ask("reset_counts")

    def reset(self) -> None:
        self._ask("reset")

    def stop(self) -> None:
        self._ask("stop")
        self._process.join(timeout=10)


def _serve(conn: Any) -> None:
    with AwsFake() as fake:
        conn.send(fake.endpoint)
        while True:
            command = conn.recv()
            if command == "counts":
                conn.send(dict(fake.counts()))
            elif command == "reset_counts":
                conn.send(fake.reset_counts())
            elif command == "reset":
                conn.send(fake.reset())
            else:
                conn.send(None)
                return


MANIFEST = """
version: 1
instance: bench
defaults: {{prune: true, concurrency: 16}}
source: {{type: file, path: secrets.json}}
targets:
  sm: {{type: aws-secrets-manager, region: us-east-1, endpoint_url: "{endpoint}", force_delete: true}}
  ssm: {{type: aws-ssm, region: eu-west-1, endpoint_url: "{endpoint}"}}
syncs:
  - name: apps
    from: apps/
    to:
      - {{target: sm, name: "bench/{{relpath}}"}}
      - {{target: ssm, path: "/bench/", name: "{{relpath}}/{{key}}"}}
"""


def _calls(fake: RemoteFake) -> str:
    counts = fake.counts()
    fake.reset_counts()
    return ", ".join(f"{op}={n}" for op, n in sorted(counts.items())) or "none"


def run(fake: RemoteFake, size: int, only: str | None = None) -> list[tuple[str, ...]]:
    fake.reset()
    work = Path(tempfile.mkdtemp(prefix="syncd-bench-aws-"))
    secrets = {"apps": {f"app{i:05d}": {"user": f"user{i}", "password": f"pw-{i}-bench"} for i in range(size)}}
    (work / "secrets.json").write_text(json.dumps(secrets))
    text = textwrap.dedent(MANIFEST.format(endpoint=fake.endpoint))
    if only:
        text = "\n".join(line for line in text.splitlines() if not _other_target(line, only))
    (work / "syncd.yaml").write_text(text)
    manifest = load_manifest(work / "syncd.yaml", default_registry())
    sinks = {name: manifest.open_sink(name) for name in manifest.spec.targets}
    rows = []

    def step(label: str, fn: Callable[[], Any]) -> Any:
        result, elapsed, peak = measure(fn)
        rows.append((str(size), label, f"{elapsed:.2f}", f"{peak:.1f}", _calls(fake)))
        return result

    def plan() -> Any:
        return make_plan(manifest, manifest.open_source(), sinks, allow_mass_delete=True)

    def apply(planned: Any) -> Any:
        return apply_plan(planned, sinks, concurrency=dict.fromkeys(sinks, 16))

    first = step("plan (empty)", plan)
    created = step("apply (create all)", lambda: apply(first))
    assert all(r.ok for r in created), "every create must succeed"
    steady = step("plan (steady state)", plan)
    assert not steady.has_drift, "the steady state must have no drift"
    secrets["apps"]["app00000"]["password"] = "pw-changed"
    (work / "secrets.json").write_text(json.dumps(secrets))
    one = step("plan (one secret changed)", plan)
    step("apply (one secret changed)", lambda: apply(one))
    for sink in sinks.values():
        sink.close()
    return rows


def _other_target(line: str, only: str) -> bool:
    """True for the manifest lines of the target that is not `only` (its target entry and its `to` entry)."""
    other = {"sm": "ssm", "ssm": "sm"}[only]
    return line.lstrip().startswith((f"{other}:", f"- {{target: {other},"))


def main(argv: list[str]) -> None:
    only = None
    if argv[:1] == ["--only"]:
        only, argv = argv[1], argv[2:]
    sizes = [int(a) for a in argv] or [100, 1000, 10000]
    logs.configure("warning")
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        os.environ.setdefault(name, "bench")
    os.environ.pop("MOTO_ACCOUNT_ID", None)
    print("| secrets | operation | wall s | peak MiB | API calls (server side) |")
    print("|---:|---|---:|---:|---|")
    fake = RemoteFake()
    try:
        for size in sizes:
            for row in run(fake, size, only):
                print("| " + " | ".join(row) + " |", flush=True)
    finally:
        fake.stop()


if __name__ == "__main__":
    main(sys.argv[1:])
