"""The fake AWS server's fixtures, for the fake's own tests."""

from __future__ import annotations

from tests.fakes.aws import aws_fake, aws_fake_server, aws_no_backoff

__all__ = ["aws_fake", "aws_fake_server", "aws_no_backoff"]
