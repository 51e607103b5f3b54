"""The Kubernetes API's own rules for names, keys, sizes and labels, checked before any call (pure functions).

Each rule is the apiserver's, as its validation code states it:
- object names: `NameIsDNSSubdomain` and namespaces `ValidateNamespaceName` (a DNS-1123 label), from
  k8s.io/apimachinery/pkg/util/validation/validation.go (`IsDNS1123Subdomain`, `IsDNS1123Label`);
- Secret keys: `IsConfigMapKey` there (`[-._a-zA-Z0-9]+`, at most 253 characters, never '.', '..' nor a name
  starting with '..');
- the size: `ValidateSecret` in k8s.io/kubernetes/pkg/apis/core/validation/validation.go sums the decoded bytes of
  the values only (`totalSize += len(value)`) against `MaxSecretSize` (1 MiB, core/v1/types.go);
- labels: `ValidateLabels` (a qualified-name key, a value of at most 63 characters), annotations
  `ValidateAnnotations` (a qualified-name key, at most 256 KiB in all), k8s.io/apimachinery/pkg/api/validation.

Each function returns problems as sentences that name the item and the key, never a value.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

DNS1123_LABEL_MAX = 63
DNS1123_SUBDOMAIN_MAX = 253
_DNS1123_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_DNS1123_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
KEY_MAX = 253
_KEY = re.compile(r"[-._a-zA-Z0-9]+")
# MaxSecretSize: the decoded bytes of all values of one Secret.
MAX_SECRET_BYTES = 1024 * 1024
QUALIFIED_NAME_MAX = 63
_QUALIFIED_NAME = re.compile(r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]")
LABEL_VALUE_MAX = 63
# TotalAnnotationSizeLimitB: keys and values of all annotations of one object.
MAX_ANNOTATION_BYTES = 256 * 1024

SUBDOMAIN_RULE = (
    "a DNS-1123 subdomain: lowercase letters, digits, '-' and '.', starting and ending with a letter or digit, "
    f"at most {DNS1123_SUBDOMAIN_MAX} characters"
)
LABEL_RULE = (
    "a DNS-1123 label: lowercase letters, digits and '-', starting and ending with a letter or digit, "
    f"at most {DNS1123_LABEL_MAX} characters"
)


def is_dns1123_label(value: str) -> bool:
    return len(value) <= DNS1123_LABEL_MAX and _DNS1123_LABEL.fullmatch(value) is not None


def is_dns1123_subdomain(value: str) -> bool:
    return len(value) <= DNS1123_SUBDOMAIN_MAX and _DNS1123_SUBDOMAIN.fullmatch(value) is not None


def key_problem(key: str) -> str | None:
    """Why `key` cannot be a key of a Secret's data, or None."""
    if len(key.encode()) > KEY_MAX:
        return f"is longer than {KEY_MAX} characters"
    if _KEY.fullmatch(key) is None:
        return "may hold only letters, digits, '-', '_' and '.'"
    if key in (".", "..") or key.startswith(".."):
        return "must not be '.' or '..', nor start with '..'"
    return None


def data_size(data: Mapping[str, str | bytes]) -> int:
    """The bytes the apiserver counts against the 1 MiB limit: the values' (decoded), not the keys'."""
    return sum(len(value.encode() if isinstance(value, str) else value) for value in data.values())


def qualified_name_problem(key: str) -> str | None:
    """Why `key` is not a qualified name ('[prefix/]name', as label and annotation keys are), or None."""
    prefix, slash, name = key.rpartition("/")
    if slash and not prefix:
        return "has an empty prefix before '/'"
    if prefix and not is_dns1123_subdomain(prefix):
        return f"has a prefix that is not {SUBDOMAIN_RULE}"
    if not name:
        return "has an empty name"
    if len(name) > QUALIFIED_NAME_MAX or _QUALIFIED_NAME.fullmatch(name) is None:
        return (
            f"has a name that is not at most {QUALIFIED_NAME_MAX} letters, digits, '-', '_' or '.', starting and "
            "ending with a letter or digit"
        )
    return None


def label_problems(labels: Mapping[str, str]) -> list[str]:
    """The problems of a set of labels: each key a qualified name, each value empty or a short name-like text."""
    problems = []
    for key, value in labels.items():
        why = qualified_name_problem(key)
        if why:
            problems.append(f"label key {key!r} {why}")
        if value and (len(value) > LABEL_VALUE_MAX or _QUALIFIED_NAME.fullmatch(value) is None):
            problems.append(
                f"the value of label {key!r} must be empty or at most {LABEL_VALUE_MAX} letters, digits, '-', '_' "
                "or '.', starting and ending with a letter or digit"
            )
    return problems


def annotation_problems(annotations: Mapping[str, str]) -> list[str]:
    problems = [f"annotation key {key!r} {why}" for key in annotations if (why := qualified_name_problem(key))]
    total = sum(len(key.encode()) + len(value.encode()) for key, value in annotations.items())
    if total > MAX_ANNOTATION_BYTES:
        problems.append(f"the annotations total {total} bytes, more than the {MAX_ANNOTATION_BYTES} Kubernetes allows")
    return problems


def secret_problems(namespace: str, name: str, data: Mapping[str, str]) -> list[str]:
    """The problems of a Secret called `name` holding `data`, as sentences naming no value."""
    where = f"Secret {name!r} in namespace {namespace!r}"
    problems = []
    if not is_dns1123_subdomain(name):
        problems.append(f"The name of {where} is not {SUBDOMAIN_RULE}.")
    for key in data:
        why = key_problem(key)
        if why:
            problems.append(f"Key {key!r} of {where} {why}.")
    size = data_size(data)
    if size > MAX_SECRET_BYTES:
        problems.append(
            f"The values of {where} total {size} bytes, more than the {MAX_SECRET_BYTES} bytes (1 MiB) a Secret holds."
        )
    return problems
