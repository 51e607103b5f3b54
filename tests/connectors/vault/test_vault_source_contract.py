"""The `vault` source against a real OpenBao passes the source contract, on KV v2 and on KV v1."""

from __future__ import annotations

import hvac
import pytest

from connectors.vault import VaultSource
from syncd.testing import contract
from tests.connectors.vault.vault_support import ensure_kv1, make_source
from tests.fakes.openbao import OpenBaoServer

if not hasattr(contract, "SourceContract"):  # the testing kit's SourceContract is merged separately
    pytest.skip("syncd.testing.contract has no SourceContract yet", allow_module_level=True)


class TestVaultKv2SourceContract(contract.SourceContract):
    # One shared server per worker: each test gets paths of its own below `vault_prefix`.
    @pytest.fixture
    def source(self, openbao: OpenBaoServer, vault_prefix: str) -> VaultSource:
        self.folder = f"{vault_prefix}/app"
        self.paths = tuple(f"{vault_prefix}/app/{name}" for name in ("alpha", "beta", "nested/gamma"))
        self.outside = (f"{vault_prefix}/apparel/delta", f"{vault_prefix}/other/epsilon")
        self.missing = f"{vault_prefix}/app/missing"
        return make_source(openbao, kv_version=2)

    @pytest.fixture
    def plant(self, openbao: OpenBaoServer) -> contract.Plant:
        root = openbao.client()
        return lambda path, data: root.secrets.kv.v2.create_or_update_secret(path, dict(data))


class TestVaultKv1SourceContract(TestVaultKv2SourceContract):
    @pytest.fixture
    def source(self, openbao: OpenBaoServer, vault_prefix: str) -> VaultSource:
        self.folder = f"{vault_prefix}/app"
        self.paths = tuple(f"{vault_prefix}/app/{name}" for name in ("alpha", "beta", "nested/gamma"))
        self.outside = (f"{vault_prefix}/apparel/delta", f"{vault_prefix}/other/epsilon")
        self.missing = f"{vault_prefix}/app/missing"
        return make_source(openbao, mount=ensure_kv1(openbao.client()), kv_version=1)

    @pytest.fixture
    def plant(self, openbao: OpenBaoServer) -> contract.Plant:
        root: hvac.Client = openbao.client()
        mount = ensure_kv1(root)
        return lambda path, data: root.secrets.kv.v1.create_or_update_secret(path, dict(data), mount_point=mount)
