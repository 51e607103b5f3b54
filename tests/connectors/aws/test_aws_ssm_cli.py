"""`aws-ssm` end to end through the command line: an SSM source in us-east-1 copied to an SSM target in
eu-west-1 on moto's server: plan, apply, convergence, conflicts and adoption, pruning, call counts, no leaks."""

from __future__ import annotations

import json
import math
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from connectors.aws import ssm_spec
from syncd.cli import main
from syncd.registry import Registry
from tests.fakes.aws import AwsFake
from tests.leakscan import no_redactor  # noqa: F401 (a fixture, used by name)

SOURCE_REGION = "us-east-1"
TARGET_REGION = "eu-west-1"
PLANTED = {"DB_USER": "PLANTED-user-61f0aa", "DB_PASSWORD": "PLANTED-pw-9e3c71\nPLANTED-pw-line-two"}
MANIFEST = """
version: 1
instance: e2e
defaults: {{prune: true, on_conflict: {on_conflict}}}
source:
  type: aws-ssm
  region: {source_region}
  endpoint_url: {endpoint}
targets:
  dr:
    type: aws-ssm
    region: {target_region}
    endpoint_url: {endpoint}
    tags: {{managed-by: syncd}}
    description: Copied by syncd from us-east-1.
syncs:
  - name: payments-db
    from: /prod/payments/db
    to:
      - {{target: dr, path: /dr/payments/db/, tags: {{team: payments}}}}
  - name: payments-all
    from: /prod/payments/
    to:
      - {{target: dr, path: /dr/all/, name: "{{relpath}}/{{key}}", parameter_type: String}}
"""

Run = Callable[..., tuple[int, str, str]]


@pytest.fixture
def manifest(aws_fake: AwsFake, tmp_path: Path) -> Callable[..., Path]:
    """Writes the manifest for the fake (on_conflict may be changed) and returns its path."""

    def write(on_conflict: str = "fail") -> Path:
        text = MANIFEST.format(
            endpoint=aws_fake.endpoint,
            source_region=SOURCE_REGION,
            target_region=TARGET_REGION,
            on_conflict=on_conflict,
        )
        path = tmp_path / "syncd.yaml"
        path.write_text(textwrap.dedent(text))
        return path

    return write


@pytest.fixture
def source_ssm(aws_fake: AwsFake) -> Any:
    """The source region, planted: the payments db folder and an api folder."""
    client = aws_fake.client("ssm", SOURCE_REGION)
    for key, value in PLANTED.items():
        client.put_parameter(Name=f"/prod/payments/db/{key}", Value=value, Type="SecureString")
    client.put_parameter(Name="/prod/payments/api/TOKEN", Value="PLANTED-token-44d2", Type="SecureString")
    return client


@pytest.fixture
def target_ssm(aws_fake: AwsFake) -> Any:
    return aws_fake.client("ssm", TARGET_REGION)


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str]) -> Run:
    """Runs the CLI with a registry holding aws-ssm; returns the exit code, stdout and stderr."""
    registry = Registry({})
    registry.register(ssm_spec)

    def invoke(*argv: str) -> tuple[int, str, str]:
        code = main(list(argv), registry=registry)
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return invoke


def values_in(client: Any, path: str) -> dict[str, str]:
    answer = client.get_parameters_by_path(Path=path, Recursive=True, WithDecryption=True)
    return {p["Name"]: p["Value"] for p in answer["Parameters"]}


def tags_of(client: Any, name: str) -> dict[str, str]:
    answer = client.list_tags_for_resource(ResourceType="Parameter", ResourceId=name)
    return {tag["Key"]: tag["Value"] for tag in answer["TagList"]}


@pytest.mark.usefixtures("source_ssm")
def test_plan_apply_plan_converges_across_regions(
    run: Run, manifest: Callable[..., Path], target_ssm: Any, aws_fake: AwsFake
) -> None:
    """The first plan creates 5 parameters in eu-west-1; apply writes them; the next plan finds no drift."""
    config = str(manifest())
    code, out, err = run("plan", "-c", config, "--detailed-exitcode")
    assert code == 2, err
    assert "5 to create, 0 to update, 0 to delete, 0 conflicts" in out
    code, out, err = run("apply", "-c", config, "--yes")
    assert code == 0, err + out
    assert "5 applied, 0 failed." in out
    assert values_in(target_ssm, "/dr") == {
        "/dr/payments/db/DB_USER": PLANTED["DB_USER"],
        "/dr/payments/db/DB_PASSWORD": PLANTED["DB_PASSWORD"],
        "/dr/all/db/DB_USER": PLANTED["DB_USER"],
        "/dr/all/db/DB_PASSWORD": PLANTED["DB_PASSWORD"],
        "/dr/all/api/TOKEN": "PLANTED-token-44d2",
    }
    assert tags_of(target_ssm, "/dr/payments/db/DB_USER") == {
        "managed-by": "syncd",
        "team": "payments",
        "syncd.io/instance": "e2e",
        "syncd.io/sync": "payments-db",
    }
    assert aws_fake.writes(region=SOURCE_REGION) == []
    code, out, _ = run("plan", "-c", config, "--detailed-exitcode")
    assert code == 0 and "No changes" in out


@pytest.mark.usefixtures("source_ssm")
def test_a_steady_state_plan_makes_no_write_and_batches_its_reads(
    run: Run, manifest: Callable[..., Path], aws_fake: AwsFake
) -> None:
    config = str(manifest())
    assert run("apply", "-c", config, "--yes")[0] == 0
    aws_fake.reset_counts()
    code, _, err = run("plan", "-c", config, "--detailed-exitcode")
    assert code == 0, err
    assert aws_fake.writes() == []
    target = aws_fake.counts(region=TARGET_REGION)
    # The engine's `prepare` lets the sink confirm tags in bulk: one DescribeParameters per tag set (the two syncs'
    # `to` entries differ in tags), one for list_owned, and no ListTagsForResource.
    assert target == {"GetParameters": math.ceil(5 / 10), "DescribeParameters": 2 + 1}
    assert set(aws_fake.counts(region=SOURCE_REGION)) == {"GetParametersByPath", "DescribeParameters"}


@pytest.mark.usefixtures("source_ssm")
def test_an_out_of_band_edit_is_planned_and_repaired(
    run: Run, manifest: Callable[..., Path], target_ssm: Any, aws_fake: AwsFake
) -> None:
    config = str(manifest())
    run("apply", "-c", config, "--yes")
    target_ssm.put_parameter(Name="/dr/payments/db/DB_USER", Value="edited", Type="SecureString", Overwrite=True)
    code, out, _ = run("plan", "-c", config, "--detailed-exitcode")
    assert code == 2 and "1 to update" in out and "value" in out
    aws_fake.reset_counts()
    assert run("apply", "-c", config, "--yes")[0] == 0
    assert [call.operation for call in aws_fake.writes()] == ["PutParameter"]
    assert values_in(target_ssm, "/dr/payments/db")["/dr/payments/db/DB_USER"] == PLANTED["DB_USER"]


@pytest.mark.usefixtures("source_ssm")
def test_an_unowned_parameter_is_a_conflict_until_adopted_with_tags_only(
    run: Run, manifest: Callable[..., Path], target_ssm: Any, aws_fake: AwsFake
) -> None:
    """Under on_conflict: fail it is left alone; under adopt, holding the right value and description already, it
    gets the marker and tags through AddTagsToResource alone (PutParameter cannot carry Tags with Overwrite)."""
    target_ssm.put_parameter(
        Name="/dr/payments/db/DB_USER",
        Value=PLANTED["DB_USER"],
        Type="SecureString",
        Description="Copied by syncd from us-east-1.",
    )
    code, out, _ = run("apply", "-c", str(manifest()), "--yes")
    assert code == 1
    assert "exists without syncd's marker" in out
    assert tags_of(target_ssm, "/dr/payments/db/DB_USER") == {}
    aws_fake.reset_counts()
    code, out, err = run("apply", "-c", str(manifest("adopt")), "--yes")
    assert code == 0, err + out
    assert aws_fake.count("PutParameter", region=TARGET_REGION) == 0
    assert aws_fake.count("AddTagsToResource", region=TARGET_REGION) == 1
    assert tags_of(target_ssm, "/dr/payments/db/DB_USER")["syncd.io/sync"] == "payments-db"


def test_owned_parameters_no_longer_mapped_are_pruned(
    run: Run, manifest: Callable[..., Path], source_ssm: Any, target_ssm: Any, aws_fake: AwsFake
) -> None:
    """A key removed from the source is deleted from the target; an unowned neighbour stays."""
    config = str(manifest())
    run("apply", "-c", config, "--yes")
    target_ssm.put_parameter(Name="/dr/payments/db/NOT_OURS", Value="kept", Type="String")
    source_ssm.delete_parameter(Name="/prod/payments/db/DB_PASSWORD")
    code, out, _ = run("plan", "-c", config, "--detailed-exitcode")
    assert code == 2 and "2 to delete" in out
    aws_fake.reset_counts()
    assert run("apply", "-c", config, "--yes")[0] == 0
    assert aws_fake.count("DeleteParameter") == 2
    assert sorted(values_in(target_ssm, "/dr/payments/db")) == ["/dr/payments/db/DB_USER", "/dr/payments/db/NOT_OURS"]


@pytest.mark.usefixtures("source_ssm", "no_redactor")
def test_no_planted_value_shows_in_any_output(
    run: Run, manifest: Callable[..., Path], tmp_path: Path, target_ssm: Any, aws_fake: AwsFake
) -> None:
    """Plans in every format, a saved plan, apply, debug logs and a failing target never show a value, with the
    redactor switched off: values stay out of output by themselves."""
    config = str(manifest())
    outputs = []
    saved = tmp_path / "plan.json"
    outputs.append(run("plan", "-c", config, "-o", str(saved), "--log-level", "debug"))
    for fmt in ("table", "json", "markdown"):
        outputs.append(run("plan", "-c", config, "-f", fmt))
    outputs.append(run("apply", "-c", config, "--yes", "--log-level", "debug", "--log-format", "json"))
    target_ssm.put_parameter(Name="/dr/payments/db/DB_USER", Value="edited", Type="SecureString", Overwrite=True)
    aws_fake.fail("PutParameter", "ValidationException", times=None, message=f"Value '{PLANTED['DB_USER']}' at 'value'")
    outputs.append(run("apply", "-c", config, "--yes", "--log-level", "debug"))
    assert outputs[-1][0] == 1
    text = "".join(out + err for _, out, err in outputs) + saved.read_text()
    lines = [line for value in (*PLANTED.values(), "PLANTED-token-44d2") for line in value.splitlines()]
    assert not [line for line in lines if line in text]
    assert json.loads(saved.read_text())["changes"]
