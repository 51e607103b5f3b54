"""The `aws-ssm` options: a target's, a `to` entry's and a source's. Pure: no call."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import field_validator

from connectors.aws.options import AwsConnection, AwsTargetOptions, matching
from connectors.aws.ssm_rules import MAX_DESCRIPTION, SECURE_STRING, path_problems
from syncd.connector import Options

ParameterType = Literal["SecureString", "String"]
# A KMS key as SSM takes it.
SsmKeyId = Annotated[
    str,
    matching(
        r"^[a-zA-Z0-9:/_-]{1,256}\Z",
        "SSM takes a KMS key as a key id, key ARN, alias/NAME or alias ARN: "
        "at most 256 letters, digits and the symbols : / _ -",
    ),
]


class SsmTargetOptions(AwsTargetOptions):
    """An SSM target: the shared AWS options, plus the parameter type and whether Advanced parameters may be made."""

    kms_key_id: SsmKeyId | None = None
    parameter_type: ParameterType = SECURE_STRING
    allow_advanced_tier: bool = False

    @field_validator("description")
    @classmethod
    def _ssm_description(cls, description: str | None) -> str | None:
        if description is not None and len(description) > MAX_DESCRIPTION:
            raise ValueError(f"an SSM parameter description holds at most {MAX_DESCRIPTION} characters")
        return description


class SsmDestination(Options):
    """The `aws-ssm` part of a `to` entry: where the parameters go, and their type if not the target's."""

    path: str = "/"
    parameter_type: ParameterType | None = None

    @field_validator("path")
    @classmethod
    def _path_is_a_folder(cls, path: str) -> str:
        # "/prod/db" and "/prod/db/" mean the same folder.
        path = path if path.endswith("/") else path + "/"
        problems = path_problems(path)
        if problems:
            raise ValueError(problems[0].removeprefix("The ").rstrip("."))
        return path


class SsmSourceOptions(AwsConnection):
    """Where to read: one account and region; `kms_key_id` only narrows the policy `syncd policy` prints."""

    kms_key_id: SsmKeyId | None = None
