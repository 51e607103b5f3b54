"""The daemon over many ticks: `syncd run` on file → kubernetes (the fake API server, which counts every request it
receives) on a schedule of one second per 2,000 secrets (at least one, so that a tick ends before the next one is
due and each tick's requests are its own), watched from outside; with `--source vault`, the source is KV v2 `apps/` of
an OpenBao dev server (tests/fakes/openbao.py) reached through the counting proxy of bench/vault_proxy.py.

    python -m bench.daemon --secrets 1000 --ticks 30                    # a Markdown table
    python -m bench.daemon --secrets 100 1000 --json                    # one JSON object per size
    python -m bench.daemon --source vault --secrets 100 1000 --ticks 10 # the Vault source's requests per tick

For each size it reports the first run (calls, writes, wall time), then per steady tick (a scheduled run that finds
no drift): the calls and writes the server saw (the floor is the plan's own: one labelled LIST page per 500
Secrets, no write), the run's wall time, and the daemon's resident memory after the first steady tick and after the
last, so a leak across ticks shows as growth. With the Vault source, also the source's requests per steady tick
(most, median, and how many read a secret's data), which the connection, living across ticks, keeps to its
listings while nothing changes. Nothing here is a test: it measures.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import statistics
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

from bench.workload import pages, source_secrets, syncd_env, write_file_source

SOURCES = ("file", "vault")
TOKEN_VARIABLE = "BENCH_VAULT_TOKEN"
MANIFEST = """
version: 1
instance: bench
defaults: {schedule: SCHEDULE, prune: true, concurrency: 16}
source: SOURCE
targets:
  kubernetes: {type: kubernetes, kubeconfig: kubeconfig.yaml, context: fake}
syncs:
  - name: apps
    from: apps/
    to: [{target: kubernetes, namespace: team-a, name: "{relpath}"}]
"""
WRITES = frozenset(("POST", "PUT", "PATCH", "DELETE"))
FILE_SOURCE = "{type: file, path: secrets.json}"
VAULT_READERS = 16


def _vault_source(server: Any, address: str, secrets: int) -> str:
    """Writes the source secrets to `server` (uncounted) and returns the manifest's source, reached at `address`."""
    from concurrent.futures import ThreadPoolExecutor

    direct = server.client()
    values = source_secrets(secrets)

    def put(name: str) -> None:
        direct.secrets.kv.v2.create_or_update_secret(f"apps/{name}", values[name])

    with ThreadPoolExecutor(max_workers=VAULT_READERS) as pool:
        list(pool.map(put, values))
    auth = {"method": "token", "token": f"${{env:{TOKEN_VARIABLE}}}"}
    return json.dumps({"type": "vault", "address": address, "mount": "secret", "auth": auth})


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def schedule(secrets: int) -> str:
    """One second per 2,000 secrets, at least one: a steady tick at 10,000 secrets takes one to four seconds here."""
    return f"{max(1, math.ceil(secrets / 2000))}s"


def measure(secrets: int, ticks: int, source: str = "file") -> dict[str, Any]:
    from bench.vault_proxy import CountingProxy
    from tests.daemon.process import DaemonProcess
    from tests.fakes.kubernetes import ADMIN_TOKEN, KubeFake, kubeconfig_for
    from tests.fakes.openbao import start_openbao

    fake = KubeFake().start()
    daemon = None
    with contextlib.ExitStack() as stack:
        stack.callback(fake.stop)
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="syncd-bench-daemon-")))
        proxy = None
        env = syncd_env({})
        manifest_source = FILE_SOURCE
        if source == "vault":
            server = start_openbao(workdir / "openbao")
            stack.callback(server.stop)
            proxy = stack.enter_context(CountingProxy(server.address))
            manifest_source = _vault_source(server, proxy.address, secrets)
            env = syncd_env({TOKEN_VARIABLE: server.root_token})
        else:
            write_file_source(workdir, secrets)
        kubeconfig_for(fake, ADMIN_TOKEN, workdir / "kubeconfig.yaml")
        manifest = textwrap.dedent(MANIFEST).replace("SOURCE", manifest_source)
        (workdir / "syncd.yaml").write_text(manifest.replace("SCHEDULE", schedule(secrets)))
        argv = ["-c", str(workdir / "syncd.yaml"), "--listen", "127.0.0.1:0", "--state-dir", str(workdir / "s")]
        daemon = DaemonProcess(argv, env=env)
        stack.callback(daemon.kill)
        daemon.started()
        first = daemon.wait_for_event("run finished", deadline=600)
        first_calls = len(fake.requests)
        first_writes = sum(1 for r in fake.requests if r.method in WRITES)
        first_source = _total(proxy)
        steady: list[dict[str, Any]] = []
        rss_first = 0.0
        seen = len(daemon.events())
        mark, source_mark = len(fake.requests), _total(proxy)
        source_seen = proxy.counts() if proxy is not None else None
        while len(steady) < ticks:
            event = daemon.wait_for_event("run finished", after=seen, deadline=600)
            seen = daemon.events().index(event) + 1
            # The next tick starts a second later: the requests since the last mark are this run's.
            time.sleep(0.2)
            requests = fake.requests[mark:]
            mark += len(requests)
            tick: dict[str, Any] = {
                "calls": len(requests),
                "writes": sum(1 for r in requests if r.method in WRITES),
                "seconds": event["seconds"],
                "result": event["result"],
            }
            if proxy is not None and source_seen is not None:
                now = proxy.counts()
                tick["source_requests"] = sum(now.values()) - source_mark
                tick["source_data_reads"] = now["GET secret/data"] - source_seen["GET secret/data"]
                source_mark, source_seen = sum(now.values()), now
            steady.append(tick)
            if len(steady) == 1:
                rss_first = _rss_mb(daemon.proc.pid)
        rss_last = _rss_mb(daemon.proc.pid)
    calls = [tick["calls"] for tick in steady]
    row: dict[str, Any] = {
        "source": source,
        "secrets": secrets,
        "ticks": ticks,
        "first_run": {"calls": first_calls, "writes": first_writes, "seconds": first["seconds"]},
        "steady_tick": {
            "calls_max": max(calls),
            "calls_median": statistics.median(calls),
            "calls_floor": pages(secrets, 500),
            "writes": sum(tick["writes"] for tick in steady),
            "seconds_median": statistics.median(tick["seconds"] for tick in steady),
            "not_ok": sum(1 for tick in steady if tick["result"] != "ok"),
        },
        "rss_mb": {"after_first_steady_tick": round(rss_first, 1), "after_last": round(rss_last, 1)},
    }
    if proxy is not None:
        requests_per_tick = [tick["source_requests"] for tick in steady]
        row["first_run"]["source_requests"] = first_source
        row["steady_tick"].update(
            source_requests_max=max(requests_per_tick),
            source_requests_median=statistics.median(requests_per_tick),
            source_requests_per_secret=round(max(requests_per_tick) / secrets, 3),
            source_data_reads_max=max(tick["source_data_reads"] for tick in steady),
        )
    return row


def _total(proxy: Any) -> int:
    return sum(proxy.counts().values()) if proxy is not None else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.daemon", description=__doc__.splitlines()[0])
    parser.add_argument("--secrets", type=int, nargs="+", default=[1000])
    parser.add_argument("--ticks", type=int, default=30)
    parser.add_argument("--source", choices=SOURCES, default="file", help="the source: a file (default) or Vault")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    rows = [measure(n, args.ticks, args.source) for n in args.secrets]
    if args.json:
        for row in rows:
            print(json.dumps(row))
        return 0
    print("| source | secrets | first run calls (writes) | first run s | steady tick calls (floor) | steady writes "
          "| steady tick s | source requests per steady tick (data reads) "
          "| RSS after tick 1 → last (MB) |")  # fmt: skip
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for row in rows:
        first, tick, rss = row["first_run"], row["steady_tick"], row["rss_mb"]
        source = (
            f"{tick['source_requests_max']} ({tick['source_data_reads_max']})" if "source_requests_max" in tick else "—"
        )
        print(
            f"| {row['source']} | {row['secrets']:,} | {first['calls']:,} ({first['writes']:,}) "
            f"| {first['seconds']:.2f} "
            f"| {tick['calls_max']} ({tick['calls_floor']}) | {tick['writes']} | {tick['seconds_median']:.2f} "
            f"| {source} | {rss['after_first_steady_tick']} → {rss['after_last']} over {row['ticks']} ticks |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
