"""Property-based tests of the diff: for any desired, actual and ownership state, applying the plan
gives the desired state for what we may own, leaves everything else untouched, and converges."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from syncd.apply import apply_plan
from syncd.connector import Scope
from syncd.diff import Policy, PruneScope, diff_target
from syncd.model import Action, ConflictPolicy, DesiredItem, Granularity, Ownership, Plan
from syncd.retry import NO_RETRY
from syncd.secret import Secret
from syncd.testing import MemorySink

INSTANCE = "prod"
SYNCS = ("s1", "s2")
ADDRESSES = [f"item{i}" for i in range(6)]

values = st.sampled_from(["v1", "v2", "v3"])
owners = st.one_of(
    st.none(),  # unowned
    st.builds(Ownership, st.just(INSTANCE), st.sampled_from(SYNCS)),
    st.builds(Ownership, st.just("other"), st.sampled_from(SYNCS)),
)
desired_states = st.dictionaries(st.sampled_from(ADDRESSES), st.tuples(values, st.sampled_from(SYNCS)))
actual_states = st.dictionaries(st.sampled_from(ADDRESSES), st.tuples(values, owners))
policies = st.fixed_dictionaries(
    {s: st.builds(Policy, st.sampled_from(list(ConflictPolicy)), st.booleans()) for s in SYNCS}
)


def _desired(state: dict[str, tuple[str, str]]) -> list[DesiredItem]:
    return [
        DesiredItem("t", address, Ownership(INSTANCE, sync), {"k": Secret(value)}, Granularity.DOCUMENT)
        for address, (value, sync) in sorted(state.items())
    ]


def _plan(sink: MemorySink, desired: list[DesiredItem], scope: PruneScope) -> Plan:
    observed = sink.observe(desired, Scope(INSTANCE, ("*",)))
    changes = diff_target(INSTANCE, "t", desired, observed.items, observed.owned, scope)
    return Plan(INSTANCE, "digest", "now", ("t",), SYNCS, tuple(changes))


@settings(max_examples=300, deadline=None)
@given(desired_state=desired_states, actual_state=actual_states, policy=policies)
def test_apply_reaches_desired_state_and_converges(desired_state, actual_state, policy) -> None:
    """Owned or adoptable items end as desired, others stay as they were, and a second plan has no drift."""
    sink = MemorySink("t")
    for address, (value, owner) in actual_state.items():
        if owner is None:
            sink.put_unowned(address, {"k": value})
        else:
            sink.put_owned(address, {"k": value}, owner)
    before = sink.values()
    scope = PruneScope(policies=policy, known_syncs=SYNCS)
    desired = _desired(desired_state)
    results = apply_plan(_plan(sink, desired, scope), {"t": sink}, retry=NO_RETRY)
    after = sink.values()
    snapshot = sink.snapshot()

    for address, (value, sync) in desired_state.items():
        exists = address in actual_state
        owner = actual_state[address][1] if exists else None
        foreign = exists and owner is not None and owner.instance != INSTANCE
        refused = exists and owner is None and policy[sync].on_conflict is ConflictPolicy.FAIL
        if foreign or refused:
            assert after[address] == before[address]
        else:
            assert after[address] == {"k": value}
            assert snapshot[address].owner == Ownership(INSTANCE, sync)
    for address, (_value, owner) in actual_state.items():
        if address in desired_state:
            continue
        ours = owner is not None and owner.instance == INSTANCE
        if ours and policy[owner.sync].prune:
            assert address not in after
        else:
            assert after[address] == before[address]

    second = _plan(sink, desired, scope)
    assert {c.action for c in second.changes} <= {Action.NOOP, Action.CONFLICT}
    assert all(r.ok or r.change.action is Action.CONFLICT for r in results)
