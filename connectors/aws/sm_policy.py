"""The least-privilege IAM policy of an AWS Secrets Manager target or source (`syncd iam-policy`).

ListSecrets and BatchGetSecretValue support no resource-level permission, so they are granted on "*";
BatchGetSecretValue also needs GetSecretValue on every secret it returns. A secret's ARN ends with "-" and six
random characters, so an exact name becomes `NAME-??????`, and a pattern `PATTERN*` covers the suffix anyway.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from connectors.aws.options import AwsConnection
from connectors.aws.policy import account_of, allow, iam_policy, kms_grant
from syncd.connector import AccessPolicy

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


def sink_policy(options: AwsConnection, patterns: Sequence[str]) -> AccessPolicy:
    return _policy(options, patterns, SINK_ACTIONS, SINK_KMS_ACTIONS)


def source_policy(options: AwsConnection, patterns: Sequence[str]) -> AccessPolicy:
    return _policy(options, patterns, SOURCE_ACTIONS, SOURCE_KMS_ACTIONS)


def secret_arn(options: AwsConnection, pattern: str) -> str:
    """The ARN pattern matching every secret whose name matches `pattern` ('*' is a wildcard)."""
    name = pattern if pattern.endswith("*") else f"{pattern}-??????"
    return f"arn:{options.partition}:secretsmanager:{options.region}:{account_of(options)}:secret:{name}"


def _policy(
    options: AwsConnection, patterns: Sequence[str], item_actions: Iterable[str], kms_actions: Iterable[str]
) -> AccessPolicy:
    statements = [allow(LIST_ACTIONS, "*")]
    resources = sorted({secret_arn(options, p) for p in patterns})
    if resources:
        statements.append(allow(item_actions, resources))
    if options.kms_key_id:
        statements.append(allow(kms_actions, *kms_grant(options, options.kms_key_id, "secretsmanager")))
    return iam_policy(statements)
