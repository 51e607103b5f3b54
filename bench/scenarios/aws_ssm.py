"""file source → aws-ssm: one parameter per key (per-key), so 2 parameters per source secret, on the fake AWS.

Floors, for n source secrets (p = 2n parameters), from the API's limits:

* steady-state plan: ⌈p/10⌉ GetParameters (values, at most 10 names a call; GetParametersByPath pages by 10 too, so
  it does no better) + ⌈p/50⌉ DescribeParameters confirming the tags (a Name filter of up to 50 names and one
  `tag:KEY` filter per tag: description, key, type and tier come with them) + ⌈p/50⌉ DescribeParameters listing
  the path filtered on the instance's marker tag (what a prune may delete, whatever its sync; at least one call).
  Two passes, not one: no SSM call returns tags in bulk and the filters only AND, so the listing that finds every
  parameter of the instance cannot also confirm each one's sync and tags (docs/connectors.md, "Calls of SSM").
* first apply: 1 DescribeParameters (the path holds nothing) + p PutParameter (tags in the same call).

The fake pages DescribeParameters by MaxResults, as AWS documents (moto alone pages by 10), so the counts are what
AWS would be asked for; after a full last page it answers a NextToken and one more, empty, page (AWS may too), so
the owned listing can cost one call over its floor.

Naive reader: DescribeParameters under the path (what the target holds, 50 a page), then per parameter GetParameter
(the value) and ListTagsForResource (the ownership marker): ⌈p/50⌉ + 2p calls.
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

CONNECTOR = "aws-ssm"
SOURCE = "file"
GET_PARAMETERS_NAMES = 10
DESCRIBE_PAGE = 50

MANIFEST = """
version: 1
instance: bench
defaults: {{prune: true, concurrency: 16}}
source: {{type: file, path: secrets.json}}
targets:
  ssm: {{type: aws-ssm, region: {region}, endpoint_url: "{endpoint}"}}
syncs:
  - name: apps
    from: apps/
    to: [{{target: ssm, path: /bench/, name: "{{relpath}}/{{key}}"}}]
"""


def calls_floor(parameters: int) -> int:
    values = batches(parameters, GET_PARAMETERS_NAMES)
    return values + batches(parameters, DESCRIBE_PAGE) + pages(parameters, DESCRIBE_PAGE)


def first_apply_floor(parameters: int) -> int:
    return pages(0, DESCRIBE_PAGE) + parameters


def run(secrets: int, workdir: Path) -> Result:
    names = [f"/bench/{relpath}/{key}" for relpath, keys in source_secrets(secrets).items() for key in keys]
    with aws_fake.running_fake() as fake:
        counter = aws_fake.FakeCounter(fake)
        write_file_source(workdir, secrets)
        manifest = MANIFEST.format(region=aws_fake.REGION, endpoint=fake.endpoint)
        (workdir / "syncd.yaml").write_text(textwrap.dedent(manifest))
        cycle = run_cycle(counter, workdir, syncd_env(aws_fake.aws_env(fake, workdir)), items=len(names))
        client = aws_fake.client(fake, "ssm")

        def read(name: str) -> None:
            client.get_parameter(Name=name, WithDecryption=True)
            client.list_tags_for_resource(ResourceType="Parameter", ResourceId=name)

        counter.reset()
        for _ in client.get_paginator("describe_parameters").paginate(
            ParameterFilters=[{"Key": "Path", "Option": "Recursive", "Values": ["/bench"]}],
            PaginationConfig={"PageSize": DESCRIBE_PAGE},
        ):
            pass
        aws_fake.read_each(names, read)
        naive = Counted(counter.counts(), counter.writes())
    return result(
        connector=CONNECTOR,
        source=SOURCE,
        secrets=secrets,
        items=len(names),
        cycle=cycle,
        naive=naive,
        calls_floor=calls_floor(len(names)),
        first_apply_floor=first_apply_floor(len(names)),
    )
