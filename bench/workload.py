"""What every scenario does, whatever the connector: the source secrets, the three syncd runs, the result fields.

A scenario syncs N source secrets, each with two keys, `user` and `password`, from `apps/` to one target, and
measures through the command line only:

1. `syncd apply --yes` on an empty target: the first apply, which creates everything;
2. `syncd plan --detailed-exitcode`: the steady-state plan, which must find no drift (exit code 0);
3. `syncd apply --yes` again: the steady-state apply, which must write nothing;
4. the scenario's naive reader: one item at a time, the per-item calls of the same API (see each scenario).

The calls are counted where they arrive, by the server (or, for a file, by looking at the file), never inside
syncd, so the figures mean the same whatever the connectors look like inside.
"""

from __future__ import annotations

import json
import math
import os
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from bench.syncd_process import SyncdRun, run_syncd

# Environment variables of the bench's own shell that would change what the syncd processes do or where they go.
_HIDDEN_PREFIXES = ("AWS_", "VAULT_", "BAO_", "SYNCD_", "MOTO_")


class CallCounter(Protocol):
    """Counts the calls that reach a server: per operation, and how many of them changed something."""

    def reset(self) -> None: ...

    def counts(self) -> Counter[str]: ...

    def writes(self) -> int: ...


class RequestLogCounter:
    """`CallCounter` of a fake server of ours that logs every request it receives (`requests`, each with a
    `method`): the requests since `reset`, named per operation by `operation`, those with a `write_methods` method
    counted as writes."""

    def __init__(self, requests: Sequence[Any], operation: Callable[[Any], str], write_methods: frozenset[str]) -> None:
        self.requests = requests
        self.operation = operation
        self.write_methods = write_methods
        self._start = 0

    def _since(self) -> Sequence[Any]:
        return self.requests()[self._start :]

    def reset(self) -> None:
        self._start = len(self.requests())

    def counts(self) -> Counter[str]:
        return Counter(self.operation(request) for request in self._since())

    def writes(self) -> int:
        return sum(request.method in self.write_methods for request in self._since())


@dataclass
class Counted:
    """One measured step: its calls per operation, its write calls and, for a syncd run, the run."""

    calls: Counter[str]
    writes: int
    run: SyncdRun | None = None

    @property
    def total(self) -> int:
        return sum(self.calls.values())


@dataclass
class Result:
    """One scenario at one size: the JSON object `python -m bench --json` prints (see bench/README.md)."""

    connector: str
    source: str
    secrets: int
    items: int
    calls_total: int
    calls_floor: int
    floor_ratio: float | None
    naive_calls: int
    naive_ratio: float | None
    writes_steady_state: int
    first_apply_calls: int
    first_apply_floor: int
    plan_wall_s: float
    plan_cpu_s: float
    cpu_ms_per_call: float | None
    apply_wall_s: float
    steady_apply_wall_s: float
    peak_rss_mb: float
    plan_rss_mb: float
    plan_by_operation: dict[str, int] = field(default_factory=dict)
    first_apply_by_operation: dict[str, int] = field(default_factory=dict)
    naive_by_operation: dict[str, int] = field(default_factory=dict)


def source_secrets(count: int) -> dict[str, dict[str, str]]:
    """`count` secrets under `apps/`, two keys each; the values are made up and never printed."""
    return {f"app{index:05d}": {"user": f"user{index}", "password": f"pw-{index}-bench"} for index in range(count)}


def write_file_source(workdir: Path, count: int) -> None:
    """The `file` source: `secrets.json` beside the manifest, holding `source_secrets(count)` under `apps`."""
    (workdir / "secrets.json").write_text(json.dumps({"apps": source_secrets(count)}))


def pages(count: int, page_size: int) -> int:
    """Calls to list or fetch `count` things `page_size` at a time; listing nothing still takes one call."""
    return max(1, math.ceil(count / page_size))


def batches(count: int, batch_size: int) -> int:
    """Calls to fetch `count` named things `batch_size` at a time; nothing to fetch takes no call."""
    return math.ceil(count / batch_size)


def floor_ratio(calls: int, floor: int) -> float | None:
    """`calls / floor`, rounded to 2 places: 1.0 is at the floor. A floor of 0 calls (a file) is met only by 0 calls
    (1.0); any call above it has no finite ratio (None)."""
    if floor == 0:
        return 1.0 if calls == 0 else None
    return round(calls / floor, 2)


def naive_ratio(naive_calls: int, calls: int) -> float | None:
    """How many times fewer calls syncd made than the naive reader, rounded to 1 place; None when syncd made none."""
    return round(naive_calls / calls, 1) if calls else None


def cpu_ms_per_call(cpu_s: float, calls: int) -> float | None:
    """syncd's CPU milliseconds per API call of a run, rounded to 3 places; None when it made no call."""
    return round(cpu_s * 1000 / calls, 3) if calls else None


def syncd_env(extra: Mapping[str, str]) -> dict[str, str]:
    """The bench's environment without any AWS, Vault or syncd setting of the person running it, plus `extra`."""
    env = {name: value for name, value in os.environ.items() if not name.startswith(_HIDDEN_PREFIXES)}
    env["NO_COLOR"] = "1"
    return {**env, **extra}


def count(counter: CallCounter, argv: list[str], workdir: Path, env: Mapping[str, str], expect: int = 0) -> Counted:
    """Run one syncd command and count the calls it made."""
    counter.reset()
    run = run_syncd(argv, workdir, env, expect)
    return Counted(counter.counts(), counter.writes(), run)


@dataclass
class Cycle:
    """The three syncd runs of a scenario."""

    first_apply: Counted
    plan: Counted
    steady_apply: Counted


def run_cycle(counter: CallCounter, workdir: Path, env: Mapping[str, str], items: int) -> Cycle:
    """First apply, steady-state plan, steady-state apply of `workdir/syncd.yaml`, each checked and counted."""
    manifest = str(workdir / "syncd.yaml")
    # The audit log stays in the bench's folder, never in the state directory of the person running it.
    apply = ["apply", "-c", manifest, "--yes", "--format", "json", "--state-dir", str(workdir / "state")]
    first = count(counter, apply, workdir, env)
    created = _created(first.run)
    if created != items:
        raise AssertionError(f"the first apply created {created} items, expected {items}")
    # Exit code 0 with --detailed-exitcode: no drift, which the steady state must be.
    plan = count(counter, ["plan", "-c", manifest, "--format", "json", "--detailed-exitcode"], workdir, env)
    if plan.writes:
        raise AssertionError(f"the plan made {plan.writes} write calls; a plan writes nothing")
    steady = count(counter, apply, workdir, env)
    return Cycle(first, plan, steady)


def _created(run: SyncdRun | None) -> int:
    """The number of creates in `syncd apply -f json`'s plan summary (docs/json-format.md)."""
    if run is None:
        raise AssertionError("the first apply did not run")
    return int(json.loads(run.stdout)["plan"]["summary"]["create"])


def result(
    *,
    connector: str,
    source: str,
    secrets: int,
    items: int,
    cycle: Cycle,
    naive: Counted,
    calls_floor: int,
    first_apply_floor: int,
) -> Result:
    assert cycle.plan.run and cycle.first_apply.run and cycle.steady_apply.run
    runs = [cycle.first_apply.run, cycle.plan.run, cycle.steady_apply.run]
    return Result(
        connector=connector,
        source=source,
        secrets=secrets,
        items=items,
        calls_total=cycle.plan.total,
        calls_floor=calls_floor,
        floor_ratio=floor_ratio(cycle.plan.total, calls_floor),
        naive_calls=naive.total,
        naive_ratio=naive_ratio(naive.total, cycle.plan.total),
        writes_steady_state=cycle.steady_apply.writes,
        first_apply_calls=cycle.first_apply.total,
        first_apply_floor=first_apply_floor,
        plan_wall_s=round(cycle.plan.run.wall_s, 3),
        plan_cpu_s=round(cycle.plan.run.cpu_s, 3),
        cpu_ms_per_call=cpu_ms_per_call(cycle.plan.run.cpu_s, cycle.plan.total),
        apply_wall_s=round(cycle.first_apply.run.wall_s, 3),
        steady_apply_wall_s=round(cycle.steady_apply.run.wall_s, 3),
        peak_rss_mb=round(max(run.peak_rss_mb for run in runs), 1),
        plan_rss_mb=round(cycle.plan.run.peak_rss_mb, 1),
        plan_by_operation=dict(sorted(cycle.plan.calls.items())),
        first_apply_by_operation=dict(sorted(cycle.first_apply.calls.items())),
        naive_by_operation=dict(sorted(naive.calls.items())),
    )
