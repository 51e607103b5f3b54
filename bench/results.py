"""Reading `python -m bench --json` output back: the runs of one or more JSON Lines files, grouped by scenario and size.

`bench/check.py`, `bench/report.py` and `bench/plot.py` read their results through here, so that a result file of
any of them means the same to all three.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from bench.workload import floor_ratio, naive_ratio

Run = dict[str, Any]


class BadResults(ValueError):
    """A results file that is not `python -m bench --json` output."""


def load(paths: Iterable[Path]) -> list[Run]:
    """Every run in the files, in their order; blank lines are skipped."""
    runs: list[Run] = []
    for path in paths:
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            if not line.strip():
                continue
            try:
                run = json.loads(line)
            except json.JSONDecodeError as error:
                raise BadResults(f"{path}:{number}: not a JSON object ({error.msg})") from None
            if not isinstance(run, dict) or not {"connector", "secrets"} <= run.keys():
                raise BadResults(f"{path}:{number}: not a run of `python -m bench --json` (no connector or secrets)")
            runs.append(_with_ratios(run))
    return runs


def _with_ratios(run: Run) -> Run:
    """The run with the ratios that its counts give, for files of a bench that did not print them yet."""
    if "floor_ratio" not in run and {"calls_total", "calls_floor"} <= run.keys():
        run["floor_ratio"] = floor_ratio(int(run["calls_total"]), int(run["calls_floor"]))
    if "naive_ratio" not in run and {"calls_total", "naive_calls"} <= run.keys():
        run["naive_ratio"] = naive_ratio(int(run["naive_calls"]), int(run["calls_total"]))
    return run


def by_scenario(runs: Sequence[Run]) -> dict[str, dict[int, list[Run]]]:
    """The runs by connector (in the order first seen), then by N (ascending); several runs of one size stay apart."""
    grouped: dict[str, dict[int, list[Run]]] = defaultdict(lambda: defaultdict(list))
    for run in runs:
        grouped[run["connector"]][int(run["secrets"])].append(run)
    return {connector: dict(sorted(sizes.items())) for connector, sizes in grouped.items()}


def fastest(runs: Sequence[Run], field: str) -> float:
    """The smallest value of a timing field over repeated runs of one size: noise from a shared machine only adds."""
    return min(float(run[field]) for run in runs)
