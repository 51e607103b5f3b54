"""file source → gitlab: one CI/CD variable per key (per-key), so 2 variables per source secret, in one project
of the fake GitLab server (tests/fakes/gitlab.py), which counts every request it receives.

Floors, for n source secrets (p = 2n variables), from the API's limits:

* steady-state plan: ⌈p/100⌉ `GET .../variables` (a page holds at most 100 variables; at least one call).
* first apply: 1 listing (the project holds nothing) + p `POST .../variables` (the marker goes with the create).

The values are unmasked (`masked: false`): the bench's made-up values are shorter than GitLab's 8 characters for
a masked value, and masking changes no call.

Naive reader: the listing, then per variable `GET .../variables/KEY` with the scope filter: ⌈p/100⌉ + p calls.
"""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import TYPE_CHECKING

from bench.workload import (
    Counted,
    RequestLogCounter,
    Result,
    pages,
    result,
    run_cycle,
    source_secrets,
    syncd_env,
    write_file_source,
)

if TYPE_CHECKING:
    from tests.fakes.gitlab import Request

CONNECTOR = "gitlab"
SOURCE = "file"
PAGE = 100
PROJECT = "platform/app"

MANIFEST = """
version: 1
instance: bench
defaults: {{prune: true, concurrency: 16}}
source: {{type: file, path: secrets.json}}
targets:
  gitlab: {{type: gitlab, url: "{url}", token: "${{env:GITLAB_TOKEN}}"}}
syncs:
  - name: apps
    from: apps/
    to: [{{target: gitlab, project: {project}, masked: false, name: "{{relpath|env}}_{{key|env}}"}}]
"""


def calls_floor(variables: int) -> int:
    return pages(variables, PAGE)


def first_apply_floor(variables: int) -> int:
    return pages(0, PAGE) + variables


def _operation(request: Request) -> str:
    """`GET variables` for a listing page, `GET variable` for one variable, and so on."""
    return f"{request.method} {'variables' if request.path.endswith('/variables') else 'variable'}"


def run(secrets: int, workdir: Path) -> Result:
    # Imported here: the fake needs python-gitlab, which only this scenario does.
    from tests.fakes.gitlab import MAINTAINER_TOKEN, gitlab_client, new_gitlab_fake

    keys = [f"{relpath.upper()}_{key.upper()}" for relpath, data in source_secrets(secrets).items() for key in data]
    fake = new_gitlab_fake()
    try:
        counter = RequestLogCounter(lambda: fake.requests, _operation, frozenset(("POST", "PUT", "DELETE")))
        write_file_source(workdir, secrets)
        (workdir / "syncd.yaml").write_text(textwrap.dedent(MANIFEST.format(url=fake.url, project=PROJECT)))
        env = syncd_env({"GITLAB_TOKEN": MAINTAINER_TOKEN})
        cycle = run_cycle(counter, workdir, env, items=len(keys))
        counter.reset()
        variables = gitlab_client(fake, MAINTAINER_TOKEN).projects.get(PROJECT, lazy=True).variables
        variables.list(get_all=True, per_page=PAGE)
        for key in keys:
            variables.get(key, filter={"environment_scope": "*"})
        naive = Counted(counter.counts(), counter.writes())
    finally:
        fake.stop()
    return result(
        connector=CONNECTOR,
        source=SOURCE,
        secrets=secrets,
        items=len(keys),
        cycle=cycle,
        naive=naive,
        calls_floor=calls_floor(len(keys)),
        first_apply_floor=first_apply_floor(len(keys)),
    )
