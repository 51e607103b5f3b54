"""The AWS connectors: Secrets Manager (`aws-secrets-manager`, sink and source) and SSM Parameter Store
(`aws-ssm`, sink and source), one account and region per target.

What they share lives once: `options` (connection and tag rules), `client` (the long-lived session: assumed
role, account check, rate limit, one attempt per call), `errors` (botocore errors as syncd's, `Retry-After`).
Secrets Manager is `sm_*` (layout, calls, policy, sink, source), SSM `ssm_*` (options, rules, tags, policy,
sink, source).
"""

from __future__ import annotations

from connectors.aws.sm_sink import SecretsManagerSink, SecretsManagerTargetOptions
from connectors.aws.sm_source import SecretsManagerSource, SecretsManagerSourceOptions
from connectors.aws.ssm_options import SsmDestination, SsmSourceOptions, SsmTargetOptions
from connectors.aws.ssm_sink import SsmSink
from connectors.aws.ssm_source import SsmSource
from syncd.connector import ConnectorSpec

__all__ = [
    "SecretsManagerSink",
    "SecretsManagerSource",
    "SecretsManagerSourceOptions",
    "SecretsManagerTargetOptions",
    "SsmDestination",
    "SsmSink",
    "SsmSource",
    "SsmSourceOptions",
    "SsmTargetOptions",
    "secrets_manager_spec",
    "ssm_spec",
]

secrets_manager_spec = ConnectorSpec(
    name="aws-secrets-manager",
    summary="AWS Secrets Manager secrets in one account and region: JSON documents or raw values, tag-owned.",
    source=SecretsManagerSource,
    sink=SecretsManagerSink,
)

ssm_spec = ConnectorSpec(
    name="aws-ssm",
    summary="AWS SSM Parameter Store: one SecureString parameter per key under a path; also a source of paths.",
    source=SsmSource,
    sink=SsmSink,
)
