"""file source → kubernetes: one Secret per source secret (document), in one namespace of the fake API server
(tests/fakes/kubernetes.py), which counts every request it receives.

Floors, for n source secrets (n Secrets), from the API and syncd's read rule:

* steady-state plan: ⌈n/500⌉ labelled `LIST secrets` pages (`page_size` 500; at least one call): every Secret is
  syncd's, so none needs a GET.
* first apply: 1 labelled LIST (the namespace holds none of syncd's) + n `GET secret` (a wanted name that is not
  syncd's yet may exist unlabelled; listing every Secret of the namespace instead would read other applications'
  values and need a wider Role) + n `POST secrets` (the marker goes with the create).

Naive reader: one `GET secret` per Secret: n calls.
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
    from tests.fakes.kubernetes import Request

CONNECTOR = "kubernetes"
SOURCE = "file"
PAGE = 500
NAMESPACE = "team-a"

MANIFEST = """
version: 1
instance: bench
defaults: {{prune: true, concurrency: 16}}
source: {{type: file, path: secrets.json}}
targets:
  kubernetes: {{type: kubernetes, kubeconfig: kubeconfig.yaml, context: fake}}
syncs:
  - name: apps
    from: apps/
    to: [{{target: kubernetes, namespace: {namespace}, name: "{{relpath}}"}}]
"""


def calls_floor(secrets: int) -> int:
    return pages(secrets, PAGE)


def first_apply_floor(secrets: int) -> int:
    return pages(0, PAGE) + 2 * secrets


def _operation(request: Request) -> str:
    """`GET secrets` for a listing page, `GET secret` for one Secret, `POST secrets` for a create, and so on."""
    return f"{request.method} {'secrets' if request.path.endswith('/secrets') else 'secret'}"


def run(secrets: int, workdir: Path) -> Result:
    # Imported here: the fake needs the kubernetes client only this scenario uses.
    from tests.fakes.kubernetes import ADMIN_TOKEN, KubeFake, kubeconfig_for

    names = sorted(source_secrets(secrets))
    fake = KubeFake().start()
    try:
        counter = RequestLogCounter(lambda: fake.requests, _operation, frozenset(("POST", "PUT", "PATCH", "DELETE")))
        write_file_source(workdir, secrets)
        kubeconfig_for(fake, ADMIN_TOKEN, workdir / "kubeconfig.yaml")
        (workdir / "syncd.yaml").write_text(textwrap.dedent(MANIFEST.format(namespace=NAMESPACE)))
        cycle = run_cycle(counter, workdir, syncd_env({}), items=len(names))
        counter.reset()
        from kubernetes import client, config

        api = client.CoreV1Api(config.new_client_from_config(str(workdir / "kubeconfig.yaml"), context="fake"))
        for name in names:
            api.read_namespaced_secret(name, NAMESPACE)
        naive = Counted(counter.counts(), counter.writes())
    finally:
        fake.stop()
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
