"""Diff cases the property test does not reach: items scheduled for deletion, defaults from the sink."""

from __future__ import annotations

import pytest

from syncd.diff import Policy, diff_item
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
