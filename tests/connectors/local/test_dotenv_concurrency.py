"""Concurrent applies on one dotenv file, and a person's edit between plan and apply: nothing is lost.

Each `syncd apply` runs in its own forked process, released together by a
barrier, so the two race for the file as two real runs would.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from syncd.apply import apply_plan
from syncd.connector import Sink
from syncd.engine import make_plan
from syncd.manifest import load_manifest
from syncd.model import Action, Plan
from syncd.registry import default_registry
from tests.connectors.local.dotenv_support import (
    FORK,
    apply_args,
    markers_sit_on_syncd_lines,
    results,
    run,
    start,
    variables,
    write_manifest,
)

ROUNDS = 3
COUNT = 300
SHARED = 20


def race(first: list[str], second: list[str], outputs: tuple[Path, Path]) -> tuple[int, int]:
    """Run two syncd commands at once; their exit codes."""
    barrier = FORK.Barrier(2)
    processes = [start(args, output, barrier.wait) for args, output in zip((first, second), outputs, strict=True)]
    for process in processes:
        process.join(timeout=120)
    codes = tuple(process.exitcode for process in processes)
    assert None not in codes, "an apply did not finish"
    return codes  # type: ignore[return-value]


def test_two_instances_with_overlapping_names_lose_nothing(tmp_path: Path) -> None:
    """Two instances racing on one file: each keeps all its variables, a shared name has one owner and the other
    instance gets a clear conflict, never a silent overwrite; every marker sits on a line its instance wrote."""
    target = tmp_path / "shared.env"
    target.write_text("# kept by hand\nHAND=made\n")
    outputs = (tmp_path / "alpha.out", tmp_path / "beta.out")
    for round_number in range(ROUNDS):
        wanted = {
            instance: {f"{instance.upper()}_{i}": f"{instance}-{round_number}-{i}" for i in range(COUNT)}
            | {f"SHARED_{i}": f"{instance}-shared-{round_number}-{i}" for i in range(SHARED)}
            for instance in ("alpha", "beta")
        }
        manifests = {name: write_manifest(tmp_path / name, name, target, values) for name, values in wanted.items()}
        race(apply_args(manifests["alpha"]), apply_args(manifests["beta"]), outputs)
        found = variables(target)
        assert found["HAND"] == (None, "made")
        for instance, values in wanted.items():
            mine = {name: value for name, value in values.items() if not name.startswith("SHARED_")}
            assert {name: found.get(name) for name in mine} == {name: (instance, v) for name, v in mine.items()}
        for index in range(SHARED):
            owner, value = found[f"SHARED_{index}"]
            assert owner in wanted and value == wanted[owner][f"SHARED_{index}"]
        assert markers_sit_on_syncd_lines(target, wanted) == []
        for output in outputs:
            for result in results(output):
                if result["status"] != "applied":
                    assert result["address"].startswith("SHARED_")
                    assert result["action"] == "conflict" or "moved since the plan" in result["error"]


def test_two_applies_of_one_instance_both_converge(tmp_path: Path) -> None:
    """Two applies of one manifest at once both succeed, with prune, and leave the file as the manifest says. Each
    has a state directory of its own (two machines sharing the file), so the instance lock does not keep them apart:
    the file's own lock and re-read must."""
    target = tmp_path / "app.env"
    target.write_text("HAND=made\n")
    outputs = (tmp_path / "one.out", tmp_path / "two.out")
    for round_number in range(ROUNDS):
        # Each round renames a third of the variables, so both applies create, update and prune at once.
        values = {f"V_{(i + round_number * COUNT // 3) % (2 * COUNT)}": f"r{round_number}-{i}" for i in range(COUNT)}
        manifest = write_manifest(tmp_path / "m", "solo", target, values)
        racers = [[*apply_args(manifest), "--state-dir", str(tmp_path / f"state-{n}")] for n in (1, 2)]
        assert race(*racers, outputs) == (0, 0)
        expected = {name: ("solo", value) for name, value in values.items()} | {"HAND": (None, "made")}
        assert variables(target) == expected
        assert markers_sit_on_syncd_lines(target, {"solo": values}) == []
        assert run(["plan", "-c", str(manifest), "--detailed-exitcode"], tmp_path / "plan.out") == 0


def test_two_applies_sharing_a_state_dir_take_turns(tmp_path: Path) -> None:
    """On one machine the instance lock keeps two applies of one instance apart: without --lock-wait the second is
    refused naming the first, with it the second waits and finds nothing left to do."""
    target = tmp_path / "app.env"
    manifest = write_manifest(tmp_path / "m", "solo", target, {f"V_{i}": str(i) for i in range(COUNT)})
    outputs = (tmp_path / "one.out", tmp_path / "two.out")
    state = ["--state-dir", str(tmp_path / "state")]
    codes = race([*apply_args(manifest), *state], [*apply_args(manifest), *state], outputs)
    refused = [out for out, code in zip(outputs, codes, strict=True) if code != 0]
    assert sorted(codes) == [0, 1] and len(refused) == 1
    assert "is locked by syncd apply (pid" in Path(f"{refused[0]}.err").read_text()
    write_manifest(tmp_path / "m", "solo", target, {f"W_{i}": str(i) for i in range(COUNT)})
    waiting = [*apply_args(manifest), *state, "--lock-wait", "2m"]
    assert race(waiting, waiting, outputs) == (0, 0)
    reports = [json.loads(out.read_text()) for out in outputs]
    assert sorted(len(report["results"]) for report in reports) == [0, 2 * COUNT]
    assert variables(target) == {f"W_{i}": ("solo", str(i)) for i in range(COUNT)}


def plan_and_sinks(manifest_path: Path) -> tuple[Plan, dict[str, Sink]]:
    manifest = load_manifest(manifest_path, default_registry())
    sinks = {name: manifest.open_sink(name, {}) for name in manifest.spec.targets}
    return make_plan(manifest, manifest.open_source({}), sinks), sinks


@pytest.mark.parametrize("edit", ["new line", "value of a planned update", "value of a planned delete"])
def test_a_persons_edit_between_plan_and_apply_is_kept(tmp_path: Path, edit: str) -> None:
    """An edit made after the plan is kept: a new line stays, and a planned change to a variable the person edited
    fails with 'moved since the plan' instead of overwriting or deleting the edit."""
    target = tmp_path / "app.env"
    manifest = write_manifest(tmp_path / "m", "solo", target, {"KEEP": "1", "CHANGE": "old", "DROP": "x"})
    assert run(apply_args(manifest), tmp_path / "first.out") == 0
    write_manifest(tmp_path / "m", "solo", target, {"KEEP": "1", "CHANGE": "new", "ADD": "2"})
    plan, sinks = plan_and_sinks(manifest)
    assert {c.address: c.action for c in plan.drift} == {
        "CHANGE": Action.UPDATE,
        "ADD": Action.CREATE,
        "DROP": Action.DELETE,
    }
    text = target.read_text()
    edited = {
        "new line": text + "PERSON=wrote-this\n",
        "value of a planned update": text.replace("CHANGE='old'", "CHANGE='by-hand'"),
        "value of a planned delete": text.replace("DROP='x'", "DROP='by-hand'"),
    }[edit]
    target.write_text(edited)
    outcome = {r.change.address: r for r in apply_plan(plan, sinks)}
    found = variables(target)
    assert found["ADD"] == ("solo", "2")
    if edit == "new line":
        assert found["PERSON"] == (None, "wrote-this")
        assert all(r.ok for r in outcome.values())
    else:
        name = "CHANGE" if "update" in edit else "DROP"
        assert found[name] == ("solo", "by-hand")
        assert not outcome[name].ok and "moved since the plan" in (outcome[name].error or "")
        assert "by-hand" not in (outcome[name].error or "")
