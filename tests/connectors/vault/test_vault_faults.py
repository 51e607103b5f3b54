"""The vault sink against a real OpenBao with a fault after every one of its calls: an error answered before the
server acts, an answer lost after it acted, and a kill. One apply creates, updates, adopts and prunes; after the
fault a person writes the pruned path, a second run (fresh sink objects) converges, a third plan is clean, no
marker ever sits on data syncd did not write (a leftover marker is taken off by the second run), and the person's
write is never pruned or overwritten."""

from __future__ import annotations

import uuid

import hvac
import pytest
import requests

from syncd.diff import MARKER_ONLY_REASON, Policy
from syncd.model import Action, Change
from tests.connectors.vault.vault_runs import (
    FaultSession,
    Killed,
    actions,
    apply,
    assert_markers_only_on_syncd_data,
    assert_no_marker_keys_off_syncd_data,
    kv1_data,
    kv1_owner,
    plan,
    sink_on,
    standing_markers,
    syncd_keys,
    v2_data,
)
from tests.connectors.vault.vault_support import OWNER, ensure_kv1, item, write
from tests.fakes.openbao import OpenBaoServer

INSTANCE = OWNER.instance
# The sink's calls in one fault-free apply of the scenario, checked by test_the_scenario_makes_these_calls.
KV2_CALLS = 13  # create 4 (metadata, claim, data, confirm), update 3, adopt 3, prune 3 (metadata, delete, unmark)
KV1_CALLS = 8  # read and write, or read and delete, per change
FAULTS = ("error", "lost", "kill")


@pytest.fixture
def root(openbao: OpenBaoServer) -> hvac.Client:
    return openbao.client()


class Scenario:
    """Paths c (to create), u (to update), a (a person's, to adopt) and p (to prune) below a fresh prefix."""

    def __init__(self, openbao: OpenBaoServer, root: hvac.Client, kv: int) -> None:
        self.openbao, self.root, self.kv = openbao, root, kv
        self.mount = "secret" if kv == 2 else ensure_kv1(root)
        self.prefix = f"faults-{uuid.uuid4().hex[:12]}"
        self.c, self.u, self.a, self.p = (f"{self.prefix}/{name}" for name in "cuap")
        self.desired = [item(self.c, {"k": "c-new"}), item(self.u, {"k": "u-new"}), item(self.a, {"k": "a-new"})]
        # Every value syncd writes to each path, in this scenario.
        self.written = {
            self.c: [{"k": "c-new"}],
            self.u: [{"k": "u-old"}, {"k": "u-new"}],
            self.a: [{"k": "a-new"}],
            self.p: [{"k": "p-old"}],
        }
        setup = self.sink()
        write(setup, item(self.u, {"k": "u-old"}), None)
        write(setup, item(self.p, {"k": "p-old"}), None)
        self.person_writes(self.a, {"k": "a-person"})

    def sink(self, session: FaultSession | None = None):
        return sink_on(self.openbao, self.prefix, session, mount=self.mount, kv_version=self.kv)

    def person_writes(self, path: str, data: dict[str, str]) -> None:
        if self.kv == 2:
            self.root.secrets.kv.v2.create_or_update_secret(path, data)
        else:
            self.root.secrets.kv.v1.create_or_update_secret(path, data, mount_point=self.mount)

    def data(self, path: str) -> dict | None:
        return v2_data(self.root, path) if self.kv == 2 else kv1_data(self.root, path, self.mount)

    def plan(self):
        return plan(self.sink(), self.desired, INSTANCE)

    def check_markers(self) -> None:
        if self.kv == 2:
            assert_markers_only_on_syncd_data(self.root, self.written)
        else:
            # KV v1 writes marker and data in one request: a marked path holds syncd's data.
            for path, values in self.written.items():
                stored = kv1_data(self.root, path, self.mount)
                if kv1_owner(stored) is not None:
                    assert stored is not None
                    assert {k: v for k, v in stored.items() if k != "syncd.io/owner"} in values


@pytest.mark.parametrize(("kv", "calls"), [(2, KV2_CALLS), (1, KV1_CALLS)], ids=["kv2", "kv1"])
def test_the_scenario_makes_these_calls(openbao: OpenBaoServer, root: hvac.Client, kv: int, calls: int) -> None:
    """A fault-free apply of the scenario creates, updates, adopts and prunes in exactly this many sink calls, so
    the faults below hit every one of them."""
    scenario = Scenario(openbao, root, kv)
    changes = scenario.plan()
    assert actions(changes) == {
        scenario.a: Action.UPDATE,
        scenario.c: Action.CREATE,
        scenario.p: Action.DELETE,
        scenario.u: Action.UPDATE,
    }
    session = FaultSession()
    results = apply(scenario.sink(session), changes, INSTANCE)
    assert all(result.ok for result in results)
    assert len(session.calls) == calls, session.calls
    assert {a for a in actions(scenario.plan()).values()} == {Action.NOOP}


@pytest.mark.parametrize("fault", FAULTS)
@pytest.mark.parametrize(
    ("kv", "at"),
    [(2, n) for n in range(1, KV2_CALLS + 1)] + [(1, n) for n in range(1, KV1_CALLS + 1)],
    ids=lambda value: str(value),
)
def test_a_fault_after_any_call_then_a_second_run_converges(
    openbao: OpenBaoServer, root: hvac.Client, kv: int, at: int, fault: str
) -> None:
    """After an error, a lost answer or a kill at any call of an apply, a person's write to the pruned path
    survives the second run, which converges; no marker ever sits on data syncd did not write."""
    scenario = Scenario(openbao, root, kv)
    changes = scenario.plan()
    session = FaultSession(fault, at)
    try:
        apply(scenario.sink(session), changes, INSTANCE)
    except Killed:
        assert fault == "kill"
    assert len(session.calls) >= at
    scenario.check_markers()

    scenario.person_writes(scenario.p, {"k": "p-person"})
    second = scenario.plan()
    if scenario.p in actions(second):
        # Only a marker the first run left on the path may go; the person's version is never planned for change.
        (leftover,) = [change for change in second if change.address == scenario.p]
        assert kv == 2 and only_takes_a_marker_off(leftover), leftover
    results = apply(scenario.sink(), second, INSTANCE, concurrency=4)
    assert all(result.ok for result in results), [r.error for r in results if not r.ok]
    scenario.check_markers()
    assert scenario.data(scenario.p) in ({"k": "p-person"},)
    if kv == 2:
        assert_no_marker_keys_off_syncd_data(root, {**scenario.written, scenario.p: []})
    for wanted in scenario.desired:
        stored = scenario.data(wanted.address) or {}
        assert {k: v for k, v in stored.items() if k != "syncd.io/owner"} == {"k": wanted.data["k"].reveal()}
    assert set(actions(scenario.plan()).values()) == {Action.NOOP}
    if kv == 2:
        assert set(standing_markers(root, [d.address for d in scenario.desired])) == {
            d.address for d in scenario.desired
        }
        assert scenario.p not in standing_markers(root, [scenario.p])


def only_takes_a_marker_off(change: Change) -> bool:
    return (
        change.action is Action.DELETE
        and change.actual is not None
        and change.actual.marker_only
        and change.reasons == (MARKER_ONLY_REASON,)
    )


def test_a_500_to_the_unmark_of_a_prune_is_retried_and_a_later_write_is_not_pruned(
    openbao: OpenBaoServer, root: hvac.Client, vault_prefix: str
) -> None:
    """Issue 8 item 4(a): one 500 answered to the metadata update of a prune; the retry finds the version
    already deleted yet still takes the marker off, so a person's later write to that path is never pruned."""
    path = f"{vault_prefix}/pruned"
    write(sink_on(openbao, vault_prefix, kv_version=2), item(path, {"k": "syncd"}), None)
    changes = plan(sink_on(openbao, vault_prefix), [], INSTANCE)
    assert actions(changes) == {path: Action.DELETE}
    session = FaultSession("error", 3)  # metadata, delete the version, then the metadata update answers 500
    results = apply(sink_on(openbao, vault_prefix, session), changes, INSTANCE)
    assert session.calls[2] == f"POST secret/metadata/{path}"
    assert all(result.ok for result in results)
    root.secrets.kv.v2.create_or_update_secret(path, {"k": "a person's"})
    second = plan(sink_on(openbao, vault_prefix), [], INSTANCE)
    assert second == []
    apply(sink_on(openbao, vault_prefix), second, INSTANCE)
    assert v2_data(root, path) == {"k": "a person's"}


@pytest.mark.parametrize("failure", ["connection reset", "500"])
def test_a_create_whose_data_write_fails_takes_its_claim_off(
    openbao: OpenBaoServer, root: hvac.Client, vault_prefix: str, failure: str
) -> None:
    """Issue 8 item 4(c): a create whose data write fails on every attempt after the path was claimed takes its
    claim off again, so a person's later write there carries no syncd key: a conflict while the item is wanted,
    never pruned or overwritten once it is not."""
    path = f"{vault_prefix}/created"
    wanted = [item(path, {"k": "syncd"})]
    changes = plan(sink_on(openbao, vault_prefix), wanted, INSTANCE)
    assert actions(changes) == {path: Action.CREATE}
    session = FaultSession()

    def refuse_data_writes(call: str) -> None:
        if call == f"POST secret/data/{path}":
            raise requests.ConnectionError("connection reset")

    if failure == "500":
        session.refuse = lambda call: call == f"POST secret/data/{path}"
    else:
        session.before = refuse_data_writes
    (result,) = apply(sink_on(openbao, vault_prefix, session), changes, INSTANCE)
    assert not result.ok
    assert f"POST secret/data/{path}" in session.calls
    root.secrets.kv.v2.create_or_update_secret(path, {"k": "a person's"})
    assert syncd_keys(root, path) == {}
    refail = plan(sink_on(openbao, vault_prefix), wanted, INSTANCE, Policy(prune=True))
    assert actions(refail) == {path: Action.CONFLICT}
    apply(sink_on(openbao, vault_prefix), refail, INSTANCE)
    assert plan(sink_on(openbao, vault_prefix), [], INSTANCE) == []
    assert v2_data(root, path) == {"k": "a person's"}
    assert syncd_keys(root, path) == {}


def test_a_claim_left_by_a_killed_create_stays_with_the_conflict_and_goes_once_unmapped(
    openbao: OpenBaoServer, root: hvac.Client, vault_prefix: str
) -> None:
    """A create killed right after its claim, then a person's write there: while the item is still wanted the plan
    shows the conflict and the claim stays (a conflict is never applied); once the manifest no longer maps it, the
    next apply takes the claim off, even for a sync that does not prune, and leaves the person's data alone."""
    path = f"{vault_prefix}/created"
    wanted = [item(path, {"k": "syncd"})]
    session = FaultSession("kill", 2)  # metadata, then the claim, then killed
    with pytest.raises(Killed):
        apply(sink_on(openbao, vault_prefix, session), plan(sink_on(openbao, vault_prefix), wanted, INSTANCE), INSTANCE)
    assert session.calls[1] == f"POST secret/metadata/{path}"
    root.secrets.kv.v2.create_or_update_secret(path, {"k": "a person's"})
    no_prune = Policy()
    conflict = plan(sink_on(openbao, vault_prefix), wanted, INSTANCE, no_prune)
    assert actions(conflict) == {path: Action.CONFLICT}
    apply(sink_on(openbao, vault_prefix), conflict, INSTANCE)
    assert syncd_keys(root, path)["syncd.io/version"] == "claim:0"
    (leftover,) = plan(sink_on(openbao, vault_prefix), [], INSTANCE, no_prune)
    assert only_takes_a_marker_off(leftover)
    (result,) = apply(sink_on(openbao, vault_prefix), [leftover], INSTANCE)
    assert result.ok
    assert syncd_keys(root, path) == {}
    assert v2_data(root, path) == {"k": "a person's"}
    assert plan(sink_on(openbao, vault_prefix), [], INSTANCE) == []


def test_a_claim_over_a_deleted_version_owns_nothing_when_that_version_is_undeleted(
    openbao: OpenBaoServer, root: hvac.Client, vault_prefix: str
) -> None:
    """A create planned over a person's soft-deleted version, killed right after its claim: when the person
    undeletes their version, the claim does not make it syncd's, so it is a conflict while wanted and is never
    pruned once unmapped."""
    path = f"{vault_prefix}/undeleted"
    root.secrets.kv.v2.create_or_update_secret(path, {"k": "a person's"})
    root.secrets.kv.v2.delete_latest_version_of_secret(path)
    wanted = [item(path, {"k": "syncd"})]
    changes = plan(sink_on(openbao, vault_prefix), wanted, INSTANCE)
    assert actions(changes) == {path: Action.CREATE}
    session = FaultSession("kill", 2)  # metadata, then the claim, then killed
    with pytest.raises(Killed):
        apply(sink_on(openbao, vault_prefix, session), changes, INSTANCE)
    root.secrets.kv.v2.undelete_secret_versions(path, [1])
    assert standing_markers(root, [path]) == {}
    assert actions(plan(sink_on(openbao, vault_prefix), wanted, INSTANCE, Policy())) == {path: Action.CONFLICT}
    for change in plan(sink_on(openbao, vault_prefix), [], INSTANCE, Policy(prune=True)):
        assert only_takes_a_marker_off(change)
        apply(sink_on(openbao, vault_prefix), [change], INSTANCE)
    assert v2_data(root, path) == {"k": "a person's"}
    assert syncd_keys(root, path) == {}


def test_a_prune_whose_unmark_keeps_failing_leaves_no_marker_on_a_later_write(
    openbao: OpenBaoServer, root: hvac.Client, vault_prefix: str
) -> None:
    """A prune whose marker removal is answered 500 on every retry leaves a soft-deleted, still marked path; a
    person then writes it. The next apply takes the leftover marker off (a metadata write only) and leaves the
    person's version alone; the plan after it is clean."""
    paths = [f"{vault_prefix}/p00{n}" for n in (1, 2, 3)]
    setup = sink_on(openbao, vault_prefix, kv_version=2)
    for path in paths:
        write(setup, item(path, {"k": "syncd"}), None)
    changes = plan(sink_on(openbao, vault_prefix), [], INSTANCE)
    assert set(actions(changes).values()) == {Action.DELETE}
    session = FaultSession()
    session.refuse = lambda call: call == f"POST secret/metadata/{paths[0]}"
    results = apply(sink_on(openbao, vault_prefix, session), changes, INSTANCE)
    assert [result.change.address for result in results if not result.ok] == [paths[0]]
    assert syncd_keys(root, paths[0])["syncd.io/version"] == "1"
    root.secrets.kv.v2.create_or_update_secret(paths[0], {"k": "a person's"})
    (leftover,) = plan(sink_on(openbao, vault_prefix), [], INSTANCE)
    assert leftover.address == paths[0] and only_takes_a_marker_off(leftover)
    (result,) = apply(sink_on(openbao, vault_prefix), [leftover], INSTANCE)
    assert result.ok
    assert v2_data(root, paths[0]) == {"k": "a person's"}
    assert all(syncd_keys(root, path) == {} for path in paths)
    assert plan(sink_on(openbao, vault_prefix), [], INSTANCE) == []


def test_a_kill_after_a_prunes_delete_is_finished_by_the_next_run(
    openbao: OpenBaoServer, root: hvac.Client, vault_prefix: str
) -> None:
    """Issue 8 item 4(b): a run killed right after soft-deleting a pruned version leaves it marked; the next run
    lists it as owned and takes the marker off, so no deleted path stays marked."""
    path = f"{vault_prefix}/pruned"
    write(sink_on(openbao, vault_prefix, kv_version=2), item(path, {"k": "syncd"}), None)
    changes = plan(sink_on(openbao, vault_prefix), [], INSTANCE)
    session = FaultSession("kill", 2)  # metadata, then the delete of the version, then killed
    with pytest.raises(Killed):
        apply(sink_on(openbao, vault_prefix, session), changes, INSTANCE)
    assert session.calls[1] == f"POST secret/delete/{path}"
    results = apply(sink_on(openbao, vault_prefix), plan(sink_on(openbao, vault_prefix), [], INSTANCE), INSTANCE)
    assert [result.change.action for result in results if result.ok] == [Action.DELETE]
    meta = root.secrets.kv.v2.read_secret_metadata(path)["data"]
    assert not any(key.startswith("syncd.io/") for key in meta["custom_metadata"] or {})
    assert meta["versions"]["1"]["deletion_time"]
    assert plan(sink_on(openbao, vault_prefix), [], INSTANCE) == []


def test_a_kill_after_a_prunes_delete_then_a_persons_write_leaves_no_marker_on_it(
    openbao: OpenBaoServer, root: hvac.Client, vault_prefix: str
) -> None:
    """A run killed right after soft-deleting a pruned version, then a person's write there: the next apply takes
    the leftover marker off without touching the person's version or undeleting syncd's."""
    path = f"{vault_prefix}/pruned"
    write(sink_on(openbao, vault_prefix, kv_version=2), item(path, {"k": "syncd"}), None)
    session = FaultSession("kill", 2)  # metadata, then the delete of the version, then killed
    with pytest.raises(Killed):
        apply(sink_on(openbao, vault_prefix, session), plan(sink_on(openbao, vault_prefix), [], INSTANCE), INSTANCE)
    root.secrets.kv.v2.create_or_update_secret(path, {"k": "a person's"})
    (leftover,) = plan(sink_on(openbao, vault_prefix), [], INSTANCE)
    assert only_takes_a_marker_off(leftover)
    session = FaultSession()
    (result,) = apply(sink_on(openbao, vault_prefix, session), [leftover], INSTANCE)
    assert result.ok
    assert session.calls == [f"GET secret/metadata/{path}", f"POST secret/metadata/{path}"]
    meta = root.secrets.kv.v2.read_secret_metadata(path)["data"]
    assert syncd_keys(root, path) == {}
    assert meta["versions"]["1"]["deletion_time"] and not meta["versions"]["2"]["deletion_time"]
    assert v2_data(root, path) == {"k": "a person's"}
    assert plan(sink_on(openbao, vault_prefix), [], INSTANCE) == []


def test_a_version_syncd_wrote_but_did_not_mark_is_marked_without_a_new_version(
    openbao: OpenBaoServer, root: hvac.Client, vault_prefix: str
) -> None:
    """A run killed between an update's data write and its marker: the next plan recognises the version by its
    data (reason `flags (marker)`), and its apply only marks it, writing no further version."""
    path = f"{vault_prefix}/updated"
    write(sink_on(openbao, vault_prefix, kv_version=2), item(path, {"k": "one"}), None)
    wanted = [item(path, {"k": "two"})]
    session = FaultSession("kill", 2)  # metadata, then the data write, then killed
    with pytest.raises(Killed):
        apply(sink_on(openbao, vault_prefix, session), plan(sink_on(openbao, vault_prefix), wanted, INSTANCE), INSTANCE)
    assert standing_markers(root, [path]) == {}
    (change,) = plan(sink_on(openbao, vault_prefix), wanted, INSTANCE, Policy(prune=True))
    assert (change.action, change.reasons) == (Action.UPDATE, ("flags (marker)",))
    (result,) = apply(sink_on(openbao, vault_prefix), [change], INSTANCE)
    assert result.ok
    assert standing_markers(root, [path]) == {path: (INSTANCE, {"k": "two"})}
    assert root.secrets.kv.v2.read_secret_metadata(path)["data"]["current_version"] == 2


def test_a_version_written_over_syncds_item_is_the_writers(
    openbao: OpenBaoServer, root: hvac.Client, vault_prefix: str
) -> None:
    """A version someone writes over syncd's item makes the path theirs: a conflict while it is wanted, never
    overwritten, and never pruned once it is not: that apply only takes syncd's marker off."""
    path = f"{vault_prefix}/edited"
    write(sink_on(openbao, vault_prefix, kv_version=2), item(path, {"k": "syncd"}), None)
    root.secrets.kv.v2.create_or_update_secret(path, {"k": "by hand"})
    wanted = [item(path, {"k": "syncd"})]
    assert actions(plan(sink_on(openbao, vault_prefix), wanted, INSTANCE, Policy(prune=True))) == {
        path: Action.CONFLICT
    }
    (leftover,) = plan(sink_on(openbao, vault_prefix), [], INSTANCE)
    assert only_takes_a_marker_off(leftover)
    assert all(result.ok for result in apply(sink_on(openbao, vault_prefix), [leftover], INSTANCE))
    assert v2_data(root, path) == {"k": "by hand"}
    assert syncd_keys(root, path) == {}
