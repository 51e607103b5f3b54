"""RBAC as the fake Kubernetes API server enforces it once `KubeFake.load_rbac` gave it Roles and bindings.

Follows plugin/pkg/auth/authorizer/rbac (rbac.go, RuleAllows): a request is allowed when a rule of a role bound to the
user, or to one of the user's groups, matches its API group, resource and verb ('*' matches any), and, when the rule
names resourceNames, its object name (so resourceNames never grant list or create, whose requests carry no name).
A RoleBinding grants in its own namespace, from a Role there or a ClusterRole; a ClusterRoleBinding grants everywhere.
ServiceAccount subjects are the user `system:serviceaccount:<namespace>:<name>`. Members of `system:masters` are never
checked (the apiserver's privileged group).

PYTEST_DONT_REWRITE
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml

SUPERUSER_GROUP = "system:masters"


@dataclass(frozen=True)
class User:
    name: str
    groups: tuple[str, ...] = ()

    @property
    def is_superuser(self) -> bool:
        return SUPERUSER_GROUP in self.groups


@dataclass(frozen=True)
class Rule:
    api_groups: tuple[str, ...]
    resources: tuple[str, ...]
    verbs: tuple[str, ...]
    resource_names: tuple[str, ...] = ()

    def allows(self, verb: str, group: str, resource: str, name: str) -> bool:
        return (
            ("*" in self.verbs or verb in self.verbs)
            and ("*" in self.api_groups or group in self.api_groups)
            and ("*" in self.resources or resource in self.resources)
            and (not self.resource_names or name in self.resource_names)
        )


@dataclass(frozen=True)
class Binding:
    namespace: str | None  # None for a ClusterRoleBinding
    role_kind: str
    role_name: str
    users: frozenset[str]
    groups: frozenset[str]


@dataclass
class Rbac:
    roles: dict[tuple[str, str], list[Rule]] = field(default_factory=dict)
    cluster_roles: dict[str, list[Rule]] = field(default_factory=dict)
    bindings: dict[tuple[str, str | None, str], Binding] = field(default_factory=dict)

    def load(self, yaml_text: str) -> None:
        """Add (or replace, by kind, namespace and name, as `kubectl apply` would) every document's objects."""
        for document in yaml.safe_load_all(yaml_text):
            for obj in _objects(document):
                self._add(obj)

    def _add(self, obj: dict[str, Any]) -> None:
        kind = obj.get("kind")
        meta = obj.get("metadata") or {}
        name = meta.get("name")
        if not name:
            raise ValueError(f"a {kind} without metadata.name")
        namespace = meta.get("namespace") or "default"
        if kind == "Role":
            self.roles[(namespace, name)] = _rules(obj)
        elif kind == "ClusterRole":
            self.cluster_roles[name] = _rules(obj)
        elif kind in ("RoleBinding", "ClusterRoleBinding"):
            ref = obj.get("roleRef") or {}
            if ref.get("kind") not in ("Role", "ClusterRole") or not ref.get("name"):
                raise ValueError(f"{kind} {name}: roleRef needs kind Role or ClusterRole and a name")
            if kind == "ClusterRoleBinding" and ref["kind"] != "ClusterRole":
                raise ValueError(f"ClusterRoleBinding {name}: roleRef must be a ClusterRole")
            users, groups = _subjects(obj.get("subjects") or [], namespace)
            scope = namespace if kind == "RoleBinding" else None
            self.bindings[(kind, scope, name)] = Binding(scope, ref["kind"], ref["name"], users, groups)
        else:
            raise ValueError(f"load_rbac takes Role, RoleBinding, ClusterRole and ClusterRoleBinding, not {kind}")

    def allows(self, user: User, verb: str, group: str, resource: str, namespace: str | None, name: str) -> bool:
        if user.is_superuser:
            return True
        for binding in self.bindings.values():
            if binding.namespace is not None and binding.namespace != namespace:
                continue
            if user.name not in binding.users and not binding.groups.intersection(user.groups):
                continue
            if binding.role_kind == "Role":
                rules = self.roles.get((binding.namespace or "", binding.role_name), [])
            else:
                rules = self.cluster_roles.get(binding.role_name, [])
            if any(rule.allows(verb, group, resource, name) for rule in rules):
                return True
        return False


def _objects(document: Any) -> Iterable[dict[str, Any]]:
    if document is None:
        return []
    if not isinstance(document, dict):
        raise ValueError("each YAML document must be a Kubernetes object")
    if document.get("kind") == "List":
        return [item for item in document.get("items") or [] if item]
    return [document]


def _strings(value: Any) -> tuple[str, ...]:
    return tuple(str(item) for item in value or ())


def _rules(obj: dict[str, Any]) -> list[Rule]:
    return [
        Rule(
            _strings(rule.get("apiGroups")),
            _strings(rule.get("resources")),
            _strings(rule.get("verbs")),
            _strings(rule.get("resourceNames")),
        )
        for rule in obj.get("rules") or []
    ]


def _subjects(subjects: Sequence[dict[str, Any]], binding_namespace: str) -> tuple[frozenset[str], frozenset[str]]:
    users: set[str] = set()
    groups: set[str] = set()
    for subject in subjects:
        kind = subject.get("kind")
        if kind == "User":
            users.add(subject["name"])
        elif kind == "Group":
            groups.add(subject["name"])
        elif kind == "ServiceAccount":
            users.add(f"system:serviceaccount:{subject.get('namespace') or binding_namespace}:{subject['name']}")
        else:
            raise ValueError(f"unknown subject kind {kind!r}")
    return frozenset(users), frozenset(groups)


def forbidden_reason(user: User, verb: str, group: str, resource: str, namespace: str | None) -> str:
    """The authorizer's sentence (k8s.io/apiserver/pkg/endpoints/handlers/responsewriters/errors.go)."""
    where = f'in the namespace "{namespace}"' if namespace else "at the cluster scope"
    return f'User "{user.name}" cannot {verb} resource "{resource}" in API group "{group}" {where}'
