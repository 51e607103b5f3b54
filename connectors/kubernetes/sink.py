"""The `kubernetes` sink: one Secret per item, at the address "<namespace>/<name>".

Reads (`observe`): per namespace of the scope, one LIST of the Secrets labelled `app.kubernetes.io/managed-by:
syncd`, paged; then one GET per desired Secret not in those lists. When every pattern of the scope is the address
of a desired Secret (a re-plan of one item), one GET each and no LIST. Never a cluster-wide list nor a
namespace read: a namespace-scoped Role is enough.

Writes, each one call, each conditional on what the plan read: a create is a POST; an update a PATCH (strategic
merge) whose body carries the resourceVersion the plan read, so the apiserver refuses it (409 Conflict) if the Secret
moved since; a delete a DELETE with that resourceVersion as precondition; a recreate (an immutable Secret, a new
type) a conditional DELETE, then a POST. The marker (the managed-by label and the `syncd.io/` annotations) is
written in the same call as the data. A refusal (409) is read again: the Secret already being exactly what the
write would make (a retry after a lost answer) is success; anything else raises ItemMoved, and the core plans that
item again.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel

from connectors.kubernetes import rules
from connectors.kubernetes.client import KubeConnection, Refusal
from connectors.kubernetes.errors import Call
from connectors.kubernetes.options import (
    MANAGED_BY,
    MANAGED_BY_VALUE,
    KubernetesDestination,
    KubernetesTargetOptions,
)
from connectors.kubernetes.policy import rbac_policy
from connectors.kubernetes.secret_types import DOCKER_CONFIG_JSON, OPAQUE, docker_config_json, type_problems
from syncd.connector import (
    UNLIMITED,
    AccessPolicy,
    Capabilities,
    Observation,
    RateLimiter,
    Scope,
    Sink,
    in_parallel,
    marker_tags,
    owner_of,
)
from syncd.errors import ItemMoved, PermanentError
from syncd.model import ActualItem, DesiredItem, Difference, Granularity, Ownership
from syncd.secret import Secret

MAX_IN_FLIGHT = 8
LABEL_FLAG = "label:"
ANNOTATION_FLAG = "annotation:"
IMMUTABLE_WHY = "the Secret is immutable"
TYPE_WHY = "a Secret's type cannot change"
SELECTOR = f"{MANAGED_BY}={MANAGED_BY_VALUE}"
# Who managedFields names as the writer of what syncd creates and patches.
FIELD_MANAGER = "syncd"

Json = dict[str, Any]


def split(address: str) -> tuple[str, str]:
    """(namespace, name) of an address."""
    namespace, _, name = address.partition("/")
    return namespace, name


class KubernetesSink(Sink):
    """Keeps Kubernetes Secrets in the namespaces of one cluster equal to the manifest."""

    Options = KubernetesTargetOptions
    Destination = KubernetesDestination
    capabilities = Capabilities(granularities=(Granularity.DOCUMENT,), versions=True, max_concurrency=MAX_IN_FLIGHT)

    def __init__(self, target: str, options: KubernetesTargetOptions, connection: Any = None) -> None:
        if not isinstance(connection, KubeConnection):
            connection = KubeConnection(target, options, connection)
        super().__init__(target, options, connection)
        self.options: KubernetesTargetOptions = options
        self.connection: KubeConnection = connection

    @classmethod
    def connect(
        cls, target: str, options: KubernetesTargetOptions, client: Any = None, limiter: RateLimiter = UNLIMITED
    ) -> KubeConnection:
        return KubeConnection(target, options, client, limiter)

    # Naming and rules: pure, no call.

    def address(self, destination: BaseModel, name: str) -> str:
        assert isinstance(destination, KubernetesDestination)
        return f"{destination.namespace}/{name}"

    def flags(self, destination: BaseModel) -> Mapping[str, Any]:
        assert isinstance(destination, KubernetesDestination)
        flags: dict[str, Any] = {"type": destination.type, "immutable": destination.immutable}
        flags.update({LABEL_FLAG + key: value for key, value in destination.labels.items()})
        flags.update({ANNOTATION_FLAG + key: value for key, value in destination.annotations.items()})
        return flags

    def shape(self, destination: BaseModel, data: Mapping[str, Secret]) -> Mapping[str, Secret]:
        assert isinstance(destination, KubernetesDestination)
        if destination.type != DOCKER_CONFIG_JSON or destination.registry is None:
            return data
        return docker_config_json(
            data, destination.registry, destination.username_key, destination.password_key, destination.email_key
        )

    def check(self, item: DesiredItem) -> list[str]:
        # The namespace, labels and annotations were checked with the Destination, at manifest load.
        namespace, name = split(item.address)
        where = f"Secret {name!r} in namespace {namespace!r}"
        plain = {key: value.reveal() for key, value in item.data.items()}
        problems = rules.secret_problems(namespace, name, plain)
        secret_type = str(item.flags.get("type", OPAQUE))
        problems += [f"A {secret_type} Secret ({where}) {why}." for why in type_problems(secret_type, item.data)]
        return problems

    def required_access(self, patterns: Sequence[str]) -> AccessPolicy:
        return rbac_policy(patterns, self.options, self.target)

    def describe(self) -> str:
        if self.options.in_cluster:
            return "kubernetes (in-cluster)"
        context = f" context {self.options.context}" if self.options.context else ""
        return f"kubernetes {self.options.kubeconfig}{context}"

    # Reads

    def observe(self, desired: Sequence[DesiredItem], scope: Scope) -> Observation:
        wanted = {item.address: item for item in desired}
        namespaces = self._namespaces(scope)
        listed: dict[str, Json] = {}
        # Every pattern the address of a desired Secret, at most one per namespace (a re-plan's one item): `covers`
        # admits exactly those, so their GETs read all the scope holds in no more calls than the LISTs would.
        by_get = set(scope.patterns) <= set(wanted) and len(scope.patterns) <= len(namespaces)
        if not by_get:
            listed = {
                f"{namespace}/{secret['metadata']['name']}": secret
                for namespace, secrets in zip(
                    namespaces, in_parallel(self._list, namespaces, MAX_IN_FLIGHT), strict=True
                )
                for secret in secrets
            }
            unlisted = [address for address in wanted if address not in listed]
        else:
            unlisted = list(wanted)
        fetched = dict(zip(unlisted, in_parallel(self._get, unlisted, MAX_IN_FLIGHT), strict=True))
        items: dict[str, ActualItem] = {}
        for address, item in wanted.items():
            secret = listed.get(address) or fetched.get(address)
            if secret is not None:
                items[address] = self._actual(address, secret, item)
        owned = {}
        # What the scope holds: the labelled lists, or the GETs that stood for them.
        seen = {a: s for a, s in fetched.items() if s is not None} if by_get else listed
        for address, secret in seen.items():
            owner = _owner(secret)
            if owner is not None and owner.instance == scope.instance and scope.covers(address):
                owned[address] = items.get(address) or self._actual(address, secret, None)
        return Observation(items, owned)

    def _namespaces(self, scope: Scope) -> list[str]:
        """The namespaces a scope maps into this target: each prefix starts with one."""
        namespaces = set()
        for prefix in scope.prefixes:
            namespace, slash, _ = prefix.partition("/")
            if not slash or not rules.is_dns1123_label(namespace):
                raise PermanentError(
                    f"the scope pattern {prefix + '*'!r} names no namespace; syncd lists Secrets only namespace by "
                    "namespace (a destination's namespace is literal)",
                    target=self.target,
                )
            namespaces.add(namespace)
        return sorted(namespaces)

    def _list(self, namespace: str) -> list[Json]:
        """Every Secret syncd marked (any instance) in `namespace`, page by page."""
        core = self.connection.core()
        found: list[Json] = []
        token: str | None = None
        while True:
            page = {"label_selector": SELECTOR, "limit": self.options.page_size}
            if token:
                page["_continue"] = token
            answer = self.connection.request(Call("list", namespace), core.list_namespaced_secret, namespace, **page)
            assert isinstance(answer, dict)
            found += [s for s in answer.get("items") or [] if isinstance(s, dict)]
            token = (answer.get("metadata") or {}).get("continue")
            if not token:
                return found

    def _get(self, address: str) -> Json | None:
        namespace, name = split(address)
        core = self.connection.core()
        answer = self.connection.request(
            Call("get", namespace, name), core.read_namespaced_secret, name, namespace, tolerate=(404,)
        )
        return None if isinstance(answer, Refusal) else answer

    def _actual(self, address: str, secret: Json, item: DesiredItem | None) -> ActualItem:
        metadata = secret.get("metadata") or {}
        immutable = bool(secret.get("immutable"))
        flags: dict[str, Any] = {"type": secret.get("type") or OPAQUE, "immutable": immutable}
        labels, annotations = metadata.get("labels") or {}, metadata.get("annotations") or {}
        for key in item.flags if item is not None else ():
            found = _flag_value(key, labels, annotations)
            if found is not None:
                flags[key] = found
        fixed = {"type": TYPE_WHY}
        if immutable:
            fixed.update({"value": IMMUTABLE_WHY, "immutable": IMMUTABLE_WHY})
        return ActualItem(
            address=address,
            owner=_owner(secret),
            data={key: Secret(value) for key, value in _decoded(secret).items()},
            flags=flags,
            version=str(metadata.get("resourceVersion") or "") or None,
            fixed=fixed,
        )

    # Writes

    def write(self, item: DesiredItem, expected: ActualItem | None, difference: Difference) -> None:
        if difference.recreate and expected is not None:
            if not self._delete(expected, item):
                return
            expected = None
        if expected is None:
            self._create(item)
        else:
            self._patch(item, expected, difference)

    def delete(self, expected: ActualItem) -> None:
        self._delete(expected, None)

    def _create(self, item: DesiredItem) -> None:
        namespace, name = split(item.address)
        core = self.connection.core()
        answer = self.connection.request(
            Call("create", namespace, name),
            core.create_namespaced_secret,
            namespace,
            _whole(item),
            field_manager=FIELD_MANAGER,
            tolerate=(409,),
        )
        if isinstance(answer, Refusal):
            self._refused(item, "a Secret of that name was created by another writer since the plan")

    def _patch(self, item: DesiredItem, expected: ActualItem, difference: Difference) -> None:
        namespace, name = split(item.address)
        core = self.connection.core()
        answer = self.connection.request(
            Call("patch", namespace, name),
            core.patch_namespaced_secret,
            name,
            namespace,
            _patch_body(item, expected, difference),
            field_manager=FIELD_MANAGER,
            tolerate=(404, 409),
        )
        if isinstance(answer, Refusal):
            gone = answer.status == 404
            self._refused(item, "it was deleted since the plan" if gone else "it changed since the plan")

    def _delete(self, expected: ActualItem, item: DesiredItem | None) -> bool:
        """Delete `expected` if it is still the version the plan read; True when it is gone, False when it already
        is `item` (a recreate retried after its create's answer was lost)."""
        namespace, name = split(expected.address)
        core = self.connection.core()
        options = {"preconditions": {"resourceVersion": expected.version}} if expected.version else {}
        answer = self.connection.request(
            Call("delete", namespace, name),
            core.delete_namespaced_secret,
            name,
            namespace,
            body=options,
            tolerate=(404, 409),
        )
        if not isinstance(answer, Refusal) or answer.status == 404:
            return True
        now = self._get(expected.address)
        if now is None:
            return True
        if item is not None and self._holds(item, now):
            return False
        raise ItemMoved(
            "it changed since the plan (its resourceVersion moved); it was left alone",
            target=self.target,
            address=expected.address,
        )

    def _refused(self, item: DesiredItem, why: str) -> None:
        """After a 409 (or a 404 on a patch): success if the Secret already is exactly `item`, else ItemMoved."""
        now = self._get(item.address)
        if now is not None and self._holds(item, now):
            return
        raise ItemMoved(f"{why}; it was left alone", target=self.target, address=item.address)

    def _holds(self, item: DesiredItem, secret: Json) -> bool:
        """Whether `secret` is exactly what writing `item` makes: its data, marker, type, immutability and the
        manifest's labels and annotations."""
        metadata = secret.get("metadata") or {}
        labels, annotations = metadata.get("labels") or {}, metadata.get("annotations") or {}
        if _owner(secret) != item.owner or _decoded(secret) != {k: v.reveal() for k, v in item.data.items()}:
            return False
        if (secret.get("type") or OPAQUE) != item.flags.get("type", OPAQUE):
            return False
        if bool(secret.get("immutable")) != bool(item.flags.get("immutable")):
            return False
        return all(
            _flag_value(key, labels, annotations) == value
            for key, value in item.flags.items()
            if key.startswith((LABEL_FLAG, ANNOTATION_FLAG))
        )


def _owner(secret: Json) -> Ownership | None:
    """The marker's owner: the managed-by label and both annotations, or None."""
    metadata = secret.get("metadata") or {}
    if (metadata.get("labels") or {}).get(MANAGED_BY) != MANAGED_BY_VALUE:
        return None
    return owner_of(metadata.get("annotations") or {})


def _flag_value(key: str, labels: Mapping[str, str], annotations: Mapping[str, str]) -> str | None:
    if key.startswith(LABEL_FLAG):
        return labels.get(key.removeprefix(LABEL_FLAG))
    if key.startswith(ANNOTATION_FLAG):
        return annotations.get(key.removeprefix(ANNOTATION_FLAG))
    return None


def _decoded(secret: Json) -> dict[str, str]:
    """The Secret's data as text; bytes that are not UTF-8 are kept (surrogate-escaped) so they compare unequal."""
    data = secret.get("data") or {}
    return {key: base64.b64decode(value or "").decode("utf-8", "surrogateescape") for key, value in data.items()}


def _encoded(value: Secret) -> str:
    return base64.b64encode(value.reveal().encode("utf-8", "surrogateescape")).decode("ascii")


def _user_metadata(item: DesiredItem, prefix: str, keys: Sequence[str] | None = None) -> dict[str, str]:
    return {
        k.removeprefix(prefix): str(v)
        for k, v in item.flags.items()
        if k.startswith(prefix) and (keys is None or k in keys)
    }


def _whole(item: DesiredItem) -> Json:
    """The whole Secret `item` makes, the marker included: a create's body."""
    namespace, name = split(item.address)
    body: Json = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": {**_user_metadata(item, LABEL_FLAG), MANAGED_BY: MANAGED_BY_VALUE},
            "annotations": {**_user_metadata(item, ANNOTATION_FLAG), **marker_tags(item.owner)},
        },
        "type": item.flags.get("type", OPAQUE),
        "data": {key: _encoded(value) for key, value in item.data.items()},
    }
    if item.flags.get("immutable"):
        body["immutable"] = True
    return body


def _patch_body(item: DesiredItem, expected: ActualItem, difference: Difference) -> Json:
    """A strategic-merge patch of what `difference` names, and the marker, conditional on the resourceVersion the
    plan read (the apiserver answers 409 when it moved)."""
    changed_flags = tuple(difference.flags)
    metadata: Json = {
        "resourceVersion": expected.version,
        "labels": {**_user_metadata(item, LABEL_FLAG, changed_flags), MANAGED_BY: MANAGED_BY_VALUE},
        "annotations": {**_user_metadata(item, ANNOTATION_FLAG, changed_flags), **marker_tags(item.owner)},
    }
    body: Json = {"metadata": metadata}
    if difference.value:
        data: dict[str, str | None] = {key: _encoded(value) for key, value in item.data.items()}
        # A key the Secret holds and the item does not is removed: null in a merge patch.
        data.update({key: None for key in expected.data or {} if key not in item.data})
        body["data"] = data
    if "immutable" in changed_flags and item.flags.get("immutable"):
        body["immutable"] = True
    # No type: a Secret's type is fixed (observe says so), so a new one is planned as a recreate, never a patch.
    return body
