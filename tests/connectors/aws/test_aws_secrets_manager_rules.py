"""The `aws-secrets-manager` rules that need no server: check() sentences, the JSON/raw layout, and the IAM policy
statements for exact and wildcard names, with and without a KMS key and an account."""

from __future__ import annotations

import json
from typing import Any

import pytest

from connectors.aws import (
    SecretsManagerSink,
    SecretsManagerSource,
    SecretsManagerSourceOptions,
    SecretsManagerTargetOptions,
)
from connectors.aws import sm_layout as layout
from connectors.aws.client import AwsSession
from connectors.aws.sm_api import BatchAnswer, SecretsApi
from syncd.errors import PermanentError, TransientError
from syncd.model import DesiredItem, Granularity, Ownership
from syncd.secret import Secret

OWNER = Ownership("prod-eu", "payments-db")
PLANTED = "PLANTED-sm-rules-91c2"
ACCOUNT = "111111111111"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/syncd"
KEY_ID = "1234abcd-12ab-34cd-56ef-1234567890ab"
# A closed local port: building, checking and policies make no call, and a regression could not reach real AWS.
NO_CALLS = {"region": "eu-west-1", "endpoint_url": "http://127.0.0.1:9", "connect_timeout": 0.5}


def sink(**options: Any) -> SecretsManagerSink:
    return SecretsManagerSink("aws-prod", SecretsManagerTargetOptions(**{**NO_CALLS, **options}))


def item(
    address: str = "prod/payments/db",
    data: dict[str, str] | None = None,
    granularity: Granularity = Granularity.DOCUMENT,
    **fields: Any,
) -> DesiredItem:
    values = {"PASSWORD": PLANTED} if data is None else data
    return DesiredItem(
        target="aws-prod",
        address=address,
        owner=OWNER,
        data={k: Secret(v) for k, v in values.items()},
        granularity=granularity,
        **fields,
    )


def only_problem(desired: DesiredItem) -> str:
    problems = sink().check(desired)
    assert len(problems) == 1, problems
    assert PLANTED not in problems[0]
    assert problems[0].endswith(".") and not problems[0][0].islower()
    return problems[0]


# check()


@pytest.mark.parametrize(
    "name",
    ["prod/payments/db", "a", "x" * 512, "app_1+2=3.4@5-6/x", "prod/api-tokens-v1", "prod/db-abc12"],
)
def test_valid_names_pass(name: str) -> None:
    assert sink().check(item(name)) == []


def test_names_ending_like_an_arn_suffix_are_allowed() -> None:
    """AWS only advises against a name ending in '-' and six characters; syncd names secrets in full, so it is fine."""
    assert sink().check(item("prod/api-tokens")) == []


@pytest.mark.parametrize(
    ("name", "words"),
    [
        ("", "1 to 512 characters"),
        ("x" * 513, "1 to 512 characters"),
        ("prod/payments db", "character AWS Secrets Manager does not allow"),
        ("prod:db", "character AWS Secrets Manager does not allow"),
        ("prod/émoji", "character AWS Secrets Manager does not allow"),
    ],
)
def test_bad_names_give_one_sentence(name: str, words: str) -> None:
    """Each bad name gives one sentence naming the name (cut short) and no value."""
    problem = only_problem(item(name))
    assert words in problem
    assert len(problem) < 400


def test_a_value_over_64_kib_is_refused_without_its_size() -> None:
    """The JSON document's UTF-8 size counts: 65,536 bytes fit, one more byte does not."""
    overhead = len(json.dumps({"K": ""}))
    assert sink().check(item(data={"K": "x" * (65536 - overhead)})) == []
    problem = only_problem(item(data={"K": "x" * (65537 - overhead)}))
    assert "larger than the 65,536 bytes" in problem
    assert str(65537) not in problem
    # Multi-byte characters count as their UTF-8 bytes, and per-key values as the raw string.
    assert "larger" in only_problem(item(data={"K": "é" * 32769}, granularity=Granularity.PER_KEY))
    assert sink().check(item(data={"K": "é" * 32768}, granularity=Granularity.PER_KEY)) == []


def test_empty_and_multi_key_per_key_items_are_refused() -> None:
    assert "empty" in only_problem(item(data={"K": ""}, granularity=Granularity.PER_KEY))
    assert "holds 2 keys" in only_problem(item(data={"A": "1", "B": "2"}, granularity=Granularity.PER_KEY))
    assert "no key" in only_problem(item(data={}))


def test_too_many_tags_count_syncds_marker() -> None:
    """49 tags plus syncd's two exceed the 50 AWS allows; 48 fit."""
    assert sink().check(item(tags={f"t{i}": "v" for i in range(48)})) == []
    problem = only_problem(item(tags={f"t{i}": "v" for i in range(49)}))
    assert "51 tags" in problem and "50" in problem


def test_bad_tags_and_marker_tags_are_refused() -> None:
    assert "'aws:'" in only_problem(item(tags={"aws:owner": "x"}))
    assert "ownership marker" in only_problem(item(tags={"syncd.io/sync": "other"}))


def test_a_long_description_is_refused() -> None:
    assert sink().check(item(description="d" * 2048)) == []
    assert "2048 characters" in only_problem(item(description="d" * 2049))


def test_several_problems_are_each_reported() -> None:
    problems = sink().check(item("bad name", data={"K": ""}, granularity=Granularity.PER_KEY, description="d" * 3000))
    assert len(problems) == 3


# Layout


def test_encode_and_decode_round_trip() -> None:
    document = item(data={"B": "2", "A": 'ünï "q"\n'})
    text = layout.encode(document)
    assert json.loads(text) == {"A": 'ünï "q"\n', "B": "2"} and text.index('"A"') < text.index('"B"')
    assert {k: v.reveal() for k, v in layout.decode("prod/db", text).items()} == {"A": 'ünï "q"\n', "B": "2"}
    assert layout.encode(item(data={"K": '{"a": "b"}'}, granularity=Granularity.PER_KEY)) == '{"a": "b"}'


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"a": "1"}', {"a": "1"}),
        ('{"a": 1}', {"db": '{"a": 1}'}),
        ("{}", {"db": "{}"}),
        ("[1]", {"db": "[1]"}),
        ("plain", {"db": "plain"}),
    ],
)
def test_decode_reads_only_objects_of_strings_as_documents(text: str, expected: dict[str, str]) -> None:
    assert {k: v.reveal() for k, v in layout.decode("prod/db", text).items()} == expected


def test_decode_raw_never_parses() -> None:
    assert {k: v.reveal() for k, v in layout.decode("prod/db", '{"a": "1"}', raw=True).items()} == {"db": '{"a": "1"}'}


def test_a_source_reads_non_string_members_as_their_json_text() -> None:
    text = '{"host": "db", "port": 5432, "ssl": true, "opts": {"a": [1]}, "none": null, "ratio": 1.50}'
    found = {k: v.reveal() for k, v in layout.decode_source("prod/rds", text).items()}
    assert found == {"host": "db", "port": "5432", "ssl": "true", "opts": '{"a": [1]}', "none": "null", "ratio": "1.5"}
    assert {k: v.reveal() for k, v in layout.decode_source("prod/token", "t").items()} == {"token": "t"}
    assert layout.decode_source("prod/empty", "") == {}


@pytest.mark.parametrize(
    ("key", "reference"),
    [
        (None, None),
        (KEY_ID, KEY_ID),
        (f"arn:aws:kms:eu-west-1:{ACCOUNT}:key/{KEY_ID}", KEY_ID),
        ("alias/app", "alias/app"),
        (f"arn:aws:kms:eu-west-1:{ACCOUNT}:alias/app", "alias/app"),
    ],
)
def test_kms_references_are_compared_in_a_short_form(key: str | None, reference: str | None) -> None:
    assert layout.kms_reference(key) == reference


# Per-secret errors of BatchGetSecretValue


def test_per_secret_errors_name_each_secret_and_the_permission() -> None:
    api = SecretsApi(AwsSession("aws-prod", SecretsManagerSourceOptions(**NO_CALLS)))
    answer = BatchAnswer(
        errors={"a": "ResourceNotFoundException", "b": "AccessDeniedException", "c": "DecryptionFailure"}
    )
    with pytest.raises(PermanentError) as info:
        api.raise_unreadable(answer.unreadable())
    text = str(info.value)
    assert "'b' (AccessDeniedException), 'c' (DecryptionFailure)" in text and "'a'" not in text
    assert "secretsmanager:GetSecretValue" in text and "kms:Decrypt" in text
    with pytest.raises(TransientError):
        api.raise_unreadable({"a": "ThrottlingException"})
    api.raise_unreadable({})


# access_policy


def statements(patterns: list[str], **options: Any) -> list[dict[str, Any]]:
    policy = sink(**options).required_access(patterns)
    assert policy.kind == "iam"
    return json.loads(policy.text)["Statement"]


def test_policy_for_exact_names_without_account_or_key() -> None:
    """Exact names get the 6-character ARN suffix; the list calls are on '*'; no KMS statement."""
    assert statements(["prod/payments/db", "prod/orders/db"]) == [
        {
            "Effect": "Allow",
            "Action": ["secretsmanager:BatchGetSecretValue", "secretsmanager:ListSecrets"],
            "Resource": "*",
        },
        {
            "Effect": "Allow",
            "Action": [
                "secretsmanager:CreateSecret",
                "secretsmanager:DeleteSecret",
                "secretsmanager:DescribeSecret",
                "secretsmanager:GetSecretValue",
                "secretsmanager:PutSecretValue",
                "secretsmanager:RestoreSecret",
                "secretsmanager:TagResource",
                "secretsmanager:UpdateSecret",
            ],
            "Resource": [
                "arn:aws:secretsmanager:eu-west-1:*:secret:prod/orders/db-??????",
                "arn:aws:secretsmanager:eu-west-1:*:secret:prod/payments/db-??????",
            ],
        },
    ]


def test_policy_for_wildcards_with_account_and_key_arn() -> None:
    """A wildcard pattern needs no suffix; the account comes from role_arn; the key ARN is the KMS resource."""
    key = f"arn:aws:kms:eu-west-1:{ACCOUNT}:key/{KEY_ID}"
    found = statements(["prod/*", "prod/*", "shared/*/db"], role_arn=ROLE, kms_key_id=key)
    assert found[1]["Resource"] == [
        f"arn:aws:secretsmanager:eu-west-1:{ACCOUNT}:secret:prod/*",
        f"arn:aws:secretsmanager:eu-west-1:{ACCOUNT}:secret:shared/*/db-??????",
    ]
    assert found[2] == {
        "Effect": "Allow",
        "Action": ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"],
        "Resource": key,
        "Condition": {"StringEquals": {"kms:ViaService": "secretsmanager.eu-west-1.amazonaws.com"}},
    }


def test_policy_for_a_key_id_and_an_alias() -> None:
    """A key id becomes its ARN; an alias grants the account's keys that carry it (kms:ResourceAliases)."""
    by_id = statements(["prod/db"], account_id=ACCOUNT, kms_key_id=KEY_ID)[2]
    assert by_id["Resource"] == f"arn:aws:kms:eu-west-1:{ACCOUNT}:key/{KEY_ID}"
    by_alias = statements(["prod/db"], account_id=ACCOUNT, kms_key_id="alias/app")[2]
    assert by_alias["Resource"] == f"arn:aws:kms:eu-west-1:{ACCOUNT}:key/*"
    assert by_alias["Condition"] == {
        "StringEquals": {"kms:ViaService": "secretsmanager.eu-west-1.amazonaws.com"},
        "ForAnyValue:StringEquals": {"kms:ResourceAliases": "alias/app"},
    }
    alias_arn = statements(["prod/db"], kms_key_id="arn:aws:kms:eu-west-1:333333333333:alias/shared")[2]
    assert alias_arn["Resource"] == "arn:aws:kms:eu-west-1:333333333333:key/*"
    assert alias_arn["Condition"]["ForAnyValue:StringEquals"] == {"kms:ResourceAliases": "alias/shared"}
    assert statements(["prod/db"], kms_key_id="alias/app")[2]["Resource"] == "arn:aws:kms:eu-west-1:*:key/*"


def test_policy_in_china_uses_its_partition() -> None:
    found = statements(["prod/db"], region="cn-north-1", kms_key_id=KEY_ID)
    assert found[1]["Resource"] == ["arn:aws-cn:secretsmanager:cn-north-1:*:secret:prod/db-??????"]
    assert found[2]["Condition"]["StringEquals"]["kms:ViaService"] == "secretsmanager.cn-north-1.amazonaws.com.cn"


def test_source_policy_is_read_only() -> None:
    """The source reads: GetSecretValue on its secrets, the list calls, kms:Decrypt alone."""
    source = SecretsManagerSource(SecretsManagerSourceOptions(**NO_CALLS, account_id=ACCOUNT, kms_key_id=KEY_ID))
    found = json.loads(source.required_access(["apps/*"]).text)["Statement"]
    assert found[0]["Action"] == ["secretsmanager:BatchGetSecretValue", "secretsmanager:ListSecrets"]
    assert found[1] == {
        "Effect": "Allow",
        "Action": ["secretsmanager:GetSecretValue"],
        "Resource": [f"arn:aws:secretsmanager:eu-west-1:{ACCOUNT}:secret:apps/*"],
    }
    assert found[2]["Action"] == ["kms:Decrypt"]
    assert found[2]["Resource"] == f"arn:aws:kms:eu-west-1:{ACCOUNT}:key/{KEY_ID}"


def test_policy_is_deterministic() -> None:
    shuffled = statements(["c/x", "a", "b/*", "a"], kms_key_id="alias/k")
    assert statements(["b/*", "a", "c/x"], kms_key_id="alias/k") == shuffled


def test_source_options_refuse_what_only_a_target_writes() -> None:
    """tags and description belong to targets: a source refuses them."""
    for extra in ({"tags": {"a": "b"}}, {"description": "d"}, {"recovery_window_days": 7}):
        with pytest.raises(ValueError, match="Extra inputs are not permitted"):
            SecretsManagerSourceOptions(region="us-east-1", **extra)
