"""The `kubernetes` sink's rules checked before any call (names, keys, size, types, labels), its options and
Destination models at manifest load, and the dockerconfigjson shaping. No server."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from pydantic import ValidationError

from connectors.kubernetes import KubernetesDestination, KubernetesSink, KubernetesTargetOptions, rules, spec
from syncd.connector import Scope
from syncd.errors import PermanentError
from syncd.model import DesiredItem, Granularity, Ownership
from syncd.secret import Secret

TARGET = "k8s"
OWNER = Ownership("rules-instance", "app")
PLANTED = "PLANTED-k8s-rules-5d0e"


def make_sink(**options: Any) -> KubernetesSink:
    return KubernetesSink(TARGET, KubernetesTargetOptions(**{"kubeconfig": "kubeconfig.yaml", **options}))


def item(address: str, data: dict[str, str] | None = None, **destination: Any) -> DesiredItem:
    sink = make_sink()
    dest = KubernetesDestination(**{"namespace": address.partition("/")[0], **destination})
    return DesiredItem(
        target=TARGET,
        address=address,
        owner=OWNER,
        data={k: Secret(v) for k, v in (data if data is not None else {"password": PLANTED}).items()},
        granularity=Granularity.DOCUMENT,
        flags=sink.flags(dest),
        destination=dest,
    )


def problems(desired: DesiredItem) -> list[str]:
    """The sink's problems with `desired`, after checking none of them shows a value."""
    found = make_sink().check(desired)
    assert not any(PLANTED in problem for problem in found)
    return found


def test_spec_names_the_connector_as_a_document_sink_with_versions() -> None:
    """The module exports 'kubernetes' as a sink only, one Secret per item, reporting resourceVersions."""
    assert spec.name == "kubernetes"
    assert spec.roles == ("sink",)
    assert KubernetesSink.capabilities.granularities == (Granularity.DOCUMENT,)
    assert KubernetesSink.capabilities.versions


def test_the_address_is_namespace_slash_name() -> None:
    """A destination's namespace and the item's name make its address."""
    assert make_sink().address(KubernetesDestination(namespace="team-a"), "db") == "team-a/db"


@pytest.mark.parametrize(
    "name", ["Db", "db_main", "-db", "db-", "db..main", "a" * 254, "db main", "ünï", "db/main", ""]
)
def test_a_name_that_is_no_dns_subdomain_is_a_problem(name: str) -> None:
    """A Secret name with capitals, '_', a leading or trailing '-', an empty label, over 253 characters, a space, a
    non-ASCII letter or a '/' is refused, naming the Secret and its namespace."""
    found = problems(item(f"team-a/{name}"))
    assert len(found) == 1
    assert f"Secret {name!r} in namespace 'team-a'" in found[0] and "DNS-1123 subdomain" in found[0]


@pytest.mark.parametrize("name", ["db", "db-main", "db.main.v2", "0db", "a" * 253, "a.b-c.d"])
def test_a_dns_subdomain_name_is_no_problem(name: str) -> None:
    """Lowercase names with '-' and '.', up to 253 characters, pass."""
    assert problems(item(f"team-a/{name}")) == []


@pytest.mark.parametrize("key", ["DB PASSWORD", "db/password", "pässword", ".", "..", "..hidden", "k" * 254, ""])
def test_a_key_the_apiserver_refuses_is_a_problem(key: str) -> None:
    """A key with a space, a '/', a non-ASCII letter, '.', '..', a leading '..', over 253 characters, or empty is
    refused (IsConfigMapKey), naming the key and no value."""
    found = problems(item("team-a/db", {key: PLANTED}))
    assert len(found) == 1 and f"Key {key!r} of Secret 'db'" in found[0]


@pytest.mark.parametrize("key", ["DB_PASSWORD", "db-password", "db.password", ".dotfile", "k" * 253, "tls.crt"])
def test_keys_of_letters_digits_dash_underscore_and_dot_are_no_problem(key: str) -> None:
    """Keys of `[-._a-zA-Z0-9]`, a single leading '.', up to 253 characters, pass."""
    assert problems(item("team-a/db", {key: PLANTED})) == []


def test_values_over_one_mebibyte_in_all_are_a_problem_and_keys_do_not_count() -> None:
    """The values' bytes (UTF-8) are summed as the apiserver sums them: exactly 1 MiB passes, one byte more is
    refused, and the keys' length is not counted."""
    half = rules.MAX_SECRET_BYTES // 2
    exactly = {"a" * 200: "x" * half, "b" * 200: "y" * half}
    assert problems(item("team-a/big", exactly)) == []
    over = {"a": "x" * half, "b": "y" * (half - 1) + "é"}  # 'é' is two bytes
    found = problems(item("team-a/big", over))
    assert len(found) == 1 and "1048577 bytes" in found[0] and "1 MiB" in found[0]


@pytest.mark.parametrize(
    ("secret_type", "data", "missing"),
    [
        ("kubernetes.io/tls", {"tls.crt": PLANTED}, "'tls.key'"),
        ("kubernetes.io/tls", {"tls.key": PLANTED}, "'tls.crt'"),
        ("kubernetes.io/basic-auth", {"user": PLANTED}, "'username' or 'password'"),
        ("kubernetes.io/ssh-auth", {"ssh-privatekey": ""}, "'ssh-privatekey'"),
        ("kubernetes.io/ssh-auth", {"id_rsa": PLANTED}, "'ssh-privatekey'"),
        ("kubernetes.io/dockerconfigjson", {"config": PLANTED}, "'.dockerconfigjson'"),
        ("kubernetes.io/dockerconfigjson", {".dockerconfigjson": PLANTED}, "JSON object"),
    ],
)
def test_a_type_without_its_required_keys_is_a_problem(secret_type: str, data: dict[str, str], missing: str) -> None:
    """Each type's required keys (ValidateSecret) are checked: the problem names the type and the key."""
    found = problems(item("team-a/typed", data, type=secret_type))
    assert len(found) == 1 and secret_type in found[0] and missing in found[0]


@pytest.mark.parametrize(
    ("secret_type", "data"),
    [
        ("Opaque", {"anything": PLANTED}),
        ("kubernetes.io/tls", {"tls.crt": PLANTED, "tls.key": PLANTED, "ca.crt": PLANTED}),
        ("kubernetes.io/basic-auth", {"password": PLANTED}),
        ("kubernetes.io/ssh-auth", {"ssh-privatekey": PLANTED}),
        ("kubernetes.io/dockerconfigjson", {".dockerconfigjson": json.dumps({"auths": {}})}),
    ],
)
def test_a_type_with_its_required_keys_is_no_problem(secret_type: str, data: dict[str, str]) -> None:
    """Each type passes with its required keys (and others beside them)."""
    assert problems(item("team-a/typed", data, type=secret_type)) == []


def test_dockerconfigjson_is_built_from_the_registry_credentials_as_kubectl_builds_it() -> None:
    """With `registry`, shape turns the two keys into `.dockerconfigjson` {"auths": {server: {username, password,
    auth}}} whose auth is base64("user:password"), and drops the other keys."""
    sink = make_sink()
    dest = KubernetesDestination(
        namespace="team-a", type="kubernetes.io/dockerconfigjson", registry="ghcr.io", username_key="user"
    )
    shaped = sink.shape(dest, {"user": Secret("robot"), "password": Secret(PLANTED), "other": Secret("x")})
    assert list(shaped) == [".dockerconfigjson"]
    auths = json.loads(shaped[".dockerconfigjson"].reveal())["auths"]
    assert auths == {
        "ghcr.io": {
            "username": "robot",
            "password": PLANTED,
            "auth": base64.b64encode(f"robot:{PLANTED}".encode()).decode(),
        }
    }


def test_dockerconfigjson_takes_an_email_key_when_named() -> None:
    """`email_key` adds the registry entry's email."""
    dest = KubernetesDestination(
        namespace="team-a", type="kubernetes.io/dockerconfigjson", registry="r.example", email_key="mail"
    )
    data = {"username": Secret("u"), "password": Secret(PLANTED), "mail": Secret("ops@example.com")}
    entry = json.loads(make_sink().shape(dest, data)[".dockerconfigjson"].reveal())["auths"]["r.example"]
    assert entry["email"] == "ops@example.com"


def test_dockerconfigjson_without_a_credential_key_is_a_value_error_naming_key_and_type() -> None:
    """A source without the password key cannot be shaped: the error names the key and the type, no value."""
    dest = KubernetesDestination(namespace="team-a", type="kubernetes.io/dockerconfigjson", registry="ghcr.io")
    with pytest.raises(ValueError) as raised:
        make_sink().shape(dest, {"username": Secret(PLANTED)})
    assert "'password'" in str(raised.value) and "kubernetes.io/dockerconfigjson" in str(raised.value)
    assert PLANTED not in str(raised.value)


def test_a_source_holding_dockerconfigjson_passes_through() -> None:
    """Without `registry`, the source's own `.dockerconfigjson` is written as it is; other types are not shaped."""
    data = {".dockerconfigjson": Secret(json.dumps({"auths": {"x": {"auth": "eA=="}}}))}
    dest = KubernetesDestination(namespace="team-a", type="kubernetes.io/dockerconfigjson")
    assert make_sink().shape(dest, data) == data
    assert make_sink().shape(KubernetesDestination(namespace="team-a"), data) == data


def test_flags_carry_type_immutable_and_each_manifest_label_and_annotation() -> None:
    """The compared settings: the type, immutability, and each label and annotation the `to` entry sets."""
    dest = KubernetesDestination(
        namespace="team-a", type="kubernetes.io/tls", immutable=True, labels={"team": "a"}, annotations={"o": "x"}
    )
    assert make_sink().flags(dest) == {
        "type": "kubernetes.io/tls",
        "immutable": True,
        "label:team": "a",
        "annotation:o": "x",
    }


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"namespace": "Team_A"}, "DNS-1123 label"),
        ({"namespace": "a" * 64}, "DNS-1123 label"),
        ({"namespace": "team-a", "labels": {"app.kubernetes.io/managed-by": "me"}}, "reserved"),
        ({"namespace": "team-a", "labels": {"syncd.io/x": "y"}}, "reserved"),
        ({"namespace": "team-a", "annotations": {"syncd.io/instance": "y"}}, "reserved"),
        ({"namespace": "team-a", "labels": {"bad key!": "y"}}, "label key 'bad key!'"),
        ({"namespace": "team-a", "labels": {"team": "not a value"}}, "the value of label 'team'"),
        ({"namespace": "team-a", "labels": {"team": "v" * 64}}, "the value of label 'team'"),
        ({"namespace": "team-a", "annotations": {"/x": "y"}}, "annotation key '/x'"),
        ({"namespace": "team-a", "registry": "ghcr.io"}, "registry applies only to type"),
        ({"namespace": "team-a", "username_key": "user"}, "username_key applies only to type"),
        ({"namespace": "team-a", "type": "kubernetes.io/dockerconfigjson", "password_key": "t"}, "needs registry"),
        ({"namespace": "team-a", "type": "kubernetes.io/service-account-token"}, "type"),
    ],
)
def test_a_bad_destination_is_refused_at_manifest_load(fields: dict[str, Any], message: str) -> None:
    """A namespace that is not a DNS-1123 label, a reserved or malformed label or annotation, registry fields on a
    type that takes none, or a type syncd does not write, is a validation error naming it."""
    with pytest.raises(ValidationError) as raised:
        KubernetesDestination(**fields)
    assert message in str(raised.value)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({}, "give kubeconfig"),
        ({"context": "prod"}, "give kubeconfig"),
        ({"in_cluster": True, "kubeconfig": "k.yaml"}, "takes no kubeconfig or context"),
        ({"in_cluster": True, "context": "prod"}, "takes no kubeconfig or context"),
        ({"kubeconfig": "k.yaml", "rbac_subject": {"namespace": None}}, "needs its namespace"),
        ({"kubeconfig": "k.yaml", "rbac_subject": {"kind": "Robot"}}, "kind"),
    ],
)
def test_target_options_take_exactly_one_way_to_the_cluster(fields: dict[str, Any], message: str) -> None:
    """Neither a kubeconfig nor in_cluster, or both, is a manifest error saying what to give; so is a service
    account subject without a namespace."""
    with pytest.raises(ValidationError) as raised:
        KubernetesTargetOptions(**fields)
    assert message in str(raised.value)


def test_target_options_defaults() -> None:
    """By default: timeouts of 5 s to connect and 30 s to read, pages of 500, subject ServiceAccount syncd/syncd."""
    options = KubernetesTargetOptions(kubeconfig="k.yaml")
    assert (options.connect_timeout, options.read_timeout, options.page_size) == (5.0, 30.0, 500)
    assert (options.rbac_subject.kind, options.rbac_subject.name, options.rbac_subject.namespace) == (
        "ServiceAccount",
        "syncd",
        "syncd",
    )
    assert KubernetesTargetOptions(in_cluster=True).in_cluster


def test_a_scope_pattern_without_a_namespace_is_refused_before_any_call() -> None:
    """observe refuses a scope that names no namespace (it never lists cluster-wide), before building a client."""
    with pytest.raises(PermanentError) as raised:
        make_sink().observe([], Scope("i", ("*",)))
    assert "names no namespace" in str(raised.value)
