"""The two kinds the fake Kubernetes API server stores, Secrets and Leases: their names, and how a request body
becomes the stored object (decoded and checked as the apiserver decodes and validates it).

A body that does not decode answers 400 BadRequest "<Kind> in version "v1" cannot be handled as a <Kind>: ...", as the
apiserver's codec does (a Secret's `data` value that is not base64, a Lease time without microseconds); one that
decodes but breaks a rule answers 422 Invalid (tests/fakes/kube_validation.py).

PYTEST_DONT_REWRITE
"""

from __future__ import annotations

import base64
import datetime
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tests.fakes import kube_validation
from tests.fakes.kube_status import GroupKind, GroupResource, StatusError, bad_request, invalid


@dataclass(frozen=True)
class Resource:
    group: str
    version: str
    plural: str
    kind: str

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def group_resource(self) -> GroupResource:
        return GroupResource(self.group, self.plural)

    @property
    def group_kind(self) -> GroupKind:
        return GroupKind(self.group, self.kind)

    @property
    def list_kind(self) -> str:
        return self.kind + "List"


SECRETS = Resource("", "v1", "secrets", "Secret")
LEASES = Resource("coordination.k8s.io", "v1", "leases", "Lease")
RESOURCES = {SECRETS.plural: SECRETS, LEASES.plural: LEASES}
# Served read-only (get and list), so that a client reading a namespace meets what a real cluster answers.
NAMESPACE = Resource("", "v1", "namespaces", "Namespace")

# The metadata fields a client may set; the server owns uid, resourceVersion and creationTimestamp.
_CLIENT_METADATA = ("name", "generateName", "namespace", "labels", "annotations", "ownerReferences")
# metav1.MicroTime's wire format (RFC3339Micro, "2006-01-02T15:04:05.000000Z07:00"): Go's time.Parse demands exactly
# six fraction digits, so "2026-01-01T00:00:00+00:00" (what datetime.isoformat() gives at microsecond 0) is refused.
_MICRO_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}(Z|[+-]\d{2}:\d{2})")
_LEASE_TIMES = ("acquireTime", "renewTime")
_LEASE_INTEGERS = ("leaseDurationSeconds", "leaseTransitions")
_LEASE_STRINGS = ("holderIdentity", "strategy", "preferredHolder")


class CorruptBase64(ValueError):
    def __init__(self, offset: int) -> None:
        super().__init__(f"illegal base64 data at input byte {offset}")


_ALPHABET = {
    byte: index for index, byte in enumerate(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")
}
_NEWLINES = b"\r\n"


def go_base64_decode(text: str) -> bytes:
    """encoding/base64 StdEncoding.Decode, which json.Unmarshal uses for []byte: padding required, CR and LF skipped,
    and the same error offsets (CorruptInputError)."""
    source = text.encode("utf-8", "surrogatepass")
    out = bytearray()
    index = 0
    while True:
        quantum = [0, 0, 0, 0]
        length = 4
        filled = 0
        while filled < 4:
            if index == len(source):
                if filled == 0:
                    return bytes(out)
                raise CorruptBase64(index - filled)
            char = source[index]
            index += 1
            if char in _NEWLINES:
                continue
            if char in _ALPHABET:
                quantum[filled] = _ALPHABET[char]
                filled += 1
                continue
            if char != ord("=") or filled < 2:
                raise CorruptBase64(index - 1)
            while index < len(source) and source[index] in _NEWLINES:
                index += 1
            if filled == 2:
                if index == len(source):
                    raise CorruptBase64(len(source))
                if source[index] != ord("="):
                    raise CorruptBase64(index - 1)
                index += 1
                while index < len(source) and source[index] in _NEWLINES:
                    index += 1
            if index < len(source):
                raise CorruptBase64(index)
            length = filled
            break
        value = quantum[0] << 18 | quantum[1] << 12 | quantum[2] << 6 | quantum[3]
        out += value.to_bytes(3, "big")[: length - 1]
        if length < 4:
            return bytes(out)


def _cannot_decode(resource: Resource, why: str) -> StatusError:
    return bad_request(f'{resource.kind} in version "{resource.version}" cannot be handled as a {resource.kind}: {why}')


def _type_error(resource: Resource, field: str, got: Any, go_type: str) -> StatusError:
    kind = {dict: "object", list: "array", str: "string", bool: "bool", int: "number", float: "number"}.get(
        type(got), "value"
    )
    why = f"json: cannot unmarshal {kind} into Go struct field {resource.kind}.{field} of type {go_type}"
    return _cannot_decode(resource, why)


def _string_map(resource: Resource, field: str, value: Any) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _type_error(resource, field, value, "map[string]string")
    for item in value.values():
        if item is not None and not isinstance(item, str):
            raise _type_error(resource, field, item, "string")
    return {key: item or "" for key, item in value.items()}


def _metadata(resource: Resource, body: Mapping[str, Any]) -> dict[str, Any]:
    raw = body.get("metadata") or {}
    if not isinstance(raw, dict):
        raise _type_error(resource, "metadata", raw, "v1.ObjectMeta")
    meta: dict[str, Any] = {}
    if raw.get("finalizers"):
        # Finalizers would make deletion two-phase (deletionTimestamp, then removal): refused rather than ignored.
        raise bad_request("the fake Kubernetes API server serves no finalizers")
    for field in _CLIENT_METADATA:
        value = raw.get(field)
        if field in ("labels", "annotations"):
            value = _string_map(resource, f"metadata.{field}", value)
        elif field in ("name", "generateName", "namespace") and value is not None and not isinstance(value, str):
            raise _type_error(resource, f"metadata.{field}", value, "string")
        if value:
            meta[field] = value
    for field in ("uid", "resourceVersion"):
        if raw.get(field):
            meta[field] = str(raw[field])
    return meta


def decode(resource: Resource, body: Any) -> tuple[dict[str, Any], dict[str, bytes]]:
    """The object `body` decodes to, as stored (without server fields), and for a Secret its data as bytes."""
    if not isinstance(body, dict):
        raise _cannot_decode(resource, "json: cannot unmarshal into Go value of type " + resource.kind)
    obj: dict[str, Any] = {
        "kind": resource.kind,
        "apiVersion": resource.api_version,
        "metadata": _metadata(resource, body),
    }
    if resource is SECRETS:
        return _decode_secret(body, obj)
    obj["spec"] = _decode_lease_spec(body.get("spec"))
    return obj, {}


def _decode_secret(body: Mapping[str, Any], obj: dict[str, Any]) -> tuple[dict[str, Any], dict[str, bytes]]:
    raw_data = body.get("data")
    if raw_data is not None and not isinstance(raw_data, dict):
        raise _type_error(SECRETS, "data", raw_data, "map[string][]uint8")
    data: dict[str, bytes] = {}
    for key, value in (raw_data or {}).items():
        if value is None:
            data[key] = b""
            continue
        if not isinstance(value, str):
            raise _type_error(SECRETS, "data", value, "[]uint8")
        try:
            data[key] = go_base64_decode(value)
        except CorruptBase64 as error:
            raise _cannot_decode(SECRETS, str(error)) from None
    # stringData is write-only: merged into data (its keys win) and never stored or returned.
    for key, value in _string_map(SECRETS, "stringData", body.get("stringData")).items():
        data[key] = value.encode("utf-8", "surrogatepass")
    secret_type = body.get("type")
    if secret_type is not None and not isinstance(secret_type, str):
        raise _type_error(SECRETS, "type", secret_type, "v1.SecretType")
    immutable = body.get("immutable")
    if immutable is not None and not isinstance(immutable, bool):
        raise _type_error(SECRETS, "immutable", immutable, "bool")
    if immutable is not None:
        obj["immutable"] = immutable
    if data:
        obj["data"] = {key: base64.b64encode(value).decode("ascii") for key, value in sorted(data.items())}
    obj["type"] = secret_type or "Opaque"  # the default the apiserver sets (SetDefaults_Secret)
    return obj, data


def _decode_lease_spec(raw: Any) -> dict[str, Any]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise _type_error(LEASES, "spec", raw, "v1.LeaseSpec")
    spec: dict[str, Any] = {}
    for field in _LEASE_STRINGS:
        value = raw.get(field)
        if value is not None:
            if not isinstance(value, str):
                raise _type_error(LEASES, f"spec.{field}", value, "string")
            spec[field] = value
    for field in _LEASE_INTEGERS:
        value = raw.get(field)
        if value is not None:
            if isinstance(value, bool) or not isinstance(value, int):
                raise _type_error(LEASES, f"spec.{field}", value, "int32")
            spec[field] = value
    for field in _LEASE_TIMES:
        value = raw.get(field)
        if value is not None:
            spec[field] = _micro_time(value)
    return spec


def _micro_time(value: Any) -> str:
    """A MicroTime as the apiserver stores and returns it: UTC, six fraction digits, "Z"."""
    if not isinstance(value, str) or not _MICRO_TIME.fullmatch(value):
        layout = "2006-01-02T15:04:05.000000Z07:00"
        rest = value[19:] if isinstance(value, str) else value
        why = f'parsing time "{value}" as "{layout}": cannot parse "{rest}" as ".000000"'
        raise _cannot_decode(LEASES, why)
    moment = datetime.datetime.fromisoformat(value).astimezone(datetime.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def validate(resource: Resource, new: dict[str, Any], data: Mapping[str, bytes], old: dict[str, Any] | None) -> None:
    """Raise 422 Invalid naming every rule `new` breaks (as a create when `old` is None, else as an update)."""
    if resource is SECRETS:
        errors = (
            kube_validation.validate_secret(new, data)
            if old is None
            else kube_validation.validate_secret_update(new, old, data)
        )
    else:
        errors = kube_validation.validate_lease(new)
    if errors:
        raise invalid(resource.group_kind, new["metadata"].get("name", ""), errors)


def secret_data(obj: Mapping[str, Any]) -> dict[str, bytes]:
    """A stored Secret's data, decoded."""
    return {key: base64.b64decode(value) for key, value in (obj.get("data") or {}).items()}
