"""The `kubernetes` sink against a real cluster: runs only when SYNCD_E2E_KUBECONFIG names a kubeconfig (a kind
cluster, see docs/connectors.md), skipped otherwise. It works in a namespace of its own, deleted at the end."""

from __future__ import annotations

import base64
import os
import uuid
from collections.abc import Iterator

import pytest

from connectors.kubernetes import KubernetesSink, KubernetesTargetOptions
from syncd.errors import ItemMoved
from syncd.model import Action
from tests.connectors.kubernetes.kube_support import actions, converge, desired, plan

KUBECONFIG = os.environ.get("SYNCD_E2E_KUBECONFIG")
CONTEXT = os.environ.get("SYNCD_E2E_CONTEXT") or None

pytestmark = pytest.mark.skipif(not KUBECONFIG, reason="set SYNCD_E2E_KUBECONFIG to a cluster's kubeconfig (kind)")


@pytest.fixture
def namespace() -> Iterator[str]:
    """A fresh namespace, deleted at the end."""
    from kubernetes import client, config

    api = client.CoreV1Api(config.new_client_from_config(config_file=KUBECONFIG, context=CONTEXT))
    name = f"syncd-e2e-{uuid.uuid4().hex[:8]}"
    api.create_namespace({"metadata": {"name": name}})
    yield name
    api.delete_namespace(name)


def read(sink: KubernetesSink, namespace: str, name: str) -> dict | None:
    from kubernetes.client.exceptions import ApiException

    try:
        secret = sink.connection.core().read_namespaced_secret(name, namespace)
    except ApiException as exc:
        if exc.status == 404:
            return None
        raise
    return {"type": secret.type, "immutable": secret.immutable, "data": secret.data, "labels": secret.metadata.labels}


def test_a_real_cluster_converges_updates_recreates_and_prunes(namespace: str) -> None:
    """On a real apiserver: create two Secrets (one immutable TLS), a clean plan, an update by conditional patch, a
    recreate of the immutable one, and a prune, each as planned."""
    sink = KubernetesSink("e2e", KubernetesTargetOptions(kubeconfig=KUBECONFIG, context=CONTEXT))
    app = desired(sink, f"{namespace}/app", {"password": "one"}, labels={"team": "e2e"})
    tls = desired(
        sink, f"{namespace}/tls", {"tls.crt": "cert-1", "tls.key": "key-1"}, type="kubernetes.io/tls", immutable=True
    )
    converge(sink, [app, tls], namespaces=[namespace])
    assert actions(plan(sink, [app, tls], namespaces=[namespace])) == {
        app.address: Action.NOOP,
        tls.address: Action.NOOP,
    }
    found = read(sink, namespace, "app")
    assert found is not None and found["labels"]["app.kubernetes.io/managed-by"] == "syncd"
    assert base64.b64decode(found["data"]["password"]).decode() == "one"

    app2 = desired(sink, f"{namespace}/app", {"password": "two"}, labels={"team": "e2e"})
    tls2 = desired(
        sink,
        f"{namespace}/tls",
        {"tls.crt": "cert-2", "tls.key": "key-2"},
        type="kubernetes.io/tls",
        immutable=True,
        recreate=True,
    )
    converge(sink, [app2, tls2], namespaces=[namespace])
    assert base64.b64decode(read(sink, namespace, "app")["data"]["password"]).decode() == "two"  # type: ignore[index]
    assert base64.b64decode(read(sink, namespace, "tls")["data"]["tls.crt"]).decode() == "cert-2"  # type: ignore[index]

    changes = plan(sink, [app2], namespaces=[namespace])
    assert actions(changes) == {app2.address: Action.NOOP, tls2.address: Action.DELETE}
    converge(sink, [app2], namespaces=[namespace])
    assert read(sink, namespace, "tls") is None


def test_a_real_cluster_refuses_a_stale_write_and_a_stale_delete(namespace: str) -> None:
    """On a real apiserver: an update planned before another writer edited the Secret, and a prune planned before
    another writer labelled it, each raise ItemMoved and leave the other writer's change in place."""
    sink = KubernetesSink("e2e", KubernetesTargetOptions(kubeconfig=KUBECONFIG, context=CONTEXT))
    core = sink.connection.core()
    converge(sink, [desired(sink, f"{namespace}/app", {"password": "one"})], namespaces=[namespace])

    (update,) = plan(sink, [desired(sink, f"{namespace}/app", {"password": "two"})], namespaces=[namespace])
    assert update.action is Action.UPDATE and update.desired is not None and update.difference is not None
    edited = base64.b64encode(b"edited by another writer").decode()
    core.patch_namespaced_secret("app", namespace, {"data": {"password": edited}})
    with pytest.raises(ItemMoved):
        sink.write(update.desired, update.actual, update.difference)
    assert read(sink, namespace, "app")["data"]["password"] == edited  # type: ignore[index]

    (prune,) = plan(sink, [], namespaces=[namespace])
    assert prune.action is Action.DELETE and prune.actual is not None
    core.patch_namespaced_secret("app", namespace, {"metadata": {"labels": {"edited": "yes"}}})
    with pytest.raises(ItemMoved):
        sink.delete(prune.actual)
    assert read(sink, namespace, "app")["labels"]["edited"] == "yes"  # type: ignore[index]
