"""The `kubernetes` connector: a sink writing Kubernetes Secrets, in several namespaces of one cluster per target,
through the official client (imported on the first call, so `validate` and `syncd policy` load none of it).
docs/connectors.md (`kubernetes`) says what each module holds.
"""

from __future__ import annotations

from connectors.kubernetes.options import KubernetesDestination, KubernetesTargetOptions
from connectors.kubernetes.sink import KubernetesSink
from syncd.connector import ConnectorSpec

__all__ = ["KubernetesDestination", "KubernetesSink", "KubernetesTargetOptions", "spec"]

spec = ConnectorSpec(
    name="kubernetes",
    summary="Kubernetes Secrets in the namespaces of a cluster (kubeconfig or in-cluster), label-owned.",
    sink=KubernetesSink,
)
