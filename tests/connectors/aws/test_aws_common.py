"""What the AWS connectors share: options, sessions with assumed roles, error mapping, tag rules."""

from __future__ import annotations

import datetime as dt
import traceback

import pytest
import structlog
import structlog.testing
from botocore.exceptions import ClientError, EndpointConnectionError, NoCredentialsError
from pydantic import ValidationError

from connectors.aws import SecretsManagerSink, SecretsManagerTargetOptions, SsmSink, SsmTargetOptions
from connectors.aws.client import AwsSession
from connectors.aws.errors import translate
from connectors.aws.options import AwsConnection, AwsTargetOptions, tag_list, tag_problems
from syncd.connector import Scope, marker_tags, owner_of, user_tags
from syncd.errors import PermanentError, TransientError
from syncd.model import Ownership
from syncd.ratelimit import RateLimiter
from syncd.secret import Secret
from tests.fakes.aws import AwsFake

ROLE = "arn:aws:iam::222222222222:role/syncd"
PLANTED = "PLANTED-aws-common-5d1c"


def client_error(code: str, message: str = "", status: int = 400, headers: dict[str, str] | None = None) -> ClientError:
    metadata = {"HTTPStatusCode": status, "HTTPHeaders": headers or {}}
    response = {"Error": {"Code": code, "Message": message}, "ResponseMetadata": metadata}
    return ClientError(response, "PutSecretValue")  # type: ignore[arg-type]


def translated(exc: BaseException, **kwargs: str) -> Exception:
    with pytest.raises((PermanentError, TransientError)) as info:
        translate(exc, "aws-prod", operation="secretsmanager:PutSecretValue", **kwargs)
    return info.value


@pytest.mark.parametrize(
    ("code", "status"),
    [("ThrottlingException", 400), ("TooManyRequestsException", 429), ("InternalServiceError", 500), ("X", 503)],
)
def test_throttling_and_server_errors_are_transient(code: str, status: int) -> None:
    error = translated(client_error(code, status=status))
    assert isinstance(error, TransientError)
    assert code in str(error) and "aws-prod" in str(error)


def test_endpoint_unreachable_is_transient() -> None:
    error = translated(EndpointConnectionError(endpoint_url="https://secretsmanager.example"))
    assert isinstance(error, TransientError)
    assert "cannot reach the endpoint" in str(error)


def test_access_denied_names_target_operation_and_action() -> None:
    error = translated(client_error("AccessDeniedException", "User: x is not authorized"), address="prod/db")
    assert isinstance(error, PermanentError)
    text = str(error)
    assert text.startswith("target 'aws-prod', item 'prod/db': access denied")
    assert "grant the IAM action secretsmanager:PutSecretValue" in text
    assert "syncd iam-policy" in text


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("KMSAccessDeniedException", "no access"),
        ("AccessDeniedException", "Access to KMS is not allowed"),
        ("KMSDisabledException", ""),
    ],
)
def test_kms_errors_explain_the_key_and_the_permissions(code: str, message: str) -> None:
    error = translated(client_error(code, message), kms_key_id="alias/payments")
    assert isinstance(error, PermanentError)
    assert "KMS key alias/payments cannot be used" in str(error)
    assert "kms:Decrypt" in str(error)


def test_rejected_credentials_are_permanent() -> None:
    error = translated(client_error("ExpiredTokenException", "The security token included in the request is expired"))
    assert isinstance(error, PermanentError)
    assert "credentials were rejected" in str(error)


def test_missing_credentials_are_permanent() -> None:
    assert "Unable to locate credentials" in str(translated(NoCredentialsError()))


def test_a_validation_message_quoting_the_input_shows_no_value() -> None:
    Secret(PLANTED)  # registered with the redactor, as every value read or written is
    quoted = client_error(
        "ValidationException",
        f"1 validation error detected: Value '{PLANTED}' at 'value' failed to satisfy constraint: too long",
    )
    error = translated(quoted)
    text = "".join(traceback.format_exception(error))
    assert PLANTED not in text
    assert "value [hidden] at 'value' failed to satisfy constraint" in str(error)
    unquoted = client_error("ValidationException", f"the secret {PLANTED} is bad")
    assert PLANTED not in str(translated(unquoted))


def test_errors_carry_no_botocore_cause() -> None:
    error = translated(client_error("AccessDeniedException"))
    assert error.__cause__ is None and error.__suppress_context__


def test_tag_rules() -> None:
    assert tag_problems({"team": "payments", "cost center": "4 2", "a/b.c:d=e+f-g@h": ""}) == []
    assert tag_problems({f"k{i}": "v" for i in range(49)}, reserved=2) == [
        "51 tags (with syncd's 2) exceed the AWS limit of 50"
    ]
    assert "uses the prefix 'aws:'" in tag_problems({"aws:owner": "x"})[0]
    assert "must be 1 to 128 characters" in tag_problems({"k" * 129: "x"})[0]
    assert "longer than 256 characters" in tag_problems({"k": "v" * 257})[0]
    assert "character AWS does not allow" in tag_problems({"team!": "x"})[0]
    assert "character AWS does not allow" in tag_problems({"team": "a|b"})[0]


def test_marker_tags_roundtrip() -> None:
    owner = Ownership("prod-eu", "payments-db")
    tags = {**marker_tags(owner), "team": "payments"}
    assert owner_of(tags) == owner
    assert user_tags(tags) == {"team": "payments"}
    assert owner_of({"team": "payments"}) is None
    assert tag_list({"b": "2", "a": "1"}) == [{"Key": "a", "Value": "1"}, {"Key": "b", "Value": "2"}]


@pytest.mark.parametrize(
    ("headers", "wait"),
    [({"retry-after": "7"}, 7.0), ({"Retry-After": "2.5"}, 2.5), ({}, None), ({"retry-after": "soon"}, None)],
)
def test_a_retry_after_header_goes_with_the_transient_error(headers: dict[str, str], wait: float | None) -> None:
    """A throttle's Retry-After (in seconds) is carried by the TransientError, for the core's retry to wait."""
    error = translated(client_error("ThrottlingException", status=429, headers=headers))
    assert isinstance(error, TransientError)
    assert error.retry_after == wait


def test_a_retry_after_date_is_turned_into_seconds() -> None:
    """An HTTP-date Retry-After becomes the seconds left until then."""
    when = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=120)
    header = when.strftime("%a, %d %b %Y %H:%M:%S GMT")
    error = translated(client_error("ServiceUnavailable", status=503, headers={"retry-after": header}))
    assert isinstance(error, TransientError)
    assert error.retry_after is not None and 100 < error.retry_after <= 120


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"region": "us-east-1", "external_id": "abc"}, "external_id is used only with role_arn"),
        ({"region": "useast1"}, "region"),
        ({"region": "us-east-1", "role_arn": "arn:aws:iam::12:role/x"}, "role_arn"),
        ({"region": "us-east-1", "role_duration_seconds": 60}, "role_duration_seconds"),
        ({"region": "us-east-1", "account_id": "1234"}, "account_id"),
    ],
)
def test_bad_connection_options_are_refused(options: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        AwsConnection.model_validate(options)


def test_max_attempts_still_loads_and_is_ignored_with_a_warning() -> None:
    """A manifest written for botocore's own retries still loads; the option changes nothing (one retry layer,
    syncd's: each call is made once) and the connection says so, naming the target."""
    options = AwsConnection.model_validate({"region": "us-east-1", "max_attempts": 3})
    with structlog.testing.capture_logs() as logs:
        session = AwsSession("aws-prod", options)
    assert [(e["event"], e["target"], e["option"]) for e in logs] == [("option ignored", "aws-prod", "max_attempts")]
    assert session.client("ssm").meta.config.retries["total_max_attempts"] == 1
    with structlog.testing.capture_logs() as logs:
        AwsSession("aws-prod", AwsConnection.model_validate({"region": "us-east-1"}))
    assert logs == []


def test_target_tags_are_checked_against_aws_rules() -> None:
    with pytest.raises(ValidationError, match="aws:"):
        AwsTargetOptions(region="us-east-1", tags={"aws:x": "y"})


def test_expected_account_comes_from_account_id_or_the_role() -> None:
    assert AwsConnection(region="us-east-1", role_arn=ROLE).expected_account == "222222222222"
    assert AwsConnection(region="us-east-1", account_id="333333333333").expected_account == "333333333333"
    assert AwsConnection(region="us-east-1").expected_account is None


def session(fake: AwsFake, **options: object) -> AwsSession:
    return AwsSession("aws-prod", AwsConnection(region="eu-west-1", endpoint_url=fake.endpoint, **options))


def test_building_a_session_makes_no_call(aws_fake: AwsFake) -> None:
    session(aws_fake, role_arn=ROLE)
    options = SecretsManagerTargetOptions(region="eu-west-1", endpoint_url=aws_fake.endpoint, role_arn=ROLE)
    SecretsManagerSink.connect("aws-prod", options)
    assert aws_fake.calls == []


def test_the_sdk_makes_one_attempt_per_call(aws_fake: AwsFake) -> None:
    """botocore does not retry a throttled call: the core's retry is the only layer."""
    aws_fake.fail("ListSecrets", "ThrottlingException", times=2)
    sink = SecretsManagerSink(
        "aws-prod", SecretsManagerTargetOptions(region="eu-west-1", endpoint_url=aws_fake.endpoint)
    )
    with pytest.raises(TransientError, match="ThrottlingException"):
        sink.observe([], Scope("prod", ("prod/",)))
    assert aws_fake.count("ListSecrets") == 1


class CountingLimiter(RateLimiter):
    def __init__(self) -> None:
        super().__init__()
        self.acquired = 0

    def acquire(self, operation: str = "request") -> float:
        self.acquired += 1
        return 0.0


@pytest.mark.parametrize("role", [None, ROLE])
def test_every_request_of_a_connection_waits_for_its_rate_limiter(aws_fake: AwsFake, role: str | None) -> None:
    """Each request of both AWS sinks, STS included, goes through the target's limiter first."""
    limiter = CountingLimiter()
    extra = {"role_arn": role} if role else {}
    sm_options = SecretsManagerTargetOptions(region="eu-west-1", endpoint_url=aws_fake.endpoint, **extra)
    ssm_options = SsmTargetOptions(region="eu-west-1", endpoint_url=aws_fake.endpoint, **extra)
    sm = SecretsManagerSink("sm", sm_options, SecretsManagerSink.connect("sm", sm_options, limiter=limiter))
    ssm = SsmSink("ssm", ssm_options, SsmSink.connect("ssm", ssm_options, limiter=limiter))
    sm.observe([], Scope("prod", ("prod/",)))
    ssm.observe([], Scope("prod", ("/prod/",)))
    assert limiter.acquired == len(aws_fake.calls) > 0


def test_an_assumed_role_acts_in_its_account_and_is_refreshed_before_it_expires(aws_fake: AwsFake) -> None:
    aws = session(aws_fake, role_arn=ROLE, external_id="ext-1234", role_session_name="syncd-test")
    sm = aws.client("secretsmanager")
    sm.create_secret(Name="prod/db", SecretString="{}")
    assert aws_fake.count("AssumeRole") == 1
    assert aws_fake.count("CreateSecret", account="222222222222") == 1
    assert aws_fake.client("secretsmanager", "eu-west-1").list_secrets()["SecretList"] == []
    # Credentials about to expire are refreshed on the next call, not after it fails.
    credentials = aws._boto_session()._session._credentials
    credentials._expiry_time = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=30)
    sm.list_secrets()
    assert aws_fake.count("AssumeRole") == 2
    assert aws_fake.count("ListSecrets", account="222222222222", faulted=False) == 1


def test_a_refused_assume_role_is_a_clear_permanent_error(aws_fake: AwsFake) -> None:
    aws_fake.fail("AssumeRole", "AccessDenied", times=None)
    aws = session(aws_fake, role_arn=ROLE)
    with pytest.raises(PermanentError, match=r"access denied: sts:AssumeRole was refused on arn:aws:iam::2222"):
        aws.client("secretsmanager").list_secrets()


def test_credentials_of_another_account_than_account_id_are_refused(aws_fake: AwsFake) -> None:
    aws = session(aws_fake, account_id="999999999999")
    with pytest.raises(PermanentError, match="act in account 123456789012, but the target says account_id 9999"):
        aws.client("secretsmanager")
    assert aws_fake.writes() == []


def test_matching_account_id_is_checked_once(aws_fake: AwsFake) -> None:
    aws = session(aws_fake, role_arn=ROLE, account_id="222222222222")
    aws.client("secretsmanager").list_secrets()
    aws.client("secretsmanager").list_secrets()
    assert aws_fake.count("GetCallerIdentity") == 1


def test_an_unknown_profile_is_a_clear_error(aws_fake: AwsFake) -> None:
    with pytest.raises(PermanentError, match="cannot set up AWS credentials: ProfileNotFound"):
        session(aws_fake, profile="nope").client("secretsmanager")


REFERENCED = """
version: 1
instance: prod
source: {type: file, path: secrets.json}
targets:
  aws: {type: aws-secrets-manager, region: "${env:SYNCD_TEST_REGION}", role_arn: "${env:SYNCD_TEST_ROLE}"}
syncs:
  - {name: db, from: apps/db, to: [{target: aws, name: prod/db}]}
"""


def test_options_from_references_are_checked_once_resolved(tmp_path, capsys, aws_fake: AwsFake) -> None:
    """validate accepts a reference where a pattern is expected; plan checks what it resolved to, before any call."""
    from syncd.cli import main

    (tmp_path / "secrets.json").write_text('{"apps": {"db": {"PASSWORD": "pw"}}}')
    manifest = tmp_path / "syncd.yaml"
    manifest.write_text(REFERENCED)
    assert main(["validate", "-c", str(manifest)]) == 0
    capsys.readouterr()
    env = {"SYNCD_TEST_REGION": "eu-west-1", "SYNCD_TEST_ROLE": "not-an-arn"}
    assert main(["plan", "-c", str(manifest)], env=env) == 1
    err = capsys.readouterr().err
    assert f"{manifest}:6:" in err and "targets.aws.role_arn: must be an IAM role ARN" in err
    assert "not-an-arn" not in err
    assert aws_fake.calls == []


def test_a_short_role_session_is_not_refreshed_on_every_call(aws_fake: AwsFake) -> None:
    """The shortest session AWS allows (900 s) is assumed once for a burst of calls, not once per call."""
    aws = session(aws_fake, role_arn=ROLE, role_duration_seconds=900)
    sm = aws.client("secretsmanager")
    for _ in range(5):
        sm.list_secrets()
    assert aws_fake.count("AssumeRole") == 1


def test_too_many_updates_is_transient() -> None:
    assert isinstance(translated(client_error("TooManyUpdates", "Too many updates")), TransientError)


def test_a_quoted_value_that_itself_holds_a_quote_and_at_is_hidden_whole() -> None:
    tricky = "PLANTED-tail' at 'x-and-more-tail"
    error = translated(client_error("ValidationException", f"Value '{tricky}' at 'value' failed to satisfy constraint"))
    assert "more-tail" not in str(error) and "PLANTED" not in str(error)


LENIENT = """
version: 1
instance: prod
source: {type: file, path: secrets.json}
targets:
  aws:
    type: aws-secrets-manager
    region: eu-west-1
    role_arn: "${env:SYNCD_TEST_ROLE}"
    external_id: "${file:missing-external-id}"
syncs:
  - {name: db, from: apps/db, to: [{target: aws, name: prod/db}]}
"""


def test_iam_policy_needs_only_the_references_it_uses(tmp_path, capsys) -> None:
    """An unreadable credential the policy does not use is no error; an unset role ARN, which it uses, is one."""
    import json

    from syncd.cli import main

    manifest = tmp_path / "syncd.yaml"
    manifest.write_text(LENIENT)
    role = "arn:aws:iam::222222222222:role/syncd"
    assert main(["iam-policy", "-c", str(manifest), "--target", "aws"], env={"SYNCD_TEST_ROLE": role}) == 0
    resources = json.loads(capsys.readouterr().out)["Statement"][1]["Resource"]
    assert resources == ["arn:aws:secretsmanager:eu-west-1:222222222222:secret:prod/db-??????"]
    assert main(["iam-policy", "-c", str(manifest)], env={}) == 1
    err = capsys.readouterr().err
    assert err.count("error:") == 1
    assert f"{manifest}:9:" in err and "targets.aws.role_arn: environment variable 'SYNCD_TEST_ROLE' is not set" in err
    assert main(["plan", "-c", str(manifest)], env={"SYNCD_TEST_ROLE": role}) == 1
    assert "external_id: cannot read file" in capsys.readouterr().err
