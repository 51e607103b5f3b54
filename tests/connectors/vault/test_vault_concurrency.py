"""Concurrent applies against a real OpenBao: two runs of one instance, and two instances with overlapping names.
Both end converged or with a clear conflict; every marker stays on its own instance's data; nothing of the other
is lost; the next plan of each instance is clean or shows only true conflicts."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Sequence

import hvac
import pytest

from syncd.diff import Policy
from syncd.model import Action, ChangeResult, DesiredItem, Ownership
from tests.connectors.vault.vault_runs import (
    FaultSession,
    actions,
    apply,
    kv1_data,
    kv1_owner,
    plan,
    sink_on,
    standing_markers,
    v2_data,
)
from tests.connectors.vault.vault_support import ensure_kv1, item, write
from tests.fakes.openbao import OpenBaoServer

ONE = "instance-one"
TWO = "instance-two"
ROUNDS = 3
PATHS = 16
# A path without the instance's marker is a conflict, never adopted.
FAIL_AND_PRUNE = Policy(prune=True)


@pytest.fixture
def root(openbao: OpenBaoServer) -> hvac.Client:
    return openbao.client()


def wanted(instance: str, prefix: str, names: Sequence[str], value: str) -> list[DesiredItem]:
    return [item(f"{prefix}/{name}", {"k": f"{value}-{name}"}, owner=Ownership(instance, "app")) for name in names]


def plan_together_then_apply(
    runs: Sequence[tuple[Callable[[], object], str, list[DesiredItem]]],
) -> list[tuple[ChangeResult, ...]]:
    """Each run plans on its own fresh sink; once all have planned, all apply at once, each on its own thread."""
    barrier = threading.Barrier(len(runs))
    results: list[tuple[ChangeResult, ...]] = [()] * len(runs)
    errors: list[BaseException] = []

    def run(index: int) -> None:
        make_sink, instance, desired = runs[index]
        try:
            changes = plan(make_sink(), desired, instance, FAIL_AND_PRUNE)
            barrier.wait()
            results[index] = apply(make_sink(), changes, instance, concurrency=4)
        except BaseException as exc:  # the test thread reports it
            errors.append(exc)
            barrier.abort()

    threads = [threading.Thread(target=run, args=(index,)) for index in range(len(runs))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    return results


def clear_failures(results: tuple[ChangeResult, ...]) -> None:
    """A failed change says why in words a person can act on."""
    for result in results:
        if not result.ok:
            assert result.error is not None
            assert any(
                reason in result.error
                for reason in ("changed in Vault since the plan", "ownership marker of syncd instance", "conflict")
            ), result.error


@pytest.mark.parametrize("kv", [2, 1], ids=["kv2", "kv1"])
def test_two_applies_of_one_instance_converge(openbao: OpenBaoServer, root: hvac.Client, kv: int) -> None:
    """Two applies of one manifest at once, creating, then updating and pruning: both succeed, each round ends
    converged with every item marked with its data, and the next plan is clean."""
    mount = "secret" if kv == 2 else ensure_kv1(root)
    for _ in range(ROUNDS):
        prefix = f"same-{uuid.uuid4().hex[:10]}"
        names = [f"s{i}" for i in range(PATHS)]

        def make_sink(prefix: str = prefix) -> object:
            return sink_on(openbao, prefix, mount=mount, kv_version=kv)

        for desired in (wanted(ONE, prefix, names, "v1"), wanted(ONE, prefix, names[: PATHS // 2], "v2")):
            for results in plan_together_then_apply([(make_sink, ONE, desired), (make_sink, ONE, desired)]):
                # The slower run finds the faster one's work done: no failure at all.
                assert [result.error for result in results if not result.ok] == []
            assert set(actions(plan(make_sink(), desired, ONE, FAIL_AND_PRUNE)).values()) == {Action.NOOP}
            for one in desired:
                stored = v2_data(root, one.address) if kv == 2 else kv1_data(root, one.address, mount)
                assert stored is not None and stored["k"] == one.data["k"].reveal()
            if kv == 2:
                addresses = [f"{prefix}/{name}" for name in names]
                assert set(standing_markers(root, addresses)) == {one.address for one in desired}


@pytest.mark.parametrize("kv", [2, 1], ids=["kv2", "kv1"])
def test_two_instances_with_overlapping_names_keep_each_others_items(
    openbao: OpenBaoServer, root: hvac.Client, kv: int
) -> None:
    """Two instances creating overlapping names at once: each shared path ends holding one instance's data under
    that instance's marker (never mixed, never unmarked), each instance's own paths are its own, and each next
    plan shows only conflicts on the shared paths. On KV v2 the loser's write touches nothing of the winner's."""
    mount = "secret" if kv == 2 else ensure_kv1(root)
    for _ in range(ROUNDS):
        prefix = f"two-{uuid.uuid4().hex[:10]}"
        shared = [f"shared{i}" for i in range(PATHS // 2)]
        mine = {ONE: [f"one{i}" for i in range(4)], TWO: [f"two{i}" for i in range(4)]}
        desired = {who: wanted(who, prefix, shared + mine[who], who) for who in (ONE, TWO)}

        def make_sink(prefix: str = prefix) -> object:
            return sink_on(openbao, prefix, mount=mount, kv_version=kv)

        for results in plan_together_then_apply([(make_sink, who, desired[who]) for who in (ONE, TWO)]):
            clear_failures(results)
        for name in shared:
            path = f"{prefix}/{name}"
            if kv == 2:
                holder, data = standing_markers(root, [path])[path]
                assert data == {"k": f"{holder}-{name}"}
            else:
                stored = kv1_data(root, path, mount)
                holder = kv1_owner(stored)
                assert stored is not None and stored["k"] == f"{holder}-{name}"
        for who in (ONE, TWO):
            for name in mine[who]:
                path = f"{prefix}/{name}"
                if kv == 2:
                    assert standing_markers(root, [path])[path] == (who, {"k": f"{who}-{name}"})
                else:
                    assert kv1_owner(kv1_data(root, path, mount)) == who
            next_plan = actions(plan(make_sink(), desired[who], who, FAIL_AND_PRUNE))
            assert set(next_plan.values()) <= {Action.NOOP, Action.CONFLICT}
            assert {path for path, action in next_plan.items() if action is Action.NOOP} >= {
                f"{prefix}/{name}" for name in mine[who]
            }


def test_a_run_that_loses_the_race_to_another_run_of_its_instance_keeps_the_marker(
    openbao: OpenBaoServer, root: hvac.Client, vault_prefix: str
) -> None:
    """Issue 8 item 5, one instance: while one run creates a path, another run of the same manifest writes it
    first. The slower run's check-and-set write fails, it resets nothing, the marker stays and the next plan is
    clean."""
    desired = wanted(ONE, vault_prefix, ["a", "b"], "v")
    changes = plan(sink_on(openbao, vault_prefix), desired, ONE, FAIL_AND_PRUNE)
    other = sink_on(openbao, vault_prefix)
    session = FaultSession()
    raced: set[str] = set()

    def other_run_writes_first(call: str) -> None:
        method, _, path = call.partition(" ")
        address = path.removeprefix("secret/data/")
        if method == "POST" and path.startswith("secret/data/") and address not in raced:
            raced.add(address)
            write(other, next(one for one in desired if one.address == address), None)

    session.before = other_run_writes_first
    results = apply(sink_on(openbao, vault_prefix, session), changes, ONE)
    assert raced == {one.address for one in desired}
    clear_failures(results)
    assert set(actions(plan(sink_on(openbao, vault_prefix), desired, ONE, FAIL_AND_PRUNE)).values()) == {Action.NOOP}
    assert set(standing_markers(root, [one.address for one in desired])) == {one.address for one in desired}


def test_an_instance_that_loses_the_race_leaves_the_winners_marker(
    openbao: OpenBaoServer, root: hvac.Client, vault_prefix: str
) -> None:
    """Issue 8 item 5, two instances: another instance creates the path between this one's read and its claim.
    The claim (check-and-set on the metadata) fails, nothing is written, and the winner keeps data and marker."""
    path = f"{vault_prefix}/contested"
    (mine,) = wanted(ONE, vault_prefix, ["contested"], ONE)
    (theirs,) = wanted(TWO, vault_prefix, ["contested"], TWO)
    changes = plan(sink_on(openbao, vault_prefix), [mine], ONE, FAIL_AND_PRUNE)
    session = FaultSession()

    def other_instance_writes_first(call: str) -> None:
        if call == f"POST secret/metadata/{path}":
            session.before = None
            write(sink_on(openbao, vault_prefix), theirs, None)

    session.before = other_instance_writes_first
    (result,) = apply(sink_on(openbao, vault_prefix, session), changes, ONE)
    assert not result.ok
    clear_failures((result,))
    assert v2_data(root, path) == {"k": f"{TWO}-contested"}
    assert actions(plan(sink_on(openbao, vault_prefix), [theirs], TWO, FAIL_AND_PRUNE)) == {path: Action.NOOP}
    assert actions(plan(sink_on(openbao, vault_prefix), [mine], ONE, FAIL_AND_PRUNE)) == {path: Action.CONFLICT}
    assert standing_markers(root, [path]) == {path: (TWO, {"k": f"{TWO}-contested"})}
