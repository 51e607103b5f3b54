"""The daemon over many ticks: `syncd run` on file → kubernetes (the fake API server, which counts every request it
receives) with a one-second schedule, watched from outside.

    python -m bench.daemon --secrets 1000 --ticks 30        # a Markdown table
    python -m bench.daemon --secrets 100 1000 --json        # one JSON object per size

For each size it reports the first run (calls, writes, wall time), then per steady tick (a scheduled run that finds
no drift): the calls and writes the server saw (the floor is the plan's own: one labelled LIST page per 500
Secrets, no write), the run's wall time, and the daemon's resident memory after the first steady tick and after the
last, so a leak across ticks shows as growth. Nothing here is a test: it measures.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

from bench.workload import pages, syncd_env, write_file_source

MANIFEST = """
version: 1
instance: bench
defaults: {schedule: 1s, prune: true, concurrency: 16}
source: {type: file, path: secrets.json}
targets:
  kubernetes: {type: kubernetes, kubeconfig: kubeconfig.yaml, context: fake}
syncs:
  - name: apps
    from: apps/
    to: [{target: kubernetes, namespace: team-a, name: "{relpath}"}]
"""
WRITES = frozenset(("POST", "PUT", "PATCH", "DELETE"))


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def measure(secrets: int, ticks: int) -> dict[str, Any]:
    from tests.daemon.process import DaemonProcess
    from tests.fakes.kubernetes import ADMIN_TOKEN, KubeFake, kubeconfig_for

    fake = KubeFake().start()
    daemon = None
    try:
        with tempfile.TemporaryDirectory(prefix="syncd-bench-daemon-") as folder:
            workdir = Path(folder)
            write_file_source(workdir, secrets)
            kubeconfig_for(fake, ADMIN_TOKEN, workdir / "kubeconfig.yaml")
            (workdir / "syncd.yaml").write_text(textwrap.dedent(MANIFEST))
            argv = ["-c", str(workdir / "syncd.yaml"), "--listen", "127.0.0.1:0", "--state-dir", str(workdir / "s")]
            daemon = DaemonProcess(argv, env=syncd_env({}))
            daemon.started()
            first = daemon.wait_for_event("run finished", deadline=600)
            first_calls = len(fake.requests)
            first_writes = sum(1 for r in fake.requests if r.method in WRITES)
            steady: list[dict[str, Any]] = []
            rss_first = 0.0
            seen = len(daemon.events())
            mark = len(fake.requests)
            while len(steady) < ticks:
                event = daemon.wait_for_event("run finished", after=seen, deadline=600)
                seen = daemon.events().index(event) + 1
                # The next tick starts a second later: the requests since the last mark are this run's.
                time.sleep(0.2)
                requests = fake.requests[mark:]
                mark += len(requests)
                steady.append(
                    {
                        "calls": len(requests),
                        "writes": sum(1 for r in requests if r.method in WRITES),
                        "seconds": event["seconds"],
                        "result": event["result"],
                    }
                )
                if len(steady) == 1:
                    rss_first = _rss_mb(daemon.proc.pid)
            rss_last = _rss_mb(daemon.proc.pid)
    finally:
        if daemon is not None:
            daemon.kill()
        fake.stop()
    calls = [tick["calls"] for tick in steady]
    return {
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.daemon", description=__doc__.splitlines()[0])
    parser.add_argument("--secrets", type=int, nargs="+", default=[1000])
    parser.add_argument("--ticks", type=int, default=30)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    rows = [measure(n, args.ticks) for n in args.secrets]
    if args.json:
        for row in rows:
            print(json.dumps(row))
        return 0
    print("| secrets | first run calls (writes) | first run s | steady tick calls (floor) | steady writes "
          "| steady tick s | RSS after tick 1 → last (MB) |")  # fmt: skip
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for row in rows:
        first, tick, rss = row["first_run"], row["steady_tick"], row["rss_mb"]
        print(
            f"| {row['secrets']:,} | {first['calls']:,} ({first['writes']:,}) | {first['seconds']:.2f} "
            f"| {tick['calls_max']} ({tick['calls_floor']}) | {tick['writes']} | {tick['seconds_median']:.2f} "
            f"| {rss['after_first_steady_tick']} → {rss['after_last']} over {row['ticks']} ticks |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
