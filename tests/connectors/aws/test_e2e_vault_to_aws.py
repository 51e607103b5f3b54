"""End to end through the command line: a real OpenBao source synced to Secrets Manager in two regions and to SSM
in a second account (moto behind our fake), with the installed connector entry points, as an operator runs it.

It walks the life of a manifest: the first plan, apply, a clean second plan, a rotation in Vault, a secret
removed and pruned, a saved plan refused once the source moves, and an AWS target denied while the others apply.
Every byte printed, logged and saved is scanned for the planted values, which AWS does hold.
"""

from __future__ import annotations

import functools
import json
import textwrap
import uuid
from pathlib import Path

import pytest

from syncd import apply, engine
from syncd import run as run_service
from syncd.cli import main
from tests.conftest import FAST_RETRY
from tests.fakes.aws import AwsFake
from tests.fakes.openbao import OpenBaoServer
from tests.leakscan import redactor_off

ROLE = "arn:aws:iam::222222222222:role/syncd"
PLANTED = {
    "payments": {"username": "payments_app", "password": f"PLANTED-e2e-pw-{uuid.uuid4().hex}"},
    "stripe": {"api_key": f"PLANTED-e2e-sk-{uuid.uuid4().hex}"},
}

MANIFEST = """
version: 1
instance: prod-eu
defaults: {{prune: true}}
source:
  type: vault
  address: {vault}
  auth: {{method: token, token: "${{env:E2E_VAULT_TOKEN}}"}}
targets:
  sm-use1:
    {{type: aws-secrets-manager, region: us-east-1, endpoint_url: {aws}, force_delete: true, tags: {{env: prod}}}}
  sm-euw1: {{type: aws-secrets-manager, region: eu-west-1, endpoint_url: {aws}, recovery_window_days: 7}}
  params-dr:
    type: aws-ssm
    region: eu-central-1
    endpoint_url: {aws}
    role_arn: {role}
    external_id: "${{env:E2E_EXTERNAL_ID}}"
syncs:
  - name: apps
    from: {prefix}/
    to:
      - {{target: sm-use1, name: "prod/{{relpath}}", tags: {{team: platform}}}}
      - {{target: sm-euw1, name: "prod/{{relpath}}"}}
      - {{target: params-dr, path: /dr/, name: "{{relpath}}/{{key|env}}"}}
"""


@pytest.fixture(autouse=True)
def fast_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(run_service, "make_plan", functools.partial(engine.make_plan, retry=FAST_RETRY))
    monkeypatch.setattr(run_service, "apply_plan", functools.partial(apply.apply_plan, retry=FAST_RETRY))


@pytest.fixture
def world(openbao: OpenBaoServer, vault_prefix: str, aws_fake: AwsFake, tmp_path: Path) -> dict:
    vault = openbao.client()
    for name, data in PLANTED.items():
        vault.secrets.kv.v2.create_or_update_secret(path=f"{vault_prefix}/{name}", secret=data)
    manifest = tmp_path / "syncd.yaml"
    manifest.write_text(
        textwrap.dedent(MANIFEST.format(vault=openbao.address, aws=aws_fake.endpoint, role=ROLE, prefix=vault_prefix))
    )
    token = vault.auth.token.create(policies=["root"], ttl="10m")["auth"]["client_token"]
    env = {"E2E_VAULT_TOKEN": token, "E2E_EXTERNAL_ID": "partner-1234"}
    return {"vault": vault, "prefix": vault_prefix, "manifest": str(manifest), "env": env, "tmp": tmp_path}


class Transcript:
    """Runs the CLI and keeps everything it printed and logged, for the leak scan at the end."""

    def __init__(self, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture, env: dict) -> None:
        self.capsys, self.caplog, self.env = capsys, caplog, env
        self.text: list[str] = []

    def __call__(self, *argv: str) -> tuple[int, str, str]:
        # The scan at the end proves values stay out of output by themselves: the redactor is off.
        with redactor_off():
            code = main([*argv, "--log-level", "debug", "--log-format", "json"], env=self.env)
        captured = self.capsys.readouterr()
        self.text += [captured.out, captured.err]
        return code, captured.out, captured.err

    def everything(self, tmp: Path) -> str:
        files = [p.read_text(errors="replace") for p in tmp.rglob("*") if p.is_file()]
        return "\n".join([*self.text, self.caplog.text, *files])


def secret_string(fake: AwsFake, region: str, name: str) -> str:
    return fake.client("secretsmanager", region).get_secret_value(SecretId=name)["SecretString"]


def parameter(fake: AwsFake, name: str) -> str:
    creds = fake.assume_role_credentials(ROLE)
    ssm = fake.client("ssm", "eu-central-1", **creds)
    return ssm.get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"]


def test_vault_to_aws_life_of_a_manifest(
    world: dict, aws_fake: AwsFake, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    run = Transcript(capsys, caplog, world["env"])
    manifest, vault, prefix = world["manifest"], world["vault"], world["prefix"]
    caplog.set_level("DEBUG")

    code, out, err = run("plan", "-c", manifest, "--detailed-exitcode")
    assert code == 2, err
    assert "7 to create, 0 to update, 0 to delete, 0 conflicts across 3 targets." in out

    code, out, err = run("apply", "-c", manifest, "--yes")
    assert code == 0, err
    assert json.loads(secret_string(aws_fake, "us-east-1", "prod/payments")) == PLANTED["payments"]
    assert json.loads(secret_string(aws_fake, "eu-west-1", "prod/stripe")) == PLANTED["stripe"]
    assert parameter(aws_fake, "/dr/payments/PASSWORD") == PLANTED["payments"]["password"]
    assert aws_fake.count("PutParameter", account="222222222222") == 3
    assert aws_fake.count("PutParameter", account="123456789012") == 0

    aws_fake.reset_counts()
    code, out, err = run("plan", "-c", manifest, "--detailed-exitcode")
    assert code == 0 and "No changes" in out, err
    assert aws_fake.writes() == []

    # A rotation in Vault reaches every target; a saved plan made before it is refused.
    code, _, _ = run("plan", "-c", manifest, "-o", str(world["tmp"] / "before.json"))
    assert code == 0
    rotated = f"PLANTED-e2e-rotated-{uuid.uuid4().hex}"
    vault.secrets.kv.v2.create_or_update_secret(
        path=f"{prefix}/payments", secret={**PLANTED["payments"], "password": rotated}
    )
    code, _, err = run("apply", str(world["tmp"] / "before.json"), "-c", manifest)
    assert code == 1 and "stale" in err
    code, out, err = run("apply", "-c", manifest, "--yes")
    assert code == 0, err
    assert "3 applied, 0 failed." in out
    assert parameter(aws_fake, "/dr/payments/PASSWORD") == rotated
    assert json.loads(secret_string(aws_fake, "eu-west-1", "prod/payments"))["password"] == rotated

    # One target denied: the others apply, the run says which failed and why.
    second_key = f"PLANTED-e2e-sk2-{uuid.uuid4().hex}"
    vault.secrets.kv.v2.create_or_update_secret(path=f"{prefix}/stripe", secret={"api_key": second_key})
    aws_fake.fail("PutSecretValue", "AccessDeniedException", times=None, region="eu-west-1")
    code, out, err = run("apply", "-c", manifest, "--yes")
    assert code == 1
    assert "sm-euw1" in out and "access denied: secretsmanager:PutSecretValue was refused" in out
    assert "2 applied, 1 failed." in out
    aws_fake.heal()

    # A secret removed from Vault is pruned: forced in one region, with a recovery window in the other.
    vault.secrets.kv.v2.delete_metadata_and_all_versions(path=f"{prefix}/stripe")
    code, out, err = run("apply", "-c", manifest, "--yes")
    assert code == 0, err
    scheduled = aws_fake.client("secretsmanager", "eu-west-1").describe_secret(SecretId="prod/stripe")
    assert "DeletedDate" in scheduled
    sm_use1 = aws_fake.client("secretsmanager", "us-east-1")
    with pytest.raises(sm_use1.exceptions.ResourceNotFoundException):
        sm_use1.describe_secret(SecretId="prod/stripe")
    with pytest.raises(Exception, match="ParameterNotFound"):
        parameter(aws_fake, "/dr/stripe/API_KEY")
    assert parameter(aws_fake, "/dr/payments/PASSWORD") == rotated

    transcript = run.everything(world["tmp"])
    planted = [v for data in PLANTED.values() for v in data.values() if v.startswith("PLANTED")]
    for value in [*planted, rotated, second_key]:
        assert value not in transcript
    assert world["env"]["E2E_VAULT_TOKEN"] not in transcript
