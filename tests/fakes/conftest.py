"""The fake servers' fixtures, for the fakes' own tests."""

from __future__ import annotations

from tests.fakes.aws import aws_fake, aws_fake_server, aws_no_backoff
from tests.fakes.kubernetes import kube_client, kube_fake, kube_fake_other

__all__ = ["aws_fake", "aws_fake_server", "aws_no_backoff", "kube_client", "kube_fake", "kube_fake_other"]
