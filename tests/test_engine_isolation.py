"""One bad source secret, one bad value, one target that is down: each fails only what it concerns."""

from __future__ import annotations

from syncd.engine import make_plan
from syncd.testing import MemorySink, MemorySource
from tests.conftest import FAST_RETRY

SHARED_BATCH = """
version: 1
instance: prod
source: {type: memory}
targets:
  a: {type: memory}
syncs:
  - name: bad
    from: apps/bad
    to: [{target: a, name: "bad/{key}", granularity: per-key}]
  - name: fleet
    from: apps/fleet/
    to: [{target: a, name: "fleet/{relpath}"}]
"""


class ExplodingSource(MemorySource):
    """A batch source that raises an unexpected error for any batch holding `bad`, like a parser that recurses."""

    def __init__(self, bad: str, **kwargs) -> None:
        super().__init__(**kwargs)
        self.bad = bad
        self.batches: list[list[str]] = []

    def read_many(self, paths):
        self.batches.append(list(paths))
        if self.bad in paths:
            raise RecursionError("maximum recursion depth exceeded while decoding JSON")
        return super().read_many(paths)


def test_an_unexpected_error_in_a_batch_fails_only_its_own_path(write_manifest) -> None:
    """A path whose read raises an unexpected error fails its sync alone; the syncs sharing its batch are planned."""
    manifest = write_manifest(SHARED_BATCH)
    secrets = {f"apps/fleet/s{i:02}": {"k": f"v{i}"} for i in range(70)}
    source = ExplodingSource("apps/bad", secrets={**secrets, "apps/bad": {"k": "x"}})
    plan = make_plan(manifest, source, {"a": MemorySink("a")}, retry=FAST_RETRY)
    assert [(p.sync, p.message) for p in plan.problems] == [
        (
            "bad",
            "source: secret 'apps/bad': unexpected RecursionError (run with --log-level debug for the traceback)",
        )
    ]
    assert len([c for c in plan.changes if c.sync == "fleet"]) == 70
    # Halving the batch finds the bad path in a few reads, not one read per path.
    assert len(source.batches) <= 2 + 2 * 7


LONE_SURROGATE = """
version: 1
instance: prod
defaults: {prune: true}
source: {type: memory}
targets:
  doc: {type: memory}
  keys: {type: memory}
syncs:
  - name: app
    from: apps/
    to:
      - {target: doc, name: "{relpath}"}
      - {target: keys, name: "{relpath}-{key}", granularity: per-key}
"""


def test_a_value_that_is_not_unicode_text_is_held_for_every_sink(write_manifest) -> None:
    """A lone surrogate is a problem of its key: the items holding it are neither written nor pruned, the rest apply."""
    from syncd.apply import apply_plan
    from syncd.model import Action, Ownership

    manifest = write_manifest(LONE_SURROGATE)
    source = MemorySource(secrets={"apps/db": {"user": "u1", "pass": "SURR\ud800X"}, "apps/web": {"pass": "SURRok"}})
    doc, keys = MemorySink("doc"), MemorySink("keys")
    # Items an earlier run wrote from the value, before it went bad: they must stay.
    doc.put_owned("db", {"user": "u1", "pass": "old"}, Ownership("prod", "app"))
    keys.put_owned("db-pass", {"pass": "old"}, Ownership("prod", "app"))
    targets = {"doc": doc, "keys": keys}
    plan = make_plan(manifest, source, targets, retry=FAST_RETRY)
    assert sorted((p.target, p.address, p.sync) for p in plan.problems) == [
        ("doc", "db", "app"),
        ("keys", "db-pass", "app"),
    ]
    message = plan.problems[0].message
    assert "'pass'" in message and "'apps/db'" in message and "'app'" in message and "SURR" not in message
    assert {(c.target, c.address) for c in plan.changes if c.action is Action.CREATE} == {
        ("doc", "web"),
        ("keys", "db-user"),
        ("keys", "web-pass"),
    }
    assert not [c for c in plan.changes if c.action is Action.DELETE]
    apply_plan(plan, targets, retry=FAST_RETRY)
    assert doc.values()["db"] == {"user": "u1", "pass": "old"}
    assert keys.values()["db-pass"] == {"pass": "old"}


MANY_ITEMS = """
version: 1
instance: prod
source: {type: memory}
targets:
  down: {type: memory}
  up: {type: memory}
syncs:
  - name: fleet
    from: apps/
    to:
      - {target: down, name: "{relpath}"}
      - {target: up, name: "{relpath}"}
"""


def many_items(write_manifest, count: int = 100):
    manifest = write_manifest(MANY_ITEMS)
    source = MemorySource(secrets={f"apps/s{i:03}": {"k": f"v{i}"} for i in range(count)})
    return manifest, source


def test_a_target_that_keeps_failing_transiently_is_stopped_and_the_others_apply(write_manifest) -> None:
    """After a run of changes that fail with transient errors, a target's remaining changes are not attempted: the
    calls made are bounded by the breaker, not by the number of changes; the other target applies; the next run
    retries and converges."""
    from syncd.apply import apply_plan
    from syncd.errors import TransientError
    from syncd.testing import FailingSink

    manifest, source = many_items(write_manifest)
    down, up = FailingSink(MemorySink("down")), MemorySink("up")
    down.fail_on("write", error=TransientError)
    targets = {"down": down, "up": up}
    plan = make_plan(manifest, source, targets, retry=FAST_RETRY)
    results = apply_plan(plan, targets, retry=FAST_RETRY, concurrency={"down": 4, "up": 4})
    writes = sum(n for (method, _), n in down.attempts.items() if method == "write")
    # 3 changes in a row trip the breaker; at most 3 more were in flight on the target's 4 workers.
    in_a_row, workers = 3, 4
    assert writes <= (in_a_row + workers - 1) * FAST_RETRY.attempts
    failed = [r for r in results if r.change.target == "down"]
    assert len(failed) == 100 and not any(r.ok for r in failed)
    skipped = [r for r in failed if r.attempts == 0]
    assert len(skipped) >= 100 - in_a_row - workers + 1
    assert {r.error for r in skipped} == {
        "not attempted: target 'down' is taken as down, since 3 of its changes in a row failed with transient "
        "errors; the next run retries"
    }
    assert all(r.ok for r in results if r.change.target == "up") and len(up.values()) == 100
    down.heal()
    again = make_plan(manifest, source, targets, retry=FAST_RETRY)
    assert all(r.ok for r in apply_plan(again, targets, retry=FAST_RETRY))
    assert not make_plan(manifest, source, targets, retry=FAST_RETRY).has_drift


def test_scattered_transient_failures_stop_a_target_only_past_the_total_budget(write_manifest) -> None:
    """Transient failures between successes do not stop a target until their total reaches the budget; permanent
    errors never do."""
    from syncd.apply import TargetBreaker, apply_plan
    from syncd.errors import PermanentError, TransientError
    from syncd.testing import FailingSink

    manifest, source = many_items(write_manifest, 30)
    down = FailingSink(MemorySink("down"))
    for i in range(0, 30, 3):
        down.fail_on("write", f"s{i:03}", error=TransientError)
    down.fail_on("write", "s001", error=PermanentError)
    targets = {"down": down, "up": MemorySink("up")}
    plan = make_plan(manifest, source, targets, retry=FAST_RETRY)
    # One change at a time, so the order is the plan's.
    results = apply_plan(plan, targets, retry=FAST_RETRY, concurrency={"down": 1}, breaker=TargetBreaker(total=5))
    by_address = {r.change.address: r for r in results if r.change.target == "down"}
    assert [a for a, r in by_address.items() if r.attempts == 0] == [f"s{i:03}" for i in range(13, 30)]
    assert by_address["s001"].error.endswith("injected failure of write on s001")
    assert "since 5 of its changes failed" in by_address["s013"].error
    assert [a for a, r in by_address.items() if r.ok] == [f"s{i:03}" for i in range(13) if i % 3 and i != 1]


def test_an_unexpected_error_listing_a_prefix_fails_only_that_sync(write_manifest) -> None:
    """A source whose `list` raises an unexpected error fails the prefix sync, with no traceback; the others plan."""
    manifest = write_manifest(SHARED_BATCH)
    source = MemorySource(secrets={"apps/bad": {"k": "x"}, "apps/fleet/s1": {"k": "v"}})

    def deep(prefix: str) -> list[str]:
        raise RecursionError("maximum recursion depth exceeded while constructing a mapping")

    source.list = deep
    plan = make_plan(manifest, source, {"a": MemorySink("a")}, retry=FAST_RETRY)
    assert [(p.sync, p.message) for p in plan.problems] == [
        ("fleet", "source: unexpected RecursionError (run with --log-level debug for the traceback)")
    ]
    assert {c.sync for c in plan.changes} == {"bad"}
