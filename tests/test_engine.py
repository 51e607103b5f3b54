"""Plan and apply through the in-memory connectors: ownership, pruning, safety, convergence."""

from __future__ import annotations

import dataclasses

import pytest

from syncd.apply import apply_plan
from syncd.connector import ItemDefaults, Scope
from syncd.engine import Selection, make_plan
from syncd.errors import ConfigError, PermanentError, TransientError
from syncd.model import Action, ActualItem, Ownership, Status
from syncd.testing import FailingSink, MemorySink, MemorySource, RecordingSink
from tests.conftest import FAST_RETRY

MANIFEST = """
version: 1
instance: prod
defaults:
  prune: {prune}
  on_conflict: {on_conflict}
source: {{type: memory}}
targets:
  a: {{type: memory}}
  b: {{type: memory}}
syncs:
  - name: db
    from: apps/db
    keys: {{username: DB_USER, password: DB_PASSWORD}}
    to:
      - {{target: a, name: "prod/{{sync}}"}}
      - {{target: b, granularity: per-key, name: "{{key|lower}}"}}
  - name: api
    from: apps/api/
    to:
      - {{target: a, name: "api/{{relpath}}", tags: {{team: core}}}}
"""


def manifest_text(prune: bool = False, on_conflict: str = "fail") -> str:
    return MANIFEST.format(prune=str(prune).lower(), on_conflict=on_conflict)


@pytest.fixture
def source() -> MemorySource:
    return MemorySource(
        secrets={
            "apps/db": {"username": "app", "password": "pw-1", "unused": "x"},
            "apps/api/stripe": {"key": "sk-1"},
            "apps/api/github": {"token": "gh-1"},
        }
    )


def sinks() -> dict[str, MemorySink]:
    return {"a": MemorySink("a"), "b": MemorySink("b")}


def run(manifest, source, targets, *, allow_mass_delete: bool = False):
    """Plan, then apply that plan; returns both."""
    plan = make_plan(manifest, source, targets, retry=FAST_RETRY, allow_mass_delete=allow_mass_delete)
    return plan, apply_plan(plan, targets, retry=FAST_RETRY)


def test_first_plan_creates_everything_and_second_plan_is_empty(write_manifest, source) -> None:
    """A first apply creates every mapped item with its renamed keys; the next plan has no drift."""
    manifest = write_manifest(manifest_text())
    targets = sinks()
    plan, results = run(manifest, source, targets)
    assert plan.count(Action.CREATE) == 5
    assert all(r.ok for r in results)
    assert targets["a"].values() == {
        "prod/db": {"DB_USER": "app", "DB_PASSWORD": "pw-1"},
        "api/stripe": {"key": "sk-1"},
        "api/github": {"token": "gh-1"},
    }
    assert targets["b"].values() == {"db_user": {"DB_USER": "app"}, "db_password": {"DB_PASSWORD": "pw-1"}}
    assert targets["a"].snapshot()["api/stripe"].tags == {"team": "core"}
    assert targets["a"].snapshot()["prod/db"].owner == Ownership("prod", "db")
    again = make_plan(manifest, source, targets, retry=FAST_RETRY)
    assert not again.has_drift
    assert again.count(Action.NOOP) == 5


def test_plan_writes_nothing(write_manifest, source) -> None:
    """plan calls only read methods of every sink, whatever the drift."""
    manifest = write_manifest(manifest_text(prune=True))
    a, b = RecordingSink(MemorySink("a")), RecordingSink(MemorySink("b"))
    a.inner.put_owned("prod/old", {"k": "v"}, Ownership("prod", "db"))
    b.inner.put_unowned("db_user", {"DB_USER": "someone-else"})
    plan = make_plan(manifest, source, {"a": a, "b": b}, retry=FAST_RETRY)
    assert plan.has_drift
    assert a.writes == [] and b.writes == []
    assert {c.method for c in a.calls} == {"observe"}


def test_value_edited_out_of_band_is_repaired(write_manifest, source) -> None:
    """An owned item whose value changed in the sink is updated back, with reason 'value'."""
    manifest = write_manifest(manifest_text())
    targets = sinks()
    run(manifest, source, targets)
    targets["b"].put_owned("db_password", {"DB_PASSWORD": "tampered"}, Ownership("prod", "db"))
    plan = make_plan(manifest, source, targets, retry=FAST_RETRY)
    [change] = plan.drift
    assert (change.address, change.action, change.reasons) == ("db_password", Action.UPDATE, ("value",))
    apply_plan(plan, targets, retry=FAST_RETRY)
    assert targets["b"].values()["db_password"] == {"DB_PASSWORD": "pw-1"}


def test_document_key_changes_are_named_by_key(write_manifest, source) -> None:
    """A document whose keys differ says which keys, never the values."""
    manifest = write_manifest(manifest_text())
    targets = sinks()
    run(manifest, source, targets)
    source.put("apps/db", {"username": "app", "password": "pw-2"})
    plan = make_plan(manifest, source, targets, retry=FAST_RETRY)
    reasons = {c.address: c.reasons for c in plan.drift if c.target == "a"}
    assert reasons == {"prod/db": ("value (keys ~DB_PASSWORD)",)}


def test_unowned_item_is_a_conflict_and_untouched(write_manifest, source) -> None:
    """With on_conflict: fail, an existing unowned item is a conflict and apply leaves it alone."""
    manifest = write_manifest(manifest_text())
    targets = sinks()
    targets["a"].put_unowned("prod/db", {"DB_USER": "other"})
    plan, results = run(manifest, source, targets)
    conflict = next(c for c in plan.changes if c.address == "prod/db")
    assert conflict.action is Action.CONFLICT
    assert targets["a"].values()["prod/db"] == {"DB_USER": "other"}
    failed = [r for r in results if not r.ok]
    assert [r.change.address for r in failed] == ["prod/db"]


def test_unowned_item_is_adopted_when_asked(write_manifest, source) -> None:
    """With on_conflict: adopt, an unowned item is updated and stamped with the marker."""
    manifest = write_manifest(manifest_text(on_conflict="adopt"))
    targets = sinks()
    targets["a"].put_unowned("prod/db", {"DB_USER": "other"})
    plan, _results = run(manifest, source, targets)
    change = next(c for c in plan.changes if c.address == "prod/db")
    assert change.action is Action.UPDATE and change.reasons[0] == "adopt"
    assert targets["a"].snapshot()["prod/db"].owner == Ownership("prod", "db")


def test_item_of_another_instance_is_never_touched_even_with_adopt(write_manifest, source) -> None:
    """An item owned by another instance is a conflict under every policy and is never pruned."""
    manifest = write_manifest(manifest_text(prune=True, on_conflict="adopt"))
    targets = sinks()
    targets["a"].put_owned("prod/db", {"x": "y"}, Ownership("staging", "db"))
    targets["a"].put_owned("staging/only", {"x": "y"}, Ownership("staging", "db"))
    plan, _ = run(manifest, source, targets)
    change = next(c for c in plan.changes if c.address == "prod/db")
    assert change.action is Action.CONFLICT
    assert "staging" in change.reasons[0]
    assert targets["a"].values()["prod/db"] == {"x": "y"}
    assert "staging/only" in targets["a"].values()


def test_prune_deletes_owned_unmapped_items_only_when_enabled(write_manifest, source) -> None:
    """Owned items the manifest no longer maps are deleted with prune: true and kept with prune: false."""
    for prune, expected in ((False, True), (True, False)):
        manifest = write_manifest(manifest_text(prune=prune))
        targets = sinks()
        targets["a"].put_owned("api/retired", {"k": "v"}, Ownership("prod", "api"))
        run(manifest, source, targets)
        assert ("api/retired" in targets["a"].values()) is expected


def test_missing_source_path_is_an_error_and_deletes_nothing(write_manifest, source) -> None:
    """A sync whose source path is missing is reported, and its owned items are kept even with prune."""
    manifest = write_manifest(manifest_text(prune=True))
    targets = sinks()
    run(manifest, source, targets)
    source.remove("apps/db")
    plan, _results = run(manifest, source, targets)
    assert any(p.sync == "db" and "apps/db" in p.message for p in plan.problems)
    assert not any(c.action is Action.DELETE for c in plan.changes)
    assert "prod/db" in targets["a"].values()
    assert len(targets["b"].values()) == 2


def test_empty_prefix_is_an_error_and_deletes_nothing(write_manifest, source) -> None:
    """A prefix with nothing below it is an error for its sync, never a reason to prune."""
    manifest = write_manifest(manifest_text(prune=True))
    targets = sinks()
    run(manifest, source, targets)
    source.remove("apps/api/stripe")
    source.remove("apps/api/github")
    plan, _ = run(manifest, source, targets)
    assert any(p.sync == "api" and "no secret below prefix" in p.message for p in plan.problems)
    assert {"api/stripe", "api/github"} <= set(targets["a"].values())


def test_missing_selected_key_is_an_error_for_the_sync(write_manifest, source) -> None:
    """A key named in `keys` but absent from the source secret fails that sync, naming the key."""
    manifest = write_manifest(manifest_text(prune=True))
    targets = sinks()
    run(manifest, source, targets)
    source.put("apps/db", {"username": "app"})
    plan, _ = run(manifest, source, targets)
    assert any("'password'" in p.message and p.sync == "db" for p in plan.problems)
    assert len(targets["b"].values()) == 2


def test_delete_guard_refuses_mass_deletes_unless_allowed(write_manifest, source) -> None:
    """Deleting more than 5 items and more than 20% of a target's owned items is refused without the flag."""
    manifest = write_manifest(manifest_text(prune=True))
    targets = sinks()
    for i in range(8):
        targets["a"].put_owned(f"api/old{i}", {"k": "v"}, Ownership("prod", "api"))
    plan, results = run(manifest, source, targets)
    assert plan.refused_targets == ("a",)
    assert any("delete guard" in p.message for p in plan.problems)
    assert len([a for a in targets["a"].values() if a.startswith("api/old")]) == 8
    assert all(not r.ok for r in results if r.change.target == "a")
    assert targets["b"].values()  # the other target still applied
    plan, results = run(manifest, source, targets, allow_mass_delete=True)
    assert plan.refused_targets == ()
    assert not [a for a in targets["a"].values() if a.startswith("api/old")]


class _LeftoverMarkers(MemorySink):
    """A memory sink whose listing also holds leftover markers (no data) and items scheduled for deletion."""

    def list_owned(self, instance: str) -> dict[str, ActualItem]:
        owned = super().list_owned(instance)
        owner = Ownership(instance, "gone")
        for i in range(30):
            owned[f"left/{i}"] = ActualItem(f"left/{i}", owner, marker_only=True)
            owned[f"sched/{i}"] = ActualItem(f"sched/{i}", owner, pending_deletion=True)
        return owned


def test_delete_guard_counts_only_items_that_hold_data(write_manifest, source) -> None:
    """Leftover markers and items already scheduled for deletion hold no data: they neither dilute the share of a
    mass delete nor count as deletes themselves, so 8 real deletes among 8 real items are still refused."""
    manifest = write_manifest(manifest_text(prune=True))
    targets = {"a": _LeftoverMarkers("a"), "b": MemorySink("b")}
    for i in range(8):
        targets["a"].put_owned(f"api/old{i}", {"k": "v"}, Ownership("prod", "api"))
    plan, _ = run(manifest, source, targets)
    assert plan.refused_targets == ("a",)
    assert any("deletes 8 of 8 owned items" in p.message for p in plan.problems)


def test_invalid_item_is_reported_by_name_and_the_rest_applies(write_manifest, source) -> None:
    """An item breaking the sink's rules is skipped and named; other items are written."""
    manifest = write_manifest(manifest_text())
    source.put("apps/api/bad name!", {"key": "sk-2"})
    targets = sinks()
    plan, _results = run(manifest, source, targets)
    bad = [p for p in plan.problems if p.address == "api/bad name!"]
    assert bad and "sk-2" not in bad[0].message
    assert "api/stripe" in targets["a"].values()
    assert "api/bad name!" not in targets["a"].values()


def test_one_failing_target_does_not_stop_the_others(write_manifest, source) -> None:
    """A target whose writes fail permanently is reported; the other target is fully applied."""
    manifest = write_manifest(manifest_text())
    broken = FailingSink(MemorySink("a"))
    broken.fail_on("write", error=PermanentError)
    good = MemorySink("b")
    _plan, results = run(manifest, source, {"a": broken, "b": good})
    assert {r.change.target for r in results if not r.ok} == {"a"}
    assert all(r.ok for r in results if r.change.target == "b")
    assert len(good.values()) == 2


def test_unreadable_target_is_a_problem_and_others_plan(write_manifest, source) -> None:
    """A target whose read fails gives a problem naming it; other targets still get their changes."""
    manifest = write_manifest(manifest_text())
    broken = FailingSink(MemorySink("a"))
    broken.fail_on("observe", error=PermanentError)
    plan = make_plan(manifest, source, {"a": broken, "b": MemorySink("b")}, retry=FAST_RETRY)
    assert [p.target for p in plan.problems] == ["a"]
    assert {c.target for c in plan.changes} == {"b"}


def test_transient_errors_are_retried(write_manifest, source) -> None:
    """A write that fails transiently twice succeeds on the third attempt and says so."""
    manifest = write_manifest(manifest_text())
    flaky = FailingSink(MemorySink("b"))
    flaky.fail_on("write", "db_user", error=TransientError, times=2)
    _, results = run(manifest, source, {"a": MemorySink("a"), "b": flaky})
    result = next(r for r in results if r.change.address == "db_user")
    assert result.ok and result.attempts == 3


def test_interrupted_apply_converges_on_the_next_run(write_manifest, source) -> None:
    """After an apply that stopped half-way, the next apply finishes and the plan after it is empty."""
    manifest = write_manifest(manifest_text())
    flaky = FailingSink(MemorySink("a"))
    flaky.fail_on("write", "api/github", error=PermanentError)
    targets = {"a": flaky, "b": MemorySink("b")}
    _, results = run(manifest, source, targets)
    assert [r.change.address for r in results if r.status is Status.FAILED] == ["api/github"]
    flaky.heal()
    plan, results = run(manifest, source, targets)
    assert [c.address for c in plan.drift] == ["api/github"]
    assert not make_plan(manifest, source, targets, retry=FAST_RETRY).has_drift


def test_sync_filter_limits_the_plan_and_keeps_orphans(write_manifest, source) -> None:
    """--sync plans only that sync, on its targets, and never prunes items of other or removed syncs."""
    manifest = write_manifest(manifest_text(prune=True))
    targets = sinks()
    targets["a"].put_owned("api/gone", {"k": "v"}, Ownership("prod", "removed-sync"))
    plan = make_plan(manifest, source, targets, Selection(syncs=frozenset({"api"})), retry=FAST_RETRY)
    assert {c.sync for c in plan.changes} == {"api"}
    assert plan.targets == ("a",)
    full = make_plan(manifest, source, targets, retry=FAST_RETRY)
    assert any(c.address == "api/gone" and c.action is Action.DELETE for c in full.changes)


def test_an_owned_item_outside_every_mapping_is_outside_the_scope_and_stays(write_manifest, source) -> None:
    """An item of this instance that no destination of the manifest could name (a removed sync wrote it under a
    prefix nothing maps now) is not in the target's scope: it is neither reported as owned nor pruned."""
    manifest = write_manifest(manifest_text(prune=True))
    targets = {"a": RecordingSink(MemorySink("a")), "b": MemorySink("b")}
    targets["a"].inner.put_owned("gone/x", {"k": "v"}, Ownership("prod", "removed-sync"))
    targets["a"].inner.put_owned("api/gone", {"k": "v"}, Ownership("prod", "removed-sync"))
    plan = make_plan(manifest, source, targets, retry=FAST_RETRY)
    deletes = {c.address for c in plan.changes if c.action is Action.DELETE}
    assert deletes == {"api/gone"}


def test_unknown_selection_names_are_config_errors(write_manifest, source) -> None:
    """--sync or --target naming nothing in the manifest is an error with a suggestion."""
    manifest = write_manifest(manifest_text())
    with pytest.raises(ConfigError, match="did you mean 'api'"):
        make_plan(manifest, source, sinks(), Selection(syncs=frozenset({"apj"})))


def test_flags_and_tags_drift_are_detected(write_manifest, source) -> None:
    """A changed connector flag or tag is an update whose reason names it."""
    manifest = write_manifest(manifest_text())
    targets = sinks()
    run(manifest, source, targets)
    item = targets["a"].snapshot()["api/stripe"]
    targets["a"].put_owned("api/stripe", {"key": "sk-1"}, Ownership("prod", "api"), tags={"team": "other"})
    plan = make_plan(manifest, source, targets, retry=FAST_RETRY)
    change = next(c for c in plan.drift)
    assert change.reasons == ("tags (team)",)
    assert item.tags == {"team": "core"}


def test_two_syncs_mapping_one_item_hold_it(write_manifest) -> None:
    """Two syncs producing the same address on a target are both refused for that item."""
    manifest = write_manifest(
        """
        version: 1
        instance: prod
        source: {type: memory}
        targets: {a: {type: memory}}
        syncs:
          - {name: one, from: x, to: [{target: a, granularity: per-key}]}
          - {name: two, from: y, to: [{target: a, granularity: per-key}]}
        """
    )
    source = MemorySource(secrets={"x": {"K": "1111"}, "y": {"K": "2222", "L": "3333"}})
    target = MemorySink("a")
    plan, _ = run(manifest, source, {"a": target})
    assert any(p.address == "K" and "both map" in p.message for p in plan.problems)
    assert set(target.values()) == {"L"}


def test_prefix_with_leading_slash_keeps_the_relative_path(write_manifest) -> None:
    """`from: /apps/` and a source listing paths without the slash still give {relpath} below the prefix."""
    manifest = write_manifest(
        """
        version: 1
        instance: prod
        source: {type: memory}
        targets: {a: {type: memory}}
        syncs:
          - {name: s, from: /apps/, to: [{target: a, name: "{relpath}"}]}
        """
    )
    source = MemorySource(secrets={"apps/eu/stripe": {"k": "v1v1"}})
    source.list = lambda prefix: ["apps/eu/stripe"]  # a source that drops the leading slash
    target = MemorySink("a")
    run(manifest, source, {"a": target})
    assert set(target.values()) == {"eu/stripe"}


def test_a_source_whose_batch_read_raises_fails_only_its_syncs(write_manifest, source) -> None:
    """An unexpected error from read_many becomes a problem for each sync, not a crash of the run."""
    manifest = write_manifest(manifest_text(prune=True))

    def broken(paths):
        raise RuntimeError("driver exploded")

    source.read_many = broken
    targets = sinks()
    plan = make_plan(manifest, source, targets, retry=FAST_RETRY)
    assert {p.sync for p in plan.problems} == {"db", "api"}
    assert not plan.has_drift


def test_a_batch_that_cannot_commit_fails_its_changes_once(write_manifest, source) -> None:
    """When a sink's batch fails on commit, each of its changes is reported failed, exactly once."""
    import contextlib

    class CommitFails(MemorySink):
        capabilities = dataclasses.replace(MemorySink.capabilities, buffered=True)

        @contextlib.contextmanager
        def batch(self):
            yield
            raise PermanentError("disk full", target=self.target)

    manifest = write_manifest(manifest_text())
    reported = []
    targets = {"a": CommitFails("a"), "b": MemorySink("b")}
    plan = make_plan(manifest, source, targets, retry=FAST_RETRY)
    results = apply_plan(plan, targets, retry=FAST_RETRY, progress=reported.append)
    failed = [r for r in results if r.change.target == "a"]
    assert failed and all(not r.ok and "could not commit the batch" in r.error for r in failed)
    assert sorted(r.change.address for r in reported if r.change.target == "a") == sorted(
        r.change.address for r in failed
    )
    assert all(r.ok for r in results if r.change.target == "b")


class DefaultingSink(MemorySink):
    """A sink whose target options give every item tags and a description."""

    def item_defaults(self) -> ItemDefaults:
        return ItemDefaults({"team": "platform", "cost-center": "42"}, "Managed by syncd.")


def test_sink_defaults_fill_tags_and_description_the_to_entry_leaves_out(write_manifest, source) -> None:
    """The target's default tags and description reach every item; a `to` entry's own tag wins."""
    manifest = write_manifest(manifest_text())
    targets = {"a": DefaultingSink("a"), "b": MemorySink("b")}
    run(manifest, source, targets)
    stored = targets["a"].snapshot()
    assert stored["api/stripe"].tags == {"team": "core", "cost-center": "42"}
    assert stored["prod/db"].tags == {"team": "platform", "cost-center": "42"}
    assert stored["prod/db"].description == "Managed by syncd."
    assert not make_plan(manifest, source, targets, retry=FAST_RETRY).has_drift


SOURCE_SECRETS = {
    "apps/db": {"username": "app", "password": "pw-1"},
    "apps/api/stripe": {"key": "sk-1"},
    "apps/api/github": {"token": "gh-1"},
}


class FlakySource(MemorySource):
    """Answers a path with a transient error the first `times` reads, as a source whose batch call fails per path."""

    def __init__(self, flaky: dict[str, int], **kwargs) -> None:
        super().__init__(**kwargs)
        self.flaky = dict(flaky)
        self.asked: list[list[str]] = []

    def read_many(self, paths):
        self.asked.append(list(paths))
        found = super().read_many(paths)
        for path in paths:
            if self.flaky.get(path, 0) > 0:
                self.flaky[path] -= 1
                found[path] = TransientError("sealed for a moment", target="source", address=path)
        return found


def test_a_path_answered_with_a_transient_error_is_read_again_alone(write_manifest) -> None:
    """read_many's per-path transient errors are retried for those paths only; the sync then succeeds."""
    manifest = write_manifest(manifest_text())
    source = FlakySource({"apps/api/github": 2}, secrets=SOURCE_SECRETS)
    plan = make_plan(manifest, source, sinks(), retry=FAST_RETRY)
    assert plan.problems == ()
    assert source.asked[1:] == [["apps/api/github"], ["apps/api/github"]]


def test_a_path_still_transient_after_the_retries_fails_its_sync_only(write_manifest) -> None:
    manifest = write_manifest(manifest_text())
    source = FlakySource({"apps/api/github": 99}, secrets=SOURCE_SECRETS)
    plan = make_plan(manifest, source, sinks(), retry=FAST_RETRY)
    assert [(p.sync, "sealed for a moment" in p.message) for p in plan.problems] == [("api", True)]
    assert {c.sync for c in plan.changes} == {"db"}


class ObservedSink(MemorySink):
    """Remembers the items and the scope each `observe` was given."""

    def __init__(self, target: str) -> None:
        super().__init__(target)
        self.observed: list[tuple[tuple[str, ...], Scope]] = []

    def observe(self, desired, scope):
        self.observed.append((tuple(sorted(i.address for i in desired)), scope))
        return super().observe(desired, scope)


def test_observe_gets_the_checked_items_and_the_targets_scope_once(write_manifest, source) -> None:
    """The engine observes a target once per plan, with the items that passed check, the address patterns of every
    destination mapped into it and the target's `concurrency` (the manifest's default, 4) as its scope."""
    manifest = write_manifest(manifest_text())
    targets = {"a": ObservedSink("a"), "b": MemorySink("b")}
    source.put("apps/api/bad name", {"key": "x"})
    make_plan(manifest, source, targets, retry=FAST_RETRY)
    wanted = ("api/github", "api/stripe", "prod/db")
    assert targets["a"].observed == [(wanted, Scope("prod", ("api/*", "prod/*"), concurrency=4))]


def test_the_scope_carries_the_targets_own_concurrency(write_manifest, source) -> None:
    """A target's own `concurrency` reaches its sink in the scope, so a sink reading side by side keeps to it."""
    manifest = write_manifest(manifest_text().replace("a: {type: memory}", "a: {type: memory, concurrency: 2}"))
    targets = {"a": ObservedSink("a"), "b": MemorySink("b")}
    make_plan(manifest, source, targets, retry=FAST_RETRY)
    assert [scope.concurrency for _, scope in targets["a"].observed] == [2]


def test_once_the_writer_may_no_longer_write_no_change_is_attempted(write_manifest, source) -> None:
    """Apply asks `may_write` before every attempt: after it turns False (the daemon lost its leadership), the
    remaining changes fail as not_leader without a call, and what was written stays written."""
    manifest = write_manifest(manifest_text())
    targets = {"a": RecordingSink(MemorySink("a")), "b": RecordingSink(MemorySink("b"))}
    plan = make_plan(manifest, source, targets, retry=FAST_RETRY)
    writes = 0

    def may_write() -> bool:
        nonlocal writes
        writes += 1
        return writes <= 2

    results = apply_plan(plan, targets, retry=FAST_RETRY, concurrency={"a": 1, "b": 1}, may_write=may_write)
    applied = [r for r in results if r.ok]
    refused = [r for r in results if not r.ok]
    assert len(applied) == 2 and len(refused) == len(plan.drift) - 2
    assert {r.error_class for r in refused} == {"not_leader"} and all(r.attempts == 0 for r in refused)
    calls = [c for sink in targets.values() for c in sink.calls if c.method in ("write", "delete")]
    assert len(calls) == 2


def test_an_interrupted_apply_lets_calls_under_way_finish_and_starts_no_other(write_manifest, source) -> None:
    """A KeyboardInterrupt in the thread waiting for apply (Ctrl-C): the write under way on each target completes,
    every other change fails as interrupted without a call, each is reported, and the interrupt goes on up."""
    import os
    import signal
    import threading

    manifest = write_manifest(manifest_text())
    plan = make_plan(manifest, source, sinks(), retry=FAST_RETRY)
    writing = threading.Event()
    delivered = threading.Event()

    def on_sigint(signum, frame):  # type: ignore[no-untyped-def]
        delivered.set()
        raise KeyboardInterrupt

    class Slow(RecordingSink):
        def write(self, item, expected, difference):  # type: ignore[no-untyped-def]
            writing.set()
            # The write under way ends only once the main thread has taken the interrupt, however loaded the
            # machine; the short wait after it covers the few statements between the handler and apply's own.
            delivered.wait(10)
            threading.Event().wait(0.2)
            super().write(item, expected, difference)

    targets = {"a": Slow(MemorySink("a")), "b": Slow(MemorySink("b"))}
    reported: list = []

    def interrupt() -> None:
        writing.wait(10)
        os.kill(os.getpid(), signal.SIGINT)  # a real signal: it wakes the main thread waiting for apply

    previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        threading.Thread(target=interrupt).start()
        with pytest.raises(KeyboardInterrupt):
            apply_plan(plan, targets, retry=FAST_RETRY, concurrency={"a": 1, "b": 1}, progress=reported.append)
    finally:
        signal.signal(signal.SIGINT, previous)
    assert delivered.is_set()
    written = [c for sink in targets.values() for c in sink.calls if c.method == "write"]
    assert 1 <= len(written) <= 2  # at most the one call under way per target
    assert {r.error_class for r in reported if not r.ok} == {"interrupted"}
    assert len(reported) == len(written) + len([r for r in reported if not r.ok])
