"""The RBAC a `kubernetes` target prints: per namespace a Role granting exactly the sink's verbs on Secrets, named
Secrets where RBAC allows it, and a RoleBinding to the configured subject. Parsed back, as kubectl reads it."""

from __future__ import annotations

from typing import Any

import yaml

from connectors.kubernetes.leader import lease_rbac
from connectors.kubernetes.options import KubernetesTargetOptions, RbacSubject
from connectors.kubernetes.policy import rbac_policy

ALL_VERBS = ["create", "delete", "get", "list", "patch"]


def options_with(**given: Any) -> KubernetesTargetOptions:
    """A target's options with `given` (rbac_subject, context)."""
    return KubernetesTargetOptions(kubeconfig="kubeconfig.yaml", **given)


def documents(
    patterns: list[str], options: KubernetesTargetOptions | None = None, target: str = "prod-eu"
) -> list[dict[str, Any]]:
    answer = rbac_policy(patterns, options or options_with(), target)
    assert answer.kind == "rbac"
    return list(yaml.safe_load_all(answer.text))


def roles(docs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["namespace"]: d for d in docs if d["kind"] == "Role"}


def bindings(docs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["namespace"]: d for d in docs if d["kind"] == "RoleBinding"}


def test_literal_names_are_named_for_get_patch_and_delete_and_list_and_create_stay_unnamed() -> None:
    """All-literal patterns of a namespace get get/patch/delete on those Secrets only, list and create on any."""
    rules = roles(documents(["team-a/db", "team-a/api"]))["team-a"]["rules"]
    assert rules == [
        {"apiGroups": [""], "resources": ["secrets"], "verbs": ["create", "list"]},
        {
            "apiGroups": [""],
            "resources": ["secrets"],
            "resourceNames": ["api", "db"],
            "verbs": ["delete", "get", "patch"],
        },
    ]


def test_a_wildcard_pattern_leaves_its_namespace_unrestricted_by_name_and_others_named() -> None:
    """RBAC has no prefix wildcards: a namespace holding `app-*` gets the verbs on every Secret; another stays named."""
    found = roles(documents(["team-a/app-*", "team-a/db", "team-b/db"]))
    assert found["team-a"]["rules"] == [{"apiGroups": [""], "resources": ["secrets"], "verbs": ALL_VERBS}]
    assert found["team-b"]["rules"][1]["resourceNames"] == ["db"]


def test_only_the_sinks_verbs_on_secrets_are_granted() -> None:
    """No update (PUT), watch, deletecollection, '*' or other resource: the sink's five verbs on Secrets alone."""
    for docs in (documents(["team-a/db"]), documents(["team-a/*"])):
        for role in roles(docs).values():
            verbs = {verb for rule in role["rules"] for verb in rule["verbs"]}
            assert verbs == set(ALL_VERBS)
            assert {r for rule in role["rules"] for r in rule["resources"]} == {"secrets"}
            assert {g for rule in role["rules"] for g in rule["apiGroups"]} == {""}


def test_one_role_and_one_binding_per_namespace_named_after_the_target() -> None:
    """Each namespace has a Role `syncd-<target>` and a RoleBinding of that Role, in that namespace, sorted."""
    docs = documents(["team-b/db", "team-a/db"])
    assert [(d["kind"], d["metadata"]["namespace"]) for d in docs] == [
        ("Role", "team-a"),
        ("RoleBinding", "team-a"),
        ("Role", "team-b"),
        ("RoleBinding", "team-b"),
    ]
    for doc in docs:
        assert doc["apiVersion"] == "rbac.authorization.k8s.io/v1"
        assert doc["metadata"]["name"] == "syncd-prod-eu"
    for binding in bindings(docs).values():
        assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "syncd-prod-eu"}


def test_the_default_subject_is_the_syncd_service_account_in_namespace_syncd() -> None:
    """Without an `rbac_subject` option the binding names ServiceAccount syncd in namespace syncd."""
    assert bindings(documents(["team-a/db"]))["team-a"]["subjects"] == [
        {"kind": "ServiceAccount", "name": "syncd", "namespace": "syncd"}
    ]


def test_a_user_or_group_subject_is_bound_with_the_rbac_api_group_and_no_namespace() -> None:
    """A User or Group subject carries apiGroup rbac.authorization.k8s.io, as RBAC requires for them."""
    for kind in ("User", "Group"):
        options = options_with(rbac_subject=RbacSubject(kind=kind, name="ci-bot", namespace=None))
        assert bindings(documents(["team-a/db"], options))["team-a"]["subjects"] == [
            {"kind": kind, "apiGroup": "rbac.authorization.k8s.io", "name": "ci-bot"}
        ]


def test_a_configured_service_account_is_bound() -> None:
    """The target's `rbac_subject` names the ServiceAccount bound in every namespace."""
    options = options_with(rbac_subject=RbacSubject(kind="ServiceAccount", name="syncd-eu", namespace="platform"))
    for binding in bindings(documents(["team-a/db", "team-b/*"], options)).values():
        assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "syncd-eu", "namespace": "platform"}]


def test_the_header_names_the_target_the_subject_and_the_context() -> None:
    """The comment header says which target, cluster context and subject the documents are for."""
    text = rbac_policy(["team-a/db"], options_with(context="eu-1"), "prod-eu").text
    header = text.split("---", 1)[0]
    assert "'prod-eu'" in header and "'eu-1'" in header and "ServiceAccount syncd/syncd" in header
    assert all(line.startswith("#") for line in header.strip().splitlines())


def test_the_role_is_named_after_the_target_as_it_is_spelled() -> None:
    """RBAC names need only be path segments, which target names are: `Prod_EU` and `prod-eu` get distinct Roles
    (`syncd-Prod_EU`, `syncd-prod-eu`), never one shared by two targets."""
    assert {d["metadata"]["name"] for d in documents(["team-a/db"], target="Prod_EU")} == {"syncd-Prod_EU"}
    assert {d["metadata"]["name"] for d in documents(["team-a/db"], target="prod-eu")} == {"syncd-prod-eu"}


def test_no_patterns_print_no_document() -> None:
    """A target no sync writes to needs no Role."""
    assert documents([]) == []


def test_lease_rbac_grants_get_and_update_on_the_lease_and_create_on_leases() -> None:
    """Leader election's Role: get and update on its Lease by name, create without a name (RBAC cannot name it)."""
    docs = list(yaml.safe_load_all(lease_rbac("syncd", "syncd-leader", RbacSubject())))
    role, binding = docs
    assert role["kind"] == "Role" and role["metadata"]["namespace"] == "syncd"
    assert role["rules"] == [
        {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "verbs": ["create"]},
        {
            "apiGroups": ["coordination.k8s.io"],
            "resources": ["leases"],
            "resourceNames": ["syncd-leader"],
            "verbs": ["get", "update"],
        },
    ]
    assert binding["roleRef"]["name"] == role["metadata"]["name"]
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "syncd", "namespace": "syncd"}]
