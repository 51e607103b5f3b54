"""The AWS connectors: Secrets Manager (`aws-secrets-manager`, `sm_*`) and SSM Parameter Store (`aws-ssm`,
`ssm_*`), each a sink and a source in one account and region. What they share lives once: `options`, `client`
(the session), `errors`, `policy`.
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
