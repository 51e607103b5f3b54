"""Least-privilege IAM statements for the `aws-ssm` sink and source, as `syncd iam-policy` prints them.

Parameters are IAM resources named `arn:PARTITION:ssm:REGION:ACCOUNT:parameter/NAME`,
with the name's leading '/' dropped. DescribeParameters takes no resource
(AWS's own examples grant it on "*"). GetParametersByPath is authorized on
the path it is given, not on the parameters it returns. KMS statements are
scoped to use through SSM in the target's region (`kms:ViaService`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from connectors.aws.policy import kms_grant
from connectors.aws.ssm_rules import parameter_arn

SINK_ACTIONS = (
    "ssm:AddTagsToResource",
    "ssm:DeleteParameter",
    "ssm:GetParameters",
    "ssm:PutParameter",
)
# Reading tags shows no value. It is granted on every parameter of the region, because `list_owned` must learn
# the sync of owned parameters outside today's patterns (left by a removed sync): denied, it would fail the target.
TAG_READ_ACTIONS = ("ssm:ListTagsForResource",)
SOURCE_ACTIONS = ("ssm:GetParametersByPath",)
DESCRIBE_ACTIONS = ("ssm:DescribeParameters",)
# Standard parameters are encrypted by kms:Encrypt, Advanced ones through a data key; reads decrypt.
SINK_KMS_ACTIONS = ("kms:Decrypt", "kms:Encrypt")
ADVANCED_KMS_ACTIONS = ("kms:GenerateDataKey",)
SOURCE_KMS_ACTIONS = ("kms:Decrypt",)


def _statement(sid: str, actions: Sequence[str], resources: Sequence[str], **condition: Any) -> dict[str, Any]:
    statement: dict[str, Any] = {
        "Sid": sid,
        "Effect": "Allow",
        "Action": sorted(set(actions)),
        "Resource": sorted(set(resources)),
    }
    if condition:
        statement["Condition"] = condition
    return statement


def _arns(patterns: Sequence[str], *, partition: str, region: str, account: str) -> list[str]:
    return [parameter_arn(p, partition=partition, region=region, account=account) for p in patterns]


def _kms_statement(
    actions: Sequence[str], key_id: str | None, *, partition: str, region: str, account: str
) -> dict[str, Any]:
    """KMS use through SSM in `region`: on one key when `key_id` names it, else on any key of the account."""
    resource, condition = kms_grant(key_id, service="ssm", partition=partition, region=region, account=account)
    return _statement("SyncdSsmKms", actions, [resource], **condition)


def sink_statements(
    patterns: Sequence[str],
    *,
    partition: str,
    region: str,
    account: str,
    kms_key_id: str | None,
    advanced_allowed: bool,
) -> list[dict[str, Any]]:
    """What the sink needs for parameters named by `patterns`: read, write, tag and delete them, and list owned ones.

    Without `kms_key_id` SecureStrings use the AWS managed key aws/ssm, whose
    key policy already lets the account's principals use it through SSM.
    """
    arns = _arns(patterns, partition=partition, region=region, account=account)
    every_parameter = f"arn:{partition}:ssm:{region}:{account}:parameter/*"
    statements = [
        _statement("SyncdSsmDescribe", DESCRIBE_ACTIONS, ["*"]),
        _statement("SyncdSsmReadTags", TAG_READ_ACTIONS, [every_parameter]),
        _statement("SyncdSsmParameters", SINK_ACTIONS, arns),
    ]
    if kms_key_id is not None:
        actions = SINK_KMS_ACTIONS + (ADVANCED_KMS_ACTIONS if advanced_allowed else ())
        statements.append(_kms_statement(actions, kms_key_id, partition=partition, region=region, account=account))
    return statements


def source_statements(
    patterns: Sequence[str], *, partition: str, region: str, account: str, kms_key_id: str | None
) -> list[dict[str, Any]]:
    """What the source needs to read the paths named by `patterns`: read by path, list paths, decrypt through SSM.

    Decrypt is on `kms_key_id` when the source names the key of its
    SecureStrings, else on any key of the account, but only through SSM in this region.
    """
    return [
        _statement("SyncdSsmDescribe", DESCRIBE_ACTIONS, ["*"]),
        _statement(
            "SyncdSsmReadPaths", SOURCE_ACTIONS, _arns(patterns, partition=partition, region=region, account=account)
        ),
        _kms_statement(SOURCE_KMS_ACTIONS, kms_key_id, partition=partition, region=region, account=account),
    ]
