"""The `kubernetes` connector: a sink writing Kubernetes Secrets, in several namespaces of one cluster per target,
through the official client (imported on the first call, so `validate` and `syncd policy` load none of it).
docs/connectors.md (`kubernetes`) says what each module holds.
"""

from __future__ import annotations

from connectors.kubernetes.options import KubernetesDestination, KubernetesTargetOptions
from connectors.kubernetes.sink import KubernetesSink
from syncd.connector import ConnectorSpec, Elector, LeaderElection

__all__ = ["KubernetesDestination", "KubernetesSink", "KubernetesTargetOptions", "spec"]


def leader_elector(election: LeaderElection) -> Elector:
    """A Lease elector for `syncd run --leader-elect` (the client is imported only then)."""
    from connectors.kubernetes.leader import elector_for

    return elector_for(election)


spec = ConnectorSpec(
    name="kubernetes",
    summary="Kubernetes Secrets in the namespaces of a cluster (kubeconfig or in-cluster), label-owned.",
    sink=KubernetesSink,
    leader_elector=leader_elector,
)
