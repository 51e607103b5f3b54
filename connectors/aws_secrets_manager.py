"""The `aws-secrets-manager` connector: AWS Secrets Manager as a sink, and as a source.

A target is one account and one region (`connectors._aws`): credentials
from the usual chain, optionally through `sts:AssumeRole` into another
account. Each item is one secret named by its address:

* a document item is stored as a JSON object of strings (`SecretString`);
* a per-key item, or a single key mapped to a literal name with
  `granularity: per-key`, is stored as the raw string ("format: raw").

syncd owns a secret that carries the tags `syncd.io/instance` and
`syncd.io/sync`. Reads are batched (ListSecrets for metadata,
BatchGetSecretValue for values), writes call only what drifted, and deletes
keep a recovery window unless the target says `force_delete: true`. The
layout rules are in `_aws_sm_layout`, the calls in `_aws_sm_api`, the sink
in `_aws_sm_sink`, the source in `_aws_sm_source` and the IAM policy in
`_aws_sm_policy`.
"""

from __future__ import annotations

from connectors._aws_sm_sink import SecretsManagerSink, SecretsManagerTargetOptions
from connectors._aws_sm_source import SecretsManagerSource, SecretsManagerSourceOptions
from syncd.connector import ConnectorSpec

__all__ = [
    "SecretsManagerSink",
    "SecretsManagerSource",
    "SecretsManagerSourceOptions",
    "SecretsManagerTargetOptions",
    "spec",
]

spec = ConnectorSpec(
    name="aws-secrets-manager",
    summary="AWS Secrets Manager secrets in one account and region: JSON documents or raw values, tag-owned.",
    source=SecretsManagerSource,
    sink=SecretsManagerSink,
)
