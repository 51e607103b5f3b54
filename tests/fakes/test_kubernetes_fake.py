"""The fake Kubernetes API server, through the official client: the apiserver behaviours the kubernetes connector and
the Lease elector rely on, each pinned as the real API answers it."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

import pytest
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
