"""Where a steady plan's CPU goes: cProfile of every thread, the garbage collector's share, and memory across ticks.

    python -m bench.profile --scenario kubernetes --secrets 1000 10000           # a steady `syncd plan`
    python -m bench.profile --scenario dotenv --secrets 10000 --mode tick        # daemon-like ticks in one process
    python -m bench.profile --scenario kubernetes --secrets 10000 --mode tick --tracemalloc

The scenario's first apply runs as in `python -m bench` (file → kubernetes on the fake API server, file → dotenv, or
file → gitlab on the fake GitLab server); the server stays in this process, and what is measured runs in a child
process of its own, so the server's threads neither share its interpreter nor show in its profile.

`--mode plan` profiles one `syncd plan` through the command line (`main(argv)`, as the bench runs it). `--mode tick`
does what the daemon does each tick, in one long-lived process: the manifest loaded once and one `Connections`, then
`--ticks` plans on it, each timed (CPU of the whole process, and the collector's own time, from `gc.callbacks`); one
more tick is profiled. `--tracemalloc` diffs snapshots taken after the second tick and after the last.

Nothing here is a test: it measures and prints.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import io
import json
import os
import pstats
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, redirect_stdout
from pathlib import Path
from typing import Any

SCENARIOS = ("kubernetes", "dotenv", "gitlab")
DEFAULT_THRESHOLDS = gc.get_threshold()


# The child: what is measured.


class GcClock:
    """The time the collector spends, from `gc.callbacks`, per generation."""

    def __init__(self) -> None:
        self.seconds = [0.0, 0.0, 0.0]
        self.collections = [0, 0, 0]
        self._started = 0.0

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            generation = info["generation"]
            self.seconds[generation] += time.perf_counter() - self._started
            self.collections[generation] += 1

    @contextmanager
    def running(self) -> Iterator[GcClock]:
        gc.callbacks.append(self)
        try:
            yield self
        finally:
            gc.callbacks.remove(self)


@contextmanager
def every_thread_profiled(enabled: bool = True) -> Iterator[list[cProfile.Profile]]:
    """A cProfile.Profile for the calling thread and for every thread started meanwhile (the engine's pools)."""
    profiles: list[cProfile.Profile] = []
    if not enabled:
        yield profiles
        return
    original_run = threading.Thread.run

    def profiled_run(thread: threading.Thread) -> None:
        profile = cProfile.Profile()
        profiles.append(profile)
        profile.enable()
        try:
            original_run(thread)
        finally:
            profile.disable()

    threading.Thread.run = profiled_run  # type: ignore[method-assign]
    main = cProfile.Profile()
    profiles.append(main)
    main.enable()
    try:
        yield profiles
    finally:
        main.disable()
        threading.Thread.run = original_run  # type: ignore[method-assign]


def print_stats(profiles: list[cProfile.Profile], top: int, out: Path | None) -> None:
    stats = pstats.Stats(profiles[0], stream=io.StringIO())
    for profile in profiles[1:]:
        # A thread that never ran a Python call has nothing to add (pstats refuses an empty profile).
        try:
            stats.add(profile)
        except TypeError:
            continue
    if out is not None:
        stats.dump_stats(out)
    for key in ("tottime", "cumulative"):
        stream = io.StringIO()
        stats.stream = stream
        stats.sort_stats(key).print_stats(top)
        print(f"--- by {key}")
        print("\n".join(line for line in stream.getvalue().splitlines() if line.strip())[:20000])


def _gc_setting(setting: str) -> Callable[[], None]:
    """What `--gc` does once the manifest and connections are loaded: nothing, `freeze`, `threshold=N`, or several
    joined with `+`."""
    steps: list[Callable[[], None]] = []
    for part in setting.split("+"):
        if part == "freeze":
            steps.append(gc.freeze)
        elif part.startswith("threshold="):
            first = int(part.partition("=")[2])
            steps.append(lambda first=first: gc.set_threshold(first, *gc.get_threshold()[1:]))
    return lambda: [step() for step in steps] and None


def child_plan(workdir: Path, argv: list[str], top: int, out: Path | None, profiled: bool) -> None:
    from syncd.cli import main

    with GcClock().running() as clock:
        cpu, wall = time.process_time(), time.perf_counter()
        with open(os.devnull, "w") as quiet, redirect_stdout(quiet), every_thread_profiled(profiled) as profiles:
            code = main(argv)
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    with_profile = "profiled" if profiled else "unprofiled"
    print(json.dumps({"exit": code, "plan": with_profile, "wall_s": round(wall, 3), "cpu_s": round(cpu, 3),
                      "gc_s": round(sum(clock.seconds), 3), "collections": clock.collections,
                      "peak_rss_mb": _peak_rss_mb()}), flush=True)  # fmt: skip
    if profiled:
        print_stats(profiles, top, out)


def child_ticks(
    workdir: Path, ticks: int, top: int, out: Path | None, gc_setting: str, trace: bool, trim: bool = False
) -> None:
    import tracemalloc

    from syncd.engine import Selection
    from syncd.manifest import load_manifest
    from syncd.registry import default_registry
    from syncd.run import Connections, Runner

    if trace:
        tracemalloc.start(12)
    manifest = load_manifest(workdir / "syncd.yaml", default_registry())
    connections = Connections()
    runner = Runner(manifest, connections)
    selection = Selection()

    def tick() -> int:
        with runner.connectors(selection) as (source, sinks):
            plan = runner.plan(source, sinks, selection)
        return len(plan.changes)

    tick()  # the first: connections made, imports done
    snapshots = []
    for setting in gc_setting.split(","):
        _gc_setting(setting)()
        rows = []
        for number in range(ticks):
            with GcClock().running() as clock:
                cpu, wall = time.process_time(), time.perf_counter()
                changes = tick()
                cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
            rows.append({"gc_setting": setting, "cpu_s": round(cpu, 3), "wall_s": round(wall, 3),
                         "gc_s": round(sum(clock.seconds), 3), "collections": clock.collections, "changes": changes,
                         "rss_mb": round(_rss_mb(), 1), "blocks": sys.getallocatedblocks()})  # fmt: skip
            if trim:
                trim_heap()
            print(json.dumps(rows[-1]), flush=True)
            if trace and number in (1, ticks - 1):
                gc.collect()
                snapshots.append(tracemalloc.take_snapshot())
        cpus = sorted(row["cpu_s"] for row in rows)
        gcs = sorted(row["gc_s"] for row in rows)
        print(f"median tick: CPU {cpus[len(cpus) // 2]:.3f} s, gc {gcs[len(gcs) // 2]:.3f} s ({setting})", flush=True)
        gc.unfreeze()
        gc.set_threshold(*DEFAULT_THRESHOLDS)
    if trace and len(snapshots) >= 2:
        print("--- tracemalloc: growth from tick 2 to the last")
        for stat in snapshots[1].compare_to(snapshots[0], "traceback")[:12]:
            print(stat)
            for line in stat.traceback.format()[-8:]:
                print("   ", line)
        return
    with every_thread_profiled() as profiles:
        tick()
    print_stats(profiles, top, out)


def trim_heap() -> None:
    """glibc's malloc_trim(0): the heap's free pages handed back to the system."""
    import ctypes

    ctypes.CDLL("libc.so.6").malloc_trim(0)


def _peak_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


# The parent: the scenario's server and first apply.


@contextmanager
def scenario(name: str, secrets: int, workdir: Path) -> Iterator[dict[str, str]]:
    """The scenario's manifest, source and server ready, its first apply done; yields the environment for syncd."""
    from bench.syncd_process import run_syncd
    from bench.workload import syncd_env, write_file_source

    write_file_source(workdir, secrets)
    stop: Callable[[], None] = lambda: None  # noqa: E731
    env = syncd_env({})
    if name == "kubernetes":
        from bench.scenarios import kubernetes
        from tests.fakes.kubernetes import ADMIN_TOKEN, KubeFake, kubeconfig_for

        fake = KubeFake().start()
        stop = fake.stop
        kubeconfig_for(fake, ADMIN_TOKEN, workdir / "kubeconfig.yaml")
        manifest = kubernetes.MANIFEST.format(namespace=kubernetes.NAMESPACE)
    elif name == "gitlab":
        from bench.scenarios import gitlab
        from tests.fakes.gitlab import MAINTAINER_TOKEN, new_gitlab_fake

        gitlab_fake = new_gitlab_fake()
        stop = gitlab_fake.stop
        manifest = gitlab.MANIFEST.format(url=gitlab_fake.url, project=gitlab.PROJECT)
        env = syncd_env({"GITLAB_TOKEN": MAINTAINER_TOKEN})
    else:
        from bench.scenarios import dotenv

        manifest = dotenv.MANIFEST
    try:
        (workdir / "syncd.yaml").write_text(textwrap.dedent(manifest))
        started = time.perf_counter()
        run_syncd(["apply", "-c", str(workdir / "syncd.yaml"), "--yes", "-f", "json", "--state-dir", "state"],
                  workdir, env)  # fmt: skip
        print(f"first apply: {time.perf_counter() - started:.1f} s", file=sys.stderr)
        yield env
    finally:
        stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", choices=SCENARIOS, default="kubernetes")
    parser.add_argument("--secrets", type=int, nargs="+", default=[1000])
    parser.add_argument("--mode", choices=("plan", "tick"), default="plan")
    parser.add_argument("--repeat", type=int, default=0, help="in plan mode: unprofiled plans first, each timed")
    parser.add_argument("--ticks", type=int, default=5)
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument(
        "--gc",
        default="default",
        help="in tick mode: default, freeze, or threshold=N; several, comma-separated, are tried in turn",
    )
    parser.add_argument("--tracemalloc", action="store_true")
    parser.add_argument("--trim", action="store_true", help="in tick mode: malloc_trim(0) after each tick")
    parser.add_argument(
        "--roots", type=Path, nargs="+", help="copies of the repository whose syncd to measure, in turn (default: this)"
    )
    parser.add_argument("--stats-file", type=Path, help="where to dump the merged pstats (suffixed with N)")
    args = parser.parse_args(argv)
    for secrets in args.secrets:
        print(f"=== {args.scenario}, {secrets} secrets, {args.mode}", flush=True)
        with tempfile.TemporaryDirectory(prefix="syncd-profile-") as folder:
            workdir = Path(folder)
            with scenario(args.scenario, secrets, workdir) as env:
                out = f"{args.stats_file}.{secrets}" if args.stats_file else ""
                memory = "trim" if args.trim else str(int(args.tracemalloc))
                command = [sys.executable, "-m", "bench.profile", "--child", str(workdir), args.mode,
                           str(args.ticks), str(args.top), out, args.gc, memory]  # fmt: skip
                roots = args.roots or [Path(__file__).resolve().parent.parent]
                for _ in range(args.repeat if args.mode == "plan" else 0):
                    for root in roots:
                        print(f"--- {root}", flush=True)
                        subprocess.run([*command, "unprofiled"], env=env, check=True, cwd=root)
                for root in roots if args.top or args.mode == "tick" else ():
                    print(f"--- {root}", flush=True)
                    subprocess.run(command, env=env, check=True, cwd=root)
    return 0


def child(argv: list[str]) -> int:
    workdir, mode, ticks, top, out, gc_setting, trace, *unprofiled = argv
    stats_file = Path(out) if out else None
    if mode == "plan":
        plan = ["plan", "-c", str(Path(workdir) / "syncd.yaml"), "-f", "json", "--detailed-exitcode"]
        child_plan(Path(workdir), plan, int(top), stats_file, profiled=not unprofiled)
    else:
        child_ticks(Path(workdir), int(ticks), int(top), stats_file, gc_setting, trace == "1", trace == "trim")
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        sys.exit(child(sys.argv[2:]))
    sys.exit(main())
