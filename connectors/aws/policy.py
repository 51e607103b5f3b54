"""What the AWS connectors' IAM policies share: the document `syncd policy` prints, a statement, the KMS grant.

A KMS key is named in `Resource` by its key ARN; an alias cannot be (a policy naming an alias ARN governs the
alias, not the key), so an alias grants on the account's keys with the condition `kms:ResourceAliases`. Either way
`kms:ViaService` limits the grant to the connector's service in the target's region.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from connectors.aws.options import AwsConnection
from syncd.connector import AccessPolicy


def iam_policy(statements: Sequence[Mapping[str, Any]]) -> AccessPolicy:
    """IAM statements as the policy document `syncd policy` prints."""
    return AccessPolicy("iam", json.dumps({"Version": "2012-10-17", "Statement": list(statements)}, indent=2))


def allow(
    actions: Iterable[str], resource: str | list[str], condition: Mapping[str, Any] | None = None, *, sid: str = ""
) -> dict[str, Any]:
    """One Allow statement: `actions` sorted, `Sid` and `Condition` only when given."""
    statement: dict[str, Any] = {"Sid": sid} if sid else {}
    statement |= {"Effect": "Allow", "Action": sorted(set(actions)), "Resource": resource}
    if condition:
        statement["Condition"] = condition
    return statement


def kms_grant(options: AwsConnection, key_id: str | None, service: str) -> tuple[str, dict[str, Any]]:
    """The KMS resource and condition for using `key_id` (a key id, key ARN, alias or alias ARN; None: any key of
    the account) through `service` in the connection's region."""
    partition, region, account = options.partition, options.region, account_of(options)
    suffix = "amazonaws.com.cn" if partition == "aws-cn" else "amazonaws.com"
    condition: dict[str, Any] = {"StringEquals": {"kms:ViaService": f"{service}.{region}.{suffix}"}}
    if key_id is None:
        resource = f"arn:{partition}:kms:{region}:{account}:key/*"
    elif key_id.startswith("arn:") and ":alias/" not in key_id:
        resource = key_id
    elif key_id.startswith(("alias/", "arn:")):
        # An alias is no IAM resource: allow the account's keys, but only the one the alias points at.
        condition["ForAnyValue:StringEquals"] = {"kms:ResourceAliases": "alias/" + key_id.split("alias/", 1)[1]}
        if key_id.startswith("arn:"):
            partition, _, region, account = key_id.split(":")[1:5]
        resource = f"arn:{partition}:kms:{region}:{account}:key/*"
    else:
        resource = f"arn:{partition}:kms:{region}:{account}:key/{key_id}"
    return resource, condition


def account_of(options: AwsConnection) -> str:
    """The account in the connection's ARNs: `account_id`, else role_arn's, else any ('*')."""
    return options.expected_account or "*"
