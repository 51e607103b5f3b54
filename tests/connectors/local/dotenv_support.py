"""The dotenv sink's calls as a plan and an apply make them, and manifests and child processes for its
concurrency and fault tests.

`syncd apply` runs in a forked child so that two of them race for real, or so
that a hook can end one with `os._exit`: a kill runs no `finally`, no
`except` and no cleanup of syncd's, exactly as SIGKILL would.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import re
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from connectors.local.dotenv_sink import DotenvSink
from connectors.local.options import DotenvSinkOptions
from syncd.cli import main
from syncd.connector import Scope
from syncd.diff import difference
from syncd.model import ActualItem, DesiredItem, Granularity, Ownership
from syncd.secret import Secret

FORK = multiprocessing.get_context("fork")
# The instance `observed` asks for; its items are what a plan of another instance would see.
READER = Ownership("reader", "reader")
MARKER = re.compile(r"# syncd: owner=([A-Za-z0-9._-]+)/([A-Za-z0-9._-]+)")


def observed(sink: DotenvSink, names: Sequence[str]) -> dict[str, ActualItem]:
    """The variables among `names` the file holds, as a plan's `observe` reports them."""
    wanted = [DesiredItem(sink.target, name, READER, {name: Secret("")}, Granularity.PER_KEY) for name in names]
    return dict(sink.observe(wanted, Scope(READER.instance)).items)


def owned(sink: DotenvSink, instance: str, *patterns: str) -> dict[str, ActualItem]:
    """The variables `observe` reports as `instance`'s within `patterns` (all of them by default)."""
    return dict(sink.observe([], Scope(instance, patterns or ("*",))).owned)


def write(sink: DotenvSink, item: DesiredItem, expected: ActualItem | None = None) -> None:
    """Write `item` as apply does after a plan that saw `expected` (None: absent)."""
    sink.write(item, expected, difference(item, expected))


def write_manifest(folder: Path, instance: str, target: Path, values: Mapping[str, str]) -> Path:
    """A manifest of `instance` syncing `values` (one secret, one variable per key) into `target`, with prune."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "secrets.yaml").write_text(yaml.safe_dump({"vars": dict(values)}), encoding="utf-8")
    manifest = {
        "version": 1,
        "instance": instance,
        "defaults": {"prune": True, "on_conflict": "fail"},
        "source": {"type": "file", "path": "secrets.yaml"},
        "targets": {"env": {"type": "dotenv", "path": str(target)}},
        "syncs": [{"name": "vars", "from": "vars", "to": [{"target": "env"}]}],
    }
    path = folder / "syncd.yaml"
    path.write_text(yaml.safe_dump(manifest), encoding="utf-8")
    return path


def apply_args(manifest: Path) -> list[str]:
    return ["apply", "-c", str(manifest), "--yes", "--allow-mass-delete", "--format", "json"]


def _child(args: list[str], output: str, before: Callable[[], None] | None) -> None:
    # The report on stdout is read as JSON; log events and errors go beside it.
    sys.stdout = open(output, "w", encoding="utf-8")  # noqa: SIM115 - os._exit closes it
    sys.stderr = open(f"{output}.err", "w", encoding="utf-8")  # noqa: SIM115
    if before is not None:
        before()
    code = main(args)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def start(args: list[str], output: Path, before: Callable[[], None] | None = None) -> Any:
    """`syncd ARGS` in a forked child writing its output to `output`; `before` runs first, in the child."""
    process = FORK.Process(target=_child, args=(args, str(output), before))
    process.start()
    return process


def run(args: list[str], output: Path, before: Callable[[], None] | None = None) -> int:
    """The exit code of `syncd ARGS` run to its end in a forked child."""
    process = start(args, output, before)
    process.join(timeout=120)
    assert process.exitcode is not None, "the child did not finish"
    return process.exitcode


def results(output: Path) -> list[dict[str, Any]]:
    """The results of an apply run with --format json (none when there was nothing to do)."""
    return json.loads(output.read_text(encoding="utf-8"))["results"]


def variables(path: Path) -> dict[str, tuple[str | None, str]]:
    """Each variable of the dotenv file: its owner instance (None without a marker) and its value."""
    found = observed(DotenvSink("check", DotenvSinkOptions(path=str(path))), _names(path))
    return {
        name: (item.owner.instance if item.owner else None, next(iter((item.data or {}).values())).reveal())
        for name, item in found.items()
    }


def markers_sit_on_syncd_lines(path: Path, *written: Mapping[str, Mapping[str, str]]) -> list[str]:
    """Every marker line whose variable is not one a `written[instance]` maps to that value: should be none."""
    wrong = []
    current_variables = variables(path)
    lines = path.read_text(encoding="utf-8").splitlines()
    for number, line in enumerate(lines):
        marker = MARKER.fullmatch(line)
        if marker is None:
            continue
        name = lines[number + 1].split("=", 1)[0] if number + 1 < len(lines) else ""
        instance = marker.group(1)
        current = current_variables.get(name)
        if current is None or all(values.get(instance, {}).get(name) != current[1] for values in written):
            wrong.append(f"line {number + 1}: marker of {instance!r} above {name!r}")
    return wrong


def _names(path: Path) -> list[str]:
    if not path.exists():
        return []
    return re.findall(r"^([A-Za-z_][A-Za-z0-9_]*)=", path.read_text(encoding="utf-8"), flags=re.MULTILINE)
