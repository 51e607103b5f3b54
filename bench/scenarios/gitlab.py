"""file source → gitlab: one CI/CD variable per key (per-key), so 2 variables per source secret, in projects of the
fake GitLab server (tests/fakes/gitlab.py), which counts every request it receives.

GitLab holds at most 8,000 variables in a project (a plan limit the fake enforces), so the secrets go
`SECRETS_PER_PROJECT` to a project, one sync per project: `platform/app` for the first 2,000 secrets (every run up to
2,000 has one project), `platform/app-2`, `platform/app-3`, ... for the next.

Floors, for n source secrets (p_k variables in project k, 2n in all), from the API's limits:

* steady-state plan: Σ ⌈p_k/100⌉ `GET .../variables` (a page holds at most 100 variables; at least one call a
  project).
* first apply: 1 listing per project (each holds nothing) + 2n `POST .../variables` (the marker goes with the
  create).

The values are unmasked (`masked: false`): the bench's made-up values are shorter than GitLab's 8 characters for
a masked value, and masking changes no call.

Naive reader: each project's listing, then per variable `GET .../variables/KEY` with the scope filter:
Σ ⌈p_k/100⌉ + 2n calls.
"""

from __future__ import annotations

import json
import math
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
)

if TYPE_CHECKING:
    from tests.fakes.gitlab import Request

CONNECTOR = "gitlab"
SOURCE = "file"
PAGE = 100
SECRETS_PER_PROJECT = 2000
KEYS_PER_SECRET = 2

MANIFEST = """\
version: 1
instance: bench
defaults: {{prune: true, concurrency: 16}}
source: {{type: file, path: secrets.json}}
targets:
  gitlab: {{type: gitlab, url: "{url}", token: "${{env:GITLAB_TOKEN}}"}}
syncs:
"""
SYNC = """\
  - name: apps-{index}
    from: apps/{folder}/
    to: [{{target: gitlab, project: {project}, masked: false, name: "{{relpath|env}}_{{key|env}}"}}]
"""


def project(index: int) -> str:
    """The project of the index-th group of `SECRETS_PER_PROJECT` secrets."""
    return "platform/app" if index == 0 else f"platform/app-{index + 1}"


def variables_per_project(secrets: int) -> list[int]:
    """The variables in each project, for `secrets` source secrets."""
    projects = max(1, math.ceil(secrets / SECRETS_PER_PROJECT))
    return [
        KEYS_PER_SECRET * min(SECRETS_PER_PROJECT, secrets - index * SECRETS_PER_PROJECT) for index in range(projects)
    ]


def calls_floor(secrets: int) -> int:
    return sum(pages(variables, PAGE) for variables in variables_per_project(secrets))


def first_apply_floor(secrets: int) -> int:
    counts = variables_per_project(secrets)
    return len(counts) * pages(0, PAGE) + sum(counts)


def _operation(request: Request) -> str:
    """`GET variables` for a listing page, `GET variable` for one variable, and so on."""
    return f"{request.method} {'variables' if request.path.endswith('/variables') else 'variable'}"


def run(secrets: int, workdir: Path) -> Result:
    # Imported here: the fake needs python-gitlab, which only this scenario does.
    from tests.fakes.gitlab import MAINTAINER_TOKEN, gitlab_client, new_gitlab_fake

    everything = list(source_secrets(secrets).items())
    groups = [
        dict(everything[start : start + SECRETS_PER_PROJECT])
        for start in range(0, max(1, len(everything)), SECRETS_PER_PROJECT)
    ]
    fake = new_gitlab_fake()
    try:
        for index in range(1, len(groups)):
            fake.add_project(project(index))
        roles = {("project", project(index)): "maintainer" for index in range(len(groups))}
        fake.add_token(MAINTAINER_TOKEN, "maintainer", roles)
        counter = RequestLogCounter(lambda: fake.requests, _operation, frozenset(("POST", "PUT", "DELETE")))
        folders = {f"group{index:03d}": group for index, group in enumerate(groups)}
        (workdir / "secrets.json").write_text(json.dumps({"apps": folders}))
        syncs = "".join(
            SYNC.format(index=index, folder=folder, project=project(index)) for index, folder in enumerate(folders)
        )
        (workdir / "syncd.yaml").write_text(MANIFEST.format(url=fake.url) + syncs)
        env = syncd_env({"GITLAB_TOKEN": MAINTAINER_TOKEN})
        items = sum(len(data) for group in groups for data in group.values())
        cycle = run_cycle(counter, workdir, env, items=items)
        counter.reset()
        client = gitlab_client(fake, MAINTAINER_TOKEN)
        for index, group in enumerate(groups):
            variables = client.projects.get(project(index), lazy=True).variables
            variables.list(get_all=True, per_page=PAGE)
            for relpath, data in group.items():
                for key in data:
                    variables.get(f"{relpath.upper()}_{key.upper()}", filter={"environment_scope": "*"})
        naive = Counted(counter.counts(), counter.writes())
    finally:
        fake.stop()
    return result(
        connector=CONNECTOR,
        source=SOURCE,
        secrets=secrets,
        items=items,
        cycle=cycle,
        naive=naive,
        calls_floor=calls_floor(secrets),
        first_apply_floor=first_apply_floor(secrets),
    )
