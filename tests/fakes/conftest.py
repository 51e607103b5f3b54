"""The fake servers' fixtures (AWS, GitLab), for the fakes' own tests."""

from __future__ import annotations

from tests.fakes.aws import aws_fake, aws_fake_server, aws_no_backoff
from tests.fakes.gitlab import gitlab_fake

__all__ = ["aws_fake", "aws_fake_server", "aws_no_backoff", "gitlab_fake"]
