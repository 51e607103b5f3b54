"""The fake Kubernetes API server, through the official client: the apiserver behaviours the kubernetes connector and
the Lease elector rely on, each pinned as the real API answers it."""

from __future__ import annotations

import base64
import copy
import json
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest
import urllib3
from kubernetes.client import (
    ApiClient,
    CoordinationV1Api,
    CoreV1Api,
    V1DeleteOptions,
    V1Lease,
    V1LeaseSpec,
    V1ObjectMeta,
    V1Preconditions,
    V1Secret,
)
from kubernetes.client.exceptions import ApiException

from tests.fakes import kube_api
from tests.fakes.kubernetes import ADMIN_TOKEN, KubeClientFactory, KubeFake

NS = "team-a"


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def status_of(call: Callable[[], Any]) -> dict[str, Any]:
    """Run a client call that must fail; return the Status body the server answered with."""
    with pytest.raises(ApiException) as caught:
        call()
    status = json.loads(caught.value.body)
    assert status["kind"] == "Status" and status["apiVersion"] == "v1" and status["status"] == "Failure"
    assert status["code"] == caught.value.status
    return status


@pytest.fixture
def client(kube_fake: KubeFake, kube_client: KubeClientFactory) -> ApiClient:
    return kube_client(kube_fake)


@pytest.fixture
def core(client: ApiClient) -> CoreV1Api:
    return CoreV1Api(client)


@pytest.fixture
def coordination(client: ApiClient) -> CoordinationV1Api:
    return CoordinationV1Api(client)


def secret(name: str, data: dict[str, str] | None = None, **fields: Any) -> V1Secret:
    return V1Secret(metadata=V1ObjectMeta(name=name), data={k: b64(v) for k, v in (data or {}).items()}, **fields)


# Create, get and the server's fields


def test_create_fills_uid_creation_timestamp_and_resource_version(core: CoreV1Api, kube_fake: KubeFake) -> None:
    """A created Secret comes back with kind, apiVersion, uid, creationTimestamp, a resourceVersion and type Opaque."""
    created = core.create_namespaced_secret(NS, secret("db", {"password": "pw"}))
    assert (created.kind, created.api_version, created.type) == ("Secret", "v1", "Opaque")
    assert created.metadata.uid and created.metadata.creation_timestamp is not None
    assert created.metadata.namespace == NS
    assert created.data == {"password": b64("pw")}
    stored = kube_fake.secret(NS, "db")
    assert stored is not None and stored["metadata"]["resourceVersion"] == created.metadata.resource_version
    assert core.read_namespaced_secret("db", NS).metadata.uid == created.metadata.uid


def test_string_data_is_merged_into_data_and_never_returned(core: CoreV1Api, kube_fake: KubeFake) -> None:
    """stringData keys land base64-encoded in data, winning over data's own value; stringData is neither stored nor
    returned."""
    body = V1Secret(
        metadata=V1ObjectMeta(name="db"), data={"a": b64("old"), "b": b64("kept")}, string_data={"a": "new"}
    )
    created = core.create_namespaced_secret(NS, body)
    assert created.data == {"a": b64("new"), "b": b64("kept")}
    assert created.string_data is None
    assert "stringData" not in (kube_fake.secret(NS, "db") or {})


def test_a_missing_secret_is_a_not_found_status(core: CoreV1Api) -> None:
    """GET of a missing Secret answers 404 NotFound naming it, with details name and kind."""
    status = status_of(lambda: core.read_namespaced_secret("db", NS))
    assert status["reason"] == "NotFound" and status["code"] == 404
    assert status["message"] == 'secrets "db" not found'
    assert status["details"] == {"name": "db", "kind": "secrets"}


def test_creating_an_existing_name_is_already_exists(core: CoreV1Api) -> None:
    """A second create of the same name answers 409 AlreadyExists."""
    core.create_namespaced_secret(NS, secret("db"))
    status = status_of(lambda: core.create_namespaced_secret(NS, secret("db")))
    assert (status["reason"], status["code"]) == ("AlreadyExists", 409)
    assert status["message"] == 'secrets "db" already exists'
    assert status["details"] == {"name": "db", "kind": "secrets"}


def test_unknown_namespaces_answer_as_the_apiserver_does(core: CoreV1Api) -> None:
    """In a namespace that does not exist, LIST is an empty 200, GET is 404 secrets and CREATE is 404 namespaces."""
    assert core.list_namespaced_secret("nowhere").items == []
    assert status_of(lambda: core.read_namespaced_secret("db", "nowhere"))["details"] == {
        "name": "db",
        "kind": "secrets",
    }
    status = status_of(lambda: core.create_namespaced_secret("nowhere", secret("db")))
    assert (status["reason"], status["code"], status["message"]) == ("NotFound", 404, 'namespaces "nowhere" not found')
    assert status["details"] == {"name": "nowhere", "kind": "namespaces"}


def test_add_namespace_makes_a_namespace_usable(core: CoreV1Api, kube_fake: KubeFake) -> None:
    """A namespace added to the fake accepts creates."""
    kube_fake.add_namespace("later")
    assert core.create_namespaced_secret("later", secret("db")).metadata.namespace == "later"


def test_one_resource_version_counter_runs_across_kinds(
    core: CoreV1Api, coordination: CoordinationV1Api, kube_fake: KubeFake
) -> None:
    """resourceVersion is one increasing counter for the whole server, as etcd's revision is."""
    first = core.create_namespaced_secret(NS, secret("a")).metadata.resource_version
    lease = coordination.create_namespaced_lease(NS, V1Lease(metadata=V1ObjectMeta(name="lock")))
    second = core.create_namespaced_secret("team-b", secret("a")).metadata.resource_version
    assert int(first) < int(lease.metadata.resource_version) < int(second)
    assert kube_fake.secret("team-b", "a")["metadata"]["resourceVersion"] == second  # type: ignore[index]


# Replace (PUT)


def test_put_with_a_stale_resource_version_is_a_conflict(core: CoreV1Api) -> None:
    """A PUT carrying a resourceVersion that is no longer current answers 409 Conflict with the apiserver's words."""
    created = core.create_namespaced_secret(NS, secret("db", {"k": "1"}))
    created.data = {"k": b64("2")}
    core.replace_namespaced_secret("db", NS, created)
    created.data = {"k": b64("3")}
    status = status_of(lambda: core.replace_namespaced_secret("db", NS, created))
    assert (status["reason"], status["code"]) == ("Conflict", 409)
    assert status["message"] == (
        'Operation cannot be fulfilled on secrets "db": the object has been modified; please apply your changes to '
        "the latest version and try again"
    )
    assert status["details"] == {"name": "db", "kind": "secrets"}
    assert core.read_namespaced_secret("db", NS).data == {"k": b64("2")}


def test_put_without_resource_version_is_unconditional(core: CoreV1Api) -> None:
    """A PUT without metadata.resourceVersion replaces whatever is stored and moves the resourceVersion."""
    created = core.create_namespaced_secret(NS, secret("db", {"k": "1"}))
    replaced = core.replace_namespaced_secret("db", NS, secret("db", {"other": "2"}))
    assert replaced.data == {"other": b64("2")}
    assert int(replaced.metadata.resource_version) > int(created.metadata.resource_version)
    assert replaced.metadata.uid == created.metadata.uid
    assert replaced.metadata.creation_timestamp == created.metadata.creation_timestamp


def test_put_of_a_missing_secret_is_not_found(core: CoreV1Api) -> None:
    """Secrets cannot be created by PUT: 404 NotFound."""
    status = status_of(lambda: core.replace_namespaced_secret("db", NS, secret("db")))
    assert (status["reason"], status["message"]) == ("NotFound", 'secrets "db" not found')


def test_put_naming_another_object_is_a_bad_request(core: CoreV1Api) -> None:
    """A PUT whose body names another object than its URL answers 400 BadRequest."""
    core.create_namespaced_secret(NS, secret("db"))
    status = status_of(lambda: core.replace_namespaced_secret("db", NS, secret("other")))
    assert status["reason"] == "BadRequest"
    assert status["message"] == "the name of the object (other) does not match the name on the URL (db)"


def test_a_write_that_changes_nothing_keeps_the_resource_version(core: CoreV1Api) -> None:
    """An update or patch that leaves the object as it was keeps its resourceVersion, as the apiserver does."""
    created = core.create_namespaced_secret(NS, secret("db", {"k": "1"}))
    same = core.replace_namespaced_secret("db", NS, created)
    patched = core.patch_namespaced_secret("db", NS, {"data": {"k": b64("1")}})
    assert same.metadata.resource_version == patched.metadata.resource_version == created.metadata.resource_version


def test_put_with_another_uid_is_a_conflict(core: CoreV1Api) -> None:
    """A PUT whose body carries another object's uid (the name was deleted and created again) answers 409."""
    created = core.create_namespaced_secret(NS, secret("db"))
    core.delete_namespaced_secret("db", NS)
    core.create_namespaced_secret(NS, secret("db"))
    created.metadata.resource_version = None
    status = status_of(lambda: core.replace_namespaced_secret("db", NS, created))
    assert status["reason"] == "Conflict"
    assert f"Precondition failed: UID in precondition: {created.metadata.uid}" in status["message"]


# Patch


def test_a_dict_patch_is_a_strategic_merge_where_null_removes_a_key(core: CoreV1Api, kube_fake: KubeFake) -> None:
    """The client sends a dict body as strategic-merge-patch+json; data merges key by key and null removes one."""
    core.create_namespaced_secret(NS, secret("db", {"a": "1", "b": "2"}))
    patched = core.patch_namespaced_secret("db", NS, {"data": {"a": None, "c": b64("3")}, "metadata": {}})
    assert patched.data == {"b": b64("2"), "c": b64("3")}
    assert kube_fake.patch_content_types == ["application/strategic-merge-patch+json"]


def test_a_patch_with_a_stale_resource_version_is_a_conflict(core: CoreV1Api) -> None:
    """A patch whose body holds metadata.resourceVersion other than the stored one answers 409 Conflict; the current
    one applies."""
    created = core.create_namespaced_secret(NS, secret("db", {"a": "1"}))
    stale = created.metadata.resource_version
    moved = core.patch_namespaced_secret("db", NS, {"metadata": {"labels": {"x": "y"}}})
    body = {"metadata": {"resourceVersion": stale}, "data": {"a": b64("2")}}
    status = status_of(lambda: core.patch_namespaced_secret("db", NS, body))
    assert status["reason"] == "Conflict" and "the object has been modified" in status["message"]
    body["metadata"]["resourceVersion"] = moved.metadata.resource_version
    assert core.patch_namespaced_secret("db", NS, body).data == {"a": b64("2")}


def test_merge_patch_follows_rfc_7386(core: CoreV1Api) -> None:
    """application/merge-patch+json merges objects, removes null members and replaces everything else."""
    core.create_namespaced_secret(NS, secret("db", {"a": "1", "b": "2"}))
    patch = {"metadata": {"labels": {"l": "v"}}, "data": {"a": None}}
    patched = core.patch_namespaced_secret("db", NS, patch, _content_type="application/merge-patch+json")
    assert patched.data == {"b": b64("2")} and patched.metadata.labels == {"l": "v"}


def test_json_patch_applies_operations_and_a_failed_test_is_invalid(core: CoreV1Api) -> None:
    """A list body goes as json-patch+json: add, replace and remove apply in order; a failing test answers 422."""
    core.create_namespaced_secret(NS, secret("db", {"a": "1", "b": "2"}))
    operations = [
        {"op": "test", "path": "/data/a", "value": b64("1")},
        {"op": "replace", "path": "/data/a", "value": b64("9")},
        {"op": "remove", "path": "/data/b"},
        {"op": "add", "path": "/metadata/labels", "value": {"l": "v"}},
    ]
    patched = core.patch_namespaced_secret("db", NS, operations)
    assert patched.data == {"a": b64("9")} and patched.metadata.labels == {"l": "v"}
    failing = [{"op": "test", "path": "/data/a", "value": b64("1")}, {"op": "remove", "path": "/data/a"}]
    status = status_of(lambda: core.patch_namespaced_secret("db", NS, failing))
    assert (status["reason"], status["code"]) == ("Invalid", 422)
    assert core.read_namespaced_secret("db", NS).data == {"a": b64("9")}


def test_server_side_apply_is_not_served(core: CoreV1Api) -> None:
    """An apply patch answers 415 UnsupportedMediaType: the fake has no server-side apply."""
    core.create_namespaced_secret(NS, secret("db"))
    status = status_of(
        lambda: core.patch_namespaced_secret("db", NS, {"data": {}}, _content_type="application/apply-patch+yaml")
    )
    assert (status["reason"], status["code"]) == ("UnsupportedMediaType", 415)


def test_a_patch_of_a_missing_secret_is_not_found(core: CoreV1Api) -> None:
    """PATCH never creates: 404 NotFound."""
    status = status_of(lambda: core.patch_namespaced_secret("db", NS, {"data": {}}))
    assert status["message"] == 'secrets "db" not found'


# Delete


def test_delete_answers_a_success_status(core: CoreV1Api, kube_fake: KubeFake) -> None:
    """DELETE removes the Secret and answers Status Success naming it and its uid."""
    created = core.create_namespaced_secret(NS, secret("db"))
    answer = core.delete_namespaced_secret("db", NS)  # the client returns this Status as a dict
    assert (answer["kind"], answer["status"]) == ("Status", "Success")
    assert answer["details"] == {"name": "db", "kind": "secrets", "uid": created.metadata.uid}
    assert kube_fake.secret(NS, "db") is None
    assert status_of(lambda: core.delete_namespaced_secret("db", NS))["reason"] == "NotFound"


def test_delete_preconditions_that_no_longer_hold_are_a_conflict(core: CoreV1Api, kube_fake: KubeFake) -> None:
    """A DELETE whose resourceVersion or uid precondition does not match answers 409 Conflict and deletes nothing."""
    created = core.create_namespaced_secret(NS, secret("db"))
    moved = core.patch_namespaced_secret("db", NS, {"metadata": {"labels": {"x": "y"}}})
    stale = V1DeleteOptions(preconditions=V1Preconditions(resource_version=created.metadata.resource_version))
    status = status_of(lambda: core.delete_namespaced_secret("db", NS, body=stale))
    assert status["reason"] == "Conflict"
    assert status["message"] == (
        'Operation cannot be fulfilled on secrets "db": StorageError: invalid object, Code: 4, Key: '
        f"/registry/secrets/{NS}/db, ResourceVersion: 0, AdditionalErrorMsg: Precondition failed: ResourceVersion in "
        f"precondition: {created.metadata.resource_version}, ResourceVersion in object meta: "
        f"{moved.metadata.resource_version}"
    )
    other_uid = V1DeleteOptions(preconditions=V1Preconditions(uid="not-the-uid"))
    assert (
        "UID in precondition: not-the-uid"
        in status_of(lambda: core.delete_namespaced_secret("db", NS, body=other_uid))["message"]
    )
    assert kube_fake.secret(NS, "db") is not None
    holding = V1Preconditions(uid=created.metadata.uid, resource_version=moved.metadata.resource_version)
    core.delete_namespaced_secret("db", NS, body=V1DeleteOptions(preconditions=holding))
    assert kube_fake.secret(NS, "db") is None


# Leases


def lease_spec(holder: str, renew: str = "2026-01-01T00:00:00.123456Z", **fields: Any) -> dict[str, Any]:
    return {"holderIdentity": holder, "leaseDurationSeconds": 15, "renewTime": renew, **fields}


def test_leases_are_created_read_replaced_patched_and_deleted(coordination: CoordinationV1Api) -> None:
    """Leases take every verb Secrets take, with resourceVersion conflicts on PUT."""
    created = coordination.create_namespaced_lease(NS, {"metadata": {"name": "lock"}, "spec": lease_spec("a")})
    assert (created.kind, created.api_version) == ("Lease", "coordination.k8s.io/v1")
    assert created.spec.holder_identity == "a" and created.spec.lease_duration_seconds == 15
    created.spec.holder_identity = "b"
    replaced = coordination.replace_namespaced_lease("lock", NS, created)
    assert replaced.spec.holder_identity == "b"
    status = status_of(lambda: coordination.replace_namespaced_lease("lock", NS, created))
    assert status["reason"] == "Conflict"
    assert status["message"].startswith('Operation cannot be fulfilled on leases.coordination.k8s.io "lock": ')
    assert status["details"] == {"name": "lock", "group": "coordination.k8s.io", "kind": "leases"}
    patched = coordination.patch_namespaced_lease("lock", NS, {"spec": {"leaseTransitions": 1}})
    assert (patched.spec.holder_identity, patched.spec.lease_transitions) == ("b", 1)
    assert coordination.read_namespaced_lease("lock", NS).spec.lease_transitions == 1
    coordination.delete_namespaced_lease("lock", NS)
    missing = status_of(lambda: coordination.read_namespaced_lease("lock", NS))
    assert missing["message"] == 'leases.coordination.k8s.io "lock" not found'


def test_a_lease_may_be_created_by_put(coordination: CoordinationV1Api, kube_fake: KubeFake) -> None:
    """Unlike Secrets, a Lease PUT to a missing name creates it (201), as the Lease strategy allows."""
    created = coordination.replace_namespaced_lease("lock", NS, {"metadata": {"name": "lock"}, "spec": lease_spec("a")})
    assert created.metadata.uid and kube_fake.lease(NS, "lock") is not None


def test_lease_times_are_micro_times(coordination: CoordinationV1Api, kube_fake: KubeFake) -> None:
    """renewTime and acquireTime come back in UTC with six fraction digits; a time without them (what
    datetime.isoformat() prints at microsecond 0) is refused with 400, as Go's MicroTime parser refuses it."""
    body = {"metadata": {"name": "lock"}, "spec": lease_spec("a", "2026-01-01T02:00:00.000005+02:00")}
    created = coordination.create_namespaced_lease(NS, body)
    assert kube_fake.lease(NS, "lock")["spec"]["renewTime"] == "2026-01-01T00:00:00.000005Z"  # type: ignore[index]
    assert created.spec.renew_time.microsecond == 5
    bad = {"spec": {"renewTime": "2026-01-01T00:00:00+00:00"}}
    status = status_of(lambda: coordination.patch_namespaced_lease("lock", NS, bad))
    assert (status["reason"], status["code"]) == ("BadRequest", 400)
    assert status["message"].startswith('Lease in version "v1" cannot be handled as a Lease: parsing time ')


def test_a_lease_with_a_typed_spec_round_trips(coordination: CoordinationV1Api) -> None:
    """A V1Lease built with datetimes carrying microseconds is accepted and read back equal."""
    import datetime

    moment = datetime.datetime(2026, 1, 1, 0, 0, 0, 123456, tzinfo=datetime.UTC)
    body = V1Lease(metadata=V1ObjectMeta(name="lock"), spec=V1LeaseSpec(holder_identity="a", renew_time=moment))
    created = coordination.create_namespaced_lease(NS, body)
    assert created.spec.renew_time == moment


# Authentication and the fixtures


def test_an_unknown_token_is_unauthorized(kube_fake: KubeFake, kube_client: KubeClientFactory) -> None:
    """A bearer token the fake does not know answers 401 Unauthorized; an added user's token is accepted."""
    status = status_of(lambda: CoreV1Api(kube_client(kube_fake, token="nope")).list_namespaced_secret(NS))
    assert (status["reason"], status["code"], status["message"]) == ("Unauthorized", 401, "Unauthorized")
    kube_fake.add_user("alice-token", "alice")
    assert kube_fake.tokens == {ADMIN_TOKEN: "kubernetes-admin", "alice-token": "alice"}
    assert CoreV1Api(kube_client(kube_fake, token="alice-token")).list_namespaced_secret(NS).items == []


def test_two_fakes_are_two_clusters(
    kube_fake: KubeFake, kube_fake_other: KubeFake, kube_client: KubeClientFactory
) -> None:
    """kube_fake_other is a separate server with its own store."""
    assert kube_fake.url != kube_fake_other.url
    CoreV1Api(kube_client(kube_fake)).create_namespaced_secret(NS, secret("db"))
    assert CoreV1Api(kube_client(kube_fake_other, context="other")).list_namespaced_secret(NS).items == []
    assert kube_fake_other.secret(NS, "db") is None


def test_put_object_plants_and_touch_moves_the_resource_version(core: CoreV1Api, kube_fake: KubeFake) -> None:
    """put_object writes out of band as another writer would (a new resourceVersion), and touch moves it again."""
    planted = kube_fake.put_object(
        {"kind": "Secret", "metadata": {"name": "db", "namespace": NS}, "stringData": {"k": "v"}}
    )
    read = core.read_namespaced_secret("db", NS)
    assert read.data == {"k": b64("v")} and read.metadata.resource_version == planted["metadata"]["resourceVersion"]
    replanted = kube_fake.put_object({"kind": "Secret", "metadata": {"name": "db", "namespace": NS}, "data": {}})
    assert int(replanted["metadata"]["resourceVersion"]) > int(planted["metadata"]["resourceVersion"])
    assert replanted["metadata"]["uid"] == planted["metadata"]["uid"]
    touched = kube_fake.touch("Secret", NS, "db")
    assert int(touched) > int(replanted["metadata"]["resourceVersion"])
    assert core.read_namespaced_secret("db", NS).metadata.resource_version == touched


def test_requests_are_recorded_with_method_path_and_query(core: CoreV1Api, kube_fake: KubeFake) -> None:
    """Every request is recorded as (method, path, decoded query); count filters them."""
    core.list_namespaced_secret(NS, label_selector="app.kubernetes.io/managed-by=syncd", limit=5)
    core.create_namespaced_secret(NS, secret("db"))
    assert kube_fake.requests == [
        ("GET", f"/api/v1/namespaces/{NS}/secrets", "labelSelector=app.kubernetes.io/managed-by=syncd&limit=5"),
        ("POST", f"/api/v1/namespaces/{NS}/secrets", ""),
    ]
    assert kube_fake.count("POST", r"/secrets$") == 1 and kube_fake.count() == 2


# List: selectors and paging


def plant(fake: KubeFake, name: str, labels: dict[str, str] | None = None, namespace: str = NS, **fields: Any) -> None:
    fake.put_object({"kind": "Secret", "metadata": {"name": name, "namespace": namespace, "labels": labels}, **fields})


def names(listing: Any) -> list[str]:
    return [item.metadata.name for item in listing.items]


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ("app=web", ["a", "b"]),
        ("app==web", ["a", "b"]),
        ("app!=web", ["c", "d"]),
        ("app in (web, db)", ["a", "b", "c"]),
        ("app notin (web,db)", ["d"]),
        ("tier", ["b", "c"]),
        ("!tier", ["a", "d"]),
        ("app=web,tier", ["b"]),
        ("app in (web),tier!=front", ["a"]),
        ("app.kubernetes.io/managed-by=syncd", ["d"]),
        ("", ["a", "b", "c", "d"]),
    ],
)
def test_label_selectors_select_as_the_apiserver_does(
    core: CoreV1Api, kube_fake: KubeFake, selector: str, expected: list[str]
) -> None:
    """=, ==, !=, in, notin, key and !key select as documented; != and notin match objects without the label; a
    comma is AND."""
    plant(kube_fake, "a", {"app": "web"})
    plant(kube_fake, "b", {"app": "web", "tier": "front"})
    plant(kube_fake, "c", {"app": "db", "tier": "back"})
    plant(kube_fake, "d", {"app.kubernetes.io/managed-by": "syncd"})
    assert names(core.list_namespaced_secret(NS, label_selector=selector)) == expected


@pytest.mark.parametrize("selector", ["app in (web", "app=web,", "=web", "app in web", "a b", "bad key=x", "app=b@d"])
def test_a_malformed_label_selector_is_a_bad_request(core: CoreV1Api, selector: str) -> None:
    """A selector that does not parse, or names an invalid key or value, answers 400 BadRequest."""
    status = status_of(lambda: core.list_namespaced_secret(NS, label_selector=selector))
    assert (status["reason"], status["code"]) == ("BadRequest", 400)


def test_field_selectors_select_on_name_and_type(core: CoreV1Api, kube_fake: KubeFake) -> None:
    """fieldSelector takes metadata.name and, for Secrets, type; another field answers 400."""
    plant(kube_fake, "a")
    plant(kube_fake, "b", type="example.com/other")
    assert names(core.list_namespaced_secret(NS, field_selector="metadata.name=b")) == ["b"]
    assert names(core.list_namespaced_secret(NS, field_selector="metadata.name!=b")) == ["a"]
    assert names(core.list_namespaced_secret(NS, field_selector="type=Opaque")) == ["a"]
    status = status_of(lambda: core.list_namespaced_secret(NS, field_selector="data.k=v"))
    assert (status["reason"], status["message"]) == ("BadRequest", "field label not supported: data.k")


def test_lists_page_in_name_order_with_continue_and_remaining_count(core: CoreV1Api, kube_fake: KubeFake) -> None:
    """limit cuts a list in name order; each page but the last carries an opaque continue token and
    remainingItemCount, and the list's resourceVersion."""
    for name in ["e", "c", "a", "d", "b"]:
        plant(kube_fake, name)
    plant(kube_fake, "other-namespace", namespace="team-b")
    first = core.list_namespaced_secret(NS, limit=2)
    assert names(first) == ["a", "b"]
    assert first.metadata.remaining_item_count == 3 and first.metadata._continue
    assert (
        first.metadata.resource_version == kube_fake.secret("team-b", "other-namespace")["metadata"]["resourceVersion"]
    )
    second = core.list_namespaced_secret(NS, limit=2, _continue=first.metadata._continue)
    assert names(second) == ["c", "d"] and second.metadata.remaining_item_count == 1
    last = core.list_namespaced_secret(NS, limit=2, _continue=second.metadata._continue)
    assert names(last) == ["e"] and last.metadata._continue is None and last.metadata.remaining_item_count is None


def test_continued_pages_read_the_first_pages_snapshot(core: CoreV1Api, kube_fake: KubeFake) -> None:
    """A continue token reads the list as it was at the first page's resourceVersion: writes made since do not
    show, as with the apiserver's consistent paged LIST."""
    for name in ["a", "b", "c"]:
        plant(kube_fake, name, {"v": "1"})
    first = core.list_namespaced_secret(NS, limit=1)
    plant(kube_fake, "b", {"v": "2"})
    kube_fake.delete_object("Secret", NS, "c")
    plant(kube_fake, "d")
    rest = core.list_namespaced_secret(NS, _continue=first.metadata._continue)
    assert [(item.metadata.name, item.metadata.labels) for item in rest.items] == [("b", {"v": "1"}), ("c", {"v": "1"})]
    assert rest.metadata.resource_version == first.metadata.resource_version


def test_a_paged_list_copies_each_object_once(
    core: CoreV1Api, kube_fake: KubeFake, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Reading a namespace page by page copies each stored object once, for the page that holds it: the fake's
    cost stays linear in the objects, so the bench's timings at 10,000 Secrets measure syncd, not the fake."""
    for index in range(40):
        plant(kube_fake, f"s{index:02d}")
    copies = []

    def counted(obj: Any) -> Any:
        copies.append(obj)
        return copy.deepcopy(obj)

    monkeypatch.setattr(kube_api, "copy", SimpleNamespace(deepcopy=counted))
    listed, token = [], None
    while True:
        page = core.list_namespaced_secret(NS, limit=4, **({"_continue": token} if token else {}))
        listed += names(page)
        token = page.metadata._continue
        if not token:
            break
    assert listed == [f"s{index:02d}" for index in range(40)]
    assert len(copies) == 40


def test_paging_with_a_selector_counts_matching_items_and_omits_the_remaining_count(
    core: CoreV1Api, kube_fake: KubeFake
) -> None:
    """With a label selector each page holds up to limit matching items, and remainingItemCount is not given."""
    for index in range(5):
        plant(kube_fake, f"s{index}", {"mine": "yes"} if index % 2 == 0 else {})
    first = core.list_namespaced_secret(NS, label_selector="mine=yes", limit=2)
    assert names(first) == ["s0", "s2"] and first.metadata.remaining_item_count is None
    rest = core.list_namespaced_secret(NS, label_selector="mine=yes", limit=2, _continue=first.metadata._continue)
    assert names(rest) == ["s4"] and rest.metadata._continue is None


def test_a_bad_continue_token_is_a_bad_request(core: CoreV1Api) -> None:
    """A continue token the server did not issue answers 400 BadRequest."""
    status = status_of(lambda: core.list_namespaced_secret(NS, limit=1, _continue="not-a-token"))
    assert status["reason"] == "BadRequest" and status["message"].startswith("continue key is not valid")


def test_list_items_carry_no_kind_and_leases_list_too(
    core: CoreV1Api, coordination: CoordinationV1Api, kube_fake: KubeFake
) -> None:
    """List items come without kind and apiVersion, as the apiserver sends them; Leases list like Secrets."""
    plant(kube_fake, "a")
    listing = core.list_namespaced_secret(NS)
    assert listing.kind == "SecretList" and listing.items[0].kind is None
    coordination.create_namespaced_lease(NS, {"metadata": {"name": "lock", "labels": {"x": "y"}}})
    leases = coordination.list_namespaced_lease(NS, label_selector="x=y")
    assert leases.kind == "LeaseList" and names(leases) == ["lock"]


# 422 Invalid and 400 BadRequest on bodies

DNS1123_RULE = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start "
    "and end with an alphanumeric character (e.g. 'example.com', regex used for validation is "
    "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)
KEY_RULE = (
    "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  "
    "or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')"
)


def invalid_status(call: Callable[[], Any]) -> dict[str, Any]:
    status = status_of(call)
    assert (status["reason"], status["code"]) == ("Invalid", 422)
    return status


def test_a_secret_name_must_be_a_dns_subdomain(core: CoreV1Api) -> None:
    """A name that is not a lowercase RFC 1123 subdomain answers 422 naming metadata.name and the rule."""
    status = invalid_status(lambda: core.create_namespaced_secret(NS, secret("Bad_Name")))
    assert (
        status["message"] == f'Secret "Bad_Name" is invalid: metadata.name: Invalid value: "Bad_Name": {DNS1123_RULE}'
    )
    assert status["details"] == {
        "name": "Bad_Name",
        "kind": "Secret",
        "causes": [
            {
                "reason": "FieldValueInvalid",
                "message": f'Invalid value: "Bad_Name": {DNS1123_RULE}',
                "field": "metadata.name",
            }
        ],
    }


def test_a_secret_name_may_have_253_characters_not_254(core: CoreV1Api) -> None:
    """253 characters (dotted labels) is the longest name; 254 answers 422."""
    longest = ".".join(["a" * 63] * 3) + "." + "b" * 61
    assert len(longest) == 253
    core.create_namespaced_secret(NS, secret(longest))
    status = invalid_status(lambda: core.create_namespaced_secret(NS, secret(longest + "c")))
    assert status["details"]["causes"][0]["message"].endswith("must be no more than 253 characters")


@pytest.mark.parametrize(
    ("key", "rule"),
    [
        ("bad key", KEY_RULE),
        ("..", "must not be '..'"),
        ("..hidden", "must not start with '..'"),
        ("k" * 254, "must be no more than 253 characters"),
    ],
)
def test_data_keys_follow_the_config_key_rule(core: CoreV1Api, key: str, rule: str) -> None:
    """Data keys must match [-._a-zA-Z0-9]+, have at most 253 characters, and not be or start with '..'."""
    status = invalid_status(lambda: core.create_namespaced_secret(NS, secret("db", {key: "v"})))
    assert status["message"] == f'Secret "db" is invalid: data[{key}]: Invalid value: "{key}": {rule}'
    assert status["details"]["causes"][0]["field"] == f"data[{key}]"


def test_string_data_keys_are_checked_as_data_keys(core: CoreV1Api) -> None:
    """A bad stringData key is refused under data[...], since stringData is merged into data before validation."""
    body = V1Secret(metadata=V1ObjectMeta(name="db"), string_data={"a/b": "v"})
    assert (
        invalid_status(lambda: core.create_namespaced_secret(NS, body))["details"]["causes"][0]["field"] == "data[a/b]"
    )


def test_values_that_are_not_base64_are_a_bad_request(core: CoreV1Api) -> None:
    """A data value that is not standard padded base64 fails to decode: 400 BadRequest with Go's offset, as the
    apiserver's decoder answers (not 422: the body never becomes a Secret)."""
    for value, offset in [("!!!!", 0), ("YWJj!", 4), ("YWI", 0), ("YW=j", 2)]:
        body = {"metadata": {"name": "db"}, "data": {"k": value}}
        status = status_of(lambda body=body: core.create_namespaced_secret(NS, body))
        assert (status["reason"], status["code"]) == ("BadRequest", 400)
        assert status["message"] == (
            f'Secret in version "v1" cannot be handled as a Secret: illegal base64 data at input byte {offset}'
        )
    body = {"metadata": {"name": "db"}, "data": {"k": "YW\nJj"}}  # Go's decoder skips CR and LF
    assert core.create_namespaced_secret(NS, body).data == {"k": b64("abc")}


def test_the_size_limit_counts_decoded_values_only(core: CoreV1Api) -> None:
    """The values may total 1,048,576 decoded bytes whatever the keys; one more byte answers 422 on data."""
    limit = 1024 * 1024
    fits = {"k" * 200: b64("x" * (limit - 10)), "a": b64("y" * 10)}
    core.create_namespaced_secret(NS, V1Secret(metadata=V1ObjectMeta(name="fits"), data=fits))
    over = {"k": b64("x" * (limit - 10)), "a": b64("y" * 11)}
    status = invalid_status(
        lambda: core.create_namespaced_secret(NS, V1Secret(metadata=V1ObjectMeta(name="over"), data=over))
    )
    assert status["message"] == 'Secret "over" is invalid: data: Too long: may not be more than 1048576 bytes'
    assert status["details"]["causes"] == [
        {"reason": "FieldValueTooLong", "message": "Too long: may not be more than 1048576 bytes", "field": "data"}
    ]


@pytest.mark.parametrize(
    ("secret_type", "data", "fields"),
    [
        ("kubernetes.io/tls", {"tls.crt": "c"}, ["data[tls.key]"]),
        ("kubernetes.io/tls", {}, ["data[tls.crt]", "data[tls.key]"]),
        ("kubernetes.io/dockerconfigjson", {}, ["data[.dockerconfigjson]"]),
        ("kubernetes.io/dockerconfigjson", {".dockerconfigjson": "{not json"}, ["data[.dockerconfigjson]"]),
        ("kubernetes.io/basic-auth", {"other": "x"}, ["data[%s][username]", "data[%s][password]"]),
        ("kubernetes.io/ssh-auth", {"ssh-privatekey": ""}, ["data[%s][ssh-privatekey]"]),
    ],
)
def test_typed_secrets_need_their_keys(
    core: CoreV1Api, secret_type: str, data: dict[str, str], fields: list[str]
) -> None:
    """Each Secret type's required keys are checked (the field paths are the apiserver's own, quirks included)."""
    status = invalid_status(lambda: core.create_namespaced_secret(NS, secret("db", data, type=secret_type)))
    assert [cause["field"] for cause in status["details"]["causes"]] == fields
    if len(fields) > 1:
        assert status["message"].startswith('Secret "db" is invalid: [') and status["message"].endswith("]")


@pytest.mark.parametrize(
    ("secret_type", "data"),
    [
        ("kubernetes.io/tls", {"tls.crt": "c", "tls.key": "k"}),
        ("kubernetes.io/dockerconfigjson", {".dockerconfigjson": '{"auths": {}}'}),
        ("kubernetes.io/basic-auth", {"password": ""}),
        ("kubernetes.io/ssh-auth", {"ssh-privatekey": "key"}),
        ("example.com/anything", {}),
    ],
)
def test_typed_secrets_with_their_keys_are_accepted(core: CoreV1Api, secret_type: str, data: dict[str, str]) -> None:
    """A typed Secret holding what its type requires is created with that type."""
    assert core.create_namespaced_secret(NS, secret("db", data, type=secret_type)).type == secret_type


@pytest.mark.parametrize(
    ("labels", "value"),
    [
        ({"bad key": "v"}, "bad key"),
        ({"k": "bad value"}, "bad value"),
        ({"k": "v" * 64}, "v" * 64),
        ({"/k": "v"}, "/k"),
    ],
)
def test_label_keys_and_values_are_checked(core: CoreV1Api, labels: dict[str, str], value: str) -> None:
    """Label keys are qualified names and values valid label values (at most 63): else 422 on metadata.labels."""
    body = V1Secret(metadata=V1ObjectMeta(name="db", labels=labels))
    status = invalid_status(lambda: core.create_namespaced_secret(NS, body))
    cause = status["details"]["causes"][0]
    assert cause["field"] == "metadata.labels" and cause["message"].startswith(f'Invalid value: "{value}": ')


def test_the_type_of_a_secret_never_changes(core: CoreV1Api) -> None:
    """Changing type (a PUT leaving it out means Opaque) answers 422 "field is immutable"."""
    core.create_namespaced_secret(NS, secret("db", {"tls.crt": "c", "tls.key": "k"}, type="kubernetes.io/tls"))
    status = invalid_status(
        lambda: core.replace_namespaced_secret("db", NS, secret("db", {"tls.crt": "c", "tls.key": "k"}))
    )
    assert status["message"] == 'Secret "db" is invalid: type: Invalid value: "Opaque": field is immutable'


def test_an_immutable_secret_keeps_its_data_and_stays_immutable(core: CoreV1Api, kube_fake: KubeFake) -> None:
    """An immutable Secret refuses a data change and unsetting immutable (422 "field is immutable when `immutable`
    is set"), but takes metadata changes and deletion."""
    core.create_namespaced_secret(NS, secret("db", {"k": "1"}, immutable=True))
    status = invalid_status(lambda: core.patch_namespaced_secret("db", NS, {"data": {"k": b64("2")}}))
    assert status["message"] == 'Secret "db" is invalid: data: Forbidden: field is immutable when `immutable` is set'
    status = invalid_status(lambda: core.patch_namespaced_secret("db", NS, {"stringData": {"new": "v"}}))
    assert status["details"]["causes"][0]["field"] == "data"
    status = invalid_status(lambda: core.patch_namespaced_secret("db", NS, {"immutable": False}))
    assert status["message"] == (
        'Secret "db" is invalid: immutable: Forbidden: field is immutable when `immutable` is set'
    )
    assert core.patch_namespaced_secret("db", NS, {"metadata": {"labels": {"x": "y"}}}).metadata.labels == {"x": "y"}
    core.delete_namespaced_secret("db", NS)
    assert kube_fake.secret(NS, "db") is None


def test_a_lease_duration_must_be_positive(coordination: CoordinationV1Api) -> None:
    """leaseDurationSeconds 0 answers 422 naming Lease.coordination.k8s.io and spec.leaseDurationSeconds."""
    body = {"metadata": {"name": "lock"}, "spec": {"leaseDurationSeconds": 0}}
    status = invalid_status(lambda: coordination.create_namespaced_lease(NS, body))
    assert status["message"] == (
        'Lease.coordination.k8s.io "lock" is invalid: spec.leaseDurationSeconds: Invalid value: 0: '
        "must be greater than 0"
    )
    assert (status["details"]["group"], status["details"]["kind"]) == ("coordination.k8s.io", "Lease")


# RBAC

SYNCD_ROLE = """
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: syncd, namespace: team-a}
rules:
  - apiGroups: [""]
    resources: [secrets]
    verbs: [get, list, create, patch, delete]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: syncd, namespace: team-a}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: syncd}
subjects:
  - {kind: User, name: syncd, apiGroup: rbac.authorization.k8s.io}
"""


@pytest.fixture
def syncd_core(kube_fake: KubeFake, kube_client: KubeClientFactory) -> CoreV1Api:
    """A CoreV1Api authenticated as the user `syncd`."""
    kube_fake.add_user("syncd-token", "syncd")
    return CoreV1Api(kube_client(kube_fake, token="syncd-token", context="syncd"))


def test_without_rbac_every_known_user_is_allowed(syncd_core: CoreV1Api) -> None:
    """Until load_rbac, the fake authorizes every authenticated request."""
    assert syncd_core.create_namespaced_secret("team-b", secret("db")).metadata.name == "db"


def test_a_role_grants_its_verbs_in_its_namespace_only(syncd_core: CoreV1Api, kube_fake: KubeFake) -> None:
    """A bound Role allows its verbs on its resources in its namespace; elsewhere the request answers 403 with the
    apiserver's sentence naming user, verb, resource, group and namespace."""
    kube_fake.load_rbac(SYNCD_ROLE)
    syncd_core.create_namespaced_secret(NS, secret("db"))
    syncd_core.patch_namespaced_secret("db", NS, {"metadata": {"labels": {"x": "y"}}})
    assert names(syncd_core.list_namespaced_secret(NS)) == ["db"]
    plant(kube_fake, "db", namespace="team-b")
    status = status_of(lambda: syncd_core.read_namespaced_secret("db", "team-b"))
    assert (status["reason"], status["code"]) == ("Forbidden", 403)
    assert status["message"] == (
        'secrets "db" is forbidden: User "syncd" cannot get resource "secrets" in API group "" in the namespace '
        '"team-b"'
    )
    assert status["details"] == {"name": "db", "kind": "secrets"}
    listing = status_of(lambda: syncd_core.list_namespaced_secret("team-b"))
    assert listing["message"] == (
        'secrets is forbidden: User "syncd" cannot list resource "secrets" in API group "" in the namespace "team-b"'
    )
    assert listing["details"] == {"kind": "secrets"}
    creating = status_of(lambda: syncd_core.create_namespaced_secret("team-b", secret("x")))
    assert creating["message"].startswith('secrets is forbidden: User "syncd" cannot create resource "secrets"')


def test_each_method_maps_to_its_verb(syncd_core: CoreV1Api, kube_fake: KubeFake) -> None:
    """PUT is the verb update, which the Role lacks, while PATCH (patch) and DELETE (delete) pass."""
    kube_fake.load_rbac(SYNCD_ROLE)
    created = syncd_core.create_namespaced_secret(NS, secret("db"))
    status = status_of(lambda: syncd_core.replace_namespaced_secret("db", NS, created))
    assert 'cannot update resource "secrets"' in status["message"]
    assert kube_fake.count("PUT") == 1 and kube_fake.secret(NS, "db") is not None
    syncd_core.delete_namespaced_secret("db", NS)


def test_resource_names_limit_a_rule_and_never_grant_list_or_create(
    kube_fake: KubeFake, kube_client: KubeClientFactory
) -> None:
    """A rule with resourceNames allows only those names, and never list or create (their requests have no name)."""
    kube_fake.load_rbac(
        """
kind: Role
apiVersion: rbac.authorization.k8s.io/v1
metadata: {name: one, namespace: team-a}
rules: [{apiGroups: [""], resources: [secrets], resourceNames: [db], verbs: [get, list, create]}]
---
kind: RoleBinding
apiVersion: rbac.authorization.k8s.io/v1
metadata: {name: one, namespace: team-a}
roleRef: {kind: Role, name: one, apiGroup: rbac.authorization.k8s.io}
subjects: [{kind: ServiceAccount, name: syncd, namespace: ops}]
"""
    )
    kube_fake.add_user("sa-token", "system:serviceaccount:ops:syncd")
    api = CoreV1Api(kube_client(kube_fake, token="sa-token"))
    plant(kube_fake, "db")
    plant(kube_fake, "other")
    assert api.read_namespaced_secret("db", NS).metadata.name == "db"
    assert status_of(lambda: api.read_namespaced_secret("other", NS))["reason"] == "Forbidden"
    assert status_of(lambda: api.list_namespaced_secret(NS))["reason"] == "Forbidden"
    assert status_of(lambda: api.create_namespaced_secret(NS, secret("db2")))["reason"] == "Forbidden"


def test_leases_are_authorized_in_their_api_group(kube_fake: KubeFake, kube_client: KubeClientFactory) -> None:
    """Lease requests are checked against apiGroup coordination.k8s.io; a grant in the core group does not reach
    them."""
    kube_fake.add_user("syncd-token", "syncd")
    kube_fake.load_rbac(SYNCD_ROLE.replace("resources: [secrets]", "resources: [secrets, leases]"))
    api = CoordinationV1Api(kube_client(kube_fake, token="syncd-token"))
    status = status_of(lambda: api.read_namespaced_lease("lock", NS))
    assert status["message"] == (
        'leases.coordination.k8s.io "lock" is forbidden: User "syncd" cannot get resource "leases" in API group '
        '"coordination.k8s.io" in the namespace "team-a"'
    )
    assert status["details"] == {"name": "lock", "group": "coordination.k8s.io", "kind": "leases"}
    kube_fake.load_rbac(
        SYNCD_ROLE.replace('apiGroups: [""]', "apiGroups: [coordination.k8s.io]").replace("[secrets]", "[leases]")
    )
    assert api.create_namespaced_lease(NS, {"metadata": {"name": "lock"}}).metadata.name == "lock"


def test_cluster_roles_bind_per_namespace_or_everywhere(kube_fake: KubeFake, kube_client: KubeClientFactory) -> None:
    """A ClusterRole bound by a RoleBinding grants in that namespace; a ClusterRoleBinding grants everywhere,
    including the cluster-wide list, whose refusal says "at the cluster scope"."""
    kube_fake.add_user("reader-token", "reader", groups=["readers"])
    api = CoreV1Api(kube_client(kube_fake, token="reader-token"))
    kube_fake.load_rbac(
        """
kind: ClusterRole
apiVersion: rbac.authorization.k8s.io/v1
metadata: {name: secret-reader}
rules: [{apiGroups: ["*"], resources: ["*"], verbs: [get, list]}]
---
kind: RoleBinding
apiVersion: rbac.authorization.k8s.io/v1
metadata: {name: read, namespace: team-b}
roleRef: {kind: ClusterRole, name: secret-reader, apiGroup: rbac.authorization.k8s.io}
subjects: [{kind: Group, name: readers, apiGroup: rbac.authorization.k8s.io}]
"""
    )
    assert api.list_namespaced_secret("team-b").items == []
    assert status_of(lambda: api.list_namespaced_secret(NS))["reason"] == "Forbidden"
    status = status_of(lambda: api.list_secret_for_all_namespaces())
    assert status["message"] == (
        'secrets is forbidden: User "reader" cannot list resource "secrets" in API group "" at the cluster scope'
    )
    kube_fake.load_rbac(
        """
kind: ClusterRoleBinding
apiVersion: rbac.authorization.k8s.io/v1
metadata: {name: read-all}
roleRef: {kind: ClusterRole, name: secret-reader, apiGroup: rbac.authorization.k8s.io}
subjects: [{kind: User, name: reader, apiGroup: rbac.authorization.k8s.io}]
"""
    )
    plant(kube_fake, "a", namespace="team-b")
    plant(kube_fake, "b")
    assert [(s.metadata.namespace, s.metadata.name) for s in api.list_secret_for_all_namespaces().items] == [
        (NS, "b"),
        ("team-b", "a"),
    ]


def test_once_rbac_is_loaded_an_unbound_user_is_refused_and_the_admin_is_not(
    kube_fake: KubeFake, kube_client: KubeClientFactory, core: CoreV1Api
) -> None:
    """A user no binding names is refused everything; the admin token's user (system:masters) is never checked."""
    kube_fake.add_user("nobody-token", "nobody")
    kube_fake.load_rbac(SYNCD_ROLE)
    assert (
        status_of(lambda: CoreV1Api(kube_client(kube_fake, token="nobody-token")).list_namespaced_secret(NS))["reason"]
        == "Forbidden"
    )
    assert core.create_namespaced_secret("team-b", secret("db")).metadata.name == "db"


def test_load_rbac_refuses_what_it_cannot_enforce(kube_fake: KubeFake) -> None:
    """Objects other than roles and bindings, and bindings without a usable roleRef, raise ValueError."""
    with pytest.raises(ValueError, match="not ConfigMap"):
        kube_fake.load_rbac("kind: ConfigMap\nmetadata: {name: x}\n")
    with pytest.raises(ValueError, match="roleRef"):
        kube_fake.load_rbac("kind: RoleBinding\nmetadata: {name: x}\nroleRef: {kind: Secret, name: y}\n")


# Faults and hooks


def test_fail_next_answers_a_throttle_with_retry_after_once(core: CoreV1Api, kube_fake: KubeFake) -> None:
    """A 429 fault answers the next matching request with TooManyRequests and Retry-After; the one after passes."""
    kube_fake.fail_next("POST", r"/secrets$", 429, retry_after=3)
    with pytest.raises(ApiException) as caught:
        core.create_namespaced_secret(NS, secret("db"))
    assert caught.value.status == 429 and caught.value.headers["Retry-After"] == "3"
    status = json.loads(caught.value.body)
    assert (status["reason"], status["details"]) == ("TooManyRequests", {"retryAfterSeconds": 3})
    assert status["message"] == "Too many requests, please try again later."
    core.create_namespaced_secret(NS, secret("db"))
    assert kube_fake.count("POST", r"/secrets$") == 2


def test_a_lost_answer_is_an_error_for_a_call_that_took_effect(core: CoreV1Api, kube_fake: KubeFake) -> None:
    """`lose_next_answer` carries the request out, then answers it 503: the Secret exists although the create
    failed, and the next create of it is AlreadyExists."""
    kube_fake.lose_next_answer("POST", r"/secrets$")
    status = status_of(lambda: core.create_namespaced_secret(NS, secret("db")))
    assert (status["code"], status["reason"]) == (503, "ServiceUnavailable")
    assert kube_fake.secret(NS, "db") is not None
    assert status_of(lambda: core.create_namespaced_secret(NS, secret("db")))["reason"] == "AlreadyExists"


def test_the_client_itself_retries_a_get_answered_429_with_retry_after(core: CoreV1Api, kube_fake: KubeFake) -> None:
    """urllib3's default Retry, which the official client keeps, repeats GET, PUT and DELETE answered 429 or 503 with
    a Retry-After header (sleeping that long): the caller sees only the success. POST and PATCH are not repeated."""
    kube_fake.fail_next("GET", r"/secrets$", 429, times=2, retry_after=0)
    assert core.list_namespaced_secret(NS).items == []
    assert kube_fake.count("GET", r"/secrets$") == 3


@pytest.mark.parametrize(("code", "reason"), [(500, "InternalError"), (503, "ServiceUnavailable")])
def test_fail_next_answers_server_errors_and_reaches_nothing(
    core: CoreV1Api, kube_fake: KubeFake, code: int, reason: str
) -> None:
    """500 and 503 faults answer their Status for the next `times` matching requests, which change nothing."""
    kube_fake.fail_next("post", r"/namespaces/team-a/secrets$", code, times=2)
    for _ in range(2):
        status = status_of(lambda: core.create_namespaced_secret(NS, secret("db")))
        assert (status["code"], status["reason"]) == (code, reason)
    assert kube_fake.secret(NS, "db") is None
    core.create_namespaced_secret(NS, secret("db"))
    assert kube_fake.count("POST") == 3


def test_a_before_hook_makes_a_write_race(core: CoreV1Api, kube_fake: KubeFake) -> None:
    """A hook that moves the Secret just before a conditional patch is handled makes that patch a 409 Conflict."""
    created = core.create_namespaced_secret(NS, secret("db", {"k": "1"}))
    seen: list[tuple[str, str, str]] = []

    def another_writer(request: Any) -> None:
        seen.append(tuple(request))
        kube_fake.touch("Secret", NS, "db")

    kube_fake.before("PATCH", r"/secrets/db$", another_writer, times=1)
    body = {"metadata": {"resourceVersion": created.metadata.resource_version}, "data": {"k": b64("2")}}
    assert status_of(lambda: core.patch_namespaced_secret("db", NS, body))["reason"] == "Conflict"
    assert seen == [("PATCH", f"/api/v1/namespaces/{NS}/secrets/db", "")]
    assert core.read_namespaced_secret("db", NS).data == {"k": b64("1")}


def test_a_failing_hook_answers_500_and_is_kept(core: CoreV1Api, kube_fake: KubeFake) -> None:
    """An exception in a hook answers 500 InternalError and lands in `errors` for the test to see."""

    def broken(request: Any) -> None:
        raise RuntimeError("hook bug")

    kube_fake.before("*", "", broken)
    assert status_of(lambda: core.list_namespaced_secret(NS))["reason"] == "InternalError"
    assert [str(error) for error in kube_fake.errors] == ["hook bug"]


def test_a_stopped_fake_refuses_connections(kube_fake: KubeFake, core: CoreV1Api) -> None:
    """After stop, the URL still names the port, and connecting to it fails."""
    core.list_namespaced_secret(NS)
    kube_fake.stop()
    with pytest.raises(urllib3.exceptions.MaxRetryError):
        core.list_namespaced_secret(NS, _request_timeout=2)


def test_delete_collection_removes_what_the_selector_matches(core: CoreV1Api, kube_fake: KubeFake) -> None:
    """DELETE on the collection (verb deletecollection) removes the matching Secrets of that namespace only."""
    plant(kube_fake, "a", {"app": "x"})
    plant(kube_fake, "b", {"app": "y"})
    plant(kube_fake, "c", {"app": "x"}, namespace="team-b")
    core.delete_collection_namespaced_secret(NS, label_selector="app=x")
    assert [obj["metadata"]["name"] for obj in kube_fake.objects("Secret")] == ["b", "c"]
    assert [obj["metadata"]["namespace"] for obj in kube_fake.objects("secrets")] == [NS, "team-b"]
    assert kube_fake.objects("Secret", "team-b")[0]["metadata"]["labels"] == {"app": "x"}


def test_watch_is_not_served(core: CoreV1Api) -> None:
    """The fake has no watch: a watch request answers 400 rather than a list that never streams."""
    status = status_of(lambda: core.list_namespaced_secret(NS, watch=True, _preload_content=True))
    assert (status["reason"], status["message"]) == ("BadRequest", "the fake Kubernetes API server serves no watch")


def test_creating_an_object_that_carries_a_resource_version_fails(core: CoreV1Api) -> None:
    """POSTing an object read back (resourceVersion set) answers the apiserver's bare 500 and creates nothing."""
    created = core.create_namespaced_secret(NS, secret("db"))
    core.delete_namespaced_secret("db", NS)
    created.metadata.uid = None
    status = status_of(lambda: core.create_namespaced_secret(NS, created))
    assert status["code"] == 500 and "reason" not in status
    assert status["message"] == "resourceVersion should not be set on objects to be created"
    created.metadata.resource_version = None
    assert core.create_namespaced_secret(NS, created).metadata.name == "db"


def test_a_lease_put_that_creates_needs_the_create_verb(kube_fake: KubeFake, kube_client: KubeClientFactory) -> None:
    """With only update granted, a PUT to a missing Lease is refused as a create; an existing Lease is replaced."""
    kube_fake.add_user("elector-token", "elector")
    kube_fake.load_rbac(
        SYNCD_ROLE.replace('apiGroups: [""]', "apiGroups: [coordination.k8s.io]")
        .replace("[secrets]", "[leases]")
        .replace("[get, list, create, patch, delete]", "[get, update]")
        .replace("{kind: User, name: syncd", "{kind: User, name: elector")
    )
    api = CoordinationV1Api(kube_client(kube_fake, token="elector-token"))
    body = {"metadata": {"name": "lock"}, "spec": lease_spec("a")}
    status = status_of(lambda: api.replace_namespaced_lease("lock", NS, body))
    assert 'User "elector" cannot create resource "leases"' in status["message"]
    planted = kube_fake.put_object({"kind": "Lease", **body, "metadata": {"name": "lock", "namespace": NS}})
    body["metadata"]["resourceVersion"] = planted["metadata"]["resourceVersion"]
    assert api.replace_namespaced_lease("lock", NS, body).spec.holder_identity == "a"


def test_dry_run_checks_and_answers_but_stores_nothing(core: CoreV1Api, kube_fake: KubeFake) -> None:
    """dryRun=All on create, patch and delete answers as the real write would and changes nothing; invalid input
    is still refused."""
    answer = core.create_namespaced_secret(NS, secret("db", {"k": "1"}), dry_run="All")
    assert answer.metadata.name == "db" and kube_fake.secret(NS, "db") is None
    assert invalid_status(lambda: core.create_namespaced_secret(NS, secret("Bad"), dry_run="All"))
    created = core.create_namespaced_secret(NS, secret("db", {"k": "1"}))
    patched = core.patch_namespaced_secret("db", NS, {"data": {"k": b64("2")}}, dry_run="All")
    assert patched.data == {"k": b64("2")} and patched.metadata.resource_version == created.metadata.resource_version
    core.delete_namespaced_secret("db", NS, dry_run="All")
    assert kube_fake.secret(NS, "db")["data"] == {"k": b64("1")}  # type: ignore[index]
    assert status_of(lambda: core.delete_namespaced_secret("db", NS, dry_run="Some"))["reason"] == "BadRequest"


@pytest.mark.parametrize(
    ("selector", "message"),
    [
        ("app=web,", "found '', expected: identifier after ','"),
        ("=web", "found '=', expected: !, identifier, or 'end of string'"),
        ("env IN (a)", "unable to parse requirement: found 'IN', expected: in, notin, =, ==, !=, gt, lt"),
        ("app in web", "unable to parse requirement: found 'web' expected: '('"),
        ("!a=b", "found '=', expected: ',' or 'end of string'"),
    ],
)
def test_selector_errors_are_worded_as_the_apiserver_words_them(core: CoreV1Api, selector: str, message: str) -> None:
    """The 400's message is the label parser's own sentence."""
    assert status_of(lambda: core.list_namespaced_secret(NS, label_selector=selector))["message"] == message


def test_a_lease_put_needs_a_resource_version(coordination: CoordinationV1Api, kube_fake: KubeFake) -> None:
    """Leases allow no unconditional update: a PUT without resourceVersion to an existing Lease answers 422, worded
    as the generic registry words it (naming the resource where the kind belongs)."""
    coordination.create_namespaced_lease(NS, {"metadata": {"name": "lock"}, "spec": lease_spec("a")})
    status = invalid_status(
        lambda: coordination.replace_namespaced_lease(
            "lock", NS, {"metadata": {"name": "lock"}, "spec": lease_spec("b")}
        )
    )
    assert status["message"] == (
        'leases.coordination.k8s.io "lock" is invalid: metadata.resourceVersion: Invalid value: 0x0: '
        "must be specified for an update"
    )
    assert status["details"]["kind"] == "leases" and status["details"]["group"] == "coordination.k8s.io"
    assert kube_fake.lease(NS, "lock")["spec"]["holderIdentity"] == "a"  # type: ignore[index]


def test_a_lease_put_to_a_deleted_lease_creates_it_whatever_its_version(coordination: CoordinationV1Api) -> None:
    """A PUT carrying the resourceVersion of a Lease deleted since creates it again (201), as the registry's
    create-on-update path ignores the version."""
    created = coordination.create_namespaced_lease(NS, {"metadata": {"name": "lock"}, "spec": lease_spec("a")})
    coordination.delete_namespaced_lease("lock", NS)
    created.metadata.uid = None
    again = coordination.replace_namespaced_lease("lock", NS, created)
    assert again.spec.holder_identity == "a" and again.metadata.resource_version != created.metadata.resource_version


def test_namespaces_are_readable_and_governed_by_rbac(
    core: CoreV1Api, kube_fake: KubeFake, syncd_core: CoreV1Api
) -> None:
    """Namespaces can be read and listed (only that); under RBAC a namespace-scoped Role does not grant reading its
    namespace, and the refusal names the namespace as the request's namespace, as the apiserver's does."""
    assert core.read_namespace(NS).status.phase == "Active"
    assert [item.metadata.name for item in core.list_namespace().items] == ["default", NS, "team-b"]
    assert status_of(lambda: core.read_namespace("nowhere"))["message"] == 'namespaces "nowhere" not found'
    kube_fake.load_rbac(SYNCD_ROLE)
    status = status_of(lambda: syncd_core.read_namespace(NS))
    assert status["message"] == (
        'namespaces "team-a" is forbidden: User "syncd" cannot get resource "namespaces" in API group "" in the '
        'namespace "team-a"'
    )
    assert "at the cluster scope" in status_of(lambda: syncd_core.list_namespace())["message"]


def test_a_lease_field_selector_takes_only_metadata_fields(coordination: CoordinationV1Api) -> None:
    """Leases select on metadata.name and metadata.namespace only, refused with the default conversion's words."""
    coordination.create_namespaced_lease(NS, {"metadata": {"name": "lock"}})
    assert names(coordination.list_namespaced_lease(NS, field_selector="metadata.name=lock")) == ["lock"]
    status = status_of(lambda: coordination.list_namespaced_lease(NS, field_selector="spec.holderIdentity=a"))
    assert status["message"] == (
        '"spec.holderIdentity" is not a known field selector: only "metadata.name", "metadata.namespace"'
    )


def test_statuses_pair_each_request_with_its_answer(core: CoreV1Api, kube_fake: KubeFake) -> None:
    """statuses records every answered request with its HTTP status, faults and refusals included."""
    kube_fake.fail_next("POST", "", 503)
    status_of(lambda: core.create_namespaced_secret(NS, secret("db")))
    core.create_namespaced_secret(NS, secret("db"))
    status_of(lambda: core.create_namespaced_secret(NS, secret("db")))
    assert [code for _request, code in kube_fake.statuses] == [503, 201, 409]
    assert kube_fake.statuses[0][0] == ("POST", f"/api/v1/namespaces/{NS}/secrets", "")


def test_generate_name_makes_a_unique_name(core: CoreV1Api) -> None:
    """A create with generateName and no name gets the prefix and five random characters."""
    created = core.create_namespaced_secret(NS, V1Secret(metadata=V1ObjectMeta(generate_name="tmp-")))
    assert created.metadata.name.startswith("tmp-") and len(created.metadata.name) == 9


def test_finalizers_are_refused_rather_than_ignored(core: CoreV1Api) -> None:
    """The fake has no two-phase deletion, so a Secret with finalizers is refused with 400."""
    body = V1Secret(metadata=V1ObjectMeta(name="db", finalizers=["example.com/keep"]))
    assert status_of(lambda: core.create_namespaced_secret(NS, body))["reason"] == "BadRequest"
