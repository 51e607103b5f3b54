"""`python -m bench.plot RESULTS.jsonl... -o docs/benchmarks.png`: bench results as a PNG of two panels.

Left, the steady-state plan's API calls against N (log-log), one colour per scenario, each beside its naive
per-item reader measured in the same run (dashed, same colour); right, the steady-state plan's wall time against N
(log-log, so that a line parallel to the dotted "∝ N" guide is linear). Several runs of one size: the calls are the
same (they are counted), the time is the fastest run's. A scenario that makes no call (`dotenv`) has no line on
the log scale of the calls panel.

Needs matplotlib: `pip install -e '.[bench]'`.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from bench.results import BadResults, Run, by_scenario, fastest, load

if TYPE_CHECKING:
    from matplotlib.axes import Axes


def plot(runs: Sequence[Run], output: Path) -> None:
    """Write the two panels of `runs` to `output` as a PNG."""
    import matplotlib

    # No display: draw into the file only, whatever the environment says.
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter, NullFormatter

    grouped = by_scenario(runs)
    figure, (calls_axes, time_axes) = plt.subplots(1, 2, figsize=(13, 5.5), layout="constrained")
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for index, (connector, sizes) in enumerate(grouped.items()):
        colour = colours[index % len(colours)]
        secrets = list(sizes)
        calls = [int(runs_of_size[0]["calls_total"]) for runs_of_size in sizes.values()]
        naive = [int(runs_of_size[0]["naive_calls"]) for runs_of_size in sizes.values()]
        # One legend entry per scenario: the title says which line style is which.
        if any(calls):
            calls_axes.plot(secrets, calls, marker="o", color=colour, label=connector)
        if any(naive):
            calls_axes.plot(secrets, naive, marker="x", linestyle="--", color=colour)
        walls = [fastest(runs_of_size, "plan_wall_s") for runs_of_size in sizes.values()]
        time_axes.plot(secrets, walls, marker="o", color=colour, label=connector)
    _proportional_guide(time_axes, runs)
    calls_axes.set(
        xscale="log",
        yscale="log",
        xlabel="N, source secrets",
        ylabel="API calls of the steady-state plan",
        title="Calls (solid: syncd, dashed: naive per-item reader)",
    )
    time_axes.set(
        xscale="log",
        yscale="log",
        xlabel="N, source secrets",
        ylabel="seconds",
        title="Wall time of the steady-state plan",
    )
    for axes in (calls_axes, time_axes):
        # Plain numbers (100, 0.5) rather than powers of ten; the minor ticks unlabelled.
        for axis in (axes.xaxis, axes.yaxis):
            axis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
            axis.set_minor_formatter(NullFormatter())
        axes.grid(True, which="both", alpha=0.3)
        axes.legend(fontsize="small")
    figure.savefig(output, dpi=100)
    plt.close(figure)


def _proportional_guide(axes: Axes, runs: Sequence[Run]) -> None:
    """A dotted line ∝ N through the median plan time at the smallest N, to read linearity off the time panel."""
    sizes = sorted({int(run["secrets"]) for run in runs})
    if len(sizes) < 2:
        return
    smallest = sorted(float(run["plan_wall_s"]) for run in runs if int(run["secrets"]) == sizes[0])
    start = smallest[len(smallest) // 2]
    axes.plot([sizes[0], sizes[-1]], [start, start * sizes[-1] / sizes[0]], linestyle=":", color="grey", label="∝ N")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.plot", description=__doc__.splitlines()[0])
    parser.add_argument("results", nargs="+", type=Path, help="JSON Lines files of `python -m bench --json`")
    parser.add_argument("-o", "--output", type=Path, required=True, help="the PNG to write")
    arguments = parser.parse_args(sys.argv[1:] if argv is None else argv)
    try:
        runs = load(arguments.results)
    except (OSError, BadResults) as error:
        print(f"bench.plot: {error}", file=sys.stderr)
        return 2
    if not runs:
        print("bench.plot: the files hold no run", file=sys.stderr)
        return 2
    try:
        plot(runs, arguments.output)
    except ModuleNotFoundError:
        print("bench.plot: needs matplotlib: pip install -e '.[bench]'", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
