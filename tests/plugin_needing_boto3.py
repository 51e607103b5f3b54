"""A stand-in third-party plugin whose SDK import fails (see test_registry)."""

import boto3  # noqa: F401

spec = None
