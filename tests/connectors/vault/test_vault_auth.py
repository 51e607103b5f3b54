"""The `vault` connector's options, logins and token lifetime against a real OpenBao: token, AppRole under a policy
granting exactly the paths used, Kubernetes through a fake TokenReview endpoint, renewal driven by an injected clock,
TLS, namespaces, and the errors of a sealed or stopped server. No credential ever shows in an error."""

from __future__ import annotations

import logging
import re
import textwrap
import time
import traceback
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import certifi
import hvac
import pytest

from connectors import vault
from connectors.vault import VaultSink, VaultSinkOptions, VaultSourceOptions
from connectors.vault.client import build_hvac_client
from syncd.errors import ConnectorError, PermanentError, SourceError, TransientError
from syncd.manifest import ManifestError, load_manifest
from syncd.registry import Registry
from tests.connectors.vault.vault_support import (
    OWNER,
    FakeClock,
    approle_for,
    counted_client,
    item,
    make_source,
    owned,
    plain,
    read,
    source_on,
    source_options,
    token_with_policy,
    write,
)
from tests.fakes.openbao import FakeTokenReviewer, OpenBaoServer, start_openbao

PLANTED = f"PLANTED-vault-{uuid.uuid4().hex}"


@pytest.fixture
def root(openbao: OpenBaoServer) -> hvac.Client:
    return openbao.client()


def shown(exc: BaseException) -> str:
    return "".join(traceback.format_exception(exc)) + repr(exc.args)


def raised(error: type[ConnectorError], call: Callable[[], object], *hidden: str) -> str:
    """The message of the `error` that `call` raises, after checking nothing in `hidden` shows in it."""
    with pytest.raises(error) as info:
        call()
    for value in (PLANTED, *hidden):
        assert value not in shown(info.value)
    return str(info.value)


def source_policy(prefix: str) -> str:
    """The minimal source policy of docs/connectors.md, for one folder."""
    return textwrap.dedent(f"""
        path "secret/data/{prefix}/*"     {{ capabilities = ["read"] }}
        path "secret/metadata/{prefix}/*" {{ capabilities = ["read", "list"] }}
    """)


def sink_policy(prefix: str) -> str:
    """The minimal sink policy of docs/connectors.md, for one prefix."""
    return textwrap.dedent(f"""
        path "secret/data/{prefix}/*"     {{ capabilities = ["create", "read", "update"] }}
        path "secret/metadata/{prefix}/*" {{ capabilities = ["create", "read", "update", "list"] }}
        path "secret/delete/{prefix}/*"   {{ capabilities = ["update"] }}
    """)


def approle_auth(role_id: str, secret_id: str, **extra: str) -> dict[str, str]:
    return {"method": "approle", "role_id": role_id, "secret_id": secret_id, **extra}


# Options


def manifest_errors(tmp_path: Path, source: str) -> list[str]:
    path = tmp_path / "syncd.yaml"
    path.write_text(
        "version: 1\ninstance: t\n"
        f"source: {source}\n"
        "targets: {env: {type: vault, address: 'http://v:8200', prefix: p, auth: {method: token, token: t}}}\n"
        "syncs: [{name: s, from: a, to: [{target: env}]}]\n"
    )
    with pytest.raises(ManifestError) as info:
        load_manifest(path, Registry({"vault": vault.spec}))
    return [re.sub(r"^.*?syncd\.yaml:\d+:\d+: ", "", line) for line in str(info.value).splitlines()]


@pytest.mark.parametrize(
    ("source", "error"),
    [
        ("{type: vault, address: 'http://v'}", "source.auth: missing required key 'auth'"),
        ("{type: vault, address: 'http://v', auth: {token: x}}", "source.auth: auth needs a method: token, approle, "
         "kubernetes"),
        ("{type: vault, address: 'http://v', auth: {method: ldap}}", "source.auth: unknown auth method 'ldap'; use one "
         "of token, approle, kubernetes"),
        ("{type: vault, address: 'http://v', auth: {method: approle, role_id: r}}", "source.auth.secret_id: missing "
         "required key 'secret_id'"),
        ("{type: vault, address: 'http://v', auth: {method: kubernetes, role: r, token_path: t}}", "source.auth."
         "token_path: token_path must be an absolute path"),
        ("{type: vault, address: 'vault:8200', auth: {method: token, token: t}}", "source.address: address must be an "
         "http:// or https:// URL, such as https://vault.example.com:8200"),
        ("{type: vault, address: 'http://v', auth: {method: token, token: t}, kv_version: 3}", "source.kv_version: "
         "must be one of 'auto', 1 or 2"),
        ("{type: vault, address: 'http://v', auth: {method: token, token: t}, client_key: k.pem}", "source: client_key "
         "needs client_cert"),
        ("{type: vault, address: 'http://v', auth: {method: token, token: t}, tls_skip_verify: true, ca_cert: c}",
         "source: ca_cert and tls_skip_verify contradict each other; keep ca_cert"),
        ("{type: vault, address: 'http://v', auth: {method: token, token: t}, kv_version: 1, versions: {a: 1}}",
         "source: versions needs KV version 2; KV version 1 keeps no versions"),
        ("{type: vault, address: 'http://v', auth: {method: token, token: t}, mount: 'a/../b'}", "source.mount: mount "
         "'a/../b' has an empty, '.' or '..' segment"),
        ("{type: vault, address: 'http://v', auth: {method: token, token: t}, prefix: p}", "source.prefix: unknown "
         "key 'prefix'"),
    ],
)  # fmt: skip
def test_option_errors_are_one_clear_line(tmp_path: Path, source: str, error: str) -> None:
    """Every option problem is one line naming the field, as the core reports pydantic's errors."""
    assert manifest_errors(tmp_path, source) == [error]


def test_references_pass_validation_and_are_checked_once_resolved(tmp_path: Path) -> None:
    """An address or token_path given as a reference is checked after the core resolves it, not before."""
    path = tmp_path / "syncd.yaml"
    path.write_text(
        "version: 1\ninstance: t\n"
        "source: {type: vault, address: '${env:VAULT_ADDR}', auth: {method: kubernetes, role: r, "
        "token_path: '${env:TOKEN_PATH}'}}\n"
        "targets: {env: {type: vault, address: 'http://v:8200', prefix: p, auth: {method: token, token: t}}}\n"
        "syncs: [{name: s, from: a, to: [{target: env}]}]\n"
    )
    manifest = load_manifest(path, Registry({"vault": vault.spec}))
    source = manifest.open_source({"VAULT_ADDR": "https://vault:8200/", "TOKEN_PATH": "/run/token"})
    assert (source.options.address, source.options.auth.token_path) == ("https://vault:8200", "/run/token")
    with pytest.raises(ManifestError, match="address must be an http:// or https:// URL"):
        manifest.open_source({"VAULT_ADDR": "vault:8200", "TOKEN_PATH": "/run/token"})


def test_options_accept_every_auth_method_and_defaults() -> None:
    """Each auth method validates; outer slashes and a quoted kv_version are normalised; defaults apply."""
    base = {"address": "https://vault.example.com:8200/", "prefix": "/syncd/"}
    token = VaultSinkOptions.model_validate({**base, "auth": {"method": "token", "token": "t"}, "kv_version": "2"})
    assert (token.address, token.prefix, token.mount, token.kv_version, token.timeout) == (
        "https://vault.example.com:8200", "syncd", "secret", 2, 10.0
    )  # fmt: skip
    approle = VaultSinkOptions.model_validate({**base, "auth": {"method": "approle", "role_id": "r", "secret_id": "s"}})
    assert approle.auth.mount_path == "approle"  # type: ignore[union-attr]
    kubernetes_auth = {"method": "kubernetes", "role": "r"}
    kubernetes = VaultSourceOptions.model_validate({"address": "http://v", "auth": kubernetes_auth})
    assert kubernetes.auth.token_path == "/var/run/secrets/kubernetes.io/serviceaccount/token"  # type: ignore[union-attr]
    assert kubernetes.auth.mount_path == "kubernetes"  # type: ignore[union-attr]


def test_tls_paths_are_marked_for_the_core_to_resolve() -> None:
    """ca_cert, client_cert and client_key are marked as paths, so the core resolves them against the manifest."""
    for name in ("ca_cert", "client_cert", "client_key"):
        assert VaultSourceOptions.model_fields[name].json_schema_extra == {"path": True}


def test_credentials_never_show_in_a_repr_of_the_options() -> None:
    """Tokens and AppRole credentials are held as secrets: no repr or str of the options shows them."""
    options = VaultSourceOptions.model_validate(
        {"address": "http://v", "auth": {"method": "approle", "role_id": PLANTED + "r", "secret_id": PLANTED}}
    )
    token = VaultSourceOptions.model_validate({"address": "http://v", "auth": {"method": "token", "token": PLANTED}})
    assert PLANTED not in repr(options) + str(options) + repr(token) + str(token)


def test_client_certificate_and_tls_settings_reach_the_session(tmp_path: Path) -> None:
    """The CA, client certificate, timeout and namespace reach hvac; no token is taken from the environment."""
    options = VaultSourceOptions.model_validate(
        {"address": "https://v", "auth": {"method": "token", "token": "t"}, "ca_cert": "/ca.pem",
         "client_cert": "/c.pem", "client_key": "/k.pem", "timeout": 3, "namespace": "team/a"}
    )  # fmt: skip
    client = build_hvac_client(options)
    assert (client.session.verify, client.session.cert) == ("/ca.pem", ("/c.pem", "/k.pem"))
    assert (client.adapter._kwargs["timeout"], client.adapter.namespace, client.token) == (3, "team/a", "")


# Token


def test_a_token_renewed_during_a_run(openbao: OpenBaoServer, root, vault_prefix: str) -> None:
    """With a third of its TTL left, the token is renewed on the real server before the next read."""
    root.secrets.kv.v2.create_or_update_secret(f"{vault_prefix}/db", {"k": "v"})
    token = token_with_policy(root, source_policy(vault_prefix), ttl="60s", renewable=True)
    clock = FakeClock()
    client, session = counted_client(openbao)
    source = source_on(source_options(openbao, auth={"method": "token", "token": token}), client, clock)
    assert plain(source.read(f"{vault_prefix}/db").data) == {"k": "v"}
    assert "last_renewal" not in root.auth.token.lookup(token)["data"]
    clock.advance(30)  # half the TTL left: nothing to do
    source.read(f"{vault_prefix}/db")
    assert session.count("POST", "auth/token/renew-self") == 0
    clock.advance(15)  # a quarter left
    assert plain(source.read(f"{vault_prefix}/db").data) == {"k": "v"}
    assert session.count("POST", "auth/token/renew-self") == 1
    assert root.auth.token.lookup(token)["data"]["last_renewal"]
    clock.advance(20)  # the renewal reset the TTL: 40 s of 60 left
    source.read(f"{vault_prefix}/db")
    assert session.count("POST", "auth/token/renew-self") == 1


def test_a_token_that_cannot_be_renewed_is_used_until_vault_refuses_it(
    openbao: OpenBaoServer, root, vault_prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A non-renewable token is not renewed; past its expiry lookup-self decides, and a refusal is an auth error."""
    root.secrets.kv.v2.create_or_update_secret(f"{vault_prefix}/db", {"k": "v"})
    token = token_with_policy(root, source_policy(vault_prefix), ttl="60s", renewable=False)
    clock = FakeClock()
    client, session = counted_client(openbao)
    source = source_on(source_options(openbao, auth={"method": "token", "token": token}), client, clock)
    source.read(f"{vault_prefix}/db")
    clock.advance(50)
    with caplog.at_level(logging.WARNING, logger="syncd.connectors.vault"):
        source.read(f"{vault_prefix}/db")
        source.read(f"{vault_prefix}/db")
    assert session.count("POST", "auth/token/renew-self") == 0
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 1 and re.fullmatch(
        r"the Vault token expires in \d+s and cannot be renewed; .*", warnings[0]
    )
    clock.advance(15)  # past its expiry by this clock, though not by Vault's: lookup-self says it is still good
    source.read(f"{vault_prefix}/db")
    assert session.count("GET", "auth/token/lookup-self") == 2
    root.auth.token.revoke(token)
    clock.advance(61)
    message = raised(SourceError, lambda: source.read(f"{vault_prefix}/db"), token)
    assert message == "authentication failed (method token): Vault refused the token; it is invalid, expired or revoked"


def test_a_token_that_really_expired_is_an_auth_error(openbao: OpenBaoServer, root, vault_prefix: str) -> None:
    """A one-second token, waited out for real (by polling the server), gives the authentication error."""
    root.secrets.kv.v2.create_or_update_secret(f"{vault_prefix}/db", {"k": "v"})
    token = token_with_policy(root, source_policy(vault_prefix), ttl="1s", renewable=False)
    source = make_source(openbao, auth={"method": "token", "token": token})
    source.read(f"{vault_prefix}/db")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            openbao.client(token).auth.token.lookup_self()
        except hvac.exceptions.Forbidden:
            break
        time.sleep(0.05)
    assert "Vault refused the token" in raised(SourceError, lambda: source.read(f"{vault_prefix}/db"), token)


def test_an_invalid_token_is_an_auth_error_that_never_shows_it(openbao: OpenBaoServer) -> None:
    """A token Vault does not know is an authentication error that does not show the token."""
    source = make_source(openbao, auth={"method": "token", "token": PLANTED})
    assert raised(SourceError, lambda: source.read("x")).startswith("authentication failed (method token)")


# AppRole


def test_approle_with_the_minimal_policies_reads_and_writes(openbao: OpenBaoServer, root, vault_prefix: str) -> None:
    """AppRole logs in for real; the documented minimal policies are enough for every source and sink call."""
    root.secrets.kv.v2.create_or_update_secret(f"{vault_prefix}/src/app/db", {"password": "s3cret"})
    source_ids = approle_for(root, source_policy(f"{vault_prefix}/src"))
    sink_ids = approle_for(root, sink_policy(f"{vault_prefix}/dst"))
    source = make_source(openbao, auth=approle_auth(*source_ids))
    assert source.list(f"{vault_prefix}/src/") == [f"{vault_prefix}/src/app/db"]
    secret = source.read(f"{vault_prefix}/src/app/db")
    source.read(f"{vault_prefix}/src/app/db")  # the cached path: metadata only
    sink = VaultSink("t", VaultSinkOptions.model_validate(
        {"address": openbao.address, "auth": approle_auth(*sink_ids), "prefix": f"{vault_prefix}/dst"}
    ))  # fmt: skip
    address = sink.address(VaultSink.Destination(), "app/db")
    write(sink, item(address, plain(secret.data)), None)
    actual = read(sink, [address])[address]
    write(sink, item(address, {"password": "rotated"}), actual)
    mine = owned(sink, OWNER.instance)
    sink.delete(mine[address])
    write(sink, item(address, {"password": "back"}), None)
    assert plain(read(sink, [address])[address].data) == {"password": "back"}


def test_a_path_outside_the_policy_names_the_path_and_capability(
    openbao: OpenBaoServer, root, vault_prefix: str
) -> None:
    """Under a policy for one folder, a read, a list and a write elsewhere each name the capability and API path."""
    role_id, secret_id = approle_for(root, source_policy(f"{vault_prefix}/mine"))
    root.secrets.kv.v2.create_or_update_secret(f"{vault_prefix}/other/db", {"k": PLANTED})
    source = make_source(openbao, auth=approle_auth(role_id, secret_id))
    assert raised(SourceError, lambda: source.read(f"{vault_prefix}/other/db"), secret_id) == (
        f"permission denied: needs 'read' on secret/data/{vault_prefix}/other/db"
    )
    assert raised(SourceError, lambda: source.list(f"{vault_prefix}/other/"), secret_id) == (
        f"permission denied: needs 'list' on secret/metadata/{vault_prefix}/other/"
    )
    sink = VaultSink("vault-target", VaultSinkOptions.model_validate(
        {"address": openbao.address, "auth": approle_auth(role_id, secret_id), "prefix": vault_prefix, "kv_version": 2}
    ))  # fmt: skip
    assert raised(PermanentError, lambda: write(sink, item(f"{vault_prefix}/mine/x", {"k": PLANTED}), None)) == (
        f"target 'vault-target', item '{vault_prefix}/mine/x': permission denied: needs 'create' on "
        f"secret/metadata/{vault_prefix}/mine/x"
    )


def test_a_bad_secret_id_is_an_auth_error_naming_the_method(openbao: OpenBaoServer, root, vault_prefix: str) -> None:
    """A refused AppRole login names the method and mount, is not retried per path, and never shows the ids."""
    role_id, _ = approle_for(root, source_policy(vault_prefix))
    source = make_source(openbao, auth=approle_auth(role_id, PLANTED))
    assert raised(SourceError, lambda: source.read(f"{vault_prefix}/x"), role_id) == (
        "authentication failed (method approle at auth/approle): invalid role or secret ID"
    )
    client, session = counted_client(openbao)
    many = source_on(source_options(openbao, auth=approle_auth(role_id, PLANTED), kv_version=2), client)
    found = many.read_many([f"{vault_prefix}/{i}" for i in range(6)])
    assert {str(error) for error in found.values()} == {
        "authentication failed (method approle at auth/approle): invalid role or secret ID"
    }
    assert session.count(path="auth/approle/login") == 1  # refused once: not asked again for each path
    elsewhere = make_source(openbao, auth=approle_auth(role_id, PLANTED, mount_path="nowhere"))
    assert raised(SourceError, lambda: elsewhere.read("x")) == (
        "authentication failed (method approle at auth/nowhere): permission denied (the credentials were refused, "
        "or no approle auth method is enabled there)"
    )


def test_a_short_ttl_approle_token_is_renewed_then_replaced(openbao: OpenBaoServer, root, vault_prefix: str) -> None:
    """A 3 s AppRole token is renewed with a third of its TTL left; once expired, syncd logs in again."""
    root.secrets.kv.v2.create_or_update_secret(f"{vault_prefix}/db", {"k": "v"})
    ids = approle_for(root, source_policy(vault_prefix), token_ttl="3s", token_max_ttl="1h")
    clock = FakeClock()
    client, session = counted_client(openbao)
    source = source_on(source_options(openbao, auth=approle_auth(*ids)), client, clock)
    source.read(f"{vault_prefix}/db")
    first_token = client.token
    clock.advance(2.5)
    assert plain(source.read(f"{vault_prefix}/db").data) == {"k": "v"}
    assert session.count("POST", "auth/token/renew-self") == 1
    assert root.auth.token.lookup(first_token)["data"]["last_renewal"]
    clock.advance(10)  # past its expiry: a new login, not a renewal
    assert plain(source.read(f"{vault_prefix}/db").data) == {"k": "v"}
    assert session.count("PUT", "auth/approle/login") + session.count("POST", "auth/approle/login") == 2
    assert session.count("POST", "auth/token/renew-self") == 1
    assert client.token != first_token


def test_a_revoked_approle_token_is_replaced_and_the_call_retried(
    openbao: OpenBaoServer, root, vault_prefix: str
) -> None:
    """A 403 because the AppRole token was revoked makes syncd log in again and retry the call once."""
    root.secrets.kv.v2.create_or_update_secret(f"{vault_prefix}/db", {"k": "v"})
    ids = approle_for(root, source_policy(vault_prefix))
    client, session = counted_client(openbao)
    source = source_on(source_options(openbao, auth=approle_auth(*ids)), client)
    source.read(f"{vault_prefix}/db")
    root.auth.token.revoke(client.token)
    assert plain(source.read(f"{vault_prefix}/db").data) == {"k": "v"}
    assert session.count(path="auth/approle/login") == 2


# Kubernetes


@pytest.fixture
def reviewer() -> Iterator[FakeTokenReviewer]:
    fake = FakeTokenReviewer().start()
    yield fake
    fake.stop()


@pytest.fixture
def kubernetes_mount(root: hvac.Client, reviewer: FakeTokenReviewer, vault_prefix: str) -> str:
    """A kubernetes auth mount whose role `syncd` admits service account secrets/syncd, reviewed by `reviewer`."""
    mount = f"k8s-{vault_prefix}"
    root.sys.enable_auth_method("kubernetes", path=mount)
    # OpenBao wants a CA for the API server even for plain http; any certificate parses.
    bundle = Path(certifi.where()).read_text()
    some_ca = re.search(r"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----", bundle, re.S)
    assert some_ca is not None
    root.auth.kubernetes.configure(
        reviewer.url, kubernetes_ca_cert=some_ca.group(0), disable_local_ca_jwt=True, mount_point=mount
    )
    root.sys.create_or_update_policy(mount, source_policy(vault_prefix))
    root.auth.kubernetes.create_role(
        "syncd", bound_service_account_names=["syncd"], bound_service_account_namespaces=["secrets"],
        policies=[mount], ttl="60s", mount_point=mount,
    )  # fmt: skip
    return mount


def kubernetes_auth(mount: str, token_path: Path, role: str = "syncd") -> dict[str, str]:
    return {"method": "kubernetes", "role": role, "token_path": str(token_path), "mount_path": mount}


def test_kubernetes_login_reads_the_service_account_token(
    openbao: OpenBaoServer, root, reviewer: FakeTokenReviewer, kubernetes_mount: str, vault_prefix: str, tmp_path: Path
) -> None:
    """The login posts the service account token; OpenBao reviews it with the (fake) API server and admits it.
    At the next login the token file is read again, as Kubernetes rotates projected tokens."""
    root.secrets.kv.v2.create_or_update_secret(f"{vault_prefix}/db", {"k": "v"})
    token_file = tmp_path / "token"
    first = reviewer.service_account_token("secrets", "syncd")
    token_file.write_text(first + "\n")
    clock = FakeClock()
    source = source_on(source_options(openbao, auth=kubernetes_auth(kubernetes_mount, token_file)), clock=clock)
    assert plain(source.read(f"{vault_prefix}/db").data) == {"k": "v"}
    rotated = reviewer.service_account_token("secrets", "syncd")
    token_file.write_text(rotated)
    clock.advance(120)
    source.read(f"{vault_prefix}/db")
    assert reviewer.reviews == [first, rotated]


def test_kubernetes_login_errors_are_clear(
    openbao: OpenBaoServer, reviewer: FakeTokenReviewer, kubernetes_mount: str, tmp_path: Path
) -> None:
    """A token the API server rejects, a role that does not exist and a missing token file: one line each."""
    token_file = tmp_path / "token"
    stranger = reviewer.service_account_token("elsewhere", "intruder")
    token_file.write_text(stranger)
    prefix = f"authentication failed (method kubernetes at auth/{kubernetes_mount}): "
    rejected = make_source(openbao, auth=kubernetes_auth(kubernetes_mount, token_file))
    assert raised(SourceError, lambda: rejected.read("x"), stranger).startswith(prefix)
    unknown = make_source(openbao, auth=kubernetes_auth(kubernetes_mount, token_file, role="nope"))
    assert raised(SourceError, lambda: unknown.read("x"), stranger) == prefix + 'invalid role name "nope"'
    missing = make_source(openbao, auth=kubernetes_auth(kubernetes_mount, tmp_path / "absent"))
    assert raised(SourceError, lambda: missing.read("x")) == (
        prefix + f"cannot read the service account token at {tmp_path / 'absent'}: No such file or directory"
    )


# TLS, namespaces, a server that is sealed or gone


@pytest.fixture
def tls_openbao(tmp_path: Path) -> Iterator[OpenBaoServer]:
    server = start_openbao(tmp_path / "tls", tls=True)
    yield server
    server.stop()


@pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")
def test_tls_needs_the_ca_and_skipping_verification_is_loud(
    tls_openbao: OpenBaoServer, caplog: pytest.LogCaptureFixture
) -> None:
    """A TLS server is read with ca_cert, refused without it, read with tls_skip_verify (a warning per build)."""
    tls_openbao.client().secrets.kv.v2.create_or_update_secret("db", {"k": "v"})
    assert tls_openbao.ca_cert is not None
    trusted = make_source(tls_openbao, ca_cert=str(tls_openbao.ca_cert))
    assert plain(trusted.read("db").data) == {"k": "v"}
    untrusted = make_source(tls_openbao)
    assert raised(SourceError, lambda: untrusted.read("db")) == (
        f"the TLS certificate of Vault at {tls_openbao.address} is not trusted; set ca_cert to the CA that signed it"
    )
    with caplog.at_level(logging.WARNING, logger="syncd.connectors.vault"):
        for _ in range(2):
            assert plain(make_source(tls_openbao, tls_skip_verify=True).read("db").data) == {"k": "v"}
    warnings = [r for r in caplog.records if "TLS certificate verification is OFF" in r.getMessage()]
    assert len(warnings) == 2 and all(r.levelno == logging.WARNING for r in warnings)
    missing = make_source(tls_openbao, ca_cert="/nonexistent/ca.pem")
    assert raised(SourceError, lambda: missing.read("db")) == "ca_cert /nonexistent/ca.pem does not exist"


def test_namespace_scopes_every_call(openbao: OpenBaoServer, root, vault_prefix: str) -> None:
    """With `namespace`, the mount and the secret are those of the namespace."""
    root.adapter.post(f"/v1/sys/namespaces/{vault_prefix}")
    inside = openbao.client(namespace=vault_prefix)
    inside.sys.enable_secrets_engine("kv", path="secret", options={"version": "2"})
    inside.secrets.kv.v2.create_or_update_secret("db", {"k": "in the namespace"})
    assert plain(make_source(openbao, namespace=vault_prefix).read("db").data) == {"k": "in the namespace"}
    assert raised(SourceError, lambda: make_source(openbao).read("db")) == "no secret at 'db' in mount 'secret'"


def test_a_sealed_vault_is_a_transient_error(fresh_openbao: OpenBaoServer) -> None:
    """A sealed Vault answers 503, a transient error naming the address."""
    source = make_source(fresh_openbao)
    fresh_openbao.client().secrets.kv.v2.create_or_update_secret("db", {"k": "v"})
    source.read("db")
    fresh_openbao.client().sys.seal()
    assert raised(TransientError, lambda: source.read("db")) == (
        f"Vault at {fresh_openbao.address} is sealed or unavailable (HTTP 503)"
    )


def test_a_stopped_vault_is_a_transient_error(fresh_openbao: OpenBaoServer) -> None:
    """A Vault that is gone is a transient error naming the address and the item, never a value."""
    sink = VaultSink("t", VaultSinkOptions.model_validate(
        {"address": fresh_openbao.address, "auth": {"method": "token", "token": "root"}, "prefix": "p"}
    ))  # fmt: skip
    write(sink, item("p/db", {"k": PLANTED}), None)
    fresh_openbao.kill()
    assert raised(TransientError, lambda: read(sink, ["p/db"])) == (
        f"target 't', item 'p/': Vault at {fresh_openbao.address} is unreachable (connection failed)"
    )
