"""The fake AWS both AWS scenarios run against: moto behind the counting middleware of tests/fakes/aws.py.

The server runs in a thread of the bench's process; syncd runs in processes of its own (bench/syncd_process.py),
so the server's time and memory never count as syncd's. The middleware counts every request it receives; the
bench's naive readers use ordinary clients, so their calls are counted the same way.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

from tests.fakes.aws import AwsFake

REGION = "us-east-1"
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench"}
# As many requests in flight as syncd's own apply (the manifests' `concurrency`).
NAIVE_READERS = 16


class FakeCounter:
    """`CallCounter` over the fake: every request it received, by operation; writes are what is not a read."""

    def __init__(self, fake: AwsFake) -> None:
        self.fake = fake

    def reset(self) -> None:
        self.fake.reset_counts()

    def counts(self) -> Counter[str]:
        return self.fake.counts()

    def writes(self) -> int:
        return len(self.fake.writes())


@contextmanager
def running_fake() -> Iterator[AwsFake]:
    with AwsFake() as fake:
        yield fake


def aws_env(fake: AwsFake, workdir: Path) -> dict[str, str]:
    """What a syncd process needs to reach the fake and nothing else: dummy credentials, no config files."""
    for name in ("config", "credentials"):
        (workdir / f"aws-{name}").touch()
    return {
        **CREDENTIALS,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_CONFIG_FILE": str(workdir / "aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(workdir / "aws-credentials"),
        "AWS_EC2_METADATA_DISABLED": "true",
        # Any client made without the manifest's endpoint_url lands on the fake too, never on AWS.
        "AWS_ENDPOINT_URL": fake.endpoint,
    }


def client(fake: AwsFake, service: str) -> Any:
    """An ordinary client of the fake, counted like syncd's (a retried call counts twice, as it would for syncd)."""
    return boto3.session.Session().client(
        service,
        region_name=REGION,
        endpoint_url=fake.endpoint,
        aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        config=Config(retries={"mode": "standard"}, max_pool_connections=NAIVE_READERS),
    )


def read_each(names: Iterable[str], read: Callable[[str], object]) -> None:
    """Call `read(name)` for every name, `NAIVE_READERS` at a time."""
    with ThreadPoolExecutor(max_workers=NAIVE_READERS) as pool:
        for _ in pool.map(read, names):
            pass
