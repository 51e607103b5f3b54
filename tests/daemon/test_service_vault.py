"""The daemon keeps its connections across ticks: a Vault (OpenBao) source with AppRole auth logs in once and reads
on every run after."""

from __future__ import annotations

from pathlib import Path

from syncd.daemon.service import Daemon
from tests.connectors.vault.vault_support import approle_for
from tests.daemon.process import wait_until
from tests.daemon.service_support import env_file, last_run, make_workdir, serving
from tests.fakes.openbao import OpenBaoServer, openbao, vault_prefix

__all__ = ["openbao", "vault_prefix"]

MANIFEST = """\
version: 1
instance: svc
defaults: {{schedule: 1s}}
source:
  type: vault
  address: {address}
  auth: {{method: approle, role_id: "${{env:SVC_ROLE_ID}}", secret_id: "${{env:SVC_SECRET_ID}}"}}
targets:
  app-env: {{type: dotenv, path: out/app.env}}
syncs:
  - name: db
    from: {prefix}/db
    to:
      - target: app-env
        name: "DB_{{key|env}}"
"""


def _logins(daemon: Daemon) -> float:
    labels = {"connector": "vault", "target": "source", "operation": "login"}
    return daemon.metrics.registry.get_sample_value("syncd_api_calls_total", labels) or 0.0


def test_a_vault_source_logs_in_once_across_ticks(openbao: OpenBaoServer, vault_prefix: str, tmp_path: Path) -> None:
    """Several scheduled runs, each reading a value rotated since the last, make one AppRole login between them."""
    root = openbao.client()
    root.secrets.kv.v2.create_or_update_secret(path=f"{vault_prefix}/db", secret={"password": "pw-vault-0"})
    role_id, secret_id = approle_for(
        root,
        f'path "secret/data/{vault_prefix}/*" {{ capabilities = ["read"] }}\n'
        f'path "secret/metadata/{vault_prefix}/*" {{ capabilities = ["read", "list"] }}\n',
    )
    work = make_workdir(tmp_path, MANIFEST.format(address=openbao.address, prefix=vault_prefix))
    env = {"SVC_ROLE_ID": role_id, "SVC_SECRET_ID": secret_id}
    with serving(work.options(), env=env) as running:
        daemon = running.daemon
        wait_until(lambda: "pw-vault-0" in env_file(work.root), "the first run")
        for number in (1, 2, 3):
            root.secrets.kv.v2.create_or_update_secret(
                path=f"{vault_prefix}/db", secret={"password": f"pw-vault-{number}"}
            )
            wait_until(lambda n=number: f"pw-vault-{n}" in env_file(work.root), f"run {number} after the first")
        wait_until(lambda: (last_run(daemon, "db") or {}).get("result") == "ok", "the last run's outcome")
        assert _logins(daemon) == 1
        reads = [
            s.value
            for metric in daemon.metrics.registry.collect()
            for s in metric.samples
            if s.name == "syncd_api_calls_total"
            and s.labels.get("target") == "source"
            and s.labels["operation"] != "login"
        ]
        assert sum(reads) >= 4
