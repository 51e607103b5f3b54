"""The `aws-secrets-manager` source against moto over HTTP: documents and raw values, batched reads, listing by
prefix, and SourceErrors that name the path and never a value."""

from __future__ import annotations

import functools
import json
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from connectors.aws import SecretsManagerSource, SecretsManagerSourceOptions
from syncd.errors import SourceError, TransientError
from syncd.testing.contract import Plant, SourceContract
from tests.fakes.aws import AwsFake


@functools.cache
def backdoor(fake: AwsFake, service: str = "secretsmanager", region: str = "us-east-1", **creds: str) -> Any:
    """A backdoor client on the fake, built once per worker: each new one parses botocore's models again."""
    return fake.client(service, region, **creds)


PLANTED = "PLANTED-sm-source-0d7e"


@pytest.fixture
def source(aws_fake: AwsFake) -> Iterator[SecretsManagerSource]:
    made = SecretsManagerSource(SecretsManagerSourceOptions(region="eu-west-1", endpoint_url=aws_fake.endpoint))
    yield made
    made.close()


def plant(fake: AwsFake, name: str, text: str) -> None:
    backdoor(fake, "secretsmanager", "eu-west-1").create_secret(Name=name, SecretString=text)


class TestSecretsManagerSourceContract(SourceContract):
    """Each path is one secret holding a JSON document."""

    @pytest.fixture
    def source(self, aws_fake: AwsFake) -> Iterator[SecretsManagerSource]:
        made = SecretsManagerSource(SecretsManagerSourceOptions(region="eu-west-1", endpoint_url=aws_fake.endpoint))
        yield made
        made.close()

    @pytest.fixture
    def plant(self, aws_fake: AwsFake) -> Plant:
        def put(path: str, data: dict[str, str]) -> None:
            client = backdoor(aws_fake, "secretsmanager", "eu-west-1")
            try:
                client.create_secret(Name=path, SecretString=json.dumps(data))
            except client.exceptions.ResourceExistsException:
                client.put_secret_value(SecretId=path, SecretString=json.dumps(data))

        return put


def values(secret: object) -> dict[str, str]:
    return {key: value.reveal() for key, value in secret.data.items()}  # type: ignore[attr-defined]


def source_error(error: object) -> str:
    assert isinstance(error, SourceError)
    assert PLANTED not in "".join(traceback.format_exception(error))
    return str(error)


def test_read_gives_a_documents_keys_or_a_raw_value_under_its_last_segment(
    aws_fake: AwsFake, source: SecretsManagerSource
) -> None:
    plant(aws_fake, "apps/payments/db", '{"username": "alice", "password": "pw", "port": 5432}')
    plant(aws_fake, "apps/payments/api-token", "tok")
    db = source.read("apps/payments/db")
    assert values(db) == {"username": "alice", "password": "pw", "port": "5432"}
    assert db.path == "apps/payments/db" and db.version
    assert values(source.read("apps/payments/api-token")) == {"api-token": "tok"}
    assert aws_fake.counts() == {"GetSecretValue": 2}


def test_missing_deleted_binary_and_empty_secrets_are_source_errors(
    aws_fake: AwsFake, source: SecretsManagerSource
) -> None:
    """Each names the path and what is wrong; none reads as an empty secret."""
    client = backdoor(aws_fake, "secretsmanager", "eu-west-1")
    client.create_secret(Name="apps/gone", SecretString=PLANTED)
    client.delete_secret(SecretId="apps/gone", RecoveryWindowInDays=7)
    client.create_secret(Name="apps/cert", SecretBinary=b"\x00")
    client.create_secret(Name="apps/empty", SecretString="{}")
    cases = {"apps/missing": "does not exist", "apps/gone": "scheduled for deletion", "apps/cert": "binary"}
    cases["apps/empty"] = "is empty"
    for path, words in cases.items():
        with pytest.raises(SourceError) as info:
            source.read(path)
        message = source_error(info.value)
        assert repr(path) in message and words in message and "eu-west-1" in message
    batch = source.read_many(list(cases))
    for path, words in cases.items():
        assert words in source_error(batch[path])


def test_read_many_reads_20_a_call(aws_fake: AwsFake, source: SecretsManagerSource) -> None:
    """45 paths (one twice) cost 3 BatchGetSecretValue calls and no GetSecretValue."""
    for index in range(45):
        plant(aws_fake, f"apps/s{index:02}", f'{{"K": "v{index}"}}')
    found = source.read_many([f"apps/s{index:02}" for index in range(45)] + ["apps/s00"])
    assert len(found) == 45
    assert values(found["apps/s44"]) == {"K": "v44"}
    assert aws_fake.counts() == {"BatchGetSecretValue": 3}


def test_list_pages_through_a_prefix_sorted(aws_fake: AwsFake, source: SecretsManagerSource) -> None:
    """150 secrets below the prefix come back sorted over two pages; other prefixes and deleted ones do not."""
    client = backdoor(aws_fake, "secretsmanager", "eu-west-1")
    for index in reversed(range(150)):
        client.create_secret(Name=f"apps/{index:03}", SecretString="v")
    client.create_secret(Name="other/x", SecretString="v")
    client.create_secret(Name="apps/deleted", SecretString="v")
    client.delete_secret(SecretId="apps/deleted", RecoveryWindowInDays=7)
    listed = source.list("apps/")
    assert listed == [f"apps/{index:03}" for index in range(150)]
    assert aws_fake.count("ListSecrets") == 2
    assert source.list("nothing/") == []


def test_a_secret_throttled_inside_the_batch_is_a_transient_error(
    source: SecretsManagerSource, monkeypatch: pytest.MonkeyPatch
) -> None:
    """BatchGetSecretValue can fail one secret and answer the rest: a throttled one is transient (the core reads it
    again), a denied one is a SourceError for its sync. moto never answers so, hence the stand-in batch."""
    from connectors.aws.sm_api import BatchAnswer

    answer = BatchAnswer(
        values={"apps/ok": {"Name": "apps/ok", "SecretString": '{"K": "v"}', "VersionId": "v1"}},
        errors={"apps/busy": "ThrottlingException", "apps/denied": "AccessDeniedException"},
    )
    monkeypatch.setattr(source.api, "batch_get", lambda ids: answer)
    found = source.read_many(["apps/ok", "apps/busy", "apps/denied"])
    assert found["apps/ok"].data["K"].reveal() == "v"
    assert isinstance(found["apps/busy"], TransientError)
    assert type(found["apps/denied"]) is SourceError


def test_a_secret_nested_30000_levels_deep_fails_only_its_own_path(
    aws_fake: AwsFake, source: SecretsManagerSource
) -> None:
    """A secret whose JSON is nested 30,000 levels deep is a SourceError naming its path, line and column; the
    other secrets of its BatchGetSecretValue batch read as usual, and reading it alone fails the same way."""
    plant(aws_fake, "apps/deep", '{"K": ' + "[" * 30000 + f'"{PLANTED}"' + "]" * 30000 + "}")
    for index in range(11):
        plant(aws_fake, f"apps/s{index:02}", f'{{"K": "v{index}"}}')
    paths = ["apps/deep"] + [f"apps/s{index:02}" for index in range(11)]
    found = source.read_many(paths)
    assert aws_fake.counts() == {"BatchGetSecretValue": 1}
    assert source_error(found["apps/deep"]) == (
        "secret 'apps/deep' in eu-west-1 holds JSON nested more than 100 levels deep (line 1, column 106)"
    )
    assert all(values(found[path]) == {"K": f"v{index}"} for index, path in enumerate(paths[1:]))
    with pytest.raises(SourceError) as info:
        source.read("apps/deep")
    assert "nested more than 100 levels deep" in source_error(info.value)


def test_duplicate_json_keys_are_a_source_error_never_a_silent_choice(
    aws_fake: AwsFake, source: SecretsManagerSource
) -> None:
    """A key given twice is refused, like the file source does: a top-level key is named (it is a key name), a
    nested object's key is not (it is part of a value), and no value is shown."""
    plant(aws_fake, "apps/top", f'{{"user": "a",\n "user": "{PLANTED}"}}')
    plant(aws_fake, "apps/nested", f'{{"cfg": {{"pw-{PLANTED}": "x", "pw-{PLANTED}": "y"}}}}')
    found = source.read_many(["apps/top", "apps/nested"])
    assert source_error(found["apps/top"]) == (
        "secret 'apps/top' in eu-west-1 holds the key 'user' twice (line 2, column 2); syncd refuses duplicate "
        "JSON keys rather than keep one"
    )
    assert "holds a key of a nested object twice (line 1, column " in source_error(found["apps/nested"])


MANIFEST = """version: 1
instance: sm-parse
source: {{type: aws-secrets-manager, region: eu-west-1, endpoint_url: "{endpoint}"}}
targets:
  env: {{type: dotenv, path: out/app.env}}
syncs:
  - {{name: deep, from: apps/deep, to: [{{target: env, name: "DEEP_{{key|env}}"}}]}}
  - {{name: dup, from: apps/dup, to: [{{target: env, name: "DUP_{{key|env}}"}}]}}
  - {{name: ok, from: apps/ok, to: [{{target: env, name: "OK_{{key|env}}"}}]}}
"""


def test_malformed_secrets_fail_only_their_syncs_and_reach_no_report(
    aws_fake: AwsFake, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A secret nested 30,000 levels deep and one holding a key twice are problems of their own syncs, read in the
    same batch as a good one, which is still planned; no report format and no saved plan holds their text."""
    from syncd.cli import main

    plant(aws_fake, "apps/deep", '{"K": ' + "[" * 30000 + f'"{PLANTED}"' + "]" * 30000 + "}")
    plant(aws_fake, "apps/dup", f'{{"user": "{PLANTED}", "user": "{PLANTED}"}}')
    plant(aws_fake, "apps/ok", '{"user": "alice"}')
    manifest = tmp_path / "syncd.yaml"
    manifest.write_text(MANIFEST.format(endpoint=aws_fake.endpoint))
    saved = tmp_path / "plan.json"
    outputs = []
    for argv in (
        ["plan", "-c", str(manifest)],
        ["plan", "-c", str(manifest), "--format", "markdown"],
        ["plan", "-c", str(manifest), "--format", "json", "-o", str(saved)],
    ):
        main(argv)
        captured = capsys.readouterr()
        outputs += [captured.out, captured.err]
    outputs.append(saved.read_text())
    assert all(PLANTED not in output for output in outputs)
    plan = json.loads(outputs[4])
    assert [(c["sync"], c["address"], c["action"]) for c in plan["changes"]] == [("ok", "OK_USER", "create")]
    problems = sorted((p["sync"], p["message"]) for p in plan["problems"])
    assert [sync for sync, _ in problems] == ["deep", "dup"]
    assert "nested more than 100 levels deep (line 1, column 106)" in problems[0][1]
    assert "holds the key 'user' twice (line 1, column " in problems[1][1]
