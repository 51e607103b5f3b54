"""The least-privilege IAM statements an AWS Secrets Manager target or source needs (`syncd iam-policy`).

ListSecrets and BatchGetSecretValue support no resource-level permission:
AWS's service authorization reference lists no resource type for them, so
they are granted on "*". BatchGetSecretValue also needs GetSecretValue on
every secret it returns, which the per-secret statement grants. A secret's
ARN ends with "-" and six random characters, so an exact name becomes
`NAME-??????` and a wildcard pattern `PATTERN*` covers the suffix anyway.

The KMS statement is `policy.kms_grant`'s, through Secrets Manager.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from connectors.aws.options import AwsConnection
from connectors.aws.policy import kms_grant

LIST_ACTIONS = ("secretsmanager:BatchGetSecretValue", "secretsmanager:ListSecrets")
SINK_ACTIONS = (
    "secretsmanager:CreateSecret",
    "secretsmanager:DeleteSecret",
    "secretsmanager:DescribeSecret",
    "secretsmanager:GetSecretValue",
    "secretsmanager:PutSecretValue",
    "secretsmanager:RestoreSecret",
    "secretsmanager:TagResource",
    "secretsmanager:UpdateSecret",
)
SOURCE_ACTIONS = ("secretsmanager:GetSecretValue",)
# GenerateDataKey protects each new value, Decrypt reads it, Encrypt re-encrypts existing versions on a key change.
SINK_KMS_ACTIONS = ("kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey")
SOURCE_KMS_ACTIONS = ("kms:Decrypt",)


def sink_statements(options: AwsConnection, kms_key_id: str | None, patterns: Sequence[str]) -> list[dict[str, Any]]:
    return _statements(options, kms_key_id, patterns, SINK_ACTIONS, SINK_KMS_ACTIONS)


def source_statements(options: AwsConnection, kms_key_id: str | None, patterns: Sequence[str]) -> list[dict[str, Any]]:
    return _statements(options, kms_key_id, patterns, SOURCE_ACTIONS, SOURCE_KMS_ACTIONS)


def secret_arn(options: AwsConnection, pattern: str) -> str:
    """The ARN pattern matching every secret whose name matches `pattern` ('*' is a wildcard)."""
    account = options.expected_account or "*"
    name = pattern if pattern.endswith("*") else f"{pattern}-??????"
    return f"arn:{options.partition}:secretsmanager:{options.region}:{account}:secret:{name}"


def _statements(
    options: AwsConnection,
    kms_key_id: str | None,
    patterns: Sequence[str],
    item_actions: Iterable[str],
    kms_actions: Iterable[str],
) -> list[dict[str, Any]]:
    statements: list[dict[str, Any]] = [_allow(LIST_ACTIONS, "*")]
    resources = sorted({secret_arn(options, p) for p in patterns})
    if resources:
        statements.append(_allow(item_actions, resources))
    if kms_key_id:
        statements.append(_kms_statement(options, kms_key_id, kms_actions))
    return statements


def _kms_statement(options: AwsConnection, kms_key_id: str, actions: Iterable[str]) -> dict[str, Any]:
    account = options.expected_account or "*"
    resource, condition = kms_grant(
        kms_key_id, service="secretsmanager", partition=options.partition, region=options.region, account=account
    )
    return _allow(actions, resource, condition)


def _allow(
    actions: Iterable[str], resource: str | list[str], condition: dict[str, Any] | None = None
) -> dict[str, Any]:
    statement: dict[str, Any] = {"Effect": "Allow", "Action": sorted(set(actions)), "Resource": resource}
    if condition:
        statement["Condition"] = condition
    return statement
