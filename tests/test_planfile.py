"""The saved plan's stale check compares what each change would write (its difference), not display strings."""

from __future__ import annotations

import pytest

from syncd.errors import StalePlanError
from syncd.model import Action, Change, Difference, Plan
from syncd.planfile import check_stale, plan_to_dict


def plan(*changes: Change) -> Plan:
    return Plan("prod", "digest", "2026-11-30T00:00:00+00:00", ("a",), ("db",), changes)


def update(difference: Difference, reasons: tuple[str, ...] | None = None) -> Change:
    shown = difference.reasons() if reasons is None else reasons
    return Change("a", "prod/db", Action.UPDATE, "db", shown, difference=difference)


def test_the_same_difference_is_not_stale() -> None:
    saved = plan_to_dict(plan(update(Difference(value=True))))
    check_stale(saved, plan(update(Difference(value=True))))


def test_a_change_that_would_write_other_fields_is_stale_even_with_the_same_reasons() -> None:
    """Two plans whose change shows the same words but writes different fields differ: the plan is stale."""
    saved = plan_to_dict(plan(update(Difference(value=True), ("value",))))
    with pytest.raises(StalePlanError, match="item 'prod/db' on target 'a' moved"):
        check_stale(saved, plan(update(Difference(value=True, tags=("team",)), ("value",))))


def test_reworded_reasons_alone_do_not_make_a_plan_stale() -> None:
    """Display wording may change between versions of syncd; what the change writes is what counts."""
    saved = plan_to_dict(plan(update(Difference(description=True), ("description",))))
    check_stale(saved, plan(update(Difference(description=True), ("the description differs",))))


def test_a_plan_saved_before_differences_were_recorded_is_compared_on_reasons() -> None:
    saved = plan_to_dict(plan(update(Difference(value=True))))
    for change in saved["changes"]:
        del change["difference"]
    check_stale(saved, plan(update(Difference(value=True))))
    with pytest.raises(StalePlanError):
        check_stale(saved, plan(update(Difference(tags=("team",)))))
