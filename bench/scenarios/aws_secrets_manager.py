"""file source → aws-secrets-manager: one JSON document secret per source secret, on the fake AWS.

Floors, for n source secrets (n secrets in the target), from the API's limits:

* steady-state plan: ⌈n/20⌉ BatchGetSecretValue (values, at most 20 ids a call) + ⌈n/100⌉ ListSecrets (tags and
  description, which carry the ownership marker; at most 100 secrets a page; at least one call);
* first apply: 1 ListSecrets (the prefix holds nothing) + n CreateSecret (value, tags and description in one call).

Naive reader: ListSecrets under the prefix (what the target holds, 100 a page), then per secret GetSecretValue
(the value) and DescribeSecret (tags, description, key, deletion state): ⌈n/100⌉ + 2n calls.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

from bench import aws_fake
from bench.workload import (
    Counted,
    Result,
    batches,
    pages,
    result,
    run_cycle,
    source_secrets,
    syncd_env,
    write_file_source,
)

CONNECTOR = "aws-secrets-manager"
SOURCE = "file"
BATCH_GET_IDS = 20
LIST_PAGE = 100

MANIFEST = """
version: 1
instance: bench
defaults: {{prune: true, concurrency: 16}}
source: {{type: file, path: secrets.json}}
targets:
  sm: {{type: aws-secrets-manager, region: {region}, endpoint_url: "{endpoint}", force_delete: true}}
syncs:
  - name: apps
    from: apps/
    to: [{{target: sm, name: "bench/{{relpath}}"}}]
"""


def calls_floor(secrets: int) -> int:
    return batches(secrets, BATCH_GET_IDS) + pages(secrets, LIST_PAGE)


def first_apply_floor(secrets: int) -> int:
    return pages(0, LIST_PAGE) + secrets


def run(secrets: int, workdir: Path) -> Result:
    names = [f"bench/{relpath}" for relpath in source_secrets(secrets)]
    with aws_fake.running_fake() as fake:
        counter = aws_fake.FakeCounter(fake)
        write_file_source(workdir, secrets)
        manifest = MANIFEST.format(region=aws_fake.REGION, endpoint=fake.endpoint)
        (workdir / "syncd.yaml").write_text(textwrap.dedent(manifest))
        cycle = run_cycle(counter, workdir, syncd_env(aws_fake.aws_env(fake, workdir)), items=secrets)
        client = aws_fake.client(fake, "secretsmanager")

        def read(name: str) -> None:
            client.get_secret_value(SecretId=name)
            client.describe_secret(SecretId=name)

        counter.reset()
        for _ in client.get_paginator("list_secrets").paginate(
            Filters=[{"Key": "name", "Values": ["bench/"]}], PaginationConfig={"PageSize": LIST_PAGE}
        ):
            pass
        aws_fake.read_each(names, read)
        naive = Counted(counter.counts(), counter.writes())
    return result(
        connector=CONNECTOR,
        source=SOURCE,
        secrets=secrets,
        items=secrets,
        cycle=cycle,
        naive=naive,
        calls_floor=calls_floor(secrets),
        first_apply_floor=first_apply_floor(secrets),
    )
