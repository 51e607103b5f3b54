"""The `kubernetes` sink's connection and errors: each call through the rate limiter with timeouts and no retry of
the client's own, 429 and 5xx transient (with Retry-After) and retried by the core, 401, 403, a missing namespace
and 422 permanent with messages naming what and where, never a value nor the client's text."""

from __future__ import annotations

import datetime
import socket
import sys
import threading
import traceback
import types
from pathlib import Path
from typing import Any

import kubernetes.client
import pytest

from connectors.kubernetes import KubernetesSink, KubernetesTargetOptions
from connectors.kubernetes.client import build_api_client
from syncd.errors import PermanentError, TransientError
from syncd.model import Action, Difference
from syncd.ratelimit import RateLimiter
from syncd.secret import REDACTOR
from tests.connectors.kubernetes.kube_support import (
    actions,
    apply,
    converge,
    desired,
    kubeconfig,
    plan,
    scope,
    sink_for,
    stored_data,
)
from tests.fakes.kubernetes import KubeFake

PLANTED = "PLANTED-k8s-faults-7b1f"
SECRETS = r"^/api/v1/namespaces/team-a/secrets"


@pytest.fixture
def sink(kube_fake: KubeFake, tmp_path: Path) -> KubernetesSink:
    return sink_for(kube_fake, tmp_path)


def shown(exc: BaseException) -> str:
    return "".join(traceback.format_exception(exc)) + repr(exc.args)


def test_a_429_with_retry_after_is_transient_and_carries_the_wait(kube_fake: KubeFake, sink: KubernetesSink) -> None:
    """A throttled LIST raises TransientError naming the verb, resource and namespace, with the server's
    Retry-After as retry_after."""
    kube_fake.fail_next("GET", SECRETS, 429, retry_after=7)
    with pytest.raises(TransientError) as raised:
        sink.observe([], scope(namespaces=["team-a"]))
    assert raised.value.retry_after == 7
    assert "HTTP 429" in str(raised.value) and "list secrets in namespace 'team-a'" in str(raised.value)


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_server_errors_are_transient(kube_fake: KubeFake, sink: KubernetesSink, status: int) -> None:
    """A 5xx answer raises TransientError naming the status."""
    kube_fake.fail_next("GET", SECRETS, status)
    with pytest.raises(TransientError) as raised:
        sink.observe([], scope(namespaces=["team-a"]))
    assert f"HTTP {status}" in str(raised.value)


@pytest.mark.parametrize("method", ["POST", "PATCH", "DELETE"])
def test_throttled_and_failed_writes_are_retried_by_the_core_and_applied(
    kube_fake: KubeFake, sink: KubernetesSink, method: str
) -> None:
    """A create, an update and a prune that first get 429 then 503 are applied on the core's third attempt: the
    client itself retried nothing (three requests, not more)."""
    if method != "POST":
        converge(sink, [desired(sink, "team-a/db", {"k": "one"})])
    items = [] if method == "DELETE" else [desired(sink, "team-a/db", {"k": "two"})]
    changes = plan(sink, items)
    kube_fake.fail_next(method, SECRETS, 429, retry_after=0)
    kube_fake.fail_next(method, SECRETS, 503)
    before = kube_fake.count(method, SECRETS)
    (result,) = apply(sink, changes)
    assert result.ok, result.error
    assert result.attempts == 3
    assert kube_fake.count(method, SECRETS) - before == 3
    assert stored_data(kube_fake, "team-a/db") == (None if method == "DELETE" else {"k": "two"})


def test_a_403_names_the_verb_resource_namespace_and_the_policy_to_grant(kube_fake: KubeFake, tmp_path: Path) -> None:
    """With RBAC that grants nothing in team-b, the LIST there is refused: a PermanentError naming 'list',
    'secrets', the namespace and target, and `syncd policy --target`."""
    kube_fake.add_user("limited-token", "limited")
    kube_fake.load_rbac(
        "apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata: {name: r, namespace: team-a}\n"
        "rules: [{apiGroups: [''], resources: [secrets], verbs: [list, get, create, patch, delete]}]\n---\n"
        "apiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata: {name: r, namespace: team-a}\n"
        "roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: r}\n"
        "subjects: [{kind: User, apiGroup: rbac.authorization.k8s.io, name: limited}]\n"
    )
    sink = sink_for(kube_fake, tmp_path, target="prod-eu", token="limited-token")
    sink.observe([], scope(namespaces=["team-a"]))
    with pytest.raises(PermanentError) as raised:
        sink.observe([], scope(namespaces=["team-a", "team-b"]))
    assert str(raised.value) == (
        "target 'prod-eu': Kubernetes RBAC does not allow syncd to list secrets in namespace 'team-b' of target "
        "'prod-eu'; grant it with the Role `syncd policy --target prod-eu` prints"
    )


ADMISSION_REFUSALS = {
    "quota": 'secrets "db" is forbidden: exceeded quota: secrets-PLANTED-quota-4e1b, requested: secrets=1, '
    "used: secrets=10, limited: secrets=10",
    "terminating": 'secrets "db" is forbidden: unable to create new content in namespace team-a because it is being '
    "terminated",
    "webhook": 'admission webhook "policy.example.com" denied the request: value PLANTED-webhook-7d2c is not allowed',
}


@pytest.mark.parametrize("why", sorted(ADMISSION_REFUSALS))
def test_a_403_from_admission_is_not_blamed_on_rbac(kube_fake: KubeFake, sink: KubernetesSink, why: str) -> None:
    """A create refused with 403 by an admission check (a ResourceQuota, a terminating namespace, a policy webhook)
    is a PermanentError saying it was not RBAC, naming what may have refused it, and quoting none of the server's
    message."""
    kube_fake.fail_next("POST", SECRETS, 403, message=ADMISSION_REFUSALS[why])
    (result,) = apply(sink, plan(sink, [desired(sink, "team-a/db", {"k": "v"})]))
    assert not result.ok
    assert result.error == (
        "target 'k8s', item 'team-a/db': the Kubernetes API server refused to create secrets in namespace 'team-a' "
        "of target 'k8s' (HTTP 403), not by RBAC: an admission check such as a ResourceQuota, a namespace being "
        "deleted or a policy webhook"
    )
    assert "PLANTED" not in result.error


def test_a_token_the_server_rejects_is_a_credentials_error(kube_fake: KubeFake, tmp_path: Path) -> None:
    """An unknown bearer token (401) is a PermanentError saying the credentials were rejected, without the token."""
    sink = sink_for(kube_fake, tmp_path, token="PLANTED-k8s-faults-token-3c9a")
    with pytest.raises(PermanentError) as raised:
        sink.observe([], scope(namespaces=["team-a"]))
    assert "rejected the credentials (HTTP 401)" in str(raised.value)
    assert "PLANTED-k8s-faults-token-3c9a" not in shown(raised.value)


def test_a_422_names_the_causes_fields_and_never_the_value(kube_fake: KubeFake, sink: KubernetesSink) -> None:
    """A create the apiserver refuses as invalid (a key check() would have caught, sent anyway) is a PermanentError
    naming the refused field, and neither the value nor the Status message (which may quote it) shows."""
    item = desired(sink, "team-a/db", {"bad key": PLANTED})
    with pytest.raises(PermanentError) as raised:
        sink.write(item, None, Difference(value=True, added_keys=("bad key",)))
    assert "refused the Secret as invalid: data[bad key]" in str(raised.value)
    assert PLANTED not in shown(raised.value)
    assert kube_fake.secret("team-a", "db") is None


def test_an_unreachable_server_is_transient_and_says_so(tmp_path: Path) -> None:
    """A kubeconfig naming a port nobody listens on gives a TransientError saying the server is unreachable."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    path = tmp_path / "kubeconfig.yaml"
    path.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: c\n"
        f"clusters: [{{name: c, cluster: {{server: 'http://127.0.0.1:{port}'}}}}]\n"
        "users: [{name: u, user: {token: t}}]\ncontexts: [{name: c, context: {cluster: c, user: u}}]\n"
    )
    sink = KubernetesSink("down", KubernetesTargetOptions(kubeconfig=str(path), connect_timeout=2))
    with pytest.raises(TransientError) as raised:
        sink.observe([], scope(namespaces=["team-a"]))
    assert "unreachable" in str(raised.value)


def test_a_server_that_never_answers_times_out_in_the_read_timeout(tmp_path: Path) -> None:
    """A server that accepts the connection and says nothing fails after read_timeout, as a TransientError."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        port = silent.getsockname()[1]
        path = tmp_path / "kubeconfig.yaml"
        path.write_text(
            "apiVersion: v1\nkind: Config\ncurrent-context: c\n"
            f"clusters: [{{name: c, cluster: {{server: 'http://127.0.0.1:{port}'}}}}]\n"
            "users: [{name: u, user: {token: t}}]\ncontexts: [{name: c, context: {cluster: c, user: u}}]\n"
        )
        sink = KubernetesSink("slow", KubernetesTargetOptions(kubeconfig=str(path), read_timeout=0.2))
        with pytest.raises(TransientError) as raised:
            sink.observe([], scope(namespaces=["team-a"]))
    assert "did not answer within 0.2s" in str(raised.value)


def test_every_call_waits_for_the_rate_limiter_and_the_client_retries_nothing(
    kube_fake: KubeFake, tmp_path: Path
) -> None:
    """The connection's limiter is asked once per request, and its client has urllib3 retries off."""

    class Counting(RateLimiter):
        calls = 0

        def acquire(self, operation: str = "request") -> float:
            Counting.calls += 1
            return 0.0

    options = KubernetesTargetOptions(kubeconfig=str(kubeconfig(kube_fake, tmp_path)), context="fake")
    connection = KubernetesSink.connect("k8s", options, limiter=Counting())
    sink = KubernetesSink("k8s", options, connection)
    kube_fake.requests.clear()
    converge(sink, [desired(sink, "team-a/db", {"k": "v"}), desired(sink, "team-b/db", {"k": "v"})])
    assert Counting.calls == len(kube_fake.requests) > 0
    configuration = connection.core().api_client.configuration
    assert configuration.retries is False and not configuration.client_go_retries


def test_a_missing_kubeconfig_or_context_is_named(kube_fake: KubeFake, tmp_path: Path) -> None:
    """A kubeconfig that does not exist, or lacks the context, fails the first call naming it and the contexts."""
    missing = KubernetesSink("k8s", KubernetesTargetOptions(kubeconfig=str(tmp_path / "nope.yaml")))
    with pytest.raises(PermanentError, match=r"nope\.yaml does not exist"):
        missing.observe([], scope(namespaces=["team-a"]))
    path = kubeconfig(kube_fake, tmp_path)
    wrong = KubernetesSink("k8s", KubernetesTargetOptions(kubeconfig=str(path), context="prod"))
    with pytest.raises(PermanentError, match=r"has no context 'prod' \(contexts: 'fake'\)"):
        wrong.observe([], scope(namespaces=["team-a"]))


def test_a_sink_makes_no_call_until_it_observes(kube_fake: KubeFake, tmp_path: Path) -> None:
    """Building a sink and asking its pure hooks (address, flags, shape, check) sends nothing."""
    sink = sink_for(kube_fake, tmp_path)
    item = desired(sink, "team-a/db", {"k": "v"})
    assert sink.check(item) == []
    assert kube_fake.requests == []
    assert actions(plan(sink, [item])) == {"team-a/db": Action.CREATE}


def test_an_invalid_answer_quoting_the_value_shows_only_its_fields_and_reasons() -> None:
    """A 422 whose Status message and causes' messages quote the refused value is translated from the causes'
    field and reason alone; a urllib3 error whose text holds the request is named by its kind alone."""
    import json

    import urllib3
    from kubernetes.client.exceptions import ApiException

    from connectors.kubernetes.errors import Call, translate

    quoted = f'Secret "db" is invalid: metadata.annotations: Invalid value: "{PLANTED}"'
    refused = ApiException(status=422, reason="Unprocessable Entity")
    refused.body = json.dumps(
        {
            "kind": "Status",
            "status": "Failure",
            "reason": "Invalid",
            "message": quoted,
            "details": {
                "causes": [{"field": "metadata.annotations", "reason": "FieldValueInvalid", "message": quoted}]
            },
            "code": 422,
        }
    )
    error = translate(refused, Call("create", "team-a", "db"), "k8s", 30)
    assert str(error) == (
        "target 'k8s', item 'team-a/db': the Kubernetes API refused the Secret as invalid: metadata.annotations "
        "(FieldValueInvalid)"
    )
    broken = urllib3.exceptions.ProtocolError(f"Connection aborted while sending {PLANTED}")
    assert PLANTED not in shown(translate(broken, Call("patch", "team-a", "db"), "k8s", 30))


def test_in_cluster_outside_a_pod_says_what_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    """in_cluster without the pod's service variables fails the first call with one sentence saying what a pod
    provides, and makes no other attempt."""
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    monkeypatch.delenv("KUBERNETES_SERVICE_PORT", raising=False)
    sink = KubernetesSink("in-pod", KubernetesTargetOptions(in_cluster=True))
    with pytest.raises(PermanentError) as raised:
        sink.observe([], scope(namespaces=["team-a"]))
    message = str(raised.value)
    assert message.startswith("target 'in-pod': cannot connect from inside the cluster (in_cluster: true)")
    assert "KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT" in message


def test_in_cluster_tokens_are_registered_bare_with_the_redactor_and_so_is_each_refreshed_one(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The service account token the in-cluster loader reads (it stores "bearer TOKEN") is registered alone with the
    redactor, and so is the new token its refresh hook reads once the old one is a minute old."""
    from kubernetes.config import incluster_config

    token_file, ca_file = tmp_path / "token", tmp_path / "ca.crt"
    token_file.write_text("PLANTED-k8s-sa-token-first-6b2e")
    ca_file.write_text("CA PEM")
    monkeypatch.setattr(incluster_config, "SERVICE_TOKEN_FILENAME", str(token_file))
    monkeypatch.setattr(incluster_config, "SERVICE_CERT_FILENAME", str(ca_file))
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "127.0.0.1")
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", "6443")
    api_client = build_api_client("in-pod", KubernetesTargetOptions(in_cluster=True))
    configuration = api_client.configuration
    assert REDACTOR.redact("token PLANTED-k8s-sa-token-first-6b2e") == "token [REDACTED]"

    token_file.write_text("PLANTED-k8s-sa-token-second-93f1")
    later = datetime.datetime.now() + datetime.timedelta(minutes=2)
    clock = types.SimpleNamespace(datetime=types.SimpleNamespace(now=lambda: later), timedelta=datetime.timedelta)
    monkeypatch.setattr(incluster_config, "datetime", clock)
    for _ in range(2):  # the hook is called before each request; the loader sets it again each time
        assert configuration.get_api_key_with_prefix("BearerToken") == "bearer PLANTED-k8s-sa-token-second-93f1"
    assert REDACTOR.redact("token PLANTED-k8s-sa-token-second-93f1") == "token [REDACTED]"
    token_file.write_text("PLANTED-k8s-sa-token-third-0c7d")
    later += datetime.timedelta(minutes=2)
    configuration.get_api_key_with_prefix("BearerToken")
    assert REDACTOR.redact("token PLANTED-k8s-sa-token-third-0c7d") == "token [REDACTED]"
    api_client.close()


def test_a_token_refreshed_while_requests_run_in_parallel_is_registered_with_the_redactor(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Many threads sending requests while the in-cluster token is refreshed (the loader sets its refresh hook anew
    each time): every token the client sends afterwards is registered, however the threads interleave."""
    from kubernetes.config import incluster_config

    token_file, ca_file = tmp_path / "token", tmp_path / "ca.crt"
    token_file.write_text("PLANTED-k8s-sa-token-start-7a10")
    ca_file.write_text("CA PEM")
    monkeypatch.setattr(incluster_config, "SERVICE_TOKEN_FILENAME", str(token_file))
    monkeypatch.setattr(incluster_config, "SERVICE_CERT_FILENAME", str(ca_file))
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "127.0.0.1")
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", "6443")
    api_client = build_api_client("in-pod", KubernetesTargetOptions(in_cluster=True))
    configuration = api_client.configuration
    later = [datetime.datetime.now()]
    clock = types.SimpleNamespace(datetime=types.SimpleNamespace(now=lambda: later[0]), timedelta=datetime.timedelta)
    monkeypatch.setattr(incluster_config, "datetime", clock)
    switch = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        for round_ in range(20):
            later[0] += datetime.timedelta(minutes=2)
            token_file.write_text(f"PLANTED-k8s-sa-token-round-{round_}-c3")
            threads = [
                threading.Thread(target=lambda: [configuration.get_api_key_with_prefix("BearerToken")] * 20)
                for _ in range(16)
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
    finally:
        sys.setswitchinterval(switch)
    later[0] += datetime.timedelta(minutes=2)
    token_file.write_text("PLANTED-k8s-sa-token-last-5e88")
    assert configuration.get_api_key_with_prefix("BearerToken") == "bearer PLANTED-k8s-sa-token-last-5e88"
    assert REDACTOR.redact("token PLANTED-k8s-sa-token-last-5e88") == "token [REDACTED]"
    api_client.close()


def test_a_client_made_elsewhere_is_made_to_send_each_request_once(
    kube_fake: KubeFake, kube_client: Any, tmp_path: Path
) -> None:
    """An ApiClient handed to connect (tests, embedding) gets urllib3's retries off in its connection pools (the
    pools it had are closed), and the sink works through it."""
    api_client = kube_client(kube_fake)

    def retries() -> Any:
        """What the client's pools retry: urllib3 keeps `retries=False` as Retry(total=False)."""
        given = api_client.rest_client.pool_manager.connection_pool_kw.get("retries")
        return getattr(given, "total", given)

    assert retries() is not False
    kubernetes.client.CoreV1Api(api_client).list_namespaced_secret("team-a")  # a pool holds a connection now
    first_pools = api_client.rest_client.pool_manager
    assert len(first_pools.pools) == 1
    options = KubernetesTargetOptions(kubeconfig=str(kubeconfig(kube_fake, tmp_path)), context="fake")
    sink = KubernetesSink("k8s", options, KubernetesSink.connect("k8s", options, client=api_client))
    assert retries() is False
    assert len(first_pools.pools) == 0, "the pools replaced are closed, not left to the collector"
    converge(sink, [desired(sink, "team-a/db", {"k": "v"})])
    assert stored_data(kube_fake, "team-a/db") == {"k": "v"}


def test_an_expired_list_continuation_is_transient(kube_fake: KubeFake, sink: KubernetesSink) -> None:
    """A 410 Gone to a LIST (its continue token expired) is transient: the core lists again from the start."""
    kube_fake.fail_next("GET", SECRETS, 410)
    with pytest.raises(TransientError) as raised:
        sink.observe([], scope(namespaces=["team-a"]))
    assert "expired before its last page (HTTP 410)" in str(raised.value)


def test_the_connection_pool_holds_every_request_in_flight(kube_fake: KubeFake, sink: KubernetesSink) -> None:
    """The ApiClient built from the kubeconfig keeps at least 16 connections, more than the sink has in flight."""
    assert sink.connection.core().api_client.configuration.connection_pool_maxsize >= 16
