"""What the fake Kubernetes API server refuses with 422 Invalid, ported rule by rule from the apiserver.

Sources (kubernetes/kubernetes and kubernetes/apimachinery, as of v1.30+):
- names, keys, labels: k8s.io/apimachinery/pkg/util/validation/validation.go (IsDNS1123Subdomain, IsConfigMapKey,
  IsQualifiedName, IsValidLabelValue) and pkg/api/validation/objectmeta.go (ValidateObjectMeta, ValidateAnnotations);
- Secrets: pkg/apis/core/validation/validation.go ValidateSecret and ValidateSecretUpdate;
- Leases: pkg/apis/coordination/validation/validation.go ValidateLeaseSpec.

PYTEST_DONT_REWRITE
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from tests.fakes.kube_status import FORBIDDEN, INVALID, REQUIRED, TOO_LONG, FieldError

DNS1123_SUBDOMAIN_MAX = 253
_DNS1123_SUBDOMAIN_FMT = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*"
_DNS1123_SUBDOMAIN_MSG = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start "
    "and end with an alphanumeric character"
)
_CONFIG_KEY_FMT = r"[-._a-zA-Z0-9]+"
_CONFIG_KEY_MSG = "a valid config key must consist of alphanumeric characters, '-', '_' or '.'"
_QUALIFIED_NAME_MAX = 63
_QUALIFIED_NAME_FMT = r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
_QUALIFIED_NAME_MSG = (
    "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character"
)
_LABEL_VALUE_MAX = 63
_LABEL_VALUE_FMT = f"({_QUALIFIED_NAME_FMT})?"
_LABEL_VALUE_MSG = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and "
    "end with an alphanumeric character"
)
TOTAL_ANNOTATION_SIZE_LIMIT = 256 * 1024
# core.MaxSecretSize: the decoded values of `data` only (ValidateSecret sums len(value); keys do not count).
MAX_SECRET_SIZE = 1024 * 1024
IMMUTABLE_MESSAGE = "field is immutable"
IMMUTABLE_SECRET_MESSAGE = "field is immutable when `immutable` is set"


def regex_error(message: str, fmt: str, *examples: str) -> str:
    """validation.RegexError, with its odd spacing: "(e.g. 'a',  or 'b', regex used for validation is '...')"."""
    if not examples:
        return f"{message} (regex used for validation is '{fmt}')"
    shown = " or ".join(f"'{example}', " for example in examples)
    return f"{message} (e.g. {shown}regex used for validation is '{fmt}')"


def max_len_error(length: int) -> str:
    return f"must be no more than {length} characters"


def _byte_len(text: str) -> int:
    return len(text.encode("utf-8", "surrogatepass"))


def is_dns1123_subdomain(value: str) -> list[str]:
    errors = []
    if _byte_len(value) > DNS1123_SUBDOMAIN_MAX:
        errors.append(max_len_error(DNS1123_SUBDOMAIN_MAX))
    if not re.fullmatch(_DNS1123_SUBDOMAIN_FMT, value):
        errors.append(regex_error(_DNS1123_SUBDOMAIN_MSG, _DNS1123_SUBDOMAIN_FMT, "example.com"))
    return errors


def is_config_map_key(value: str) -> list[str]:
    """Secret (and ConfigMap) data keys: `[-._a-zA-Z0-9]+`, at most 253, and not `.`, `..` or `..`-prefixed."""
    errors = []
    if _byte_len(value) > DNS1123_SUBDOMAIN_MAX:
        errors.append(max_len_error(DNS1123_SUBDOMAIN_MAX))
    if not re.fullmatch(_CONFIG_KEY_FMT, value):
        errors.append(regex_error(_CONFIG_KEY_MSG, _CONFIG_KEY_FMT, "key.name", "KEY_NAME", "key-name"))
    if value == ".":
        errors.append("must not be '.'")
    elif value == "..":
        errors.append("must not be '..'")
    elif value.startswith(".."):
        errors.append("must not start with '..'")
    return errors


def is_qualified_name(value: str) -> list[str]:
    """Label and annotation keys: an optional DNS-1123 subdomain prefix and '/', then a name of at most 63."""
    errors: list[str] = []
    parts = value.split("/")
    if len(parts) == 1:
        name = parts[0]
    elif len(parts) == 2:
        prefix, name = parts
        if not prefix:
            errors.append("prefix part must be non-empty")
        else:
            errors.extend("prefix part " + message for message in is_dns1123_subdomain(prefix))
    else:
        example = regex_error(_QUALIFIED_NAME_MSG, _QUALIFIED_NAME_FMT, "MyName", "my.name", "123-abc")
        return [f"a qualified name {example} with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"]
    if not name:
        errors.append("name part must be non-empty")
    elif _byte_len(name) > _QUALIFIED_NAME_MAX:
        errors.append("name part " + max_len_error(_QUALIFIED_NAME_MAX))
    if not re.fullmatch(_QUALIFIED_NAME_FMT, name):
        errors.append(
            "name part " + regex_error(_QUALIFIED_NAME_MSG, _QUALIFIED_NAME_FMT, "MyName", "my.name", "123-abc")
        )
    return errors


def is_valid_label_value(value: str) -> list[str]:
    errors = []
    if _byte_len(value) > _LABEL_VALUE_MAX:
        errors.append(max_len_error(_LABEL_VALUE_MAX))
    if not re.fullmatch(_LABEL_VALUE_FMT, value):
        errors.append(regex_error(_LABEL_VALUE_MSG, _LABEL_VALUE_FMT, "MyValue", "my_value", "12345"))
    return errors


def validate_object_meta(meta: Mapping[str, Any]) -> list[FieldError]:
    """ValidateObjectMeta for a namespaced object whose name must be a DNS-1123 subdomain (Secrets and Leases)."""
    errors: list[FieldError] = []
    name = meta.get("name") or ""
    if not name:
        errors.append(FieldError(REQUIRED, "metadata.name", detail="name or generateName is required"))
    else:
        errors += [FieldError(INVALID, "metadata.name", name, message) for message in is_dns1123_subdomain(name)]
    labels = meta.get("labels") or {}
    for key in sorted(labels):
        errors += [FieldError(INVALID, "metadata.labels", key, message) for message in is_qualified_name(key)]
        value = labels[key]
        errors += [FieldError(INVALID, "metadata.labels", value, message) for message in is_valid_label_value(value)]
    annotations = meta.get("annotations") or {}
    for key in sorted(annotations):
        # Annotation keys are qualified names where case does not matter.
        errors += [
            FieldError(INVALID, "metadata.annotations", key, message) for message in is_qualified_name(key.lower())
        ]
    if sum(_byte_len(key) + _byte_len(value) for key, value in annotations.items()) > TOTAL_ANNOTATION_SIZE_LIMIT:
        errors.append(too_long("metadata.annotations", TOTAL_ANNOTATION_SIZE_LIMIT))
    return errors


def too_long(path: str, limit: int) -> FieldError:
    return FieldError(TOO_LONG, path, detail=f"may not be more than {limit} bytes")


def validate_secret(secret: Mapping[str, Any], data: Mapping[str, bytes]) -> list[FieldError]:
    """ValidateSecret: the metadata, every key, the total size of the values, and the keys each type requires."""
    errors = validate_object_meta(secret["metadata"])
    for key in sorted(data):
        errors += [FieldError(INVALID, f"data[{key}]", key, message) for message in is_config_map_key(key)]
    if sum(len(value) for value in data.values()) > MAX_SECRET_SIZE:
        errors.append(too_long("data", MAX_SECRET_SIZE))
    secret_type = secret.get("type")
    if secret_type == "kubernetes.io/dockerconfigjson":
        if ".dockerconfigjson" not in data:
            errors.append(FieldError(REQUIRED, "data[.dockerconfigjson]"))
        else:
            problem = _json_object_problem(data[".dockerconfigjson"])
            if problem:
                errors.append(FieldError(INVALID, "data[.dockerconfigjson]", "<secret contents redacted>", problem))
    elif secret_type == "kubernetes.io/dockercfg":
        if ".dockercfg" not in data:
            errors.append(FieldError(REQUIRED, "data[.dockercfg]"))
        else:
            problem = _json_object_problem(data[".dockercfg"])
            if problem:
                errors.append(FieldError(INVALID, "data[.dockercfg]", "<secret contents redacted>", problem))
    elif secret_type == "kubernetes.io/basic-auth":
        # Either key may be empty, but one of them must be present. The field path really is "data[%s][username]":
        # the apiserver builds it with field.NewPath("data[%s]").Key(...).
        if "username" not in data and "password" not in data:
            errors.append(FieldError(REQUIRED, "data[%s][username]"))
            errors.append(FieldError(REQUIRED, "data[%s][password]"))
    elif secret_type == "kubernetes.io/ssh-auth":
        if not data.get("ssh-privatekey"):
            errors.append(FieldError(REQUIRED, "data[%s][ssh-privatekey]"))
    elif secret_type == "kubernetes.io/tls":
        for key in ("tls.crt", "tls.key"):
            if key not in data:
                errors.append(FieldError(REQUIRED, f"data[{key}]"))
    elif secret_type == "kubernetes.io/service-account-token" and not (
        (secret["metadata"].get("annotations") or {}).get("kubernetes.io/service-account.name")
    ):
        errors.append(FieldError(REQUIRED, "metadata.annotations[kubernetes.io/service-account.name]"))
    return errors


def _json_object_problem(raw: bytes) -> str:
    """What json.Unmarshal into a map[string]interface{} says about `raw`, or "" when it is a JSON object."""
    try:
        parsed = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return "invalid character in JSON input"
    if not isinstance(parsed, dict):
        kind = "array" if isinstance(parsed, list) else type(parsed).__name__
        return f"json: cannot unmarshal {kind} into Go value of type map[string]interface {{}}"
    return ""


def validate_secret_update(
    new: Mapping[str, Any], old: Mapping[str, Any], data: Mapping[str, bytes]
) -> list[FieldError]:
    """ValidateSecretUpdate: `type` never changes; an immutable Secret keeps its data and stays immutable."""
    errors: list[FieldError] = []
    if new.get("type") != old.get("type"):
        errors.append(FieldError(INVALID, "type", new.get("type") or "", IMMUTABLE_MESSAGE))
    if old.get("immutable") is True:
        if new.get("immutable") is not True:
            errors.append(FieldError(FORBIDDEN, "immutable", detail=IMMUTABLE_SECRET_MESSAGE))
        if (new.get("data") or {}) != (old.get("data") or {}):
            errors.append(FieldError(FORBIDDEN, "data", detail=IMMUTABLE_SECRET_MESSAGE))
    return errors + validate_secret(new, data)


def validate_lease(lease: Mapping[str, Any]) -> list[FieldError]:
    """ValidateLease: the metadata, a positive leaseDurationSeconds and non-negative leaseTransitions."""
    errors = validate_object_meta(lease["metadata"])
    spec = lease.get("spec") or {}
    duration = spec.get("leaseDurationSeconds")
    if duration is not None and duration <= 0:
        errors.append(FieldError(INVALID, "spec.leaseDurationSeconds", duration, "must be greater than 0"))
    transitions = spec.get("leaseTransitions")
    if transitions is not None and transitions < 0:
        errors.append(FieldError(INVALID, "spec.leaseTransitions", transitions, "must be greater than or equal to 0"))
    return errors
