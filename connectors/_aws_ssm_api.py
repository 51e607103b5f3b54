"""Calls to the SSM API for the `aws-ssm` sink and source: one place that maps errors, pages and fans out.

Every call goes through `SsmApi.call`, which turns a botocore error into
syncd's own through `_aws.translate` (so an AWS message that quotes a value
never gets out), or into None when its code means "absent" to the caller.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

from connectors._aws import AwsSession, error_code, translate
from syncd.connector import in_parallel as run_in_parallel

T = TypeVar("T")
R = TypeVar("R")

# How many calls one read fans out to at once (ListTagsForResource has no batch form).
READERS = 8


def in_parallel(function: Callable[[T], R], items: Sequence[T], workers: int = READERS) -> list[R]:
    """`function` over `items` on a few threads, results in order; the first error is raised."""
    return run_in_parallel(function, items, workers)


def _method(operation: str) -> str:
    """The boto3 method of an API operation: PutParameter is put_parameter."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", operation).lower()


class SsmApi:
    """The SSM client of one target or source, with its errors translated."""

    def __init__(self, session: AwsSession, *, kms_key_id: str | None = None) -> None:
        self.session = session
        self.kms_key_id = kms_key_id

    def call(
        self, operation: str, request: dict[str, Any], *, address: str | None = None, absent: tuple[str, ...] = ()
    ) -> Any:
        """The answer to `operation`, or None when it failed with one of the `absent` error codes."""
        client = self.session.client("ssm")
        try:
            return getattr(client, _method(operation))(**request)
        except Exception as exc:
            if absent and error_code(exc) in absent:
                return None
            translate(
                exc,
                self.session.target,
                operation=f"ssm:{operation}",
                address=address,
                resource=address,
                kms_key_id=self.kms_key_id,
            )

    def pages(self, operation: str, request: dict[str, Any], key: str) -> Iterator[dict[str, Any]]:
        """Every entry under `key` of every page of `operation`, following NextToken."""
        token: str | None = None
        while True:
            page = self.call(operation, {**request, "NextToken": token} if token else request)
            yield from page.get(key, [])
            token = page.get("NextToken")
            if not token:
                return

    def close(self) -> None:
        self.session.close()
