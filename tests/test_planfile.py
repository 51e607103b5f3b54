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


def test_a_plan_file_is_replaced_whole_or_not_at_all(tmp_path, monkeypatch) -> None:
    """A save that fails midway (here the encoder, after its first write) keeps the earlier plan file as it was and
    leaves no temporary file beside it; a save that succeeds replaces it whole."""
    import json

    from syncd import planfile

    target = tmp_path / "plan.json"
    planfile.save({"format": "old"}, target)
    assert json.loads(target.read_text()) == {"format": "old"}

    def half_then_fail(data, stream) -> None:  # type: ignore[no-untyped-def]
        stream.write('{"format": "new", "changes": [')
        stream.flush()
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(planfile, "dump", half_then_fail)
    with pytest.raises(OSError):
        planfile.save({"format": "new"}, target)
    assert json.loads(target.read_text()) == {"format": "old"}
    assert [path.name for path in tmp_path.iterdir()] == ["plan.json"]
    monkeypatch.undo()
    planfile.save({"format": "new", "changes": []}, target)
    assert json.loads(target.read_text()) == {"format": "new", "changes": []}
