"""What the AWS connectors share: target options, sessions, error mapping and tag rules.

A target is one account and one region. Credentials come from the usual
chain (environment, profile, instance or task role), optionally through
`sts:AssumeRole` into another account. Assumed-role credentials are
refreshed by botocore a few minutes before they expire, so a daemon that
runs for months keeps working. Clients are built on first use: building a
connector makes no call, which lets `validate` and `iam-policy` work
offline.

Every botocore error is turned into syncd's own in `translate`, the one
place that decides what is transient, what is permanent, and what the
message says. AWS validation messages may quote the input they refused
(`Value '...' at 'value'`), so they are never passed through as they are.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping
from datetime import datetime
from typing import Any, NoReturn

from pydantic import Field, field_validator, model_validator

from syncd.connector import MARKER_INSTANCE, MARKER_SYNC, Options, Sink, secret_field, url_location
from syncd.errors import ConnectorError, PermanentError, TransientError
from syncd.model import Ownership
from syncd.secret import REDACTOR

ROLE_ARN = r"^arn:aws[a-zA-Z-]*:iam::\d{12}:role/[\w+=,.@/-]+$"
REGION = r"^[a-z]{2}(-[a-z]+)+-\d+$"
SESSION_NAME = r"^[\w+=,.@-]{2,64}$"
ACCOUNT = r"^\d{12}$"
URL = r"^https?://\S+$"
MAX_TAGS = 50
MAX_TAG_KEY = 128
MAX_TAG_VALUE = 256
# Letters, digits and spaces in any language, and _ . : / = + - @ (AWS tagging rules).
_TAG_TEXT = re.compile(r"^[\w\s.:/=+\-@]*$")

TRANSIENT_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "RequestThrottled",
        "RequestThrottledException",
        "ProvisionedThroughputExceededException",
        "LimitExceededException",
        "InternalServiceError",
        "InternalServiceErrorException",
        "InternalFailure",
        "InternalServerError",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "RequestTimeout",
        "RequestTimeoutException",
        # SSM: another update of the same parameter is in progress.
        "TooManyUpdates",
    }
)
ACCESS_DENIED_CODES = frozenset({"AccessDenied", "AccessDeniedException", "UnauthorizedOperation"})
CREDENTIAL_CODES = frozenset(
    {
        "ExpiredToken",
        "ExpiredTokenException",
        "InvalidClientTokenId",
        "UnrecognizedClientException",
        "SignatureDoesNotMatch",
        "InvalidSignatureException",
        "IncompleteSignature",
        "MissingAuthenticationToken",
    }
)
KMS_CODES = frozenset(
    {
        "KMSAccessDeniedException",
        "KMSDisabledException",
        "KMSInvalidStateException",
        "KMSNotFoundException",
        "KMSInvalidKeyUsageException",
        "EncryptionFailure",
        "DecryptionFailure",
        "InvalidKeyId",
        "DisabledException",
        "KeyUnavailableException",
        "NotFoundException",
    }
)
# Greedy, to the last "' at": a value may itself hold "' at".
_QUOTED_VALUE = re.compile(r"(?is)value\s*'.*'\s*at")


class AwsConnection(Options):
    """Where and as whom: what every AWS source and target takes to reach one account and region."""

    region: str
    role_arn: str | None = None
    external_id: str | None = secret_field(default=None, min_length=2, max_length=1224)
    role_session_name: str = "syncd"
    role_duration_seconds: int = Field(3600, ge=900, le=43200)
    profile: str | None = None
    # The account the credentials must resolve to; checked once per run, and used by `iam-policy`.
    account_id: str | None = None
    endpoint_url: str | None = None
    sts_endpoint_url: str | None = None
    max_attempts: int = Field(3, ge=1, le=10)
    connect_timeout: float = Field(5.0, gt=0, le=120)
    read_timeout: float = Field(30.0, gt=0, le=600)

    @field_validator("region")
    @classmethod
    def _region_form(cls, value: str) -> str:
        return _matching(value, REGION, "must be an AWS region name such as 'eu-west-1'")

    @field_validator("role_arn")
    @classmethod
    def _role_arn_form(cls, value: str | None) -> str | None:
        return _matching(value, ROLE_ARN, "must be an IAM role ARN such as 'arn:aws:iam::111111111111:role/syncd'")

    @field_validator("role_session_name")
    @classmethod
    def _session_name_form(cls, value: str) -> str:
        return _matching(value, SESSION_NAME, "must be 2 to 64 letters, digits or +=,.@_-")

    @field_validator("account_id", mode="before")
    @classmethod
    def _account_form(cls, value: object) -> object:
        if isinstance(value, int):
            raise ValueError("must be 12 digits in quotes, such as '111111111111' (YAML reads a bare number)")
        return _matching(value, ACCOUNT, "must be 12 digits, such as '111111111111'") if value is not None else None

    @field_validator("endpoint_url", "sts_endpoint_url")
    @classmethod
    def _url_form(cls, value: str | None) -> str | None:
        return _matching(value, URL, "must be an http:// or https:// URL")

    @model_validator(mode="after")
    def _external_id_needs_a_role(self) -> AwsConnection:
        if self.external_id and not self.role_arn:
            raise ValueError("external_id is used only with role_arn; set role_arn or remove external_id")
        return self

    @property
    def role_account(self) -> str | None:
        """The account of `role_arn`, which is where the assumed credentials act."""
        return self.role_arn.split(":")[4] if self.role_arn else None

    @property
    def expected_account(self) -> str | None:
        return self.account_id or self.role_account

    def location(self, service: str, *parts: str) -> tuple[str, ...]:
        """Where this connection's items live, for the core's overlap check (no call): the service, the endpoint,
        the account and the region. The account is role_arn's, else account_id; a connection that names neither
        is known by its credentials: its profile, or the default chain, which every such target of a run shares."""
        account = self.expected_account
        who = f"account {account}" if account else f"profile {self.profile}" if self.profile else "default credentials"
        return (service, url_location(self.endpoint_url), who, self.region, *parts)

    @property
    def partition(self) -> str:
        if self.role_arn:
            return self.role_arn.split(":")[1]
        if self.region.startswith("cn-"):
            return "aws-cn"
        return "aws-us-gov" if self.region.startswith("us-gov-") else "aws"


class AwsTargetOptions(AwsConnection):
    """A sink's connection, plus what it stamps on every item it writes."""

    kms_key_id: str | None = Field(None, min_length=1, max_length=2048)
    tags: dict[str, str] = Field(default_factory=dict)
    description: str | None = Field(None, max_length=2048)

    @field_validator("tags")
    @classmethod
    def _tags_follow_aws_rules(cls, tags: dict[str, str]) -> dict[str, str]:
        problems = [f"tag {k!r} is reserved for syncd's ownership marker" for k in tags if k.startswith("syncd.io/")]
        problems += tag_problems(tags)
        if problems:
            raise ValueError(problems[0])
        return tags


def _matching(value: Any, pattern: str, rule: str) -> Any:
    if value is not None and (not isinstance(value, str) or not re.match(pattern, value)):
        raise ValueError(rule)
    return value


class AwsSink(Sink):
    """What both AWS sinks do alike: the target's `tags` and `description` options go on every item."""

    options: AwsTargetOptions

    def default_tags(self) -> Mapping[str, str]:
        return dict(self.options.tags)

    def default_description(self) -> str | None:
        return self.options.description


def tag_problems(tags: Mapping[str, str], *, reserved: int = 0) -> list[str]:
    """AWS tag rules, one sentence per problem; `reserved` counts the tags syncd adds itself."""
    problems = []
    if len(tags) + reserved > MAX_TAGS:
        problems.append(f"{len(tags) + reserved} tags (with syncd's {reserved}) exceed the AWS limit of {MAX_TAGS}")
    for key, value in tags.items():
        if not 1 <= len(key) <= MAX_TAG_KEY:
            problems.append(f"tag key {key[:40]!r} must be 1 to {MAX_TAG_KEY} characters")
        elif key.lower().startswith("aws:"):
            problems.append(f"tag key {key!r} uses the prefix 'aws:', which AWS reserves")
        elif not _TAG_TEXT.match(key):
            problems.append(f"tag key {key!r} has a character AWS does not allow (letters, digits, spaces, _.:/=+-@)")
        if len(value) > MAX_TAG_VALUE:
            problems.append(f"the value of tag {key[:40]!r} is longer than {MAX_TAG_VALUE} characters")
        elif not _TAG_TEXT.match(value):
            problems.append(f"the value of tag {key[:40]!r} has a character AWS does not allow")
    return problems


def marker_tags(owner: Ownership) -> dict[str, str]:
    return {MARKER_INSTANCE: owner.instance, MARKER_SYNC: owner.sync}


def owner_from_tags(tags: Mapping[str, str]) -> Ownership | None:
    instance, sync = tags.get(MARKER_INSTANCE), tags.get(MARKER_SYNC)
    return Ownership(instance, sync) if instance and sync else None


def user_tags(tags: Mapping[str, str]) -> dict[str, str]:
    """Tags without syncd's ownership marker."""
    return {k: v for k, v in tags.items() if k not in (MARKER_INSTANCE, MARKER_SYNC)}


class AwsSession:
    """Clients for one target, built on first use and shared by the connector's threads.

    `client` is a ready-made boto3 client a caller (a test) may hand in; it
    is then used for its own service as is.
    """

    def __init__(self, target: str, options: AwsConnection, client: Any = None) -> None:
        self.target = target
        self.options = options
        self._given = client
        self._clients: dict[str, Any] = {}
        self._session: Any = None
        self._lock = threading.Lock()
        self._account_checked = False

    def client(self, service: str) -> Any:
        given = self._given
        if given is not None and given.meta.service_model.service_name == service:
            return given
        with self._lock:
            if service not in self._clients:
                self._clients[service] = self._build(service)
            client = self._clients[service]
        if not self._account_checked and self.options.account_id:
            self._check_account()
        return client

    def _boto_session(self) -> Any:
        if self._session is None:
            try:
                import boto3
            except ImportError as exc:  # the registry normally catches this first, with an install hint
                raise PermanentError("boto3 is not installed: pip install 'syncd[aws]'", target=self.target) from exc
            try:
                session = boto3.Session(
                    botocore_session=_botocore_session(),
                    profile_name=self.options.profile,
                    region_name=self.options.region,
                )
                if self.options.role_arn:
                    self._assume_role(session)
            except Exception as exc:
                raise self._setup_error(exc) from None
            self._session = session
        return self._session

    def _setup_error(self, exc: Exception) -> PermanentError:
        """A profile that does not exist, or a config file that does not parse."""
        message = f"cannot set up AWS credentials: {type(exc).__name__}"
        if type(exc).__name__ == "ProfileNotFound":
            message += f" (profile {self.options.profile!r})"
        return PermanentError(message, target=self.target)

    def _config(self) -> Any:
        from botocore.config import Config

        return Config(
            retries={"mode": "standard", "total_max_attempts": self.options.max_attempts},
            connect_timeout=self.options.connect_timeout,
            read_timeout=self.options.read_timeout,
            user_agent_appid="syncd",
        )

    def _build(self, service: str) -> Any:
        session = self._boto_session()
        try:
            return session.client(service, endpoint_url=self.options.endpoint_url, config=self._config())
        except Exception as exc:
            raise self._setup_error(exc) from None

    def _assume_role(self, session: Any) -> None:
        """Swap the session's credentials for assumed-role ones that botocore refreshes before expiry."""
        from botocore.credentials import DeferredRefreshableCredentials

        options = self.options
        sts = session.client(
            "sts",
            region_name=options.region,
            endpoint_url=options.sts_endpoint_url or options.endpoint_url,
            config=self._config(),
        )

        def fetch() -> dict[str, str]:
            request: dict[str, Any] = {
                "RoleArn": options.role_arn,
                "RoleSessionName": options.role_session_name,
                "DurationSeconds": options.role_duration_seconds,
            }
            if options.external_id:
                request["ExternalId"] = options.external_id
            try:
                creds = sts.assume_role(**request)["Credentials"]
            except Exception as exc:
                translate(exc, self.target, operation="sts:AssumeRole", resource=options.role_arn)
            expiry = creds["Expiration"]
            if not isinstance(expiry, datetime):
                expiry = datetime.fromisoformat(str(expiry))
            return {
                "access_key": creds["AccessKeyId"],
                "secret_key": creds["SecretAccessKey"],
                "token": creds["SessionToken"],
                "expiry_time": expiry.isoformat(),
            }

        credentials = DeferredRefreshableCredentials(refresh_using=fetch, method="sts-assume-role")
        # botocore refreshes when less than 15 minutes (advisory) or 10 (mandatory) remain: a session of 15 to 20
        # minutes would then be refreshed on every call. Refresh in the last third and sixth of the session instead.
        duration = options.role_duration_seconds
        credentials._advisory_refresh_timeout = min(credentials._advisory_refresh_timeout, duration // 3)
        credentials._mandatory_refresh_timeout = min(credentials._mandatory_refresh_timeout, duration // 6)
        session._session._credentials = credentials

    def _check_account(self) -> None:
        sts = self._boto_session().client(
            "sts", endpoint_url=self.options.sts_endpoint_url or self.options.endpoint_url, config=self._config()
        )
        try:
            account = sts.get_caller_identity()["Account"]
        except Exception as exc:
            translate(exc, self.target, operation="sts:GetCallerIdentity")
        if account != self.options.account_id:
            raise PermanentError(
                f"the credentials act in account {account}, but the target says account_id {self.options.account_id}; "
                "nothing is read or written there",
                target=self.target,
            )
        self._account_checked = True

    def close(self) -> None:
        for client in self._clients.values():
            client.close()
        self._clients.clear()


_LOADER_LOCK = threading.Lock()
_loader: Any = None


def _botocore_session() -> Any:
    """A fresh botocore session sharing one model loader: parsing the service models once, not per target."""
    global _loader
    import botocore.loaders
    import botocore.session

    with _LOADER_LOCK:
        if _loader is None:
            _loader = botocore.loaders.create_loader()
    session = botocore.session.get_session()
    session.register_component("data_loader", _loader)
    return session


def error_code(exc: BaseException) -> str | None:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        return response.get("Error", {}).get("Code")
    return None


def safe_message(exc: BaseException) -> str:
    """The AWS message, without any quoted input and with every known secret value scrubbed."""
    response = getattr(exc, "response", None)
    message = response.get("Error", {}).get("Message", "") if isinstance(response, dict) else ""
    message = _QUOTED_VALUE.sub("value [hidden] at", str(message))
    return REDACTOR.redact(message)[:300]


def translate(
    exc: BaseException,
    target: str,
    *,
    operation: str,
    address: str | None = None,
    resource: str | None = None,
    kms_key_id: str | None = None,
) -> NoReturn:
    """Raise syncd's error for a botocore exception raised by `operation` (e.g. 'secretsmanager:PutSecretValue')."""
    if isinstance(exc, ConnectorError):
        raise exc
    from botocore import exceptions as boto

    where = f" on {resource}" if resource else ""
    if isinstance(exc, boto.ClientError):
        code = error_code(exc) or "Unknown"
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        message = safe_message(exc)
        if code in TRANSIENT_CODES or status >= 500:
            message = f"{operation} failed: {code} (HTTP {status})"
            raise TransientError(message, target=target, address=address) from None
        if code in KMS_CODES or (code in ACCESS_DENIED_CODES and "kms" in message.lower()):
            key = kms_key_id or "the default key aws/secretsmanager or aws/ssm"
            raise PermanentError(
                f"{operation} failed: {code}: the KMS key {key} cannot be used; the caller needs kms:Encrypt, "
                "kms:Decrypt and kms:GenerateDataKey on it, and the key must be enabled, in this region"
                + (f" ({message})" if message else ""),
                target=target,
                address=address,
            ) from None
        if code in ACCESS_DENIED_CODES:
            raise PermanentError(
                f"access denied: {operation} was refused{where}; grant the IAM action {operation} "
                "(syncd iam-policy prints the policy this target needs)",
                target=target,
                address=address,
            ) from None
        if code in CREDENTIAL_CODES:
            raise PermanentError(
                f"{operation} failed: the AWS credentials were rejected ({code}); check the profile, role or keys",
                target=target,
                address=address,
            ) from None
        raise PermanentError(
            f"{operation} failed: {code}" + (f": {message}" if message else ""), target=target, address=address
        ) from None
    if isinstance(exc, boto.NoCredentialsError | boto.PartialCredentialsError | boto.NoRegionError):
        raise PermanentError(f"{operation} failed: {exc}", target=target, address=address) from None
    if isinstance(exc, boto.ProfileNotFound):
        raise PermanentError(f"{operation} failed: {exc}", target=target, address=address) from None
    if isinstance(exc, boto.EndpointConnectionError | boto.ConnectionError | boto.HTTPClientError):
        raise TransientError(
            f"{operation} failed: cannot reach the endpoint ({type(exc).__name__})", target=target, address=address
        ) from None
    if isinstance(exc, boto.ParamValidationError):
        raise PermanentError(f"{operation} failed: the request was invalid", target=target, address=address) from None
    raise PermanentError(f"{operation} failed: {type(exc).__name__}", target=target, address=address) from None
