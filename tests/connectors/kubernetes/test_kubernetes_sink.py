"""The `kubernetes` sink on a fake cluster over real HTTP: the reads it makes, several namespaces in one target,
every Secret type, immutable Secrets and recreate, ownership (conflict, adopt, prune only ours), and the manifest's
labels and annotations written key by key."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from connectors.kubernetes import KubernetesSink
from syncd.model import Action
from tests.connectors.kubernetes.kube_support import (
    FAIL_AND_PRUNE,
    INSTANCE,
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

MARKER_LABEL = "app.kubernetes.io/managed-by"


@pytest.fixture
def sink(kube_fake: KubeFake, tmp_path: Path) -> KubernetesSink:
    return sink_for(kube_fake, tmp_path)


def plant(fake: KubeFake, address: str, data: dict[str, str], **fields: object) -> None:
    """A Secret written by someone else (no marker unless `fields` gives metadata)."""
    namespace, _, name = address.partition("/")
    metadata = {"name": name, "namespace": namespace, **dict(fields.pop("metadata", {}))}  # type: ignore[call-overload]
    fake.put_object({"kind": "Secret", "metadata": metadata, "type": "Opaque", "data": encoded(data), **fields})


def requests_of(fake: KubeFake) -> list[tuple[str, str]]:
    """(method, path) of every request the fake answered, in order."""
    return [(method, path) for method, path, *_ in fake.requests]


# Reads and namespaces


def test_observe_lists_each_namespace_once_and_gets_only_what_the_lists_miss(
    kube_fake: KubeFake, sink: KubernetesSink
) -> None:
    """Per namespace of the scope one labelled LIST, then one GET per desired Secret not listed: never a
    cluster-wide list nor a namespace read."""
    converge(sink, [desired(sink, "team-a/ours", {"k": "v"})])
    plant(kube_fake, "team-b/theirs", {"k": "v"})
    kube_fake.requests.clear()
    items = [desired(sink, a, {"k": "v"}) for a in ("team-a/ours", "team-b/theirs", "team-b/absent")]
    sink.observe(items, scope())
    calls = requests_of(kube_fake)
    lists = sorted(path for method, path in calls if method == "GET" and path.endswith("/secrets"))
    assert lists == [f"/api/v1/namespaces/{ns}/secrets" for ns in ("default", "team-a", "team-b")]
    gets = sorted(path for method, path in calls if method == "GET" and not path.endswith("/secrets"))
    assert gets == ["/api/v1/namespaces/team-b/secrets/absent", "/api/v1/namespaces/team-b/secrets/theirs"]
    assert all(path.startswith("/api/v1/namespaces/") for _, path in calls)


def test_a_list_is_read_page_by_page(kube_fake: KubeFake, tmp_path: Path) -> None:
    """With page_size 2, five owned Secrets are listed in three pages and all are reported."""
    sink = sink_for(kube_fake, tmp_path, page_size=2)
    items = [desired(sink, f"team-a/s{i}", {"k": str(i)}) for i in range(5)]
    converge(sink, items)
    kube_fake.requests.clear()
    owned = sink.observe([], scope(namespaces=["team-a"])).owned
    assert sorted(owned) == [f"team-a/s{i}" for i in range(5)]
    assert len([1 for method, path in requests_of(kube_fake) if path.endswith("/secrets")]) == 3


def test_one_target_writes_several_namespaces_and_prunes_in_each(kube_fake: KubeFake, sink: KubernetesSink) -> None:
    """Items in default, team-a and team-b converge in one apply; dropping one prunes it only in its namespace."""
    items = [desired(sink, f"{ns}/app", {"ns": ns}) for ns in ("default", "team-a", "team-b")]
    converge(sink, items)
    for ns in ("default", "team-a", "team-b"):
        assert stored_data(kube_fake, f"{ns}/app") == {"ns": ns}
    assert actions(plan(sink, items)) == dict.fromkeys((i.address for i in items), Action.NOOP)
    changes = plan(sink, items[:2])
    assert actions(changes)["team-b/app"] is Action.DELETE
    apply(sink, changes)
    assert stored(kube_fake, "team-b/app") is None
    assert stored_data(kube_fake, "team-a/app") == {"ns": "team-a"}


def test_a_namespace_that_does_not_exist_is_named_and_nothing_else_fails(
    kube_fake: KubeFake, sink: KubernetesSink
) -> None:
    """A Secret in a missing namespace plans as a create (LIST answers empty, GET 404) and its create fails naming
    the namespace and the target; a Secret in an existing namespace of the same apply is written."""
    items = [desired(sink, "nowhere/db", {"k": "v"}), desired(sink, "team-a/db", {"k": "v"})]
    changes = plan(sink, items, namespaces=["nowhere", "team-a"])
    assert actions(changes) == {"nowhere/db": Action.CREATE, "team-a/db": Action.CREATE}
    results = {r.change.address: r for r in apply(sink, changes)}
    assert results["team-a/db"].ok
    assert not results["nowhere/db"].ok
    assert "namespace 'nowhere' does not exist in this cluster" in (results["nowhere/db"].error or "")


# Types


TYPES = {
    "Opaque": {"anything": "opaque-value"},
    "kubernetes.io/tls": {"tls.crt": "CERT-PEM", "tls.key": "KEY-PEM", "ca.crt": "CA-PEM"},
    "kubernetes.io/basic-auth": {"username": "admin", "password": "basic-pass"},
    "kubernetes.io/ssh-auth": {"ssh-privatekey": "SSH-KEY"},
}


@pytest.mark.parametrize("secret_type", sorted(TYPES))
def test_each_type_is_written_with_its_type_and_reads_back_unchanged(
    kube_fake: KubeFake, sink: KubernetesSink, secret_type: str
) -> None:
    """A Secret of each type is created with that type and its keys; the next plan finds nothing to change."""
    item = desired(sink, "team-a/typed", TYPES[secret_type], type=secret_type)
    converge(sink, [item])
    assert stored(kube_fake, "team-a/typed")["type"] == secret_type  # type: ignore[index]
    assert stored_data(kube_fake, "team-a/typed") == TYPES[secret_type]
    assert actions(plan(sink, [item])) == {"team-a/typed": Action.NOOP}


def test_dockerconfigjson_reads_back_as_a_registry_client_reads_it(kube_fake: KubeFake, sink: KubernetesSink) -> None:
    """The Secret's .dockerconfigjson, decoded as a container runtime does, gives the registry's user and password
    (and its auth field decodes to 'user:password'); a second plan is clean, and a new password is an update."""
    creds = {"user": "robot$ci", "token": "registry-token-1"}
    fields = {"type": "kubernetes.io/dockerconfigjson", "registry": "ghcr.io", "username_key": "user"}
    item = desired(sink, "team-a/pull", creds, password_key="token", **fields)
    converge(sink, [item])
    secret = stored(kube_fake, "team-a/pull")
    assert secret is not None and secret["type"] == "kubernetes.io/dockerconfigjson"
    config = json.loads(base64.b64decode(secret["data"][".dockerconfigjson"]))
    entry = config["auths"]["ghcr.io"]
    assert (entry["username"], entry["password"]) == ("robot$ci", "registry-token-1")
    assert base64.b64decode(entry["auth"]).decode().split(":", 1) == ["robot$ci", "registry-token-1"]
    assert actions(plan(sink, [item])) == {"team-a/pull": Action.NOOP}
    rotated = desired(sink, "team-a/pull", {**creds, "token": "registry-token-2"}, password_key="token", **fields)
    assert actions(plan(sink, [rotated])) == {"team-a/pull": Action.UPDATE}


def test_a_type_change_is_a_conflict_or_with_recreate_a_delete_and_create(
    kube_fake: KubeFake, sink: KubernetesSink
) -> None:
    """A Secret's type cannot change in place: without recreate the plan is a conflict naming why; with it, apply
    deletes and creates the Secret with the new type, marker included."""
    data = {"username": "u", "password": "p"}
    converge(sink, [desired(sink, "team-a/creds", data)])
    retyped = desired(sink, "team-a/creds", data, type="kubernetes.io/basic-auth")
    (change,) = plan(sink, [retyped])
    assert change.action is Action.CONFLICT and "type cannot change" in " ".join(change.reasons)
    converge(sink, [desired(sink, "team-a/creds", data, type="kubernetes.io/basic-auth", recreate=True)])
    secret = stored(kube_fake, "team-a/creds")
    assert secret is not None and secret["type"] == "kubernetes.io/basic-auth"
    assert secret["metadata"]["labels"][MARKER_LABEL] == "syncd"


# Immutable Secrets


def test_an_immutable_secrets_value_change_is_a_conflict_without_recreate(
    kube_fake: KubeFake, sink: KubernetesSink
) -> None:
    """An immutable Secret is written immutable; a new value then plans as a conflict saying the Secret is
    immutable, and the Secret keeps its value."""
    converge(sink, [desired(sink, "team-a/frozen", {"k": "one"}, immutable=True)])
    assert stored(kube_fake, "team-a/frozen")["immutable"] is True  # type: ignore[index]
    (change,) = plan(sink, [desired(sink, "team-a/frozen", {"k": "two"}, immutable=True)])
    assert change.action is Action.CONFLICT
    assert "the Secret is immutable" in " ".join(change.reasons) and "recreate: true" in " ".join(change.reasons)
    assert stored_data(kube_fake, "team-a/frozen") == {"k": "one"}


def test_an_immutable_secrets_value_change_with_recreate_deletes_and_creates_it(
    kube_fake: KubeFake, sink: KubernetesSink
) -> None:
    """With recreate, the new value is an update shown as a recreate; apply deletes the old Secret (a new uid) and
    creates it immutable with the new value and the marker; the next plan is clean."""
    converge(sink, [desired(sink, "team-a/frozen", {"k": "one"}, immutable=True)])
    old_uid = stored(kube_fake, "team-a/frozen")["metadata"]["uid"]  # type: ignore[index]
    item = desired(sink, "team-a/frozen", {"k": "two"}, immutable=True, recreate=True)
    (change,) = plan(sink, [item])
    assert change.action is Action.UPDATE and any(r.startswith("recreate") for r in change.reasons)
    converge(sink, [item])
    secret = stored(kube_fake, "team-a/frozen")
    assert secret is not None and secret["metadata"]["uid"] != old_uid and secret["immutable"] is True
    assert stored_data(kube_fake, "team-a/frozen") == {"k": "two"}
    assert secret["metadata"]["annotations"]["syncd.io/instance"] == INSTANCE
    assert actions(plan(sink, [item])) == {"team-a/frozen": Action.NOOP}


def test_labels_of_an_immutable_secret_change_in_place(kube_fake: KubeFake, sink: KubernetesSink) -> None:
    """Metadata is not frozen: a new label on an immutable Secret is a plain update, same uid."""
    converge(sink, [desired(sink, "team-a/frozen", {"k": "one"}, immutable=True)])
    uid = stored(kube_fake, "team-a/frozen")["metadata"]["uid"]  # type: ignore[index]
    converge(sink, [desired(sink, "team-a/frozen", {"k": "one"}, immutable=True, labels={"team": "a"})])
    secret = stored(kube_fake, "team-a/frozen")
    assert secret is not None and secret["metadata"]["uid"] == uid and secret["metadata"]["labels"]["team"] == "a"


# Ownership


def test_an_unlabelled_secret_is_a_conflict_and_left_alone(kube_fake: KubeFake, sink: KubernetesSink) -> None:
    """A Secret someone else wrote (no marker) is a conflict under on_conflict: fail, and apply leaves it."""
    plant(kube_fake, "team-a/db", {"k": "theirs"})
    changes = plan(sink, [desired(sink, "team-a/db", {"k": "ours"})], policy=FAIL_AND_PRUNE)
    assert actions(changes) == {"team-a/db": Action.CONFLICT}
    apply(sink, changes)
    assert stored_data(kube_fake, "team-a/db") == {"k": "theirs"}
    assert MARKER_LABEL not in (stored(kube_fake, "team-a/db")["metadata"].get("labels") or {})  # type: ignore[index]


def test_the_label_or_the_annotations_alone_are_no_marker(kube_fake: KubeFake, sink: KubernetesSink) -> None:
    """A Secret with the managed-by label but without syncd's annotations (a Helm chart's), or with this instance's
    annotations but without the label (copied by hand), is nobody's: reported without owner, never pruned."""
    plant(kube_fake, "team-a/helm", {"k": "v"}, metadata={"labels": {MARKER_LABEL: "syncd"}})
    marker = {"syncd.io/instance": INSTANCE, "syncd.io/sync": OWNER.sync}
    plant(kube_fake, "team-a/copied", {"k": "v"}, metadata={"labels": {"app": "x"}, "annotations": marker})
    items = [desired(sink, address, {"k": "v"}) for address in ("team-a/helm", "team-a/copied")]
    found = sink.observe(items, scope()).items
    assert {address: item.owner for address, item in found.items()} == {"team-a/helm": None, "team-a/copied": None}
    assert sink.observe([], scope()).owned == {}


def test_adopt_takes_an_unlabelled_secret_over_keeping_others_labels(kube_fake: KubeFake, sink: KubernetesSink) -> None:
    """on_conflict: adopt writes syncd's data and marker over a Secret someone else wrote, in one patch; the
    labels and annotations it had stay."""
    plant(kube_fake, "team-a/db", {"k": "theirs"}, metadata={"labels": {"app": "x"}, "annotations": {"note": "n"}})
    converge(sink, [desired(sink, "team-a/db", {"k": "ours"})])
    secret = stored(kube_fake, "team-a/db")
    assert secret is not None
    assert secret["metadata"]["labels"] == {"app": "x", MARKER_LABEL: "syncd"}
    assert secret["metadata"]["annotations"]["note"] == "n"
    assert secret["metadata"]["annotations"]["syncd.io/sync"] == OWNER.sync
    assert stored_data(kube_fake, "team-a/db") == {"k": "ours"}


def test_prune_deletes_only_this_instances_secrets(kube_fake: KubeFake, tmp_path: Path) -> None:
    """An empty plan with prune deletes this instance's Secrets and leaves another instance's and unmarked ones."""
    sink = sink_for(kube_fake, tmp_path)
    converge(sink, [desired(sink, "team-a/mine", {"k": "v"})])
    converge(sink, [desired(sink, "team-a/other", {"k": "v"}, owner=OWNER.__class__("another", "app"))], "another")
    plant(kube_fake, "team-a/unmarked", {"k": "v"})
    changes = plan(sink, [])
    assert actions(changes) == {"team-a/mine": Action.DELETE}
    apply(sink, changes)
    assert stored(kube_fake, "team-a/mine") is None
    assert stored(kube_fake, "team-a/other") is not None and stored(kube_fake, "team-a/unmarked") is not None


def test_manifest_labels_and_annotations_are_compared_key_by_key(kube_fake: KubeFake, sink: KubernetesSink) -> None:
    """The manifest's labels and annotations are written; one changed by hand plans an update of that flag only;
    labels someone else added are never compared nor removed."""
    item = desired(sink, "team-a/db", {"k": "v"}, labels={"team": "a"}, annotations={"owner": "ops"})
    converge(sink, [item])
    secret = stored(kube_fake, "team-a/db")
    assert secret is not None
    assert secret["metadata"]["labels"]["team"] == "a" and secret["metadata"]["annotations"]["owner"] == "ops"
    secret["metadata"]["labels"] = {**secret["metadata"]["labels"], "team": "b", "added-by": "someone"}
    kube_fake.put_object(secret)
    (change,) = plan(sink, [item])
    assert change.action is Action.UPDATE and change.difference is not None
    assert change.difference.flags == ("label:team",) and not change.difference.value
    converge(sink, [item])
    labels = stored(kube_fake, "team-a/db")["metadata"]["labels"]  # type: ignore[index]
    assert labels["team"] == "a" and labels["added-by"] == "someone"


def test_a_removed_key_is_removed_from_the_secret(kube_fake: KubeFake, sink: KubernetesSink) -> None:
    """A key the source no longer holds is removed from the Secret by the patch (null in a merge patch)."""
    converge(sink, [desired(sink, "team-a/db", {"a": "1", "b": "2"})])
    converge(sink, [desired(sink, "team-a/db", {"a": "1"})])
    assert stored_data(kube_fake, "team-a/db") == {"a": "1"}


def test_creates_and_patches_name_syncd_as_their_field_manager(kube_fake: KubeFake, sink: KubernetesSink) -> None:
    """A create and an update carry fieldManager=syncd, so the Secret's managedFields name syncd as their writer."""
    converge(sink, [desired(sink, "team-a/db", {"k": "one"})])
    converge(sink, [desired(sink, "team-a/db", {"k": "two"})])
    writes = [r for r in kube_fake.requests if r.method in ("POST", "PATCH")]
    assert [r.method for r in writes] == ["POST", "PATCH"]
    assert all("fieldManager=syncd" in r.query.split("&") for r in writes), writes
