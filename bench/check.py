"""`python -m bench.check RESULTS.jsonl...`: the performance must-shows of issue 13, checked over bench results.

    python -m bench --secrets 1000 10000 --json > results.jsonl
    python -m bench.check results.jsonl

Prints one line per rule and scenario, `pass`, `FAIL` or `not measured` (no run of the size the rule needs), and
exits 1 when a rule fails, 0 otherwise. The rules:

* floor: at N >= 1,000, the steady-state plan within 1.1x its floor of calls, with no steady-state write;
* naive: at N >= 1,000, at least 10x fewer calls than the naive per-item reader (batch APIs only);
* linear: the steady-state plan's wall time at 10,000 at most 12x that at 1,000 (the fastest run of each size);
* memory: peak resident memory at 10,000 under 200 MiB (the largest of the runs).

Only counts are deterministic; the timing rules hold for the machine and load they ran on.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bench.results import BadResults, Run, by_scenario, fastest, load

# The sizes the must-shows speak of: `python -m bench --secrets 1000` and the 10,000 of the linearity rule.
MUST_SHOW_SECRETS = 1000
LARGE_SECRETS = 10_000
FLOOR_SLACK = 1.1
NAIVE_FACTOR = 10
LINEAR_FACTOR = 12
PEAK_RSS_LIMIT_MB = 200
# Every scenario of `python -m bench`, and those whose APIs read in batches, where the naive rule applies.
SCENARIOS = ("aws-secrets-manager", "aws-ssm", "vault", "dotenv", "gitlab", "kubernetes")
BATCH_SCENARIOS = ("aws-secrets-manager", "aws-ssm", "kubernetes", "gitlab")

PASS, FAIL, NOT_MEASURED = "pass", "FAIL", "not measured"


@dataclass(frozen=True)
class Verdict:
    rule: str
    scenario: str
    status: str
    detail: str

    def line(self) -> str:
        return f"{self.status:<12}  {self.rule:<7} {self.scenario:<20} {self.detail}"


def _at_least(sizes: dict[int, list[Run]], secrets: int) -> list[Run]:
    return [run for size, runs in sizes.items() if size >= secrets for run in runs]


def _within_floor(run: Run) -> bool:
    calls, floor = int(run["calls_total"]), int(run["calls_floor"])
    return calls <= FLOOR_SLACK * floor and int(run["writes_steady_state"]) == 0


def check_floor(scenario: str, sizes: dict[int, list[Run]]) -> Verdict:
    rule = "floor"
    runs = _at_least(sizes, MUST_SHOW_SECRETS)
    if not runs:
        return Verdict(rule, scenario, NOT_MEASURED, f"no run at N >= {MUST_SHOW_SECRETS:,}")
    details = [
        f"N={run['secrets']:,}: {run['calls_total']} calls, floor {run['calls_floor']}, "
        f"{run['writes_steady_state']} steady-state writes"
        for run in runs
    ]
    status = PASS if all(_within_floor(run) for run in runs) else FAIL
    return Verdict(rule, scenario, status, f"<= {FLOOR_SLACK}x floor, no write; " + "; ".join(details))


def check_naive(scenario: str, sizes: dict[int, list[Run]]) -> Verdict:
    rule = "naive"
    runs = _at_least(sizes, MUST_SHOW_SECRETS)
    if not runs:
        return Verdict(rule, scenario, NOT_MEASURED, f"no run at N >= {MUST_SHOW_SECRETS:,}")
    details = [f"N={run['secrets']:,}: {run['calls_total']} calls, naive {run['naive_calls']}" for run in runs]
    status = PASS if all(int(run["naive_calls"]) >= NAIVE_FACTOR * int(run["calls_total"]) for run in runs) else FAIL
    return Verdict(rule, scenario, status, f">= {NAIVE_FACTOR}x fewer than naive; " + "; ".join(details))


def check_linear(scenario: str, sizes: dict[int, list[Run]]) -> Verdict:
    rule = "linear"
    if MUST_SHOW_SECRETS not in sizes or LARGE_SECRETS not in sizes:
        return Verdict(rule, scenario, NOT_MEASURED, f"needs runs at both {MUST_SHOW_SECRETS:,} and {LARGE_SECRETS:,}")
    small = fastest(sizes[MUST_SHOW_SECRETS], "plan_wall_s")
    large = fastest(sizes[LARGE_SECRETS], "plan_wall_s")
    ratio = large / small if small else float("inf")
    status = PASS if large <= LINEAR_FACTOR * small else FAIL
    detail = f"plan wall {large:.3f} s at {LARGE_SECRETS:,} / {small:.3f} s at {MUST_SHOW_SECRETS:,} = {ratio:.1f}x"
    return Verdict(rule, scenario, status, f"<= {LINEAR_FACTOR}x; {detail}{_cpu_ratio(sizes)}")


def _cpu_ratio(sizes: dict[int, list[Run]]) -> str:
    """For information beside the wall-time rule: the same ratio of syncd's own CPU time, which no server's time
    and no wait for a shared core is in."""
    runs = [*sizes[MUST_SHOW_SECRETS], *sizes[LARGE_SECRETS]]
    if any(run.get("plan_cpu_s") is None for run in runs):
        return ""
    small = fastest(sizes[MUST_SHOW_SECRETS], "plan_cpu_s")
    large = fastest(sizes[LARGE_SECRETS], "plan_cpu_s")
    return f" (syncd's CPU {large:.3f} s / {small:.3f} s = {large / small:.1f}x)" if small else ""


def check_memory(scenario: str, sizes: dict[int, list[Run]]) -> Verdict:
    rule = "memory"
    if LARGE_SECRETS not in sizes:
        return Verdict(rule, scenario, NOT_MEASURED, f"no run at {LARGE_SECRETS:,}")
    peak = max(float(run["peak_rss_mb"]) for run in sizes[LARGE_SECRETS])
    status = PASS if peak < PEAK_RSS_LIMIT_MB else FAIL
    return Verdict(rule, scenario, status, f"< {PEAK_RSS_LIMIT_MB} MiB; peak {peak:.1f} MiB at {LARGE_SECRETS:,}")


def check(runs: Sequence[Run]) -> list[Verdict]:
    """Every rule for every scenario, in a fixed order; scenarios found in the runs but unknown here come last."""
    grouped = by_scenario(runs)
    scenarios = [*SCENARIOS, *(name for name in grouped if name not in SCENARIOS)]
    verdicts = [check_floor(name, grouped.get(name, {})) for name in scenarios]
    verdicts += [check_naive(name, grouped.get(name, {})) for name in BATCH_SCENARIOS]
    verdicts += [check_linear(name, grouped.get(name, {})) for name in scenarios]
    verdicts += [check_memory(name, grouped.get(name, {})) for name in scenarios]
    return verdicts


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.check", description=__doc__.splitlines()[0])
    parser.add_argument("results", nargs="+", type=Path, help="JSON Lines files of `python -m bench --json`")
    arguments = parser.parse_args(sys.argv[1:] if argv is None else argv)
    try:
        verdicts = check(load(arguments.results))
    except (OSError, BadResults) as error:
        print(f"bench.check: {error}", file=sys.stderr)
        return 2
    for verdict in verdicts:
        print(verdict.line())
    failed = sum(verdict.status == FAIL for verdict in verdicts)
    measured = sum(verdict.status != NOT_MEASURED for verdict in verdicts)
    print(f"{failed} of {measured} measured rules failed; {len(verdicts) - measured} not measured")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
