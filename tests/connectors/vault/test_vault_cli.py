"""The `vault` connector end to end through the command line, against real OpenBao servers: Vault to Vault
converges, a server that stops mid-run changes nothing and says so, an edit made between plan and apply is kept,
and no planted value or token reaches any output, even with the redactor switched off."""

from __future__ import annotations

import functools
import json
import textwrap
import threading
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import hvac
import pytest

from connectors import dotenv_sink, vault
from syncd import apply, engine
from syncd import run as run_service
from syncd.cli import main
from syncd.registry import Registry
from tests.conftest import FAST_RETRY
from tests.fakes.openbao import CountingSession, OpenBaoServer
from tests.leakscan import redactor_off

Run = Callable[..., tuple[int, str, str]]


@pytest.fixture(autouse=True)
def fast_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI's plan and apply, retrying transient errors without waiting."""
    monkeypatch.setattr(run_service, "make_plan", functools.partial(engine.make_plan, retry=FAST_RETRY))
    monkeypatch.setattr(run_service, "apply_plan", functools.partial(apply.apply_plan, retry=FAST_RETRY))


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str]) -> Run:
    """`main` with a registry holding vault and dotenv; returns (exit code, stdout, stderr)."""

    def run_main(
        *argv: str, clients: dict[str, Any] | None = None, env: dict[str, str] | None = None
    ) -> tuple[int, str, str]:
        registry = Registry({"vault": vault.spec, "dotenv": dotenv_sink.spec})
        code = main(list(argv), registry=registry, clients=clients, env=env or {"VAULT_TOKEN": "root"})
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return run_main


def vault_options(server: OpenBaoServer, token: str = "${env:VAULT_TOKEN}", **extra: str) -> str:
    fields = {"type": "vault", "address": server.address, "auth": {"method": "token", "token": token}}
    return json.dumps({**fields, **extra})


def write_manifest(tmp_path: Path, source: str, targets: dict[str, str], syncs: str, prune: bool = True) -> str:
    path = tmp_path / "syncd.yaml"
    lines = [f"  {name}: {options}" for name, options in targets.items()]
    path.write_text(
        f"version: 1\ninstance: cli-test\ndefaults: {{prune: {str(prune).lower()}}}\nsource: {source}\n"
        "targets:\n" + "\n".join(lines) + "\nsyncs:\n" + textwrap.indent(textwrap.dedent(syncs), "  ")
    )
    return str(path)


def live_data(client: hvac.Client, path: str) -> dict[str, str] | None:
    try:
        answer = client.secrets.kv.v2.read_secret_version(path, raise_on_deleted_version=True)
    except hvac.exceptions.InvalidPath:
        return None
    return answer["data"]["data"]


def test_vault_to_vault_plan_apply_then_no_drift(
    openbao: OpenBaoServer, openbao_other: OpenBaoServer, vault_prefix: str, tmp_path: Path, run: Run
) -> None:
    """plan shows the creates, apply writes them with the marker, the next plan is clean; a change in the source
    is an update, and a secret deleted from a synced folder is pruned (soft-deleted) from the target."""
    source, target = openbao.client(), openbao_other.client()
    p = vault_prefix
    source.secrets.kv.v2.create_or_update_secret(f"{p}/apps/payments/db", {"username": "app", "password": "pw1"})
    source.secrets.kv.v2.create_or_update_secret(f"{p}/apps/shared/x", {"X": "1"})
    source.secrets.kv.v2.create_or_update_secret(f"{p}/apps/shared/deep/y", {"Y": "2"})
    manifest = write_manifest(
        tmp_path,
        vault_options(openbao),
        {"copy": vault_options(openbao_other, prefix=f"{p}/synced")},
        f"""
        - name: payments-db
          from: {p}/apps/payments/db
          keys: {{username: DB_USER, password: DB_PASSWORD}}
          to: [{{target: copy, name: payments/db}}]
        - name: shared
          from: {p}/apps/shared/
          to: [{{target: copy, name: "shared/{{relpath}}"}}]
        """,
    )
    code, out, err = run("plan", "-c", manifest, "--detailed-exitcode")
    assert code == 2, err
    assert "3 to create, 0 to update, 0 to delete, 0 conflicts" in out
    code, out, err = run("apply", "-c", manifest, "--yes")
    assert code == 0, out + err
    assert live_data(target, f"{p}/synced/payments/db") == {"DB_USER": "app", "DB_PASSWORD": "pw1"}
    assert live_data(target, f"{p}/synced/shared/deep/y") == {"Y": "2"}
    meta = target.secrets.kv.v2.read_secret_metadata(f"{p}/synced/payments/db")["data"]
    assert meta["custom_metadata"] == {
        "syncd.io/instance": "cli-test",
        "syncd.io/sync": "payments-db",
        "syncd.io/version": "1",
    }
    code, out, _ = run("plan", "-c", manifest, "--detailed-exitcode")
    assert code == 0 and "No changes" in out

    source.secrets.kv.v2.create_or_update_secret(f"{p}/apps/payments/db", {"username": "app", "password": "pw2"})
    source.secrets.kv.v2.delete_latest_version_of_secret(f"{p}/apps/shared/x")
    code, out, err = run("apply", "-c", manifest, "--yes")
    assert code == 0, out + err
    assert "0 to create, 1 to update, 1 to delete" in out
    assert live_data(target, f"{p}/synced/payments/db") == {"DB_USER": "app", "DB_PASSWORD": "pw2"}
    assert live_data(target, f"{p}/synced/shared/x") is None
    assert run("plan", "-c", manifest, "--detailed-exitcode")[0] == 0


def test_a_source_that_stops_mid_run_changes_nothing(
    fresh_openbao: OpenBaoServer, vault_prefix: str, tmp_path: Path, run: Run
) -> None:
    """The source server stops after the first secret of a folder is read: the sync fails, naming the server,
    and its target is not written at all."""
    root = fresh_openbao.client()
    for name in ("a", "b", "c"):
        root.secrets.kv.v2.create_or_update_secret(f"apps/{name}", {"KEY": name})
    session = CountingSession()
    lock = threading.Lock()

    def stop_after_first_read(call: str) -> None:
        with lock:
            if call.startswith("GET secret/data/") and session.count("GET", "secret/data/") == 2:
                fresh_openbao.kill()

    session.before = stop_after_first_read
    client = hvac.Client(url=fresh_openbao.address, token="", session=session)
    env_file = tmp_path / "out.env"
    manifest = write_manifest(
        tmp_path,
        vault_options(fresh_openbao),
        {"env": json.dumps({"type": "dotenv", "path": str(env_file)})},
        """
        - name: apps
          from: apps/
          to: [{target: env, name: "{relpath|env}_{key}"}]
        """,
    )
    code, out, err = run("apply", "-c", manifest, "--yes", clients={"source": client})
    assert code == 1
    assert f"Vault at {fresh_openbao.address} is unreachable" in out + err
    assert not env_file.exists()


def test_a_target_that_stops_before_apply_reports_each_change(
    openbao: OpenBaoServer, fresh_openbao: OpenBaoServer, vault_prefix: str, tmp_path: Path, run: Run,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    """The target server stops between plan and apply: every change fails with the transient error, after
    its retries, and the run exits 1."""
    for name in ("a", "b"):
        openbao.client().secrets.kv.v2.create_or_update_secret(f"{vault_prefix}/{name}", {"k": name})
    manifest = write_manifest(
        tmp_path,
        vault_options(openbao),
        {"dead": vault_options(fresh_openbao, prefix="syncd")},
        f"""
        - name: all
          from: {vault_prefix}/
          to: [{{target: dead}}]
        """,
    )
    real_apply = run_service.apply_plan

    def stop_then_apply(*args: Any, **kwargs: Any) -> Any:
        fresh_openbao.kill()
        return real_apply(*args, **kwargs)

    monkeypatch.setattr(run_service, "apply_plan", stop_then_apply)
    code, out, _ = run("apply", "-c", manifest, "--yes")
    assert code == 1
    assert "0 applied, 2 failed." in out
    assert out.count(f"Vault at {fresh_openbao.address} is unreachable (connection failed)") == 2


def test_an_edit_between_plan_and_apply_is_kept(
    openbao: OpenBaoServer, openbao_other: OpenBaoServer, vault_prefix: str, tmp_path: Path, run: Run,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    """Check-and-set through apply: a hand edit made after the plan fails that change, asking for a new plan."""
    address = f"{vault_prefix}/out/db"
    openbao.client().secrets.kv.v2.create_or_update_secret(f"{vault_prefix}/db", {"k": "v1"})
    manifest = write_manifest(
        tmp_path,
        vault_options(openbao),
        {"copy": vault_options(openbao_other, prefix=f"{vault_prefix}/out")},
        f"""
        - name: db
          from: {vault_prefix}/db
          to: [{{target: copy, name: db}}]
        """,
    )
    assert run("apply", "-c", manifest, "--yes")[0] == 0
    openbao.client().secrets.kv.v2.create_or_update_secret(f"{vault_prefix}/db", {"k": "v2"})
    real_apply = run_service.apply_plan

    def edit_then_apply(*args: Any, **kwargs: Any) -> Any:
        openbao_other.client().secrets.kv.v2.create_or_update_secret(address, {"k": "hand edit"})
        return real_apply(*args, **kwargs)

    monkeypatch.setattr(run_service, "apply_plan", edit_then_apply)
    code, out, _ = run("apply", "-c", manifest, "--yes")
    assert code == 1
    assert "changed in Vault since the plan (version 1 then, version 2 now); nothing was written, run plan again" in out
    assert live_data(openbao_other.client(), address) == {"k": "hand edit"}


def test_a_missing_source_secret_deletes_nothing(
    openbao: OpenBaoServer, openbao_other: OpenBaoServer, vault_prefix: str, tmp_path: Path, run: Run
) -> None:
    """With prune on, a source secret that disappears fails its sync: its target item stays."""
    openbao.client().secrets.kv.v2.create_or_update_secret(f"{vault_prefix}/db", {"k": "v"})
    manifest = write_manifest(
        tmp_path,
        vault_options(openbao),
        {"copy": vault_options(openbao_other, prefix=f"{vault_prefix}/out")},
        f"""
        - name: db
          from: {vault_prefix}/db
          to: [{{target: copy, name: db}}]
        """,
    )
    assert run("apply", "-c", manifest, "--yes")[0] == 0
    openbao.client().secrets.kv.v2.delete_metadata_and_all_versions(f"{vault_prefix}/db")
    code, out, _ = run("apply", "-c", manifest, "--yes")
    assert code == 1
    assert f"no secret at '{vault_prefix}/db' in mount 'secret'" in out
    assert live_data(openbao_other.client(), f"{vault_prefix}/out/db") == {"k": "v"}


def test_a_leftover_marker_on_a_persons_write_is_taken_off_without_prune(
    openbao: OpenBaoServer, openbao_other: OpenBaoServer, vault_prefix: str, tmp_path: Path, run: Run
) -> None:
    """A person writes over syncd's item, then its source secret goes (prune off): the plan shows one delete that
    only takes syncd's leftover marker off the person's secret, apply does so and leaves their data, and the next
    plan is clean."""
    source = openbao.client()
    source.secrets.kv.v2.create_or_update_secret(f"{vault_prefix}/src/old", {"k": "v"})
    target = openbao_other.client()
    manifest = write_manifest(
        tmp_path,
        vault_options(openbao),
        {"copy": vault_options(openbao_other, prefix=f"{vault_prefix}/out")},
        f"""
        - name: db
          from: {vault_prefix}/src/
          to: [{{target: copy, name: "{{relpath}}"}}]
        """,
        prune=False,
    )
    assert run("apply", "-c", manifest, "--yes")[0] == 0
    target.secrets.kv.v2.create_or_update_secret(f"{vault_prefix}/out/old", {"k": "a person's"})
    source.secrets.kv.v2.delete_metadata_and_all_versions(f"{vault_prefix}/src/old")
    source.secrets.kv.v2.create_or_update_secret(f"{vault_prefix}/src/new", {"k": "v"})
    code, out, _ = run("plan", "-c", manifest, "--detailed-exitcode")
    assert code == 2
    assert "1 to create, 0 to update, 1 to delete" in out
    assert "leftover marker, no live data of syncd's: only the marker is taken off" in out
    code, out, err = run("apply", "-c", manifest, "--yes")
    assert code == 0, out + err
    meta = target.secrets.kv.v2.read_secret_metadata(f"{vault_prefix}/out/old")["data"]
    assert not any(key.startswith("syncd.io/") for key in meta["custom_metadata"] or {})
    assert live_data(target, f"{vault_prefix}/out/old") == {"k": "a person's"}
    assert live_data(target, f"{vault_prefix}/out/new") == {"k": "v"}
    code, out, _ = run("plan", "-c", manifest, "--detailed-exitcode")
    assert code == 0 and "No changes" in out


def test_no_value_or_token_leaks_with_debug_logs(
    openbao: OpenBaoServer, openbao_other: OpenBaoServer, vault_prefix: str, tmp_path: Path, run: Run,
    caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    """Planted values and the token never appear in stdout, stderr or logs of plan and apply at debug level, on
    success and on failure (a target that refuses the writes), with the redactor's scrubbing switched off; the
    good target holds them."""
    planted = {"PASSWORD": f"PLANTED-vault-{uuid.uuid4().hex}", "NOTE": f"PLANTED-vault-{uuid.uuid4().hex}\nline 2"}
    token = f"PLANTED-token-{uuid.uuid4().hex}"
    root = openbao.client()
    root.auth.token.create(id=token, policies=["root"])
    root.secrets.kv.v2.create_or_update_secret(f"{vault_prefix}/app", planted)
    read_only = f"""
        path "secret/data/{vault_prefix}/refused/*"     {{ capabilities = ["read"] }}
        path "secret/metadata/{vault_prefix}/refused/*" {{ capabilities = ["read", "list"] }}
    """
    openbao_other.client().sys.create_or_update_policy(vault_prefix, read_only)
    refused = openbao_other.client().auth.token.create(policies=[vault_prefix])["auth"]["client_token"]
    manifest = write_manifest(
        tmp_path,
        vault_options(openbao, token="${env:SOURCE_TOKEN}"),
        {
            "good": vault_options(openbao_other, prefix=f"{vault_prefix}/good"),
            "refused": vault_options(openbao_other, token="${env:REFUSED_TOKEN}", prefix=f"{vault_prefix}/refused"),
        },
        f"""
        - name: app
          from: {vault_prefix}/app
          to: [{{target: good, name: app}}, {{target: refused, name: app}}]
        """,
    )
    debug = ("--log-level", "debug", "--log-format", "json")
    outputs = []
    for argv in (
        ("plan", "-c", manifest, *debug),
        ("plan", "-c", manifest, "--format", "json", *debug),
        ("apply", "-c", manifest, "--yes", *debug),
        ("apply", "-c", manifest, "--yes", "--format", "json", *debug),
    ):
        # Only our own care keeps values out: the redactor's second line of defence is switched off.
        with redactor_off():
            code, out, err = run(*argv, env={"SOURCE_TOKEN": token, "VAULT_TOKEN": "root", "REFUSED_TOKEN": refused})
        outputs.append((argv, code, out, err))
    assert [code for _, code, _, _ in outputs] == [0, 0, 1, 1]
    assert '"level": "debug"' in outputs[0][3] and '"status": "failed"' in outputs[2][3]
    assert f"permission denied: needs 'create' on secret/metadata/{vault_prefix}/refused/app" in outputs[2][2]
    for argv, _, out, err in outputs:
        for value in (*planted.values(), "line 2", token, refused):
            assert value.splitlines()[0] not in out + err, f"a planted value leaked from {argv}"
    for value in (*planted.values(), token, refused):
        assert value.splitlines()[0] not in caplog.text
    assert live_data(openbao_other.client(), f"{vault_prefix}/good/app") == planted


def test_plan_sends_no_write_to_either_server(
    openbao: OpenBaoServer, openbao_other: OpenBaoServer, vault_prefix: str, tmp_path: Path, run: Run
) -> None:
    """A plan with creates, an update and a prune pending sends only reads: no POST, PUT or DELETE to KV."""
    source, target = openbao.client(), openbao_other.client()
    p = vault_prefix
    source.secrets.kv.v2.create_or_update_secret(f"{p}/apps/a", {"K": "1"})
    source.secrets.kv.v2.create_or_update_secret(f"{p}/apps/b", {"K": "2"})
    manifest = write_manifest(
        tmp_path,
        vault_options(openbao),
        {"copy": vault_options(openbao_other, prefix=f"{p}/synced")},
        f"""
        - name: apps
          from: {p}/apps/
          to: [{{target: copy, name: "{{relpath}}"}}]
        """,
    )
    assert run("apply", "-c", manifest, "--yes")[0] == 0
    source.secrets.kv.v2.create_or_update_secret(f"{p}/apps/a", {"K": "changed"})
    source.secrets.kv.v2.create_or_update_secret(f"{p}/apps/c", {"K": "3"})
    source.secrets.kv.v2.delete_metadata_and_all_versions(f"{p}/apps/b")
    sessions = {name: CountingSession() for name in ("source", "copy")}
    address = {"source": openbao.address, "copy": openbao_other.address}
    clients = {name: hvac.Client(url=address[name], token="", session=s) for name, s in sessions.items()}
    code, out, err = run("plan", "-c", manifest, "--detailed-exitcode", clients=clients)
    assert code == 2, err
    assert "1 to create, 1 to update, 1 to delete" in out
    for session in sessions.values():
        assert session.count("GET") > 0
        assert sum(session.count(method, "secret/") for method in ("POST", "PUT", "PATCH", "DELETE")) == 0
    assert live_data(target, f"{p}/synced/b") == {"K": "2"}
    assert live_data(target, f"{p}/synced/a") == {"K": "1"}
