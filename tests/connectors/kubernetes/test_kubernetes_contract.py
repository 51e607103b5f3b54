"""The sink contract, run against the `kubernetes` sink on a fake cluster over real HTTP."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from connectors.kubernetes import KubernetesDestination, KubernetesSink
from syncd.connector import Scope
from syncd.model import ActualItem
from syncd.testing.contract import OWNER, PlantUnowned, SinkContract
from tests.connectors.kubernetes.kube_support import NAMESPACES, encoded, scope, sink_for
from tests.fakes.kubernetes import KubeFake


class TestKubernetesSinkContract(SinkContract):
    # Two namespaces: one target writes several.
    addresses = ("team-a/alpha", "team-a/beta", "team-b/gamma")
    destination = KubernetesDestination(namespace="team-a")

    @pytest.fixture
    def sink(self, kube_fake: KubeFake, tmp_path: Path) -> KubernetesSink:
        return sink_for(kube_fake, tmp_path, target="contract")

    @pytest.fixture
    def plant_unowned(self, kube_fake: KubeFake) -> PlantUnowned:
        def plant(address: str, data: object) -> None:
            namespace, _, name = address.partition("/")
            metadata = {"name": name, "namespace": namespace}
            kube_fake.put_object({"kind": "Secret", "metadata": metadata, "type": "Opaque", "data": encoded(data)})  # type: ignore[arg-type]

        return plant

    # The whole target, for the contract, is every namespace its addresses use: the sink lists namespace by
    # namespace and never cluster-wide, so a scope of '*' names none.

    def read(self, sink: KubernetesSink, addresses: Sequence[str]) -> dict[str, ActualItem]:  # type: ignore[override]
        desired = [self.desired_item(sink, address) for address in addresses]
        return dict(sink.observe(desired, scope(OWNER.instance, NAMESPACES)).items)

    def owned(  # type: ignore[override]
        self, sink: KubernetesSink, instance: str, scope_: Scope | None = None
    ) -> dict[str, ActualItem]:
        return dict(sink.observe([], scope_ or scope(instance, NAMESPACES)).owned)
