"""Options of the `kubernetes` sink: how to reach a cluster (a kubeconfig and context, or in-cluster), and the
`to` entry's Destination (namespace, Secret type, labels and annotations), both checked at manifest load."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from connectors.kubernetes import rules
from connectors.kubernetes.secret_types import DOCKER_CONFIG_JSON, SecretType
from syncd.connector import MARKER_PREFIX, Options, path_field

MANAGED_BY = "app.kubernetes.io/managed-by"
MANAGED_BY_VALUE = "syncd"


class RbacSubject(Options):
    """Who `syncd policy` binds the Role to: syncd's service account (or a user or group) in the cluster."""

    kind: Literal["ServiceAccount", "User", "Group"] = "ServiceAccount"
    name: str = Field("syncd", min_length=1)
    # The service account's namespace; users and groups have none.
    namespace: str | None = "syncd"

    @model_validator(mode="after")
    def _namespace(self) -> RbacSubject:
        if self.kind == "ServiceAccount" and not self.namespace:
            raise ValueError("a ServiceAccount subject needs its namespace")
        if self.namespace and not rules.is_dns1123_label(self.namespace):
            raise ValueError(f"rbac_subject.namespace {self.namespace!r} is not {rules.LABEL_RULE}")
        return self


class KubernetesTargetOptions(Options):
    """One cluster: through a kubeconfig file (and one of its contexts), or from inside a pod (`in_cluster`)."""

    # Made relative to the manifest's folder by the core.
    kubeconfig: str | None = path_field(default=None)
    # A context of the kubeconfig; its current-context when not given.
    context: str | None = Field(None, min_length=1)
    # The pod's service account: its token and CA from their standard files, the API server's address from the
    # KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT variables Kubernetes sets in every pod.
    in_cluster: bool = False
    connect_timeout: float = Field(5.0, gt=0, le=120)
    read_timeout: float = Field(30.0, gt=0, le=600)
    # Secrets per LIST page.
    page_size: int = Field(500, ge=1, le=5000)
    rbac_subject: RbacSubject = RbacSubject()

    @model_validator(mode="after")
    def _one_way_in(self) -> KubernetesTargetOptions:
        if self.in_cluster and (self.kubeconfig or self.context):
            raise ValueError("in_cluster: true takes no kubeconfig or context; give one way to reach the cluster")
        if not self.in_cluster and not self.kubeconfig:
            raise ValueError("give kubeconfig (a kubeconfig file, with an optional context) or in_cluster: true")
        return self


class KubernetesDestination(Options):
    """Where a sync's Secret goes in the cluster, and what it is: the rest of its `to` entry."""

    namespace: str
    type: SecretType = "Opaque"
    # The user's own labels and annotations, written and compared key by key; others on the Secret are left alone.
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)
    immutable: bool = False
    # kubernetes.io/dockerconfigjson: the registry server and the source keys its credentials come from. Without a
    # registry, the source must hold `.dockerconfigjson` itself.
    registry: str | None = Field(None, min_length=1)
    username_key: str = Field("username", min_length=1)
    password_key: str = Field("password", min_length=1)
    email_key: str | None = Field(None, min_length=1)

    @field_validator("namespace")
    @classmethod
    def _namespace(cls, value: str) -> str:
        if not rules.is_dns1123_label(value):
            raise ValueError(f"namespace {value!r} is not {rules.LABEL_RULE}")
        return value

    @field_validator("labels")
    @classmethod
    def _labels(cls, labels: dict[str, str]) -> dict[str, str]:
        if MANAGED_BY in labels:
            raise ValueError(f"label {MANAGED_BY!r} is reserved: syncd marks the Secrets it writes with it")
        _refuse_reserved(labels, "label")
        problems = rules.label_problems(labels)
        if problems:
            raise ValueError("; ".join(problems))
        return labels

    @field_validator("annotations")
    @classmethod
    def _annotations(cls, annotations: dict[str, str]) -> dict[str, str]:
        _refuse_reserved(annotations, "annotation")
        problems = rules.annotation_problems(annotations)
        if problems:
            raise ValueError("; ".join(problems))
        return annotations

    @model_validator(mode="after")
    def _registry(self) -> KubernetesDestination:
        keys = [f for f in ("username_key", "password_key", "email_key") if f in self.model_fields_set]
        if self.type != DOCKER_CONFIG_JSON:
            given = ["registry"] if self.registry is not None else []
            if given + keys:
                raise ValueError(f"{(given + keys)[0]} applies only to type {DOCKER_CONFIG_JSON}")
        elif keys and self.registry is None:
            raise ValueError(f"{keys[0]} needs registry: the credentials are built into .dockerconfigjson for it")
        return self


def _refuse_reserved(keys: dict[str, str], what: str) -> None:
    reserved = sorted(key for key in keys if key.startswith(MARKER_PREFIX))
    if reserved:
        raise ValueError(f"{what} {reserved[0]!r} is reserved: syncd keeps its ownership marker under {MARKER_PREFIX}")
