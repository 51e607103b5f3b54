"""What every AWS source and target takes to reach one account and region, and AWS's tag rules. Pure: no call."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import AfterValidator, Field, field_validator, model_validator

from syncd.connector import MARKER_PREFIX, Options, secret_field, url_location

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


def matching(pattern: str, rule: str) -> AfterValidator:
    """A validator refusing text that does not match `pattern`, with `rule` as the message."""

    def check(value: str) -> str:
        if not re.match(pattern, value):
            raise ValueError(rule)
        return value

    return AfterValidator(check)


class AwsConnection(Options):
    """Where and as whom: what every AWS source and target takes to reach one account and region."""

    region: Annotated[str, matching(REGION, "must be an AWS region name such as 'eu-west-1'")]
    role_arn: (
        Annotated[str, matching(ROLE_ARN, "must be an IAM role ARN such as 'arn:aws:iam::111111111111:role/syncd'")]
        | None
    ) = None
    external_id: str | None = secret_field(default=None, min_length=2, max_length=1224)
    role_session_name: Annotated[str, matching(SESSION_NAME, "must be 2 to 64 letters, digits or +=,.@_-")] = "syncd"
    role_duration_seconds: int = Field(3600, ge=900, le=43200)
    profile: str | None = None
    # The account the credentials must resolve to; checked once per connection, and used by `syncd policy`.
    account_id: Annotated[str, matching(ACCOUNT, "must be 12 digits, such as '111111111111'")] | None = None
    endpoint_url: Annotated[str, matching(URL, "must be an http:// or https:// URL")] | None = None
    sts_endpoint_url: Annotated[str, matching(URL, "must be an http:// or https:// URL")] | None = None
    connect_timeout: float = Field(5.0, gt=0, le=120)
    read_timeout: float = Field(30.0, gt=0, le=600)
    # Accepted so that manifests written for botocore's own retries still load; ignored (the connection says so).
    max_attempts: int | None = Field(None, ge=1, le=10)
    # A target encrypts with it; for a source it only narrows the policy `syncd policy` prints. Errors name it.
    kms_key_id: str | None = Field(None, min_length=1, max_length=2048)

    @field_validator("account_id", mode="before")
    @classmethod
    def _account_is_quoted(cls, value: object) -> object:
        if isinstance(value, int):
            raise ValueError("must be 12 digits in quotes, such as '111111111111' (YAML reads a bare number)")
        return value

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

    tags: dict[str, str] = Field(default_factory=dict)
    description: str | None = Field(None, max_length=2048)

    @field_validator("tags")
    @classmethod
    def _tags_follow_aws_rules(cls, tags: dict[str, str]) -> dict[str, str]:
        problems = [f"tag {k!r} is reserved for syncd's ownership marker" for k in tags if k.startswith(MARKER_PREFIX)]
        problems += tag_problems(tags)
        if problems:
            raise ValueError(problems[0])
        return tags


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


def item_tag_problems(tags: Mapping[str, str]) -> list[str]:
    """An item's tags against AWS's rules, with room for syncd's two marker tags: one capitalised sentence each."""
    return [f"{problem[0].upper()}{problem[1:]}." for problem in tag_problems(tags, reserved=2)]


def tag_list(tags: Mapping[str, str]) -> list[dict[str, str]]:
    """Tags as AWS takes them: [{"Key": ..., "Value": ...}], sorted by key."""
    return [{"Key": key, "Value": tags[key]} for key in sorted(tags)]


def tag_map(entries: Any) -> dict[str, str]:
    """Tags as AWS answers them ([{"Key": ..., "Value": ...}]) as a mapping."""
    return {entry["Key"]: entry.get("Value", "") for entry in entries or ()}
