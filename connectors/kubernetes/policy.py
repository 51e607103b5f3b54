"""The least-privilege Kubernetes RBAC of a `kubernetes` target, as `syncd policy --target NAME` prints it: per
namespace a Role and a RoleBinding, multi-document YAML ready for `kubectl apply -f -`. Pure: no call, no client.

What the sink calls on Secrets, and so all a Role grants: `list` (one labelled LIST per namespace), `get` (a desired
Secret the list did not show), `create` (POST), `patch` (an update, conditional on the resourceVersion read) and
`delete` (conditional on the resourceVersion the plan read; a recreate is a delete then a create). Never `update` (PUT),
`watch`, `deletecollection`, a cluster-wide list or a namespace read.

RBAC restricts a verb to given objects only through `resourceNames`, whole names with no wildcard, and never for
`list` or `create` (their requests carry no name). So `get`, `patch` and `delete` name the Secrets when every
pattern of the namespace is a literal name, and cover the namespace's Secrets otherwise.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import yaml

from connectors.kubernetes.options import KubernetesTargetOptions, RbacSubject
from syncd.connector import AccessPolicy

RBAC_API = "rbac.authorization.k8s.io"
RBAC_VERSION = f"{RBAC_API}/v1"
# The verbs the sink uses on Secrets; the names ones can be limited to given Secrets, the others cannot.
SECRET_VERBS_ANY_NAME = ("create", "list")
SECRET_VERBS_BY_NAME = ("delete", "get", "patch")
# What client-go-style leader election calls on its Lease (connectors.kubernetes.leader): create cannot be named.
LEASE_GROUP = "coordination.k8s.io"
LEASE_VERBS_BY_NAME = ("get", "update")


@dataclass(frozen=True)
class Rule:
    """One PolicyRule of a Role."""

    api_group: str
    resource: str
    verbs: tuple[str, ...]
    resource_names: tuple[str, ...] = ()

    def document(self) -> dict[str, Any]:
        rule: dict[str, Any] = {"apiGroups": [self.api_group], "resources": [self.resource]}
        if self.resource_names:
            rule["resourceNames"] = list(self.resource_names)
        rule["verbs"] = list(self.verbs)
        return rule


def secret_rules(name_patterns: Iterable[str]) -> list[Rule]:
    """The rules on Secrets of one namespace whose Secret names match `name_patterns` ('*' a wildcard)."""
    names = sorted(set(name_patterns))
    if any("*" in name for name in names):
        return [Rule("", "secrets", tuple(sorted(SECRET_VERBS_ANY_NAME + SECRET_VERBS_BY_NAME)))]
    return [Rule("", "secrets", SECRET_VERBS_ANY_NAME), Rule("", "secrets", SECRET_VERBS_BY_NAME, tuple(names))]


def lease_rules(lease_name: str) -> list[Rule]:
    """The rules leader election needs on its Lease: get and update it by name, create it (by no name)."""
    return [Rule(LEASE_GROUP, "leases", ("create",)), Rule(LEASE_GROUP, "leases", LEASE_VERBS_BY_NAME, (lease_name,))]


def subject_document(subject: RbacSubject) -> dict[str, Any]:
    if subject.kind == "ServiceAccount":
        return {"kind": "ServiceAccount", "name": subject.name, "namespace": subject.namespace}
    return {"kind": subject.kind, "apiGroup": RBAC_API, "name": subject.name}


def describe_subject(subject: RbacSubject) -> str:
    where = f"{subject.namespace}/" if subject.kind == "ServiceAccount" else ""
    return f"{subject.kind} {where}{subject.name}"


def rbac_documents(
    namespace: str, role_name: str, rules: Sequence[Rule], subject: RbacSubject, header: str | None = None
) -> str:
    """A Role holding `rules` in `namespace` and the RoleBinding giving it to `subject`, as YAML documents."""
    role = {
        "apiVersion": RBAC_VERSION,
        "kind": "Role",
        "metadata": {"name": role_name, "namespace": namespace},
        "rules": [rule.document() for rule in rules],
    }
    binding = {
        "apiVersion": RBAC_VERSION,
        "kind": "RoleBinding",
        "metadata": {"name": role_name, "namespace": namespace},
        "roleRef": {"apiGroup": RBAC_API, "kind": "Role", "name": role_name},
        "subjects": [subject_document(subject)],
    }
    text = yaml.safe_dump_all([role, binding], sort_keys=False, explicit_start=True)
    return f"{header}\n{text}" if header else text


def rbac_text(patterns: Sequence[str], subject: RbacSubject, target: str, context: str | None = None) -> str:
    """Every namespace's Role and RoleBinding for the Secrets whose addresses match `patterns` (each
    `<namespace>/<name pattern>`, the namespace literal: the Destination checked it)."""
    by_namespace: dict[str, set[str]] = {}
    for pattern in patterns:
        namespace, _, name = pattern.partition("/")
        by_namespace.setdefault(namespace, set()).add(name)
    # A target's name is a valid RBAC name already (letters, digits, '.', '_', '-'; RBAC asks only a path segment).
    name = f"syncd-{target}"
    cluster = f" (kubeconfig context {context!r})" if context else ""
    header = [
        f"# syncd target {target!r}{cluster}: Kubernetes RBAC for {describe_subject(subject)}",
        "# Apply with: kubectl apply -f -  (namespaces: " + (", ".join(sorted(by_namespace)) or "none") + ")",
    ]
    parts = [rbac_documents(ns, name, secret_rules(by_namespace[ns]), subject) for ns in sorted(by_namespace)]
    return "\n".join(header) + "\n" + "".join(parts)


def rbac_policy(patterns: Sequence[str], options: KubernetesTargetOptions, target: str) -> AccessPolicy:
    """The target's policy for `Sink.required_access`: its `rbac_subject` option (default ServiceAccount
    syncd/syncd) is bound to a Role per namespace the patterns name."""
    return AccessPolicy("rbac", rbac_text(patterns, options.rbac_subject, target, options.context))
