"""The fake servers' fixtures (AWS, Kubernetes, GitLab), for the fakes' own tests."""

from __future__ import annotations

from tests.fakes.aws import aws_fake, aws_fake_server, aws_no_backoff
from tests.fakes.gitlab import gitlab_fake
from tests.fakes.kubernetes import kube_client, kube_fake, kube_fake_other

__all__ = [
    "aws_fake",
    "aws_fake_server",
    "aws_no_backoff",
    "gitlab_fake",
    "kube_client",
    "kube_fake",
    "kube_fake_other",
]
