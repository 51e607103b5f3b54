"""`syncd vault-policy`: the printed HCL is enough for a real run, and no more than the manifest needs.

The proof is on the real OpenBao server: the printed policies are loaded, a token holding only them (not even
Vault's `default` policy) runs plan, apply, a prune and a clean plan, and a token missing the target's policy is
refused with a permission error naming the path.
"""

from __future__ import annotations

import functools
import textwrap
from pathlib import Path

import hvac
import pytest

from connectors import vault
from connectors.vault.options import VaultSinkOptions, VaultSourceOptions
from connectors.vault.policy import sink_policy, source_policy
from syncd import apply, engine
from syncd import run as run_service
from syncd.cli import main
from syncd.registry import Registry
from tests.conftest import FAST_RETRY
from tests.fakes.openbao import OpenBaoServer

MANIFEST = """
version: 1
instance: policy-test
defaults: {{prune: true}}
source: {{type: vault, address: "{address}", kv_version: 2, auth: {{method: token, token: "${{env:TOKEN}}"}}}}
targets:
  mirror:
    type: vault
    address: "{address}"
    prefix: {prefix}/mirror
    auth: {{method: token, token: "${{env:TOKEN}}"}}
syncs:
  - name: apps
    from: {prefix}/apps/
    to: [{{target: mirror, name: "apps/{{relpath}}"}}]
  - name: db
    from: {prefix}/db
    to: [{{target: mirror, name: db}}]
"""


@pytest.fixture(autouse=True)
def fast_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(run_service, "make_plan", functools.partial(engine.make_plan, retry=FAST_RETRY))
    monkeypatch.setattr(run_service, "apply_plan", functools.partial(apply.apply_plan, retry=FAST_RETRY))


def run(capsys: pytest.CaptureFixture[str], token: str, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv), registry=Registry({"vault": vault.spec}), env={"TOKEN": token})
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def token_with(root: hvac.Client, *policies: str) -> str:
    answer = root.auth.token.create(policies=list(policies), no_default_policy=True, ttl="10m")
    return answer["auth"]["client_token"]


def test_the_printed_policies_are_enough_for_plan_apply_and_prune(
    openbao: OpenBaoServer, vault_prefix: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = openbao.client()
    for name, data in {"apps/api": {"TOKEN": "t-1"}, "apps/web": {"KEY": "k-1"}, "db": {"PASSWORD": "p-1"}}.items():
        root.secrets.kv.v2.create_or_update_secret(path=f"{vault_prefix}/{name}", secret=data)
    manifest = tmp_path / "syncd.yaml"
    manifest.write_text(textwrap.dedent(MANIFEST.format(address=openbao.address, prefix=vault_prefix)))

    code, source_hcl, err = run(capsys, "unused", "vault-policy", "-c", str(manifest), "--source")
    assert code == 0, err
    code, target_hcl, err = run(capsys, "unused", "vault-policy", "-c", str(manifest), "--target", "mirror")
    assert code == 0, err
    code, both, _ = run(capsys, "unused", "vault-policy", "-c", str(manifest))
    assert both == source_hcl + "\n" + target_hcl
    # The target's KV version is detected at run time (kv_version: auto), which the policy allows.
    assert "KV version 2 assumed" in target_hcl and "assumed" not in source_hcl
    root.sys.create_or_update_policy(name=f"{vault_prefix}-source", policy=source_hcl)
    root.sys.create_or_update_policy(name=f"{vault_prefix}-target", policy=target_hcl)

    # The source's policy alone reads, but cannot write the target: a permission error that names the path.
    reader = token_with(root, f"{vault_prefix}-source")
    code, out, err = run(capsys, reader, "apply", "-c", str(manifest), "--yes")
    assert code == 1
    assert "permission denied" in out + err and f"{vault_prefix}/mirror" in out + err

    token = token_with(root, f"{vault_prefix}-source", f"{vault_prefix}-target")
    assert run(capsys, token, "plan", "-c", str(manifest), "--detailed-exitcode")[0] == 2
    code, out, err = run(capsys, token, "apply", "-c", str(manifest), "--yes")
    assert code == 0, out + err
    mirrored = root.secrets.kv.v2.read_secret_version(
        path=f"{vault_prefix}/mirror/apps/web", raise_on_deleted_version=True
    )
    assert mirrored["data"]["data"] == {"KEY": "k-1"}
    root.secrets.kv.v2.delete_metadata_and_all_versions(path=f"{vault_prefix}/apps/web")
    code, out, err = run(capsys, token, "apply", "-c", str(manifest), "--yes")
    assert code == 0, out + err
    assert "1 applied, 0 failed." in out
    code, out, err = run(capsys, token, "plan", "-c", str(manifest), "--detailed-exitcode")
    assert code == 0, out + err


def options(**extra: object) -> dict[str, object]:
    return {"address": "https://vault.example.com", "auth": {"method": "token", "token": "x"}, **extra}


def test_kv_v2_source_rules_read_data_and_list_metadata_below_prefixes() -> None:
    """A KV v2 source reads data only; below a prefix it lists, with and without the children's metadata."""
    hcl = source_policy(VaultSourceOptions.model_validate(options(kv_version=2)), ["apps/*", "db"])
    assert 'path "secret/data/apps/*" { capabilities = ["read"] }' in hcl
    assert 'path "secret/metadata/apps/*" { capabilities = ["list"] }' in hcl
    assert 'path "secret/detailed-metadata/apps/*" { capabilities = ["list"] }' in hcl
    assert 'path "secret/data/db" { capabilities = ["read"] }' in hcl
    assert "secret/metadata/db" not in hcl and "assumed" not in hcl


def test_kv_v2_sink_rules_repeat_list_and_read_on_every_item_path() -> None:
    """Vault applies the most specific matching path alone, so each item rule must keep list and read."""
    hcl = sink_policy(VaultSinkOptions.model_validate(options(prefix="syncd/prod")), ["syncd/prod/apps/*"])
    assert 'path "secret/metadata/syncd/prod/*" { capabilities = ["list", "read"] }' in hcl
    assert 'path "secret/metadata/syncd/prod/apps/*" { capabilities = ["create", "list", "read", "update"] }' in hcl
    assert 'path "secret/delete/syncd/prod/apps/*" { capabilities = ["update"] }' in hcl
    assert "# KV version 2 assumed (kv_version: auto)" in hcl
    destroying = sink_policy(
        VaultSinkOptions.model_validate(options(prefix="syncd/prod", destroy_on_delete=True)), ["syncd/prod/x"]
    )
    assert '"create", "list", "read", "update", "delete"' in destroying


def test_kv_v1_rules_and_namespace() -> None:
    sink = VaultSinkOptions.model_validate(options(prefix="", kv_version=1, mount="kv", namespace="team-a"))
    hcl = sink_policy(sink, ["apps/db"])
    assert 'path "kv/*" { capabilities = ["list", "read"] }' in hcl
    assert 'path "kv/apps/db" { capabilities = ["create", "delete", "list", "read", "update"] }' in hcl
    assert "# Write this policy in namespace team-a." in hcl
    assert "data/" not in hcl


def test_bad_selections_are_one_clear_error_and_print_nothing(
    openbao: OpenBaoServer, vault_prefix: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = tmp_path / "syncd.yaml"
    manifest.write_text(textwrap.dedent(MANIFEST.format(address=openbao.address, prefix=vault_prefix)))
    cases = [
        (["--target", "mirorr"], "--target 'mirorr' is not a target of the manifest"),
        (["--target", "mirror", "--source"], "give one of them"),
    ]
    for argv, message in cases:
        code, out, err = run(capsys, "unused", "vault-policy", "-c", str(manifest), *argv)
        assert (code, out) == (1, "")
        assert err.count("error:") == 1 and message in err


def test_a_manifest_without_vault_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from connectors import local

    (tmp_path / "secrets.yaml").write_text("db: {K: v}\n")
    manifest = tmp_path / "syncd.yaml"
    manifest.write_text(
        "version: 1\ninstance: t\nsource: {type: file, path: secrets.yaml}\n"
        "targets: {env: {type: dotenv, path: out.env}}\nsyncs: [{name: db, from: db, to: [{target: env}]}]\n"
    )
    registry = Registry({"file": local.file_spec, "dotenv": local.dotenv_spec})
    assert main(["vault-policy", "-c", str(manifest)], registry=registry) == 1
    err = capsys.readouterr().err
    assert "neither the source nor any target of the manifest is governed by Vault policies" in err
    assert main(["vault-policy", "-c", str(manifest), "--target", "env"], registry=registry) == 1
    assert "target 'env' uses connector 'dotenv', which Vault does not govern" in capsys.readouterr().err
    assert not (tmp_path / "out.env").exists()
