"""Another writer between the plan and the write: every write is conditional on the resourceVersion the plan read,
so a moved Secret is planned again (and written only if the change still stands) or reported as moved, never
overwritten blindly; a write whose answer was lost finds its own write done."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from connectors.kubernetes import KubernetesSink
from syncd.connector import Scope
from syncd.errors import ItemMoved
from syncd.model import Action, Difference
from tests.connectors.kubernetes.kube_support import (
    FAIL_AND_PRUNE,
    OWNER,
    actions,
    apply,
    converge,
    desired,
    encoded,
    plan,
    scope,
    sink_for,
    stored,
    stored_data,
)
from tests.fakes.kubernetes import KubeFake

SECRET_PATH = r"^/api/v1/namespaces/team-a/secrets/db$"


@pytest.fixture
def sink(kube_fake: KubeFake, tmp_path: Path) -> KubernetesSink:
    return sink_for(kube_fake, tmp_path)


def once(action: Callable[[], None]) -> Callable[..., None]:
    """A `before` hook that runs `action` at the first matching request only."""
    done = threading.Event()

    def hook(*_: Any) -> None:
        if not done.is_set():
            done.set()
            action()

    return hook


def edit(fake: KubeFake, address: str, change: Callable[[dict[str, Any]], None]) -> None:
    """Another writer's update of the Secret at `address` (a new resourceVersion)."""
    namespace, _, name = address.partition("/")
    secret = fake.secret(namespace, name)
    assert secret is not None
    change(secret)
    fake.put_object(secret)


def test_a_version_bumped_between_plan_and_write_is_planned_again_and_applied(
    kube_fake: KubeFake, sink: KubernetesSink
) -> None:
    """Another writer adds a label after the plan: the PATCH with the plan's resourceVersion is refused (409),
    the change is planned again on the fresh Secret, still the same change, and written; the other writer's label
    stays."""
    converge(sink, [desired(sink, "team-a/db", {"k": "one"})])
    changes = plan(sink, [desired(sink, "team-a/db", {"k": "two"})])
    assert actions(changes) == {"team-a/db": Action.UPDATE}
    added = once(lambda: edit(kube_fake, "team-a/db", lambda s: s["metadata"].setdefault("labels", {}).update(x="y")))
    kube_fake.before("PATCH", SECRET_PATH, added)
    (result,) = apply(sink, changes)
    assert result.ok, result.error
    assert stored_data(kube_fake, "team-a/db") == {"k": "two"}
    assert stored(kube_fake, "team-a/db")["metadata"]["labels"]["x"] == "y"  # type: ignore[index]
    patches = [r for r in kube_fake.requests if r[0] == "PATCH"]
    assert len(patches) == 2


def test_a_secret_that_lost_its_marker_between_plan_and_write_is_reported_as_moved(
    kube_fake: KubeFake, sink: KubernetesSink
) -> None:
    """Another writer replaces the Secret with its own (no marker) after the plan: the write fails saying it
    moved, and the other writer's value and lack of marker stay."""
    converge(sink, [desired(sink, "team-a/db", {"k": "one"})])
    changes = plan(sink, [desired(sink, "team-a/db", {"k": "two"})])

    def replace_it() -> None:
        kube_fake.put_object(
            {"kind": "Secret", "metadata": {"name": "db", "namespace": "team-a"}, "data": encoded({"k": "theirs"})}
        )

    kube_fake.before("PATCH", SECRET_PATH, once(replace_it))
    (result,) = apply(sink, changes)
    assert not result.ok and "changed" in (result.error or "")
    assert stored_data(kube_fake, "team-a/db") == {"k": "theirs"}
    assert "syncd.io/instance" not in (stored(kube_fake, "team-a/db")["metadata"].get("annotations") or {})  # type: ignore[index]


def test_a_create_racing_another_writers_create_is_reported_as_moved(kube_fake: KubeFake, sink: KubernetesSink) -> None:
    """Someone creates the Secret between the plan (absent) and the POST: 409 AlreadyExists, theirs stays."""
    changes = plan(sink, [desired(sink, "team-a/db", {"k": "ours"})], policy=FAIL_AND_PRUNE)

    def create_theirs() -> None:
        kube_fake.put_object(
            {"kind": "Secret", "metadata": {"name": "db", "namespace": "team-a"}, "data": encoded({"k": "theirs"})}
        )

    kube_fake.before("POST", r"^/api/v1/namespaces/team-a/secrets$", once(create_theirs))
    (result,) = apply(sink, changes)
    assert not result.ok
    assert stored_data(kube_fake, "team-a/db") == {"k": "theirs"}


def test_a_delete_of_a_secret_changed_since_the_plan_is_refused(kube_fake: KubeFake, sink: KubernetesSink) -> None:
    """A prune planned on one resourceVersion is refused (409 on the DELETE's precondition) when another writer
    changed the Secret since: it stays, with the other writer's value."""
    converge(sink, [desired(sink, "team-a/db", {"k": "one"})])
    (expected,) = sink.observe([], scope()).owned.values()
    edit(kube_fake, "team-a/db", lambda s: s.update(data=encoded({"k": "edited"})))
    with pytest.raises(ItemMoved):
        sink.delete(expected)
    assert stored_data(kube_fake, "team-a/db") == {"k": "edited"}


def test_a_delete_of_a_secret_already_gone_succeeds(kube_fake: KubeFake, sink: KubernetesSink) -> None:
    """Deleting twice (a retry after a lost answer) is success: the 404 is what was wanted."""
    converge(sink, [desired(sink, "team-a/db", {"k": "one"})])
    (expected,) = sink.observe([], scope()).owned.values()
    sink.delete(expected)
    sink.delete(expected)
    assert stored(kube_fake, "team-a/db") is None


def test_a_patch_whose_answer_was_lost_succeeds_when_retried(kube_fake: KubeFake, sink: KubernetesSink) -> None:
    """The same PATCH sent again with the plan's (now stale) resourceVersion gets 409; the Secret already holds
    exactly what the write makes, so the retry is success, not a conflict."""
    converge(sink, [desired(sink, "team-a/db", {"k": "one"})])
    (expected,) = sink.observe([desired(sink, "team-a/db", {"k": "one"})], scope()).items.values()
    item = desired(sink, "team-a/db", {"k": "two"})
    difference = Difference(value=True, changed_keys=("k",))
    sink.write(item, expected, difference)
    sink.write(item, expected, difference)
    assert stored_data(kube_fake, "team-a/db") == {"k": "two"}


def test_concurrent_applies_of_one_change_end_with_one_write_and_no_failure_beyond_moved(
    kube_fake: KubeFake, tmp_path: Path
) -> None:
    """Two syncd processes apply the same planned update at once: the Secret ends with the wanted value and the
    marker; each apply succeeds or reports the Secret as moved, none fails otherwise."""
    first, second = sink_for(kube_fake, tmp_path / "a"), sink_for(kube_fake, tmp_path / "b")
    converge(first, [desired(first, "team-a/db", {"k": "one"})])
    item = desired(first, "team-a/db", {"k": "two"})
    changes = plan(first, [item])
    results: list[Any] = []
    threads = [threading.Thread(target=lambda s=s: results.extend(apply(s, changes))) for s in (first, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(r.ok or "moved" in (r.error or "") or "changed" in (r.error or "") for r in results)
    assert stored_data(kube_fake, "team-a/db") == {"k": "two"}
    assert stored(kube_fake, "team-a/db")["metadata"]["annotations"]["syncd.io/sync"] == OWNER.sync  # type: ignore[index]


def test_a_recreate_repeated_after_a_lost_answer_or_a_failed_create_completes(
    kube_fake: KubeFake, sink: KubernetesSink
) -> None:
    """A recreate sent again with the plan's expected Secret finds its own work: after a lost answer (the new
    Secret is there: its conditional DELETE gets 409 and the Secret already is the item) it succeeds without
    deleting it; after its create failed (the old Secret gone: 404) it creates the item."""
    converge(sink, [desired(sink, "team-a/db", {"k": "one"}, immutable=True)])
    (expected,) = sink.observe([], scope()).owned.values()
    item = desired(sink, "team-a/db", {"k": "two"}, immutable=True, recreate=True)
    difference = Difference(value=True, changed_keys=("k",), recreate=True)
    sink.write(item, expected, difference)
    uid = stored(kube_fake, "team-a/db")["metadata"]["uid"]  # type: ignore[index]
    sink.write(item, expected, difference)
    assert stored(kube_fake, "team-a/db")["metadata"]["uid"] == uid  # type: ignore[index]
    kube_fake.delete_object("Secret", "team-a", "db")
    sink.write(item, expected, difference)
    assert stored_data(kube_fake, "team-a/db") == {"k": "two"}


def test_a_replan_reads_the_one_secret_and_lists_nothing(kube_fake: KubeFake, sink: KubernetesSink) -> None:
    """One conflict on an update costs the refused PATCH, the sink's GET (was it our own write?), the re-plan's GET
    of that Secret, and the PATCH: the re-plan's scope names one address, so no LIST of the namespace is made."""
    converge(sink, [desired(sink, "team-a/db", {"k": "one"})])
    changes = plan(sink, [desired(sink, "team-a/db", {"k": "two"})])
    added = once(lambda: edit(kube_fake, "team-a/db", lambda s: s["metadata"].setdefault("labels", {}).update(x="y")))
    kube_fake.before("PATCH", SECRET_PATH, added)
    before = len(kube_fake.requests)
    (result,) = apply(sink, changes)
    assert result.ok, result.error
    calls = [(request.method, request.path) for request in kube_fake.requests[before:]]
    path = "/api/v1/namespaces/team-a/secrets/db"
    assert calls == [("PATCH", path), ("GET", path), ("GET", path), ("PATCH", path)]


def test_a_scope_of_the_desired_addresses_is_read_by_get_and_any_other_scope_by_list(
    kube_fake: KubeFake, sink: KubernetesSink
) -> None:
    """A scope whose patterns are exactly the desired addresses is read with one GET each and no LIST; a scope also
    naming an address nothing desires is listed, so an owned Secret there is found to prune."""
    converge(sink, [desired(sink, "team-a/db", {"k": "one"}), desired(sink, "team-b/api", {"k": "two"})])
    items = [desired(sink, "team-a/db", {"k": "one"}), desired(sink, "team-b/api", {"k": "two"})]
    before = len(kube_fake.requests)
    observation = sink.observe(items, Scope(OWNER.instance, ("team-a/db", "team-b/api")))
    assert set(observation.items) == set(observation.owned) == {"team-a/db", "team-b/api"}
    calls = sorted(request.path for request in kube_fake.requests[before:])
    assert calls == ["/api/v1/namespaces/team-a/secrets/db", "/api/v1/namespaces/team-b/secrets/api"]
    before = len(kube_fake.requests)
    observation = sink.observe(items[:1], Scope(OWNER.instance, ("team-a/db", "team-b/api")))
    assert set(observation.owned) == {"team-a/db", "team-b/api"}
    calls = sorted(request.path for request in kube_fake.requests[before:])
    assert calls == ["/api/v1/namespaces/team-a/secrets", "/api/v1/namespaces/team-b/secrets"]


def test_several_literal_secrets_of_one_namespace_are_read_by_one_list_not_a_get_each(
    kube_fake: KubeFake, sink: KubernetesSink
) -> None:
    """A plan whose destinations name three Secrets of one namespace literally lists that namespace once: one call,
    where a GET each would take three."""
    names = ("team-a/db", "team-a/api", "team-a/web")
    items = [desired(sink, name, {"k": name}) for name in names]
    converge(sink, items)
    before = len(kube_fake.requests)
    observation = sink.observe(items, Scope(OWNER.instance, names))
    assert set(observation.items) == set(observation.owned) == set(names)
    assert [request.path for request in kube_fake.requests[before:]] == ["/api/v1/namespaces/team-a/secrets"]


@pytest.mark.parametrize("method", ["POST", "PATCH", "DELETE"])
def test_a_write_whose_answer_was_lost_is_finished_by_the_cores_retry(
    kube_fake: KubeFake, sink: KubernetesSink, method: str
) -> None:
    """The apiserver carries out a create, a patch or a delete and the answer is lost (503): the core retries, the
    repeated call finds its own write done (409 AlreadyExists or Conflict on a Secret that already is the item, or
    404 for a delete), and the change is applied, with one Secret holding exactly what was planned."""
    if method == "POST":
        changes = plan(sink, [desired(sink, "team-a/db", {"k": "one"})])
        wanted: dict[str, str] | None = {"k": "one"}
    else:
        converge(sink, [desired(sink, "team-a/db", {"k": "one"})])
        changes = plan(sink, [desired(sink, "team-a/db", {"k": "two"})] if method == "PATCH" else [])
        wanted = {"k": "two"} if method == "PATCH" else None
    path = r"^/api/v1/namespaces/team-a/secrets$" if method == "POST" else SECRET_PATH
    kube_fake.lose_next_answer(method, path)
    (result,) = apply(sink, changes)
    assert result.ok, result.error
    assert result.attempts == 2
    assert kube_fake.count(method, path) == 2
    if wanted is None:
        assert stored(kube_fake, "team-a/db") is None
    else:
        assert stored_data(kube_fake, "team-a/db") == wanted
        assert stored(kube_fake, "team-a/db")["metadata"]["annotations"]["syncd.io/sync"] == OWNER.sync  # type: ignore[index]
