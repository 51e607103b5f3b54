"""`syncd iam-policy`: patterns from name templates, one document per IAM-governed part, clear refusals."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from syncd.cli import main
from syncd.connector import AccessPolicy, ConnectorSpec
from syncd.registry import Registry
from syncd.testing import MemorySink, MemorySource


def _iam(statements: list[dict[str, Any]]) -> AccessPolicy:
    return AccessPolicy("iam", json.dumps({"Version": "2012-10-17", "Statement": statements}))


class IamSink(MemorySink):
    """A memory sink that asks for an IAM statement per pattern, under a prefix its destination gives."""

    class Destination(BaseModel):
        prefix: str = ""

    def address(self, destination: Any, name: str) -> str:
        return destination.prefix + name

    def required_access(self, patterns: Sequence[str]) -> AccessPolicy:
        return _iam([{"Effect": "Allow", "Action": ["demo:Write"], "Resource": [f"arn:demo:{p}" for p in patterns]}])


class IamSource(MemorySource):
    def required_access(self, patterns: Sequence[str]) -> AccessPolicy:
        return _iam([{"Effect": "Allow", "Action": ["demo:Read"], "Resource": [f"arn:demo:{p}" for p in patterns]}])


MANIFEST = """
version: 1
instance: prod
source: {type: SOURCE}
targets:
  cloud: {type: iam}
  local: {type: memory}
syncs:
  - name: db
    from: apps/db
    to:
      - {target: cloud, name: prod/payments/db}
      - {target: cloud, prefix: "/params/", granularity: per-key, name: "db/{key|lower}"}
      - {target: local}
  - name: api
    from: apps/api/
    to: [{target: cloud, name: "api/{relpath}"}]
"""


@pytest.fixture
def registry() -> Registry:
    registry = Registry()
    registry.register(ConnectorSpec("memory", "in-memory", source=MemorySource, sink=MemorySink))
    registry.register(ConnectorSpec("iam", "governed by IAM", source=IamSource, sink=IamSink))
    return registry


def manifest(tmp_path: Path, source: str = "iam") -> str:
    path = tmp_path / "syncd.yaml"
    path.write_text(textwrap.dedent(MANIFEST).replace("SOURCE", source))
    return str(path)


def run(capsys: pytest.CaptureFixture[str], registry: Registry, *argv: str) -> tuple[int, str, str]:
    code = main(["iam-policy", *argv], registry=registry)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_every_governed_part_gets_a_document_with_patterns(tmp_path: Path, registry: Registry, capsys) -> None:
    code, out, err = run(capsys, registry, "-c", manifest(tmp_path))
    assert code == 0, err
    policies = json.loads(out)
    assert set(policies) == {"source", "targets"}
    assert list(policies["targets"]) == ["cloud"]  # the memory target is not governed by IAM
    assert policies["source"]["Statement"][0]["Resource"] == ["arn:demo:apps/api/*", "arn:demo:apps/db"]
    cloud = policies["targets"]["cloud"]
    assert cloud["Version"] == "2012-10-17"
    assert cloud["Statement"][0]["Resource"] == ["arn:demo:/params/db/*", "arn:demo:api/*", "arn:demo:prod/payments/db"]


def test_one_target_prints_its_document_alone(tmp_path: Path, registry: Registry, capsys) -> None:
    code, out, _ = run(capsys, registry, "-c", manifest(tmp_path), "--target", "cloud")
    assert code == 0
    assert json.loads(out)["Statement"][0]["Action"] == ["demo:Write"]


def test_the_source_alone(tmp_path: Path, registry: Registry, capsys) -> None:
    code, out, _ = run(capsys, registry, "-c", manifest(tmp_path), "--source")
    assert code == 0
    assert json.loads(out)["Statement"][0]["Action"] == ["demo:Read"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--target", "local"], "target 'local' uses connector 'memory', which IAM does not govern"),
        (["--target", "clod"], "--target 'clod' is not a target of the manifest"),
        (["--target", "cloud", "--source"], "give one of them"),
    ],
)
def test_bad_selections_are_one_clear_error(
    tmp_path: Path, registry: Registry, capsys, argv: list[str], message: str
) -> None:
    code, out, err = run(capsys, registry, "-c", manifest(tmp_path), *argv)
    assert code == 1
    assert out == ""
    assert err.count("error:") == 1 and message in err


def test_a_manifest_without_aws_is_refused(tmp_path: Path, registry: Registry, capsys) -> None:
    path = tmp_path / "syncd.yaml"
    path.write_text(
        "version: 1\ninstance: prod\nsource: {type: memory}\ntargets: {local: {type: memory}}\n"
        "syncs: [{name: db, from: apps/db, to: [{target: local}]}]\n"
    )
    code, _, err = run(capsys, registry, "-c", str(path))
    assert code == 1
    assert "neither the source nor any target of the manifest is governed by IAM policies" in err
    code, _, err = run(capsys, registry, "-c", str(path), "--source")
    assert "the source uses connector 'memory', which IAM does not govern" in err


def test_patterns_covered_by_a_wildcard_are_left_out(tmp_path: Path, registry: Registry, capsys) -> None:
    """An exact name under a wildcard pattern of the same target adds nothing; one outside it stays."""
    path = tmp_path / "syncd.yaml"
    path.write_text(
        textwrap.dedent(
            """
            version: 1
            instance: prod
            source: {type: iam}
            targets: {cloud: {type: iam}}
            syncs:
              - name: all
                from: apps/
                to: [{target: cloud, name: "prod/{relpath}"}]
              - name: one
                from: apps/db
                to: [{target: cloud, name: prod/db}, {target: cloud, name: "prod-db[1]"}]
            """
        )
    )
    code, out, _ = run(capsys, registry, "-c", str(path))
    assert code == 0
    policies = json.loads(out)
    assert policies["targets"]["cloud"]["Statement"][0]["Resource"] == ["arn:demo:prod-db[1]", "arn:demo:prod/*"]
    assert policies["source"]["Statement"][0]["Resource"] == ["arn:demo:apps/*"]


class HclSink(MemorySink):
    """A memory sink governed by Vault policies."""

    def required_access(self, patterns: Sequence[str]) -> AccessPolicy:
        return AccessPolicy("vault", "".join(f'path "kv/data/{p}" {{ capabilities = ["update"] }}\n' for p in patterns))


def test_policy_prints_each_part_in_its_own_language(tmp_path: Path, registry: Registry, capsys) -> None:
    """`syncd policy` prints every governed part under a heading naming it and its access system: IAM as JSON,
    Vault as HCL; a part no access system governs is left out."""
    registry.register(ConnectorSpec("hcl", "governed by Vault", sink=HclSink))
    path = tmp_path / "syncd.yaml"
    path.write_text(
        textwrap.dedent(MANIFEST).replace("SOURCE", "iam").replace("local: {type: memory}", "local: {type: hcl}")
    )
    code = main(["policy", "-c", str(path)], registry=registry)
    out = capsys.readouterr().out
    assert code == 0
    sections = out.split("\n# ")
    assert sections[0].startswith("# source: IAM policy\n")
    assert json.loads(sections[0].split("\n", 1)[1])["Statement"][0]["Action"] == ["demo:Read"]
    assert sections[1].startswith("target 'cloud': IAM policy\n")
    assert sections[2] == "target 'local': Vault policy\n" + 'path "kv/data/*" { capabilities = ["update"] }\n'
    code = main(["policy", "-c", str(path), "--target", "local"], registry=registry)
    assert (code, capsys.readouterr().out) == (0, 'path "kv/data/*" { capabilities = ["update"] }\n')
    code = main(["vault-policy", "-c", str(path)], registry=registry)
    assert (code, capsys.readouterr().out) == (0, 'path "kv/data/*" { capabilities = ["update"] }\n')


def test_a_targets_policy_covers_its_scope_from_each_patterns_literal_start(
    tmp_path: Path, registry: Registry, capsys
) -> None:
    """A name pattern with text after its placeholder (`api/{relpath}-v2`) is granted from its literal start on
    (`api/*`): the target's scope, where prune may find items an earlier name left (`api/x` before `-v2`)."""
    path = tmp_path / "syncd.yaml"
    path.write_text(textwrap.dedent(MANIFEST).replace("SOURCE", "iam").replace('"api/{relpath}"', '"api/{relpath}-v2"'))
    code, out, err = run(capsys, registry, "-c", str(path), "--target", "cloud")
    assert code == 0, err
    assert json.loads(out)["Statement"][0]["Resource"] == [
        "arn:demo:/params/db/*",
        "arn:demo:api/*",
        "arn:demo:prod/payments/db",
    ]
