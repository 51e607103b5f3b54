"""The fake servers' fixtures for the connector tests: moto behind tests/fakes/aws.py, and OpenBao.

Imported here rather than in the root conftest.py, so that tests outside this folder do not import moto, botocore
and hvac.
"""

from __future__ import annotations

from tests.fakes.aws import aws_fake, aws_fake_server, aws_no_backoff
from tests.fakes.gitlab import gitlab_fake
from tests.fakes.openbao import fresh_openbao, openbao, openbao_other, vault_prefix

__all__ = [
    "aws_fake",
    "aws_fake_server",
    "aws_no_backoff",
    "fresh_openbao",
    "gitlab_fake",
    "openbao",
    "openbao_other",
    "vault_prefix",
]
