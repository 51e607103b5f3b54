"""The AWS fake: counting, the AWS limits moto lacks, injected faults, reset, regions and accounts."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from tests.fakes.aws import DEFAULT_ACCOUNT, SSM_ADVANCED_TOO_LARGE, SSM_STANDARD_TOO_LARGE, AwsFake

OTHER_ACCOUNT = "222222222222"
ROLE = f"arn:aws:iam::{OTHER_ACCOUNT}:role/syncd"


def error_of(call: Callable[[], Any]) -> tuple[str, str, int]:
    """Run a boto3 call that must fail; return its error code, message and HTTP status."""
    with pytest.raises(ClientError) as info:
        call()
    response = info.value.response
    return response["Error"]["Code"], response["Error"]["Message"], response["ResponseMetadata"]["HTTPStatusCode"]


# Counting


def test_calls_are_counted_per_operation_region_and_key(aws_fake: AwsFake) -> None:
    """Counts split by operation and region; each call records service, region, key and account."""
    east = aws_fake.client("secretsmanager", record=True)
    west = aws_fake.client("secretsmanager", "eu-west-1", record=True)
    east.create_secret(Name="app/db", SecretString="v1")
    east.put_secret_value(SecretId="app/db", SecretString="v2")
    west.create_secret(Name="app/db", SecretString="w1")
    east.get_secret_value(SecretId="app/db")

    assert aws_fake.count("PutSecretValue") == 1
    assert aws_fake.count("CreateSecret") == 2
    assert aws_fake.count("CreateSecret", region="eu-west-1") == 1
    assert aws_fake.counts(region="us-east-1") == {"CreateSecret": 1, "PutSecretValue": 1, "GetSecretValue": 1}
    first = aws_fake.calls[0]
    assert (first.service, first.operation, first.region) == ("secretsmanager", "CreateSecret", "us-east-1")
    assert (first.access_key, first.account, first.status, first.faulted) == ("testing", DEFAULT_ACCOUNT, 200, False)
    assert [call.operation for call in aws_fake.writes()] == ["CreateSecret", "PutSecretValue", "CreateSecret"]

    aws_fake.reset_counts()
    assert aws_fake.calls == []
    assert east.get_secret_value(SecretId="app/db")["SecretString"] == "v2"


def test_ssm_sts_kms_and_iam_operations_are_named_and_typed(aws_fake: AwsFake) -> None:
    """SSM and KMS ops come from X-Amz-Target, STS and IAM ops from the form's Action; STS calls are not writes."""
    aws_fake.client("ssm", record=True).get_parameters(Names=["/missing"])
    aws_fake.client("sts", record=True).assume_role(RoleArn=ROLE, RoleSessionName="sess")
    aws_fake.client("kms", record=True).create_key()
    aws_fake.client("iam", record=True).create_user(UserName="syncd")

    assert [(call.service, call.operation) for call in aws_fake.calls] == [
        ("ssm", "GetParameters"),
        ("sts", "AssumeRole"),
        ("kms", "CreateKey"),
        ("iam", "CreateUser"),
    ]
    assert [call.operation for call in aws_fake.writes()] == ["CreateKey", "CreateUser"]


def test_backdoor_clients_are_neither_counted_nor_faulted(aws_fake: AwsFake) -> None:
    """Planting and inspecting state through `client()` leaves the counts alone and dodges faults."""
    aws_fake.fail("CreateSecret", times=None)
    aws_fake.client("secretsmanager").create_secret(Name="planted", SecretString="v")
    assert aws_fake.calls == []


def test_a_client_without_endpoint_reaches_the_fake(aws_fake: AwsFake) -> None:
    """aws_fake sets AWS_ENDPOINT_URL and dummy credentials, so a plain boto3 client lands on the fake."""
    boto3.client("secretsmanager").create_secret(Name="plain", SecretString="v")
    assert aws_fake.count("CreateSecret", access_key="testing", region="us-east-1") == 1


# Limits moto lacks, answered as AWS answers them


def test_describe_parameters_pages_by_max_results_as_aws_does(aws_fake: AwsFake) -> None:
    """DescribeParameters answers up to MaxResults parameters a page (moto alone answers 10), the pages together
    holding each parameter once, and refuses a MaxResults over 50 as AWS does."""
    ssm = aws_fake.client("ssm")
    for index in range(120):
        ssm.put_parameter(Name=f"/paged/p{index:03}", Value="v", Type="String")
    pages = list(ssm.get_paginator("describe_parameters").paginate(PaginationConfig={"PageSize": 50}))
    assert [len(page["Parameters"]) for page in pages] == [50, 50, 20]
    assert len({meta["Name"] for page in pages for meta in page["Parameters"]}) == 120
    assert [len(page["Parameters"]) for page in ssm.get_paginator("describe_parameters").paginate()][:2] == [10, 10]
    code, _, _ = error_of(lambda: ssm.describe_parameters(MaxResults=51))
    assert code == "ValidationException"


def test_batch_get_takes_at_most_20_secret_ids(aws_fake: AwsFake) -> None:
    """21 ids get AWS's ValidationException and no lookup; 20 are fine (missing ones land in Errors)."""
    sm = aws_fake.client("secretsmanager", record=True)
    ids = [f"s{i}" for i in range(21)]
    code, message, status = error_of(lambda: sm.batch_get_secret_value(SecretIdList=ids))
    assert (code, status) == ("ValidationException", 400)
    assert message == (
        f"1 validation error detected: Value '[{', '.join(ids)}]' at 'secretIdList' failed to satisfy constraint: "
        "Member must have length less than or equal to 20"
    )
    assert aws_fake.calls[-1].error == "ValidationException"
    assert len(sm.batch_get_secret_value(SecretIdList=ids[:20])["Errors"]) == 20


def test_batch_get_with_filters_takes_max_results_up_to_20(aws_fake: AwsFake) -> None:
    """MaxResults 21 with Filters is refused; 20 is fine."""
    sm = aws_fake.client("secretsmanager")
    filters = [{"Key": "name", "Values": ["app"]}]
    code, message, _ = error_of(lambda: sm.batch_get_secret_value(Filters=filters, MaxResults=21))
    assert code == "ValidationException"
    assert (
        "Value '21' at 'maxResults' failed to satisfy constraint: Member must have value less than or equal to 20"
        in (message)
    )
    sm.batch_get_secret_value(Filters=filters, MaxResults=20)


def test_list_secrets_takes_max_results_up_to_100(aws_fake: AwsFake) -> None:
    """ListSecrets MaxResults 101 is refused; 100 is fine."""
    sm = aws_fake.client("secretsmanager")
    code, message, _ = error_of(lambda: sm.list_secrets(MaxResults=101))
    assert code == "ValidationException"
    assert "at 'maxResults' failed to satisfy constraint: Member must have value less than or equal to 100" in message
    sm.list_secrets(MaxResults=100)


@pytest.mark.parametrize("operation", ["create_secret", "put_secret_value"])
def test_secret_string_over_65536_bytes_is_refused_without_echoing_it(aws_fake: AwsFake, operation: str) -> None:
    """65,537 bytes (32,769 two-byte characters) are refused, the value left out of the message; nothing is stored."""
    sm = aws_fake.client("secretsmanager")
    sm.create_secret(Name="existing", SecretString="v1")
    name = "new" if operation == "create_secret" else "existing"
    key = "Name" if operation == "create_secret" else "SecretId"
    too_big = "é" * 32769
    code, message, _ = error_of(lambda: getattr(sm, operation)(**{key: name, "SecretString": too_big}))
    assert code == "ValidationException"
    assert message == (
        "1 validation error detected: Value at 'secretString' failed to satisfy constraint: "
        "Member must have length less than or equal to 65536"
    )
    assert [s["Name"] for s in sm.list_secrets()["SecretList"]] == ["existing"]
    assert sm.get_secret_value(SecretId="existing")["SecretString"] == "v1"
    getattr(sm, operation)(**{key: name, "SecretString": "x" * 65536})


def test_secret_binary_over_65536_bytes_is_refused(aws_fake: AwsFake) -> None:
    """SecretBinary is measured decoded, not as its base64 text."""
    sm = aws_fake.client("secretsmanager")
    code, message, _ = error_of(lambda: sm.create_secret(Name="bin", SecretBinary=b"x" * 65537))
    assert code == "ValidationException"
    assert "Value at 'secretBinary' failed to satisfy constraint" in message
    sm.create_secret(Name="bin", SecretBinary=b"x" * 65536)


def test_ssm_get_parameters_takes_at_most_10_names(aws_fake: AwsFake) -> None:
    """11 names are refused with ValidationException, 10 are fine."""
    ssm = aws_fake.client("ssm")
    names = [f"/p{i}" for i in range(11)]
    code, message, _ = error_of(lambda: ssm.get_parameters(Names=names))
    assert code == "ValidationException"
    assert "at 'names' failed to satisfy constraint: Member must have length less than or equal to 10" in message
    assert len(ssm.get_parameters(Names=names[:10])["InvalidParameters"]) == 10


def test_ssm_get_parameters_by_path_takes_max_results_up_to_10(aws_fake: AwsFake) -> None:
    """MaxResults 11 is refused, as moto already did."""
    ssm = aws_fake.client("ssm")
    code, message, _ = error_of(lambda: ssm.get_parameters_by_path(Path="/app", MaxResults=11))
    assert code == "ValidationException"
    assert "at 'maxResults' failed to satisfy constraint: Member must have value less than or equal to 10" in message


@pytest.mark.parametrize(
    ("tier", "size", "expected"),
    [
        (None, 4097, SSM_STANDARD_TOO_LARGE),
        ("Standard", 4097, SSM_STANDARD_TOO_LARGE),
        ("Advanced", 8193, SSM_ADVANCED_TOO_LARGE),
        ("Intelligent-Tiering", 8193, SSM_ADVANCED_TOO_LARGE),
        (None, 4096, None),
        ("Advanced", 8192, None),
        ("Intelligent-Tiering", 5000, None),
    ],
)
def test_ssm_parameter_value_size_follows_the_tier(
    aws_fake: AwsFake, tier: str | None, size: int, expected: str | None
) -> None:
    """Standard (the default) holds 4,096 bytes, Advanced and Intelligent-Tiering 8,192."""
    ssm = aws_fake.client("ssm")
    put = {"Name": "/app/big", "Value": "x" * size, "Type": "SecureString", **({"Tier": tier} if tier else {})}
    if expected is None:
        ssm.put_parameter(**put)
        assert len(ssm.get_parameter(Name="/app/big", WithDecryption=True)["Parameter"]["Value"]) == size
    else:
        assert error_of(lambda: ssm.put_parameter(**put)) == ("ValidationException", expected, 400)
        assert ssm.describe_parameters()["Parameters"] == []


def test_ssm_overwrite_without_tier_keeps_an_advanced_parameters_limit(aws_fake: AwsFake) -> None:
    """An Advanced parameter overwritten without Tier still takes 8,192 bytes."""
    ssm = aws_fake.client("ssm")
    ssm.put_parameter(Name="/app/adv", Value="v", Type="String", Tier="Advanced")
    ssm.put_parameter(Name="/app/adv", Value="x" * 8000, Type="String", Overwrite=True)
    ssm.put_parameter(Name="/app/std", Value="v", Type="String")
    big = "x" * 4097
    assert error_of(lambda: ssm.put_parameter(Name="/app/std", Value=big, Overwrite=True))[1] == SSM_STANDARD_TOO_LARGE


def test_ssm_tags_with_overwrite_is_still_refused_by_moto(aws_fake: AwsFake) -> None:
    """moto itself refuses Tags with Overwrite, as AWS does; the fake leaves that to moto."""
    ssm = aws_fake.client("ssm", record=True)
    tags = [{"Key": "owner", "Value": "syncd"}]
    code, message, _ = error_of(
        lambda: ssm.put_parameter(Name="/app/t", Value="v", Type="String", Overwrite=True, Tags=tags)
    )
    assert (code, aws_fake.calls[-1].error) == ("ValidationException", None)
    assert "tags and overwrite can't be used together" in message


# Faults


def test_throttle_twice_then_success_with_standard_retries(aws_fake: AwsFake, aws_no_backoff: None) -> None:
    """Two injected throttles, then moto answers: the client retried twice and the server saw three calls."""
    aws_fake.client("secretsmanager").create_secret(Name="app/db", SecretString="v1")
    fault = aws_fake.fail("PutSecretValue", error="ThrottlingException", times=2)
    sm = aws_fake.client("secretsmanager", record=True, max_attempts=3)

    response = sm.put_secret_value(SecretId="app/db", SecretString="v2")

    assert response["ResponseMetadata"]["RetryAttempts"] == 2
    assert aws_fake.count("PutSecretValue") == 3
    assert aws_fake.count("PutSecretValue", faulted=True) == 2
    assert [call.error for call in aws_fake.calls] == ["ThrottlingException", "ThrottlingException", None]
    assert (fault.hits, fault.remaining) == (2, 0)
    assert aws_fake.client("secretsmanager").get_secret_value(SecretId="app/db")["SecretString"] == "v2"


def test_a_throttle_reaches_a_client_without_retries(aws_fake: AwsFake) -> None:
    """With one attempt the caller sees ThrottlingException / 400 / Rate exceeded, in SSM too."""
    aws_fake.fail("GetParameter")
    ssm = aws_fake.client("ssm", record=True)
    assert error_of(lambda: ssm.get_parameter(Name="/x")) == ("ThrottlingException", "Rate exceeded", 400)
    assert error_of(lambda: ssm.get_parameter(Name="/x"))[0] == "ParameterNotFound"


@pytest.mark.parametrize(
    ("service", "call", "error", "expected"),
    [
        ("secretsmanager", "list_secrets", 500, ("InternalServiceError", 500)),
        ("ssm", "describe_parameters", 500, ("InternalServerError", 500)),
        ("secretsmanager", "list_secrets", "InternalFailure", ("InternalFailure", 500)),
        ("ssm", "describe_parameters", 503, ("ServiceUnavailable", 503)),
        ("secretsmanager", "list_secrets", "ServiceUnavailable", ("ServiceUnavailable", 503)),
    ],
)
def test_server_errors_are_injected(
    aws_fake: AwsFake, service: str, call: str, error: str | int, expected: tuple[str, int]
) -> None:
    """A 500 names the service's own internal error; 503 is ServiceUnavailable."""
    client = aws_fake.client(service, record=True)
    aws_fake.fail(None, error=error)
    code, _, status = error_of(getattr(client, call))
    assert (code, status) == expected
    getattr(client, call)()
    assert [c.status for c in aws_fake.calls] == [expected[1], 200]


def test_a_500_is_retried_to_success(aws_fake: AwsFake, aws_no_backoff: None) -> None:
    """Standard retries ride over one injected 500."""
    aws_fake.fail("ListSecrets", error=500)
    sm = aws_fake.client("secretsmanager", record=True, max_attempts=2)
    assert sm.list_secrets()["ResponseMetadata"]["RetryAttempts"] == 1


def test_access_denied_only_in_the_filtered_region(aws_fake: AwsFake) -> None:
    """A region filter denies eu-west-1 every time until heal(); us-east-1 is untouched."""
    east = aws_fake.client("secretsmanager", record=True)
    west = aws_fake.client("secretsmanager", "eu-west-1", record=True)
    for client in (east, west):
        client.create_secret(Name="app/db", SecretString="v1")
    aws_fake.fail("PutSecretValue", error="AccessDeniedException", region="eu-west-1", times=None)

    for _ in range(2):
        code, message, status = error_of(lambda: west.put_secret_value(SecretId="app/db", SecretString="v2"))
        assert (code, status) == ("AccessDeniedException", 400)
        assert message == (
            f"User: arn:aws:iam::{DEFAULT_ACCOUNT}:user/moto is not authorized to perform: "
            "secretsmanager:PutSecretValue on resource: app/db because no identity-based policy allows the "
            "secretsmanager:PutSecretValue action"
        )
    east.put_secret_value(SecretId="app/db", SecretString="v2")
    aws_fake.heal()
    west.put_secret_value(SecretId="app/db", SecretString="v2")
    assert aws_fake.count("PutSecretValue", region="eu-west-1", faulted=True) == 2


def test_access_denied_only_for_the_filtered_account_names_the_assumed_role(aws_fake: AwsFake) -> None:
    """An access-key filter denies the assumed role only; the message names its session as IAM does."""
    creds = aws_fake.assume_role_credentials(ROLE, session_name="sync-run")
    aws_fake.fail("PutParameter", error="AccessDeniedException", access_key=creds["aws_access_key_id"], times=None)
    other = aws_fake.client("ssm", "eu-west-1", record=True, **creds)

    code, message, _ = error_of(lambda: other.put_parameter(Name="/app/x", Value="v", Type="String"))
    assert code == "AccessDeniedException"
    assert message == (
        f"User: arn:aws:sts::{OTHER_ACCOUNT}:assumed-role/syncd/sync-run is not authorized to perform: "
        f"ssm:PutParameter on resource: arn:aws:ssm:eu-west-1:{OTHER_ACCOUNT}:parameter/app/x because no "
        "identity-based policy allows the ssm:PutParameter action"
    )
    aws_fake.client("ssm", "eu-west-1", record=True).put_parameter(Name="/app/x", Value="v", Type="String")
    assert aws_fake.count("PutParameter", account=OTHER_ACCOUNT, faulted=True) == 1
    assert aws_fake.count("PutParameter", account=DEFAULT_ACCOUNT, faulted=False) == 1


def test_query_protocol_faults_use_the_query_error_names(aws_fake: AwsFake) -> None:
    """STS answers in XML and calls its throttle Throttling and its denial AccessDenied."""
    sts = aws_fake.client("sts", record=True)
    aws_fake.fail("AssumeRole")
    aws_fake.fail("AssumeRole", error="AccessDeniedException")
    assert error_of(lambda: sts.assume_role(RoleArn=ROLE, RoleSessionName="sess")) == (
        "Throttling",
        "Rate exceeded",
        400,
    )
    code, message, _ = error_of(lambda: sts.assume_role(RoleArn=ROLE, RoleSessionName="sess"))
    assert code == "AccessDenied"
    assert f"sts:AssumeRole on resource: {ROLE} because" in message
    sts.assume_role(RoleArn=ROLE, RoleSessionName="sess")


def test_fail_rejects_meaningless_arguments(aws_fake: AwsFake) -> None:
    """times must be positive and a numeric error a 5xx."""
    with pytest.raises(ValueError, match="times"):
        aws_fake.fail("GetSecretValue", times=0)
    with pytest.raises(ValueError, match="5xx"):
        aws_fake.fail("GetSecretValue", error=404)


# State: reset, regions, accounts


def test_reset_wipes_state_counts_and_faults(aws_fake: AwsFake) -> None:
    """After reset() the secret, the parameter, the recorded calls and the pending fault are gone."""
    sm = aws_fake.client("secretsmanager", record=True)
    sm.create_secret(Name="app/db", SecretString="v1")
    aws_fake.client("ssm").put_parameter(Name="/app/p", Value="v", Type="String")
    aws_fake.fail("ListSecrets", times=None)

    aws_fake.reset()

    assert aws_fake.calls == []
    assert sm.list_secrets()["SecretList"] == []
    assert aws_fake.client("ssm").describe_parameters()["Parameters"] == []
    assert aws_fake.calls[-1].faulted is False


def test_regions_are_separate(aws_fake: AwsFake) -> None:
    """A secret and a parameter in eu-west-1 are invisible in us-east-1."""
    aws_fake.client("secretsmanager", "eu-west-1").create_secret(Name="app/db", SecretString="west")
    aws_fake.client("ssm", "eu-west-1").put_parameter(Name="/app/p", Value="west", Type="String")
    assert aws_fake.client("secretsmanager").list_secrets()["SecretList"] == []
    assert aws_fake.client("ssm").get_parameters(Names=["/app/p"])["InvalidParameters"] == ["/app/p"]


def test_assumed_role_credentials_act_in_the_other_account(aws_fake: AwsFake) -> None:
    """A secret made with the assumed role lives in 222222222222; the default account neither sees nor shares it."""
    creds = aws_fake.assume_role_credentials(ROLE)
    assert creds["aws_access_key_id"].startswith("ASIA")
    other = aws_fake.client("secretsmanager", **creds)
    default = aws_fake.client("secretsmanager")

    arn = other.create_secret(Name="app/db", SecretString="theirs")["ARN"]
    assert arn.startswith(f"arn:aws:secretsmanager:us-east-1:{OTHER_ACCOUNT}:secret:app/db-")
    assert default.list_secrets()["SecretList"] == []
    assert error_of(lambda: default.get_secret_value(SecretId="app/db"))[0] == "ResourceNotFoundException"
    default.create_secret(Name="app/db", SecretString="ours")
    assert other.get_secret_value(SecretId="app/db")["SecretString"] == "theirs"


def test_assume_role_refuses_when_moto_account_id_is_set(aws_fake: AwsFake, monkeypatch: pytest.MonkeyPatch) -> None:
    """MOTO_ACCOUNT_ID would fold every account into one, so the helper refuses rather than lie."""
    monkeypatch.setenv("MOTO_ACCOUNT_ID", OTHER_ACCOUNT)
    with pytest.raises(RuntimeError, match="MOTO_ACCOUNT_ID"):
        aws_fake.assume_role_credentials(ROLE)


def test_aws_env_hides_the_developers_aws_config(aws_env: dict[str, str]) -> None:
    """Dummy keys and region, empty config files, and no profile, session token or MOTO_ACCOUNT_ID."""
    credentials = boto3.session.Session().get_credentials()
    assert credentials is not None
    assert (credentials.access_key, credentials.secret_key, credentials.token) == ("testing", "testing", None)
    assert boto3.session.Session().region_name == "us-east-1"
    for name in ("AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
        with open(os.environ[name]) as file:
            assert file.read() == ""
    assert not {"AWS_PROFILE", "AWS_SESSION_TOKEN", "MOTO_ACCOUNT_ID"} & set(os.environ)
