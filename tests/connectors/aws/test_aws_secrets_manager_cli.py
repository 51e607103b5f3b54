"""`syncd plan` and `apply` with aws-secrets-manager targets, end to end against moto over HTTP: two regions, a second
account through AssumeRole, a KMS key, drift repaired with the fewest calls, prune with a recovery window and restore,
conflicts and adoption, throttling, a denied target, request counts at 200 secrets, and no value in any output."""

from __future__ import annotations

import functools
import json
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from connectors.aws import secrets_manager_spec as spec
from syncd.cli import main
from syncd.registry import Registry
from tests.fakes.aws import DEFAULT_ACCOUNT, AwsFake
from tests.leakscan import no_redactor  # noqa: F401 (a fixture, used by name)


@functools.cache
def backdoor(fake: AwsFake, service: str = "secretsmanager", region: str = "us-east-1", **creds: str) -> Any:
    """A backdoor client on the fake, built once per worker: each new one parses botocore's models again."""
    return fake.client(service, region, **creds)


OTHER_ACCOUNT = "222222222222"
ROLE = f"arn:aws:iam::{OTHER_ACCOUNT}:role/syncd-writer"
DB = {"username": "alice", "password": "s3cret-pw"}

Run = Callable[..., tuple[int, str, str]]


def make_registry() -> Registry:
    registry = Registry({"file": "connectors.local:file_spec"})
    registry.register(spec)
    return registry


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    return tmp_path


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str]) -> Run:
    """Run the CLI; returns the exit code, stdout and stderr."""

    def invoke(*argv: str) -> tuple[int, str, str]:
        code = main(list(argv), registry=make_registry())
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return invoke


def setup(workdir: Path, fake: AwsFake, manifest: str, secrets: dict[str, Any]) -> str:
    """Write the manifest (with {endpoint} filled in) and the file source; returns the manifest's path."""
    (workdir / "secrets.json").write_text(json.dumps(secrets))
    path = workdir / "syncd.yaml"
    path.write_text(textwrap.dedent(manifest).replace("{endpoint}", fake.endpoint))
    return str(path)


def plan_json(run: Run, manifest: str, *extra: str) -> dict[str, Any]:
    code, out, err = run("plan", "-c", manifest, "--format", "json", *extra)
    assert code == 0, err
    return json.loads(out)


def changes(plan: dict[str, Any]) -> dict[tuple[str, str], tuple[str, list[str]]]:
    return {(c["target"], c["address"]): (c["action"], c["reasons"]) for c in plan["changes"] if c["action"] != "noop"}


def secret(fake: AwsFake, name: str, region: str = "us-east-1", **creds: str) -> dict[str, Any]:
    """The secret's value and metadata, read through the backdoor."""
    client = backdoor(fake, "secretsmanager", region, **creds)
    described = client.describe_secret(SecretId=name)
    described["Tags"] = {t["Key"]: t["Value"] for t in described.get("Tags", [])}
    if "DeletedDate" not in described:
        described["SecretString"] = client.get_secret_value(SecretId=name)["SecretString"]
    return described


TWO_REGIONS = """
    version: 1
    instance: prod-eu
    source: {type: file, path: secrets.json}
    targets:
      use1:
        type: aws-secrets-manager
        region: us-east-1
        endpoint_url: "{endpoint}"
        tags: {owner: platform}
        description: Managed by syncd
      euw1: {type: aws-secrets-manager, region: eu-west-1, endpoint_url: "{endpoint}"}
    syncs:
      - name: payments-db
        from: apps/payments/db
        to:
          - {target: use1, name: prod/payments/db, tags: {team: payments}}
          - {target: euw1, name: prod/payments/db}
      - name: payments-token
        from: apps/payments/api
        keys: [token]
        to:
          - {target: use1, name: prod/payments/token, granularity: per-key}
"""
TWO_REGION_SECRETS = {"apps": {"payments": {"db": DB, "api": {"token": "tok-123", "unused": "x"}}}}


def test_one_apply_fills_two_regions_and_the_next_plan_is_clean(aws_fake: AwsFake, workdir: Path, run: Run) -> None:
    """Documents land as JSON in both regions, the per-key item as a raw string, with tags and description."""
    manifest = setup(workdir, aws_fake, TWO_REGIONS, TWO_REGION_SECRETS)
    code, out, err = run("apply", "-c", manifest, "--yes")
    assert code == 0, out + err
    east, west = secret(aws_fake, "prod/payments/db"), secret(aws_fake, "prod/payments/db", "eu-west-1")
    assert json.loads(east["SecretString"]) == json.loads(west["SecretString"]) == DB
    assert east["Tags"] == {
        "owner": "platform",
        "team": "payments",
        "syncd.io/instance": "prod-eu",
        "syncd.io/sync": "payments-db",
    }
    assert east["Description"] == "Managed by syncd" and "Description" not in west
    assert secret(aws_fake, "prod/payments/token")["SecretString"] == "tok-123"
    assert aws_fake.count("CreateSecret", region="us-east-1") == 2 and aws_fake.count("CreateSecret") == 3
    aws_fake.reset_counts()
    code, out, err = run("plan", "-c", manifest, "--detailed-exitcode")
    assert code == 0, out + err
    assert aws_fake.writes() == []


CROSS_ACCOUNT = """
    version: 1
    instance: prod-eu
    source: {type: file, path: secrets.json}
    targets:
      dr:
        type: aws-secrets-manager
        region: eu-central-1
        role_arn: "ROLE"
        external_id: syncd-dr
        account_id: "ACCOUNT"
        endpoint_url: "{endpoint}"
        sts_endpoint_url: "{endpoint}"
    syncs:
      - {name: payments-db, from: apps/payments/db, to: [{target: dr, name: prod/payments/db}]}
"""


def test_a_target_in_another_account_is_reached_through_assume_role(aws_fake: AwsFake, workdir: Path, run: Run) -> None:
    """The secret lands in the role's account and not in the caller's; the account check passes."""
    text = CROSS_ACCOUNT.replace("ROLE", ROLE).replace("ACCOUNT", OTHER_ACCOUNT)
    manifest = setup(workdir, aws_fake, text, {"apps": {"payments": {"db": DB}}})
    code, out, err = run("apply", "-c", manifest, "--yes")
    assert code == 0, out + err
    creds = aws_fake.assume_role_credentials(ROLE)
    assert json.loads(secret(aws_fake, "prod/payments/db", "eu-central-1", **creds)["SecretString"]) == DB
    assert backdoor(aws_fake, "secretsmanager", "eu-central-1").list_secrets()["SecretList"] == []
    assert aws_fake.count("AssumeRole") >= 1
    assert aws_fake.count("CreateSecret", account=OTHER_ACCOUNT) == 1
    assert aws_fake.count("CreateSecret", account=DEFAULT_ACCOUNT) == 0
    code, out, err = run("plan", "-c", manifest, "--detailed-exitcode")
    assert code == 0, out + err


def test_the_targets_kms_key_is_used_and_stays_in_sync(aws_fake: AwsFake, workdir: Path, run: Run) -> None:
    kms = backdoor(aws_fake, "kms")
    key = kms.create_key()["KeyMetadata"]
    kms.create_alias(AliasName="alias/payments", TargetKeyId=key["KeyId"])
    text = TWO_REGIONS.replace("description: Managed by syncd", "kms_key_id: alias/payments")
    manifest = setup(workdir, aws_fake, text, TWO_REGION_SECRETS)
    assert run("apply", "-c", manifest, "--yes")[0] == 0
    assert secret(aws_fake, "prod/payments/db")["KmsKeyId"] == "alias/payments"
    assert "KmsKeyId" not in secret(aws_fake, "prod/payments/db", "eu-west-1")
    assert run("plan", "-c", manifest, "--detailed-exitcode")[0] == 0


def test_tag_drift_is_repaired_with_tag_resource_alone(aws_fake: AwsFake, workdir: Path, run: Run) -> None:
    """A tag edited by hand is put back; a tag the manifest does not list is kept."""
    manifest = setup(workdir, aws_fake, TWO_REGIONS, TWO_REGION_SECRETS)
    assert run("apply", "-c", manifest, "--yes")[0] == 0
    backdoor(aws_fake, "secretsmanager").tag_resource(
        SecretId="prod/payments/db", Tags=[{"Key": "team", "Value": "hijacked"}, {"Key": "cost", "Value": "42"}]
    )
    assert changes(plan_json(run, manifest)) == {("use1", "prod/payments/db"): ("update", ["tags (team)"])}
    aws_fake.reset_counts()
    assert run("apply", "-c", manifest, "--yes")[0] == 0
    assert [call.operation for call in aws_fake.writes()] == ["TagResource"]
    tags = secret(aws_fake, "prod/payments/db")["Tags"]
    assert tags["team"] == "payments" and tags["cost"] == "42"


def test_a_value_edited_out_of_band_is_drift_and_is_repaired(aws_fake: AwsFake, workdir: Path, run: Run) -> None:
    manifest = setup(workdir, aws_fake, TWO_REGIONS, TWO_REGION_SECRETS)
    assert run("apply", "-c", manifest, "--yes")[0] == 0
    backdoor(aws_fake, "secretsmanager", "eu-west-1").put_secret_value(
        SecretId="prod/payments/db", SecretString=json.dumps({**DB, "password": "edited"})
    )
    backdoor(aws_fake, "secretsmanager").put_secret_value(SecretId="prod/payments/token", SecretString="edited")
    assert changes(plan_json(run, manifest)) == {
        ("euw1", "prod/payments/db"): ("update", ["value (keys ~password)"]),
        ("use1", "prod/payments/token"): ("update", ["value"]),
    }
    aws_fake.reset_counts()
    assert run("apply", "-c", manifest, "--yes")[0] == 0
    assert sorted(call.operation for call in aws_fake.writes()) == ["PutSecretValue", "PutSecretValue"]
    assert json.loads(secret(aws_fake, "prod/payments/db", "eu-west-1")["SecretString"]) == DB
    assert secret(aws_fake, "prod/payments/token")["SecretString"] == "tok-123"


PRUNED = """
    version: 1
    instance: prod-eu
    defaults: {prune: true}
    source: {type: file, path: secrets.json}
    targets:
      use1: {type: aws-secrets-manager, region: us-east-1, endpoint_url: "{endpoint}", recovery_window_days: 7}
    syncs:
      - {name: apps, from: apps/, to: [{target: use1, name: "prod/{relpath}"}]}
"""
PRUNED_SECRETS = {"apps": {"keep": {"a": "1"}, "old": {"b": "2"}}}


def test_prune_schedules_deletion_with_the_window_and_mapping_again_restores(
    aws_fake: AwsFake, workdir: Path, run: Run
) -> None:
    manifest = setup(workdir, aws_fake, PRUNED, PRUNED_SECRETS)
    assert run("apply", "-c", manifest, "--yes")[0] == 0
    manifest = setup(workdir, aws_fake, PRUNED, {"apps": {"keep": {"a": "1"}}})
    assert changes(plan_json(run, manifest)) == {("use1", "prod/old"): ("delete", ["no longer mapped"])}
    assert run("apply", "-c", manifest, "--yes")[0] == 0
    deleted = secret(aws_fake, "prod/old")
    assert (deleted["DeletedDate"] - deleted["LastChangedDate"]).days in (6, 7)
    # Pending deletion is not deleted again, and not listed as owned.
    assert run("plan", "-c", manifest, "--detailed-exitcode")[0] == 0
    manifest = setup(workdir, aws_fake, PRUNED, PRUNED_SECRETS)
    assert changes(plan_json(run, manifest)) == {("use1", "prod/old"): ("create", ["restore from scheduled deletion"])}
    aws_fake.reset_counts()
    assert run("apply", "-c", manifest, "--yes")[0] == 0
    assert [call.operation for call in aws_fake.writes()] == ["RestoreSecret", "PutSecretValue"]
    restored = secret(aws_fake, "prod/old")
    assert "DeletedDate" not in restored and json.loads(restored["SecretString"]) == {"b": "2"}
    assert run("plan", "-c", manifest, "--detailed-exitcode")[0] == 0


def test_an_owned_secret_outside_every_mapped_name_is_never_pruned(aws_fake: AwsFake, workdir: Path, run: Run) -> None:
    """A secret of a sync since removed, whose name no remaining `to` entry could produce, is outside the target's
    scope: the plan neither lists nor deletes it (syncd needs no right beyond the names the manifest maps)."""
    both = PRUNED + "      - {name: old, from: apps/old, to: [{target: use1, name: legacy/old}]}\n"
    manifest = setup(workdir, aws_fake, both, PRUNED_SECRETS)
    assert run("apply", "-c", manifest, "--yes")[0] == 0
    manifest = setup(workdir, aws_fake, PRUNED, PRUNED_SECRETS)
    assert changes(plan_json(run, manifest)) == {}
    assert "DeletedDate" not in secret(aws_fake, "legacy/old")


def test_an_unowned_secret_is_a_conflict_until_adopted(aws_fake: AwsFake, workdir: Path, run: Run) -> None:
    backdoor(aws_fake, "secretsmanager").create_secret(
        Name="prod/payments/db", SecretString="by hand", Tags=[{"Key": "cost", "Value": "42"}]
    )
    manifest = setup(workdir, aws_fake, TWO_REGIONS, TWO_REGION_SECRETS)
    action, reasons = changes(plan_json(run, manifest))[("use1", "prod/payments/db")]
    assert action == "conflict" and "without syncd's marker" in reasons[0]
    code, out, _ = run("apply", "-c", manifest, "--yes")
    assert code == 1 and "conflict" in out
    assert secret(aws_fake, "prod/payments/db")["SecretString"] == "by hand"
    adopting = TWO_REGIONS.replace("from: apps/payments/db\n", "from: apps/payments/db\n        on_conflict: adopt\n")
    manifest = setup(workdir, aws_fake, adopting, TWO_REGION_SECRETS)
    assert changes(plan_json(run, manifest))[("use1", "prod/payments/db")][0] == "update"
    assert run("apply", "-c", manifest, "--yes")[0] == 0
    adopted = secret(aws_fake, "prod/payments/db")
    assert json.loads(adopted["SecretString"]) == DB
    assert adopted["Tags"]["syncd.io/instance"] == "prod-eu" and adopted["Tags"]["cost"] == "42"
    assert run("plan", "-c", manifest, "--detailed-exitcode")[0] == 0


def test_throttled_writes_are_retried_until_they_succeed(aws_fake: AwsFake, workdir: Path, run: Run) -> None:
    manifest = setup(workdir, aws_fake, TWO_REGIONS, TWO_REGION_SECRETS)
    assert run("apply", "-c", manifest, "--yes")[0] == 0
    rotated = {"apps": {"payments": {"db": {**DB, "password": "rotated"}, "api": {"token": "tok-123"}}}}
    manifest = setup(workdir, aws_fake, TWO_REGIONS, rotated)
    aws_fake.fail("PutSecretValue", error="ThrottlingException", times=2, region="eu-west-1")
    aws_fake.reset_counts()
    code, out, err = run("apply", "-c", manifest, "--yes")
    assert code == 0, out + err
    assert aws_fake.count("PutSecretValue", region="eu-west-1") == 3
    assert aws_fake.count("PutSecretValue", region="eu-west-1", faulted=True) == 2
    assert json.loads(secret(aws_fake, "prod/payments/db", "eu-west-1")["SecretString"])["password"] == "rotated"


@pytest.mark.parametrize(
    ("operation", "action"),
    [("ListSecrets", "secretsmanager:ListSecrets"), ("CreateSecret", "secretsmanager:CreateSecret")],
)
def test_a_denied_target_is_reported_while_the_other_applies(
    aws_fake: AwsFake, workdir: Path, run: Run, operation: str, action: str
) -> None:
    """Denied on reading or on writing eu-west-1: the message names the target, the operation and the IAM action,
    us-east-1 is applied all the same, and the exit code is 1."""
    manifest = setup(workdir, aws_fake, TWO_REGIONS, TWO_REGION_SECRETS)
    aws_fake.fail(operation, error="AccessDeniedException", times=None, region="eu-west-1")
    code, out, err = run("apply", "-c", manifest, "--yes")
    assert code == 1
    shown = out + err
    assert "euw1" in shown and "access denied" in shown and f"grant the IAM action {action}" in shown
    assert json.loads(secret(aws_fake, "prod/payments/db")["SecretString"]) == DB
    assert backdoor(aws_fake, "secretsmanager", "eu-west-1").list_secrets()["SecretList"] == []


CHECKED = """
    version: 1
    instance: prod-eu
    source: {type: file, path: secrets.json}
    targets:
      use1: {type: aws-secrets-manager, region: us-east-1, endpoint_url: "{endpoint}"}
    syncs:
      - name: app
        from: apps/app
        to:
          - {target: use1, name: prod/good}
          - {target: use1, name: "prod/bad name"}
          - {target: use1, name: prod/db:colon}
          - {target: use1, name: prod/tagged, tags: TAGS}
      - {name: big, from: apps/big, to: [{target: use1, name: prod/big}]}
"""


def test_items_breaking_the_rules_are_reported_and_never_sent(aws_fake: AwsFake, workdir: Path, run: Run) -> None:
    """A name with a space, one with a colon, 49 tags and a value over 64 KiB: one sentence each, none reaches AWS,
    and the valid item is applied."""
    tags = "{" + ", ".join(f"t{i}: v" for i in range(49)) + "}"
    text = CHECKED.replace("TAGS", tags)
    manifest = setup(workdir, aws_fake, text, {"apps": {"app": {"K": "v"}, "big": {"K": "x" * 70000}}})
    code, out, _ = run("apply", "-c", manifest, "--yes", "--format", "json")
    assert code == 1
    problems = {p["address"]: p["message"] for p in json.loads(out)["plan"]["problems"]}
    assert set(problems) == {"prod/bad name", "prod/db:colon", "prod/tagged", "prod/big"}
    assert all(message.endswith(".") and "\n" not in message and len(message) < 300 for message in problems.values())
    assert "x" * 20 not in out
    names = [s["Name"] for s in backdoor(aws_fake, "secretsmanager").list_secrets()["SecretList"]]
    assert names == ["prod/good"]
    assert aws_fake.count("CreateSecret") == 1


PREFIX = """
    version: 1
    instance: prod-eu
    source: {type: file, path: secrets.json}
    targets:
      use1: {type: aws-secrets-manager, region: us-east-1, endpoint_url: "{endpoint}"}
    syncs:
      - {name: apps, from: apps/, to: [{target: use1, name: "prod/{relpath}", tags: {team: platform}}]}
"""


def test_a_steady_state_plan_of_200_secrets_is_a_few_batched_reads(aws_fake: AwsFake, workdir: Path, run: Run) -> None:
    """200 owned secrets in sync: at most 10 BatchGetSecretValue and 2 ListSecrets, no GetSecretValue, no write."""
    secrets = {"apps": {f"app{index:03}": {"user": f"u{index}", "password": f"p{index}"} for index in range(200)}}
    manifest = setup(workdir, aws_fake, PREFIX, secrets)
    assert run("apply", "-c", manifest, "--yes")[0] == 0
    assert aws_fake.count("CreateSecret") == 200
    aws_fake.reset_counts()
    code, out, err = run("plan", "-c", manifest, "--detailed-exitcode")
    assert code == 0, out + err
    counts = aws_fake.counts()
    assert counts["BatchGetSecretValue"] <= 10 and counts["ListSecrets"] <= 2, counts
    assert counts["GetSecretValue"] == 0 and counts["DescribeSecret"] == 0 and aws_fake.writes() == []


SOURCE_TO_SINK = """
    version: 1
    instance: prod-eu
    source: {type: aws-secrets-manager, region: eu-west-1, endpoint_url: "{endpoint}"}
    targets:
      use1: {type: aws-secrets-manager, region: us-east-1, endpoint_url: "{endpoint}"}
    syncs:
      - {name: apps, from: apps/, to: [{target: use1, name: "copy/{relpath}"}]}
      - {name: token, from: shared/token, keys: [token], to: [{target: use1, name: copy/token, granularity: per-key}]}
"""


def test_secrets_manager_as_the_source(aws_fake: AwsFake, workdir: Path, run: Run) -> None:
    """A prefix and a raw secret of eu-west-1 are copied to us-east-1, read in batches."""
    west = backdoor(aws_fake, "secretsmanager", "eu-west-1")
    for index in range(25):
        west.create_secret(Name=f"apps/a{index:02}", SecretString=json.dumps({"K": f"v{index}"}))
    west.create_secret(Name="shared/token", SecretString="raw-token")
    manifest = setup(workdir, aws_fake, SOURCE_TO_SINK, {})
    code, out, err = run("apply", "-c", manifest, "--yes")
    assert code == 0, out + err
    assert json.loads(secret(aws_fake, "copy/a24")["SecretString"]) == {"K": "v24"}
    assert secret(aws_fake, "copy/token")["SecretString"] == "raw-token"
    assert aws_fake.count("BatchGetSecretValue", region="eu-west-1") == 2
    assert aws_fake.count("GetSecretValue") == 0


PLANTED = {"password": "PLANTED-sm-pw-73e1a9", "token": "PLANTED-sm-tok-0b44c2"}
LEAKY = """
    version: 1
    instance: leak-test
    defaults: {prune: true}
    source: {type: file, path: secrets.json}
    targets:
      use1: {type: aws-secrets-manager, region: us-east-1, endpoint_url: "{endpoint}"}
      euw1: {type: aws-secrets-manager, region: eu-west-1, endpoint_url: "{endpoint}"}
    syncs:
      - name: app
        from: apps/app
        to:
          - {target: use1, name: prod/app}
          - {target: euw1, name: prod/app}
          - {target: use1, name: "prod/app/{key}", granularity: per-key}
          - {target: use1, name: "bad name/{key}", granularity: per-key}
"""


@pytest.mark.usefixtures("no_redactor")
def test_no_planted_value_reaches_any_output(aws_fake: AwsFake, workdir: Path, run: Run) -> None:
    """Plans, applies, drift, a conflict, a refused name and a denied target, with debug JSON logs and the output
    redactor switched off: no planted value is printed, while the secrets hold them."""
    manifest = setup(workdir, aws_fake, LEAKY, {"apps": {"app": PLANTED}})
    backdoor(aws_fake, "secretsmanager").create_secret(Name="prod/app/token", SecretString=PLANTED["token"])
    aws_fake.fail("PutSecretValue", error="AccessDeniedException", times=None, region="eu-west-1")
    debug = ("--log-level", "debug", "--log-format", "json")
    saved = str(workdir / "plan.json")
    outputs = [
        run("plan", "-c", manifest, *debug),
        run("plan", "-c", manifest, "--format", "json", "-o", saved, *debug),
        run("apply", "-c", manifest, "--yes", *debug),
    ]
    backdoor(aws_fake, "secretsmanager", "eu-west-1").put_secret_value(SecretId="prod/app", SecretString="{}")
    outputs.append(run("apply", "-c", manifest, "--yes", "--format", "json", *debug))
    outputs.append(run("plan", "-c", manifest, "--format", "markdown", *debug))
    texts = [out + err for _, out, err in outputs] + [Path(saved).read_text()]
    assert [code for code, _, _ in outputs] == [1, 1, 1, 1, 1]
    assert '"level": "debug"' in outputs[0][2] and "access denied" in outputs[3][1]
    for text in texts:
        for value in PLANTED.values():
            assert value not in text
    assert json.loads(secret(aws_fake, "prod/app")["SecretString"]) == PLANTED
    assert secret(aws_fake, "prod/app/password")["SecretString"] == PLANTED["password"]
