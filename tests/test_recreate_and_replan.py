"""Core rules every sink shares: changes a sink cannot make in place (recreate or conflict), data a sink shapes
before it is compared (`Sink.shape`), and a write whose item moved since the plan, planned again for that item."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

import pytest
from pydantic import BaseModel

from syncd import connector
from syncd.apply import apply_plan
from syncd.diff import Policy, diff_item
from syncd.engine import make_plan
from syncd.errors import ItemMoved
from syncd.model import Action, ActualItem, ConflictPolicy, DesiredItem, Difference, Granularity, Ownership
from syncd.secret import Secret
from syncd.testing import MemorySink, MemorySource
from tests.conftest import FAST_RETRY

MINE = Ownership("prod", "db")
IMMUTABLE = "the item is immutable"


def desired(value: str = "new", *, recreate: bool = False, tags: Mapping[str, str] | None = None) -> DesiredItem:
    return DesiredItem(
        target="a",
        address="prod/db",
        owner=MINE,
        data={"password": Secret(value)},
        granularity=Granularity.DOCUMENT,
        tags=dict(tags or {}),
        recreate=recreate,
    )


def actual(value: str = "old", *, owner: Ownership | None = MINE, tags: Mapping[str, str] | None = None) -> ActualItem:
    return ActualItem(
        "prod/db", owner, {"password": Secret(value)}, tags=dict(tags or {}), version="7", fixed={"value": IMMUTABLE}
    )


def test_a_change_to_a_fixed_field_is_a_conflict_that_names_the_field_why_and_the_way_out() -> None:
    change = diff_item("prod", desired(), actual(), Policy())
    assert change.action is Action.CONFLICT
    assert change.reasons == (
        f"value cannot change in place ({IMMUTABLE}); set recreate: true on the `to` entry to delete and create it",
    )


def test_a_change_to_a_fixed_field_is_a_recreate_when_the_to_entry_allows_it() -> None:
    change = diff_item("prod", desired(recreate=True), actual(), Policy())
    assert change.action is Action.UPDATE
    assert change.difference is not None and change.difference.recreate
    assert change.reasons == (f"recreate ({IMMUTABLE})", "value")
    # The why is display only: a reworded one never makes a saved plan stale.
    assert change.difference.to_data() == {"value": True, "recreate": True}


def test_a_change_to_other_fields_of_an_item_with_fixed_fields_is_an_update_in_place() -> None:
    change = diff_item("prod", desired("same", tags={"team": "core"}), actual("same"), Policy())
    assert change.action is Action.UPDATE
    assert change.difference == Difference(tags=("team",))


def test_an_equal_item_with_fixed_fields_is_no_change() -> None:
    assert diff_item("prod", desired("same"), actual("same"), Policy()).action is Action.NOOP


def test_adopting_an_item_whose_fixed_field_differs_follows_the_same_rule() -> None:
    adopt = Policy(on_conflict=ConflictPolicy.ADOPT)
    assert diff_item("prod", desired(), actual(owner=None), adopt).action is Action.CONFLICT
    change = diff_item("prod", desired(recreate=True), actual(owner=None), adopt)
    assert change.action is Action.UPDATE and change.difference is not None
    assert change.difference.adopt and change.difference.recreate


class ImmutableSink(MemorySink):
    """A memory sink whose items cannot change their value in place: a recreate deletes and creates."""

    def __init__(self, target: str = "a") -> None:
        super().__init__(target)
        self.calls: list[str] = []

    def observe(self, desired: Sequence[DesiredItem], scope: connector.Scope) -> connector.Observation:
        seen = super().observe(desired, scope)
        items = {a: replace(i, fixed={"value": IMMUTABLE}) for a, i in seen.items.items()}
        return connector.Observation(items, seen.owned)

    def write(self, item: DesiredItem, expected: ActualItem | None, difference: Difference) -> None:
        if difference.value and not difference.recreate and expected is not None:
            raise AssertionError("an immutable value was written in place")
        if difference.recreate:
            assert expected is not None
            self.calls.append("delete")
            super().delete(expected)
            expected = None
        self.calls.append("write")
        super().write(item, expected, difference)


MANIFEST = """
    version: 1
    instance: prod
    source: {{type: memory}}
    targets:
      a: {{type: memory}}
    syncs:
      - name: db
        from: apps/db
        to:
          - {{target: a, name: prod/db{recreate}}}
"""


@pytest.mark.parametrize("allowed", [False, True])
def test_apply_recreates_an_immutable_item_only_when_the_manifest_allows_it(write_manifest, allowed: bool) -> None:
    manifest = write_manifest(MANIFEST.format(recreate=", recreate: true" if allowed else ""))
    sink = ImmutableSink()
    sink.put_owned("prod/db", {"password": "old"}, MINE)
    source = MemorySource(secrets={"apps/db": {"password": "new"}})
    plan = make_plan(manifest, source, {"a": sink}, retry=FAST_RETRY)
    (change,) = plan.changes
    results = apply_plan(plan, {"a": sink}, retry=FAST_RETRY)
    if allowed:
        assert change.action is Action.UPDATE and all(r.ok for r in results)
        assert sink.calls == ["delete", "write"]
        assert sink.values() == {"prod/db": {"password": "new"}}
        assert sink.snapshot()["prod/db"].owner == MINE
    else:
        assert change.action is Action.CONFLICT and not any(r.ok for r in results)
        assert sink.calls == []
        assert sink.values() == {"prod/db": {"password": "old"}}


class ShapingSink(MemorySink):
    """Stores every item as one `joined` key; an item without `user` cannot be shaped."""

    def shape(self, destination: BaseModel, data: Mapping[str, Secret]) -> Mapping[str, Secret]:
        if "user" not in data:
            raise ValueError("key 'user' is missing, and a joined item needs it")
        return {"joined": Secret(data["user"].reveal() + ":" + data["password"].reveal())}


SHAPED = """
    version: 1
    instance: prod
    source: {type: memory}
    targets:
      a: {type: memory}
    syncs:
      - {name: good, from: apps/good, to: [{target: a, name: good}]}
      - {name: bad, from: apps/bad, to: [{target: a, name: bad}]}
"""


def test_shaped_data_is_what_is_written_and_compared_and_an_unshapeable_item_alone_is_held(write_manifest) -> None:
    manifest = write_manifest(SHAPED)
    sink = ShapingSink("a")
    source = MemorySource(secrets={"apps/good": {"user": "u", "password": "p"}, "apps/bad": {"password": "p"}})
    plan = make_plan(manifest, source, {"a": sink}, retry=FAST_RETRY)
    assert [(c.address, c.action) for c in plan.changes] == [("good", Action.CREATE)]
    assert [(p.address, p.message) for p in plan.problems] == [
        ("bad", "key 'user' is missing, and a joined item needs it")
    ]
    apply_plan(plan, {"a": sink}, retry=FAST_RETRY)
    assert sink.values() == {"good": {"joined": "u:p"}}
    again = make_plan(manifest, source, {"a": sink}, retry=FAST_RETRY)
    assert [c.action for c in again.changes] == [Action.NOOP]


class RacedSink(MemorySink):
    """Before its first write, runs `other_writer`: another writer acting between the plan and the write."""

    def __init__(self, other_writer) -> None:
        super().__init__("a")
        self.other_writer = other_writer
        self.writes = 0
        self.observed = 0

    def observe(self, desired: Sequence[DesiredItem], scope: connector.Scope) -> connector.Observation:
        self.observed += 1
        return super().observe(desired, scope)

    def write(self, item: DesiredItem, expected: ActualItem | None, difference: Difference) -> None:
        self.writes += 1
        if self.writes == 1:
            self.other_writer(self)
        super().write(item, expected, difference)


RACE = """
    version: 1
    instance: prod
    source: {type: memory}
    targets:
      a: {type: memory}
    syncs:
      - {name: db, from: apps/db, to: [{target: a, name: prod/db}]}
"""


def race(write_manifest, other_writer) -> tuple[RacedSink, tuple]:
    manifest = write_manifest(RACE)
    sink = RacedSink(other_writer)
    sink.put_owned("prod/db", {"password": "old"}, MINE)
    source = MemorySource(secrets={"apps/db": {"password": "new"}})
    plan = make_plan(manifest, source, {"a": sink}, retry=FAST_RETRY)
    assert [c.action for c in plan.changes] == [Action.UPDATE]
    return sink, apply_plan(plan, {"a": sink}, retry=FAST_RETRY)


def test_a_write_whose_version_moved_without_a_difference_is_planned_again_and_applied(write_manifest) -> None:
    """Another writer bumps the version (a label of its own): the change is still the planned one, so it is made
    against the fresh version."""
    sink, results = race(
        write_manifest, lambda s: s.put_owned("prod/db", {"password": "old"}, MINE, tags={"theirs": "x"})
    )
    assert [r.ok for r in results] == [True]
    assert sink.values() == {"prod/db": {"password": "new"}}
    assert sink.snapshot()["prod/db"].tags == {"theirs": "x"}
    assert sink.observed == 2


def test_a_write_whose_item_changed_into_another_change_fails_and_writes_nothing(write_manifest) -> None:
    """Another writer removed syncd's marker: the item now needs adopting, which the plan did not show."""
    sink, results = race(write_manifest, lambda s: s.put_unowned("prod/db", {"password": "theirs"}))
    (result,) = results
    assert not result.ok
    assert "marker changed since the plan" in (result.error or "")
    assert "it now needs conflict" in (result.error or "") and "run plan again" in (result.error or "")
    assert sink.values() == {"prod/db": {"password": "theirs"}}
    assert sink.writes == 1


def test_a_write_whose_item_another_writer_already_made_as_wanted_is_done(write_manifest) -> None:
    sink, results = race(write_manifest, lambda s: s.put_owned("prod/db", {"password": "new"}, MINE))
    assert [r.ok for r in results] == [True]
    assert sink.writes == 1
    assert sink.values() == {"prod/db": {"password": "new"}}


def test_a_write_is_planned_again_once_at_most(write_manifest) -> None:
    """A sink that keeps answering ItemMoved is not chased: the second refusal fails the change."""

    class AlwaysMoved(MemorySink):
        writes = 0

        def write(self, item: DesiredItem, expected: ActualItem | None, difference: Difference) -> None:
            self.writes += 1
            raise ItemMoved("its version moved", target=self.target, address=item.address)

    manifest = write_manifest(RACE)
    sink = AlwaysMoved("a")
    plan = make_plan(manifest, MemorySource(secrets={"apps/db": {"password": "new"}}), {"a": sink}, retry=FAST_RETRY)
    (result,) = apply_plan(plan, {"a": sink}, retry=FAST_RETRY)
    assert not result.ok and "its version moved" in (result.error or "")
    assert sink.writes == 2


def test_each_desired_item_carries_the_version_its_source_secret_was_read_at(write_manifest) -> None:
    """A sink that cannot read a value back (a GitLab hidden variable) tells a new value by this version."""
    manifest = write_manifest(RACE)
    source = MemorySource(secrets={"apps/db": {"password": "one"}})
    source.put("apps/db", {"password": "two"})
    sink = MemorySink("a")
    seen: list[str | None] = []
    original = sink.observe

    def observe(desired: Sequence[DesiredItem], scope: connector.Scope) -> connector.Observation:
        seen.extend(item.source_version for item in desired)
        return original(desired, scope)

    sink.observe = observe  # type: ignore[method-assign]
    make_plan(manifest, source, {"a": sink}, retry=FAST_RETRY)
    assert seen == [f"apps/db\npassword\n{source.read('apps/db').version}"]


KEYED = """
    version: 1
    instance: prod
    source: {{type: memory}}
    targets:
      a: {{type: memory}}
    syncs:
      - {{name: db, from: apps/db, keys: {keys}, to: [{{target: a, granularity: per-key, name: "{{key}}"}}]}}
"""


def test_the_origin_of_an_item_names_the_source_key_it_takes_so_a_remapped_key_is_new_data(write_manifest) -> None:
    """Another source key feeding the same item at the same source version gives another origin."""
    source = MemorySource(secrets={"apps/db": {"password": "one", "token": "two"}})
    origins = []
    for keys in ("{password: SECRET}", "{token: SECRET}"):
        manifest = write_manifest(KEYED.format(keys=keys))
        sink = MemorySink("a")
        original = sink.observe
        seen: list[str | None] = []

        def observe(desired, scope, original=original, seen=seen):
            seen.extend(item.source_version for item in desired)
            return original(desired, scope)

        sink.observe = observe  # type: ignore[method-assign]
        make_plan(manifest, source, {"a": sink}, retry=FAST_RETRY)
        origins.append(seen)
    version = source.read("apps/db").version
    assert origins == [[f"apps/db\npassword\n{version}"], [f"apps/db\ntoken\n{version}"]]


def test_a_newer_value_another_writer_wrote_since_the_plan_is_never_overwritten(write_manifest) -> None:
    """Another apply of the same instance wrote a newer value (with syncd's marker) between this plan and its write:
    the change still reads `value` in both, but the value itself moved, so the write is refused and theirs stays."""
    sink, results = race(write_manifest, lambda s: s.put_owned("prod/db", {"password": "newer"}, MINE))
    (result,) = results
    assert not result.ok
    assert "changed in what syncd compares" in (result.error or "") and "run plan again" in (result.error or "")
    assert sink.values() == {"prod/db": {"password": "newer"}}
    assert sink.writes == 1


def test_a_transient_error_reading_the_moved_item_again_is_retried(write_manifest) -> None:
    """The re-plan's read fails once with a transient error: the retry reads again and the change is made."""
    from syncd.errors import TransientError

    manifest = write_manifest(RACE)
    sink = RacedSink(lambda s: s.put_owned("prod/db", {"password": "old"}, MINE, tags={"theirs": "x"}))
    sink.put_owned("prod/db", {"password": "old"}, MINE)
    source = MemorySource(secrets={"apps/db": {"password": "new"}})
    plan = make_plan(manifest, source, {"a": sink}, retry=FAST_RETRY)
    original = sink.observe
    failures = [TransientError("throttled", target="a")]

    def observe(desired: Sequence[DesiredItem], scope: connector.Scope) -> connector.Observation:
        if failures:
            raise failures.pop()
        return original(desired, scope)

    sink.observe = observe  # type: ignore[method-assign]
    (result,) = apply_plan(plan, {"a": sink}, retry=FAST_RETRY)
    assert result.ok, result.error
    assert sink.values() == {"prod/db": {"password": "new"}}


def test_a_sink_whose_shape_breaks_holds_that_item_alone_and_names_no_data(write_manifest) -> None:
    class BrokenShape(MemorySink):
        def shape(self, destination: BaseModel, data: Mapping[str, Secret]) -> Mapping[str, Secret]:
            if "user" not in data:
                raise KeyError("password=" + data["password"].reveal())
            return data

    manifest = write_manifest(SHAPED)
    sink = BrokenShape("a")
    source = MemorySource(secrets={"apps/good": {"user": "u"}, "apps/bad": {"password": "planted-4711"}})
    plan = make_plan(manifest, source, {"a": sink}, retry=FAST_RETRY)
    assert [(c.address, c.action) for c in plan.changes] == [("good", Action.CREATE)]
    assert [(p.address, p.message) for p in plan.problems] == [
        ("bad", "the sink could not lay out the item's data (unexpected KeyError)")
    ]
