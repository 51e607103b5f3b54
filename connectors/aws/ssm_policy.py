"""The least-privilege IAM policy of an `aws-ssm` sink or source (`syncd iam-policy`).

DescribeParameters takes no resource, so it is granted on "*"; GetParametersByPath is authorized on the path it is
given, not on the parameters it returns.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from connectors.aws.options import AwsConnection
from connectors.aws.policy import account_of, allow, iam_policy, kms_grant
from connectors.aws.ssm_options import SsmTargetOptions
from connectors.aws.ssm_rules import parameter_arn
from syncd.connector import AccessPolicy

SINK_ACTIONS = (
    "ssm:AddTagsToResource",
    "ssm:DeleteParameter",
    "ssm:GetParameters",
    "ssm:PutParameter",
)
# Reading tags shows no value. `observe` reads the tags of owned parameters under the scope's folder that the
# desired names did not confirm, and that folder may be wider than the patterns: granted on every parameter.
TAG_READ_ACTIONS = ("ssm:ListTagsForResource",)
SOURCE_ACTIONS = ("ssm:GetParametersByPath",)
DESCRIBE_ACTIONS = ("ssm:DescribeParameters",)
# Standard parameters are encrypted by kms:Encrypt, Advanced ones through a data key; reads decrypt.
SINK_KMS_ACTIONS = ("kms:Decrypt", "kms:Encrypt")
ADVANCED_KMS_ACTIONS = ("kms:GenerateDataKey",)
SOURCE_KMS_ACTIONS = ("kms:Decrypt",)


def _kms(options: AwsConnection, actions: Sequence[str]) -> dict[str, Any]:
    """KMS use through SSM in the region: on the options' key when they name one, else on any key of the account."""
    resource, condition = kms_grant(options, options.kms_key_id, "ssm")
    return allow(actions, [resource], condition, sid="SyncdSsmKms")


def _arns(options: AwsConnection, patterns: Sequence[str]) -> list[str]:
    account = account_of(options)
    return sorted(
        {parameter_arn(p, partition=options.partition, region=options.region, account=account) for p in patterns}
    )


def sink_policy(options: SsmTargetOptions, patterns: Sequence[str]) -> AccessPolicy:
    """What the sink needs for parameters named by `patterns`: read, write, tag and delete them, and list owned ones.

    Without `kms_key_id` SecureStrings use the AWS managed key aws/ssm, whose
    key policy already lets the account's principals use it through SSM.
    """
    every_parameter = f"arn:{options.partition}:ssm:{options.region}:{account_of(options)}:parameter/*"
    statements = [
        allow(DESCRIBE_ACTIONS, ["*"], sid="SyncdSsmDescribe"),
        allow(TAG_READ_ACTIONS, [every_parameter], sid="SyncdSsmReadTags"),
        allow(SINK_ACTIONS, _arns(options, patterns), sid="SyncdSsmParameters"),
    ]
    if options.kms_key_id is not None:
        actions = SINK_KMS_ACTIONS + (ADVANCED_KMS_ACTIONS if options.allow_advanced_tier else ())
        statements.append(_kms(options, actions))
    return iam_policy(statements)


def source_policy(options: AwsConnection, patterns: Sequence[str]) -> AccessPolicy:
    """What the source needs to read the paths named by `patterns`: read by path, list paths, decrypt through SSM.

    Decrypt is on `kms_key_id` when the source names the key of its
    SecureStrings, else on any key of the account, but only through SSM in this region.
    """
    return iam_policy(
        [
            allow(DESCRIBE_ACTIONS, ["*"], sid="SyncdSsmDescribe"),
            allow(SOURCE_ACTIONS, _arns(options, patterns), sid="SyncdSsmReadPaths"),
            _kms(options, SOURCE_KMS_ACTIONS),
        ]
    )
