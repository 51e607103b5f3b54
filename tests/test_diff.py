"""Diff cases the property test does not reach: items scheduled for deletion, defaults from the sink, leftover
markers."""

from __future__ import annotations

import pytest

from syncd.diff import MARKER_ONLY_REASON, Policy, PruneScope, diff_item, diff_target
from syncd.model import Action, ActualItem, ConflictPolicy, DesiredItem, Granularity, Ownership
from syncd.secret import Secret

MINE = Ownership("prod-eu", "payments")


def desired() -> DesiredItem:
    return DesiredItem(
        target="aws", address="prod/db", owner=MINE, data={"PASSWORD": Secret("pw")}, granularity=Granularity.DOCUMENT
    )


def test_an_owned_item_scheduled_for_deletion_is_restored() -> None:
    actual = ActualItem("prod/db", MINE, None, pending_deletion=True)
    change = diff_item("prod-eu", desired(), actual, Policy())
    assert change.action is Action.CREATE
    assert change.reasons == ("restore from scheduled deletion",)


@pytest.mark.parametrize("policy", [ConflictPolicy.FAIL, ConflictPolicy.ADOPT])
@pytest.mark.parametrize(
    ("owner", "whose"), [(None, "nobody syncd knows"), (Ownership("staging", "payments"), "'staging'")]
)
def test_someone_elses_item_scheduled_for_deletion_is_a_conflict(
    owner: Ownership | None, whose: str, policy: ConflictPolicy
) -> None:
    actual = ActualItem("prod/db", owner, None, pending_deletion=True)
    change = diff_item("prod-eu", desired(), actual, Policy(on_conflict=policy))
    assert change.action is Action.CONFLICT
    assert whose in change.reasons[0]


def leftover_scope(prune: bool, *, failed: bool = False, sync: str = "payments") -> PruneScope:
    return PruneScope(
        policies={sync: Policy(prune=prune)},
        known_syncs={sync},
        failed_syncs={sync} if failed else set(),
    )


@pytest.mark.parametrize("prune", [False, True])
def test_a_leftover_marker_no_longer_mapped_is_taken_off_whether_or_not_its_sync_prunes(prune: bool) -> None:
    """A marker_only item (a leftover marker on data syncd did not write) of a sync that read its source is
    planned as a delete that only takes the marker off, even for a sync that does not prune."""
    leftover = ActualItem("prod/old", MINE, None, version="2", marker_only=True)
    (change,) = diff_target("prod-eu", "aws", [], {}, {"prod/old": leftover}, leftover_scope(prune))
    assert (change.action, change.reasons, change.actual) == (Action.DELETE, (MARKER_ONLY_REASON,), leftover)


def test_a_leftover_marker_stays_while_mapped_or_while_its_sync_failed_or_is_not_selected() -> None:
    """A leftover marker is not planned while its path is still wanted (the read decides that path), nor when its
    sync's source failed or its sync was not selected: the run does not know every item that sync wants."""
    leftover = ActualItem("prod/db", MINE, None, version="2", marker_only=True)
    owned = {"prod/db": leftover}
    assert diff_target("prod-eu", "aws", [], {}, owned, leftover_scope(True, failed=True)) == []
    assert diff_target("prod-eu", "aws", [], {}, owned, leftover_scope(True, sync="other")) == []
    (change,) = diff_target("prod-eu", "aws", [desired()], {}, owned, leftover_scope(True))
    assert (change.address, change.action) == ("prod/db", Action.CREATE)
