"""Two applies at once against one AWS target: of one instance, and of two instances whose names overlap.

Each round both runs plan and apply at the same moment (two threads against the worker's moto server), with
sinks built afresh as two processes would. The names each instance maps move every round, so that one prunes
what the other creates and both create the same names at once. After every round:

- every marked item holds a value its marker's instance wrote there, and no item lacks a marker (nobody but
  syncd writes here);
- every change a run reports as applied (or had nothing to do) still holds: that instance's marker and its
  value of this round; a run that lost a race reports a conflict naming the owner, never a lost write;
- a plan made afterwards by each instance has nothing left to do but those conflicts, and the creates of names
  the other instance held when this run planned and pruned while it applied.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from syncd.model import Action
from syncd.testing import MemorySource
from tests.connectors.aws.aws_apply_support import (
    REGION,
    Held,
    ParametersStore,
    Run,
    SecretsStore,
    Store,
    conflicts,
    plan_only,
    run,
    unsettled,
    write_manifest,
)
from tests.fakes.aws import AwsFake

pytest_plugins = ["tests.fakes.aws"]

NAMES = 20
ROUNDS = 3
SHIFT = 4
# Messages of a change that lost a race to another writer: each names who holds the item now.
# A conflict the plan saw, or an item another run wrote between this run's plan and its write (ItemMoved).
CLEAR = ("conflict: owned by syncd instance", "created by someone else", "since the plan")

MANIFEST = """
version: 1
instance: {instance}
defaults: {{prune: true, concurrency: 4}}
source: {{type: memory}}
targets:
  t:
    type: {kind}
    region: {region}
    endpoint_url: {endpoint}{extra}
syncs:
  - name: shared
    from: apps/
    to: [{{target: t, {where}}}]
"""
SERVICES = {
    "secretsmanager": (
        "aws-secrets-manager",
        "\n    force_delete: true",
        'granularity: per-key, name: "shared/{key}"',
        "shared/{}",
    ),
    "ssm": ("aws-ssm", "", "path: /shared/", "/shared/{}"),
}


def manifest_text(service: str, instance: str, endpoint: str) -> str:
    kind, extra, where, _ = SERVICES[service]
    return MANIFEST.format(instance=instance, kind=kind, region=REGION, endpoint=endpoint, extra=extra, where=where)


def value(instance: str, name: str, round_: int) -> str:
    return f"{instance}-{name}-r{round_}"


def mapped(offset: int, round_: int) -> list[str]:
    """The names an instance maps in a round: a window of NAMES that moves by SHIFT each round."""
    start = offset + round_ * SHIFT
    return [f"n{i:02d}" for i in range(start, start + NAMES)]


def source_of(instance: str, names: list[str], round_: int) -> MemorySource:
    # Per-key items are named by their key, so each secret's single key is its name.
    return MemorySource(secrets={f"apps/{name}": {name: value(instance, name, round_)} for name in names})


def both_at_once(jobs: list[Callable[[], Run]]) -> list[Run]:
    """Run the jobs on threads that start together; the first error is raised."""
    barrier = threading.Barrier(len(jobs))
    results: list[Any] = [None] * len(jobs)

    def work(index: int) -> None:
        barrier.wait()
        try:
            results[index] = jobs[index]()
        except BaseException as exc:  # handed to the test thread
            results[index] = exc

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(jobs))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for result in results:
        if isinstance(result, BaseException):
            raise result
    return results


def store_for(service: str, fake: AwsFake) -> Store:
    client = fake.client(service, REGION)
    return SecretsStore(fake, client) if service == "secretsmanager" else ParametersStore(fake, client)


def stray(state: dict[str, Held], written: dict[str, dict[str, set[str]]]) -> list[str]:
    """Items whose marker does not match their value: a value its owner never wrote, or no marker at all."""
    found = []
    for address, held in sorted(state.items()):
        if held.scheduled:
            continue
        if held.owner is None:
            found.append(f"{address}: {held.value!r} without a marker")
        elif held.value not in written.get(held.owner.instance, {}).get(address, set()):
            found.append(f"{address}: marked {held.owner.instance} but holds {held.value!r}")
    return found


def lost(instance: str, done: Run, state: dict[str, Held], expected: dict[str, str]) -> list[str]:
    """Changes a run of `instance` reported done that no longer hold, and failures that are not a clear conflict."""
    found = []
    for result in done.results:
        change, address = result.change, result.change.address
        if not result.ok:
            if not any(text in (result.error or "") for text in CLEAR):
                found.append(f"{instance} {address}: failed unclearly: {result.error}")
            continue
        held = state.get(address)
        if change.action is Action.DELETE:
            if held is not None and not held.scheduled and held.owner and held.owner.instance == instance:
                found.append(f"{instance} {address}: deleted, yet still there")
        elif held is None or held.owner is None or held.owner.instance != instance:
            found.append(f"{instance} {address}: applied, but now {held}")
        elif held.value != expected[address]:
            found.append(f"{instance} {address}: applied, but holds {held.value!r}")
    return found


@pytest.mark.parametrize("service", SERVICES)
@pytest.mark.parametrize("instances", [("prod", "prod"), ("prod", "staging")], ids=["one-instance", "two-instances"])
def test_two_applies_at_once_end_converged_or_in_a_clear_conflict(
    aws_fake: AwsFake, tmp_path: Path, service: str, instances: tuple[str, str]
) -> None:
    """Rounds of two simultaneous applies: markers stay on their owner's values, nothing a run applied is lost,
    a lost race is a conflict naming the owner, and afterwards each instance has nothing left to do."""
    address_of = SERVICES[service][3].format
    store = store_for(service, aws_fake)
    # The second run of one instance maps the same names; of two instances, half of them overlap.
    offsets = (0, 0) if instances[0] == instances[1] else (0, NAMES // 2)
    runners = [f"{instance}-{i}" for i, instance in enumerate(instances)]
    manifests = {
        runner: write_manifest(tmp_path, manifest_text(service, instance, aws_fake.endpoint), f"{runner}.yaml")
        for runner, instance in zip(runners, instances, strict=True)
    }
    written: dict[str, dict[str, set[str]]] = {}
    problems: list[str] = []
    for round_ in range(ROUNDS):
        sources, expected = {}, {}
        for runner, instance, offset in zip(runners, instances, offsets, strict=True):
            names = mapped(offset, round_)
            sources[runner] = source_of(instance, names, round_)
            expected[runner] = {address_of(name): value(instance, name, round_) for name in names}
            for address, text in expected[runner].items():
                written.setdefault(instance, {}).setdefault(address, set()).add(text)
        runs = both_at_once([functools.partial(run, manifests[r], sources[r], concurrency=4) for r in runners])
        state = store.state()
        problems += [f"round {round_}: {p}" for p in stray(state, written)]
        for runner, instance, done in zip(runners, instances, runs, strict=True):
            problems += [f"round {round_}, {runner}: {p}" for p in lost(instance, done, state, expected[runner])]
            after = plan_only(manifests[runner], sources[runner])
            foreign = {a for a, held in state.items() if held.owner is not None and held.owner.instance != instance}
            # A name the other instance held at this run's plan and pruned meanwhile is created by the next run.
            freed = {a for a, action in unsettled(after).items() if action == "create" and a in conflicts(done.plan)}
            if set(unsettled(after)) - freed or not conflicts(after) <= foreign:
                problems.append(f"round {round_}: {runner} not converged: {unsettled(after)}, {conflicts(after)}")
    assert not problems, "\n".join(problems)
