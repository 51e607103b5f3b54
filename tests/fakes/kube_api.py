"""The fake Kubernetes API server's store and verbs, without HTTP: what each request does to the objects.

One lock guards the store. `revision` is the server's one monotonic counter (etcd's revision): every write takes the
next value as the object's resourceVersion, and a write that changes nothing keeps the old one, as the apiserver's
GuaranteedUpdate does. Each key keeps its history, so that a LIST continued with a continue token reads the same
snapshot as its first page, as the apiserver's paged LIST does.

PYTEST_DONT_REWRITE
"""

from __future__ import annotations

import base64
import binascii
import copy
import datetime
import json
import random
import threading
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tests.fakes import kube_objects, kube_patch, kube_selectors
from tests.fakes.kube_objects import LEASES, NAMESPACE, SECRETS, Resource
from tests.fakes.kube_status import (
    INVALID,
    NAMESPACES,
    FieldError,
    GroupKind,
    StatusError,
    already_exists,
    bad_request,
    conflict,
    invalid,
    not_found,
    precondition_failed,
)

Key = tuple[str, str, str]  # (resource plural, namespace, name)
# Object fields that say nothing about content: a write that changes only these changes nothing.
_SERVER_FIELDS = ("resourceVersion",)
_GENERATE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"  # k8s.io/apiserver/pkg/storage/names: no vowels, no 0 1 3
# The fields each kind's field selectors take (pkg/apis/core/v1/conversion.go for Secrets and Namespaces; Leases
# have the default metadata fields only), and how the apiserver refuses another.
_SELECTABLE_FIELDS = {
    SECRETS.plural: {"metadata.name", "metadata.namespace", "type"},
    NAMESPACE.plural: {"metadata.name", "status.phase"},
}
_DEFAULT_SELECTABLE = {"metadata.name", "metadata.namespace"}


def _unsupported_field(resource: Resource, field: str) -> str:
    if resource.plural in _SELECTABLE_FIELDS:
        return f"field label not supported: {field}"
    return f'"{field}" is not a known field selector: only "metadata.name", "metadata.namespace"'


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class Operation:
    """One resource request: the verb RBAC checks and the object it names."""

    verb: str
    resource: Resource
    namespace: str | None
    name: str


class Store:
    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.revision = 0
        self.objects: dict[Key, dict[str, Any]] = {}
        self._history: dict[Key, list[tuple[int, dict[str, Any] | None]]] = {}

    def add_namespace(self, name: str) -> None:
        """Make namespace `name` exist (Active), stored as a Namespace object; adding it again does nothing."""
        with self.lock:
            key = (NAMESPACE.plural, "", name)
            if key in self.objects:
                return
            namespace = {
                "kind": NAMESPACE.kind,
                "apiVersion": NAMESPACE.api_version,
                "metadata": {
                    "name": name,
                    "uid": str(uuid.uuid4()),
                    "creationTimestamp": _now(),
                    "labels": {"kubernetes.io/metadata.name": name},
                },
                "spec": {"finalizers": ["kubernetes"]},
                "status": {"phase": "Active"},
            }
            self._write(key, namespace)

    def has_namespace(self, name: str) -> bool:
        with self.lock:
            return (NAMESPACE.plural, "", name) in self.objects

    def get(self, resource: Resource, namespace: str, name: str) -> dict[str, Any] | None:
        with self.lock:
            found = self.objects.get((resource.plural, namespace, name))
            return copy.deepcopy(found)

    def _write(self, key: Key, obj: dict[str, Any] | None) -> None:
        self.revision += 1
        if obj is None:
            self.objects.pop(key, None)
        else:
            obj["metadata"]["resourceVersion"] = str(self.revision)
            self.objects[key] = copy.deepcopy(obj)
        self._history.setdefault(key, []).append((self.revision, copy.deepcopy(obj)))

    def snapshot(self, resource: Resource, namespace: str | None, revision: int) -> list[tuple[Key, dict[str, Any]]]:
        """The objects of `resource` (in `namespace`, or everywhere) as they were at `revision`, in key order."""
        return [(key, copy.deepcopy(obj)) for key, obj in self._stored(resource, namespace, revision)]

    def _stored(self, resource: Resource, namespace: str | None, revision: int) -> list[tuple[Key, dict[str, Any]]]:
        """`snapshot` without the copies: the stored objects themselves, which no verb changes in place (a write
        stores a new copy). The caller holds the lock and copies what it hands out."""
        if revision == self.revision:  # the present: no need to walk the history
            items = [
                (key, obj)
                for key, obj in self.objects.items()
                if key[0] == resource.plural and (namespace is None or key[1] == namespace)
            ]
            return sorted(items, key=lambda item: item[0])
        items = []
        for key, versions in self._history.items():
            if key[0] != resource.plural or (namespace is not None and key[1] != namespace):
                continue
            at = [obj for version, obj in versions if version <= revision]
            if at and at[-1] is not None:
                items.append((key, at[-1]))
        return sorted(items, key=lambda item: item[0])

    # The verbs. Each takes the lock for its whole read-check-write.

    def create(self, resource: Resource, namespace: str, body: Any, dry_run: bool = False) -> dict[str, Any]:
        """POST. With `dry_run` (dryRun=All) everything is checked and the answer given, but nothing is stored."""
        obj, data = kube_objects.decode(resource, body)
        meta = obj["metadata"]
        if meta.get("namespace", namespace) != namespace:
            raise bad_request("the namespace of the provided object does not match the namespace sent on the request")
        meta["namespace"] = namespace
        with self.lock:
            # The NamespaceLifecycle admission plugin refuses before validation runs.
            if not self.has_namespace(namespace):
                raise not_found(NAMESPACES, namespace)
            if not meta.get("name") and meta.get("generateName"):
                meta["name"] = meta["generateName"] + "".join(random.choices(_GENERATE_ALPHABET, k=5))
            kube_objects.validate(resource, obj, data, None)
            version = meta.pop("resourceVersion", "")
            if version.isdigit() and int(version) != 0:
                # etcd3 store's ErrResourceVersionSetOnCreate, which reaches the client as a bare 500 (an object read
                # back and posted again carries one); a version that does not parse is ignored, as there.
                raise StatusError(500, "", "resourceVersion should not be set on objects to be created")
            key = (resource.plural, namespace, meta["name"])
            if key in self.objects:
                raise already_exists(resource.group_resource, meta["name"])
            meta["uid"] = str(uuid.uuid4())
            meta["creationTimestamp"] = _now()
            if not dry_run:
                self._write(key, obj)
            return copy.deepcopy(obj)

    def update(
        self, resource: Resource, namespace: str, name: str, body: Any, dry_run: bool = False
    ) -> tuple[dict[str, Any], bool]:
        """PUT: (the stored object, whether it was created). A stale resourceVersion is a Conflict. Without one, a
        Secret is updated unconditionally, but a Lease is refused (its strategy disallows unconditional updates).
        A PUT to a missing Lease creates it, whatever resourceVersion it carries (pkg/registry/coordination/lease/
        strategy.go and the generic registry's Store.Update); a missing Secret is NotFound."""
        obj, data = kube_objects.decode(resource, body)
        with self.lock:
            current = self.objects.get((resource.plural, namespace, name))
            if current is None and resource is LEASES:
                _check_name(obj, namespace, name)
                uid = obj["metadata"].get("uid")
                if uid:
                    why = f"Precondition failed: UID in precondition: {uid}, UID in object meta: "
                    raise precondition_failed(resource.group_resource, namespace, name, why)
                obj["metadata"].pop("resourceVersion", None)
                return self.create(resource, namespace, obj, dry_run), True
            if current is not None and resource is LEASES and not obj["metadata"].get("resourceVersion"):
                # Store.Update's refusal, which names the resource where the kind belongs (kubernetes#18526).
                must = FieldError(INVALID, "metadata.resourceVersion", _GoHex(0), "must be specified for an update")
                raise invalid(GroupKind(resource.group, resource.plural), name, [must])
            return self._replace(resource, namespace, name, current, obj, data, dry_run), False

    def patch(
        self, resource: Resource, namespace: str, name: str, content_type: str, body: bytes, dry_run: bool = False
    ) -> dict[str, Any]:
        with self.lock:
            current = self.objects.get((resource.plural, namespace, name))
            if current is None:
                # The patch media type is checked first: an apply patch gets 415 whether or not the object exists.
                kube_patch.apply_patch(content_type, {}, b"{}")
                raise not_found(resource.group_resource, name)
            patched = kube_patch.apply_patch(content_type, current, body)
            obj, data = kube_objects.decode(resource, patched)
            return self._replace(resource, namespace, name, current, obj, data, dry_run)

    def _replace(
        self,
        resource: Resource,
        namespace: str,
        name: str,
        current: dict[str, Any] | None,
        obj: dict[str, Any],
        data: Mapping[str, bytes],
        dry_run: bool = False,
    ) -> dict[str, Any]:
        _check_name(obj, namespace, name)
        if current is None:
            raise not_found(resource.group_resource, name)
        meta = obj["metadata"]
        current_meta = current["metadata"]
        uid = meta.get("uid")
        if uid and uid != current_meta["uid"]:
            why = f"Precondition failed: UID in precondition: {uid}, UID in object meta: {current_meta['uid']}"
            raise precondition_failed(resource.group_resource, namespace, name, why)
        version = meta.get("resourceVersion")
        if version and version != current_meta["resourceVersion"]:
            raise conflict(resource.group_resource, name)
        meta["namespace"] = namespace
        meta["uid"] = current_meta["uid"]
        meta["creationTimestamp"] = current_meta["creationTimestamp"]
        meta["resourceVersion"] = current_meta["resourceVersion"]
        kube_objects.validate(resource, obj, data, current)
        if obj == current or dry_run:
            return copy.deepcopy(obj)  # a no-op write keeps the resourceVersion
        self._write((resource.plural, namespace, name), obj)
        return copy.deepcopy(obj)

    def delete(
        self, resource: Resource, namespace: str, name: str, options: Mapping[str, Any], dry_run: bool = False
    ) -> dict[str, Any]:
        """DELETE with optional `preconditions` {uid, resourceVersion}: a Conflict when either no longer holds."""
        preconditions = options.get("preconditions") or {}
        with self.lock:
            current = self.objects.get((resource.plural, namespace, name))
            if current is None:
                raise not_found(resource.group_resource, name)
            meta = current["metadata"]
            uid = preconditions.get("uid")
            if uid is not None and uid != meta["uid"]:
                why = f"Precondition failed: UID in precondition: {uid}, UID in object meta: {meta['uid']}"
                raise precondition_failed(resource.group_resource, namespace, name, why)
            version = preconditions.get("resourceVersion")
            if version is not None and version != meta["resourceVersion"]:
                why = (
                    f"Precondition failed: ResourceVersion in precondition: {version}, "
                    f"ResourceVersion in object meta: {meta['resourceVersion']}"
                )
                raise precondition_failed(resource.group_resource, namespace, name, why)
            if not dry_run:
                self._write((resource.plural, namespace, name), None)
            return _deleted_status(resource, name, meta["uid"])

    def list(self, resource: Resource, namespace: str | None, query: Mapping[str, str]) -> dict[str, Any]:
        """LIST with labelSelector, fieldSelector, limit and continue; items in key (namespace, name) order."""
        try:
            labels = kube_selectors.label_matcher(query.get("labelSelector"))
            fields = kube_selectors.field_matcher(
                query.get("fieldSelector"),
                _selectable_fields,
                _SELECTABLE_FIELDS.get(resource.plural, _DEFAULT_SELECTABLE),
                lambda field: _unsupported_field(resource, field),
            )
        except kube_selectors.SelectorError as error:
            raise bad_request(str(error)) from None
        limit = _limit(query.get("limit"))
        with self.lock:
            revision, start = _decode_continue(query["continue"]) if query.get("continue") else (self.revision, None)
            # Only the page's objects are copied: a paged LIST of n objects copies each once, not once per page.
            snapshot = self._stored(resource, namespace, revision)
            if start is not None:
                snapshot = [item for item in snapshot if "/".join(item[0][1:]) > start]
            items: list[dict[str, Any]] = []
            remaining = snapshot
            for position, (_key, obj) in enumerate(snapshot):
                if limit and len(items) == limit:
                    remaining = snapshot[position:]
                    break
                if labels(obj) and fields(obj):
                    items.append(copy.deepcopy(obj))
            else:
                remaining = []
        metadata: dict[str, Any] = {"resourceVersion": str(revision)}
        if remaining:
            last = items[-1]["metadata"]
            metadata["continue"] = _encode_continue(revision, f"{last.get('namespace', '')}/{last['name']}")
            if not query.get("labelSelector") and not query.get("fieldSelector"):
                metadata["remainingItemCount"] = len(remaining)
        return {
            "kind": resource.list_kind,
            "apiVersion": resource.api_version,
            "metadata": metadata,
            # The apiserver's list items carry no kind and apiVersion of their own.
            "items": [{k: v for k, v in obj.items() if k not in ("kind", "apiVersion")} for obj in items],
        }

    def delete_collection(self, resource: Resource, namespace: str, query: Mapping[str, str]) -> dict[str, Any]:
        """DELETE on the collection: every object its selectors match goes; the answer lists them, as the
        apiserver's DeleteCollection does."""
        selectors = {key: query[key] for key in ("labelSelector", "fieldSelector") if key in query}
        with self.lock:
            listing = self.list(resource, namespace, selectors)
            for item in listing["items"]:
                self._write((resource.plural, namespace, item["metadata"]["name"]), None)
            listing["metadata"] = {"resourceVersion": str(self.revision)}
            return listing


class _GoHex(int):
    """A uint64 as Go's %#v prints it in a field error: 0x0."""

    def __str__(self) -> str:
        return hex(self)


def _check_name(obj: Mapping[str, Any], namespace: str, name: str) -> None:
    """handlers' checkName: the body may omit name and namespace, but not contradict the URL."""
    meta = obj["metadata"]
    if meta.get("name", name) != name:
        raise bad_request(f"the name of the object ({meta.get('name')}) does not match the name on the URL ({name})")
    if meta.get("namespace", namespace) != namespace:
        raise bad_request("the namespace of the provided object does not match the namespace sent on the request")
    obj["metadata"]["name"] = name  # type: ignore[index]


def _deleted_status(resource: Resource, name: str, uid: str) -> dict[str, Any]:
    details: dict[str, Any] = {"name": name}
    if resource.group:
        details["group"] = resource.group
    details.update({"kind": resource.plural, "uid": uid})
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "details": details}


def _selectable_fields(obj: Mapping[str, Any]) -> dict[str, str]:
    meta = obj["metadata"]
    return {
        "metadata.name": meta["name"],
        "metadata.namespace": meta.get("namespace", ""),
        "type": obj.get("type", ""),
        "status.phase": (obj.get("status") or {}).get("phase", ""),
    }


def _limit(raw: str | None) -> int:
    if not raw:
        return 0
    try:
        return max(int(raw), 0)
    except ValueError:
        raise bad_request(f"strconv.ParseInt: parsing {json.dumps(raw)}: invalid syntax") from None


def _encode_continue(revision: int, start: str) -> str:
    token = {"v": "meta.k8s.io/v1", "rv": revision, "start": start}
    return base64.urlsafe_b64encode(json.dumps(token).encode()).decode().rstrip("=")


def _decode_continue(token: str) -> tuple[int, str]:
    try:
        raw = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        if raw.get("v") != "meta.k8s.io/v1":
            raise ValueError("unknown version")
        return int(raw["rv"]), str(raw["start"])
    except (ValueError, KeyError, TypeError, binascii.Error, AttributeError) as error:
        raise bad_request(f"continue key is not valid: {error}") from None
