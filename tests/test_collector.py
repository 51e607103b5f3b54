"""The garbage collector during a plan: the young generation's threshold raised for the plan, put back after."""

from __future__ import annotations

import contextlib
import gc
import threading
from collections.abc import Iterator, Sequence

import pytest

from syncd import collector
from syncd.connector import Observation, Scope
from syncd.engine import make_plan
from syncd.model import DesiredItem
from syncd.testing import MemorySink, MemorySource
from tests.conftest import FAST_RETRY

MANIFEST = """
version: 1
instance: prod
source: {type: memory}
targets:
  a: {type: memory}
syncs:
  - name: apps
    from: apps/
    to: [{target: a, name: "{relpath}"}]
"""


class ThresholdSeen(MemorySink):
    """A memory sink that notes the collector's thresholds while it observes."""

    seen: tuple[int, int, int] | None = None

    def observe(self, desired: Sequence[DesiredItem], scope: Scope) -> Observation:
        self.seen = gc.get_threshold()
        return super().observe(desired, scope)


@pytest.fixture
def default_thresholds() -> Iterator[tuple[int, int, int]]:
    saved = gc.get_threshold()
    gc.set_threshold(700, 10, 10)
    try:
        yield gc.get_threshold()
    finally:
        gc.set_threshold(*saved)


@contextlib.contextmanager
def collections_counted() -> Iterator[list[int]]:
    """The generation of each collection the collector starts inside the block, after a full one before it."""
    passes: list[int] = []

    def count(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            passes.append(info["generation"])

    gc.collect()
    gc.callbacks.append(count)
    try:
        yield passes
    finally:
        gc.callbacks.remove(count)


def many_secrets(count: int) -> MemorySource:
    return MemorySource(
        secrets={f"apps/app{i:05d}": {"user": f"user{i}", "password": f"pw-{i}-x"} for i in range(count)}
    )


def test_a_plan_observes_with_the_young_threshold_raised_and_puts_it_back(write_manifest, default_thresholds) -> None:
    """While a plan runs, the collector's young generation waits for PLAN_YOUNG_THRESHOLD new objects instead of
    700; the older generations keep theirs, and the thresholds are as they were once the plan is made."""
    sink = ThresholdSeen("a")
    make_plan(write_manifest(MANIFEST), many_secrets(3), {"a": sink}, retry=FAST_RETRY)
    assert sink.seen == (collector.PLAN_YOUNG_THRESHOLD, 10, 10)
    assert gc.get_threshold() == default_thresholds


def test_a_plan_of_thousands_of_items_makes_a_few_young_collections(write_manifest, default_thresholds) -> None:
    """A plan of 3,000 items, which keeps nearly all it makes until it ends, runs the collector a few times, not once
    per 700 objects (which made the collector's passes over the plan built so far a third of its CPU)."""
    manifest, source, sinks = write_manifest(MANIFEST), many_secrets(3000), {"a": MemorySink("a")}
    with collections_counted() as passes:
        plan = make_plan(manifest, source, sinks, retry=FAST_RETRY)
    assert len(plan.changes) == 3000
    assert len(passes) <= 10


def test_overlapping_plans_keep_the_threshold_raised_until_the_last_ends(default_thresholds) -> None:
    """Plans on several threads share the process's collector: the first to start raises the threshold, and only the
    last to end puts it back."""
    first_in, second_in, first_out = threading.Event(), threading.Event(), threading.Event()
    seen: list[tuple[int, int, int]] = []

    def second() -> None:
        first_in.wait()
        with collector.young_threshold_raised():
            second_in.set()
            first_out.wait()
            seen.append(gc.get_threshold())

    thread = threading.Thread(target=second)
    thread.start()
    with collector.young_threshold_raised():
        first_in.set()
        second_in.wait()
    first_out.set()
    thread.join()
    assert seen == [(collector.PLAN_YOUNG_THRESHOLD, 10, 10)]
    assert gc.get_threshold() == default_thresholds


def test_a_collector_set_never_to_run_by_itself_is_left_so(default_thresholds) -> None:
    """A young threshold of 0 (the collector runs only when called) is not raised into one that runs."""
    gc.set_threshold(0, 10, 10)
    with collector.young_threshold_raised():
        assert gc.get_threshold() == (0, 10, 10)
    assert gc.get_threshold() == (0, 10, 10)


def test_a_command_line_plan_runs_the_collector_a_few_times(tmp_path, default_thresholds, capsys) -> None:
    """`syncd plan -f json` of 2,000 secrets (4,000 dotenv variables) runs the collector a few times from the manifest
    to the printed report, which builds as much as the plan itself, and puts the thresholds back when it returns."""
    import json

    from syncd.cli import main

    secrets = {f"app{i:05d}": {"user": f"user{i}", "password": f"pw-{i}-x"} for i in range(2000)}
    (tmp_path / "secrets.json").write_text(json.dumps({"apps": secrets}))
    (tmp_path / "syncd.yaml").write_text(
        "version: 1\ninstance: prod\nsource: {type: file, path: secrets.json}\n"
        "targets: {env: {type: dotenv, path: out.env}}\n"
        'syncs: [{name: apps, from: apps/, to: [{target: env, name: "{relpath|env}_{key|env}"}]}]\n'
    )
    argv = ["plan", "-c", str(tmp_path / "syncd.yaml"), "-f", "json"]
    assert main(argv) == 0  # the connectors imported: the run counted next is the plan and its report alone
    with collections_counted() as passes:
        code = main(argv)
    assert code == 0 and '"create": 4000' in capsys.readouterr().out
    assert len(passes) <= 10
    assert gc.get_threshold() == default_thresholds
