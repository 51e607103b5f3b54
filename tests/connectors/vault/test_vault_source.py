"""The `vault` source against a real OpenBao: KV v2 reads, versions and pins, recursive lists, KV v1, value types,
errors that name the path but never a value, and the requests each costs: one data read per secret, one listing per
folder, and on a long-lived connection no request for a secret that did not change."""

from __future__ import annotations

import traceback
import uuid
from collections.abc import Callable

import hvac
import pytest

from connectors import vault
from connectors.vault import VaultSink, VaultSource
from syncd.errors import SourceError, SyncdError, TransientError
from syncd.model import Granularity, SourceSecret
from syncd.secret import Secret
from tests.connectors.vault.vault_support import (
    counted_client,
    ensure_kv1,
    make_source,
    plain,
    source_on,
    source_options,
    token_auth,
    token_with_policy,
)
from tests.fakes.openbao import OpenBaoServer

PLANTED = f"PLANTED-vault-{uuid.uuid4().hex}"


@pytest.fixture
def root(openbao: OpenBaoServer) -> hvac.Client:
    return openbao.client()


def put(root: hvac.Client, path: str, data: dict[str, object], mount: str = "secret") -> None:
    root.secrets.kv.v2.create_or_update_secret(path, data, mount_point=mount)


def source_error(call: Callable[[], object]) -> str:
    """The message of the SourceError `call` raises, after checking its traceback shows no planted value."""
    with pytest.raises(SourceError) as info:
        call()
    assert PLANTED not in "".join(traceback.format_exception(info.value)) + repr(info.value.args)
    return str(info.value)


def test_spec_names_the_vault_source_and_sink() -> None:
    """The module exports a spec called 'vault' that is both a source and a document sink."""
    assert vault.spec.name == "vault"
    assert vault.spec.roles == ("source", "sink")
    assert vault.spec.source is VaultSource and vault.spec.sink is VaultSink
    assert VaultSink.capabilities.granularities == (Granularity.DOCUMENT,)
    assert VaultSink.capabilities.versions
    assert VaultSource.capabilities.max_concurrency == VaultSink.capabilities.max_concurrency == 8


def test_reads_a_kv2_secret_as_secrets_with_its_version(openbao: OpenBaoServer, root, vault_prefix: str) -> None:
    """A KV v2 read gives every key as a Secret and the KV version as the secret's version."""
    put(root, f"{vault_prefix}/db", {"username": "app", "password": "s3cret"})
    source = make_source(openbao)
    secret = source.read(f"{vault_prefix}/db")
    assert secret.path == f"{vault_prefix}/db"
    assert all(isinstance(value, Secret) for value in secret.data.values())
    assert plain(secret.data) == {"username": "app", "password": "s3cret"}
    assert secret.version == "1"
    put(root, f"{vault_prefix}/db", {"username": "app", "password": "rotated"})
    again = source.read(f"{vault_prefix}/db")
    assert (again.version, plain(again.data)["password"]) == ("2", "rotated")


def test_numbers_and_booleans_read_as_their_json_text(openbao: OpenBaoServer, root, vault_prefix: str) -> None:
    """Scalars that are not strings are read as their JSON spelling."""
    put(root, f"{vault_prefix}/typed", {"port": 5432, "ratio": 0.5, "debug": False, "name": "x"})
    data = plain(make_source(openbao).read(f"{vault_prefix}/typed").data)
    assert data == {"port": "5432", "ratio": "0.5", "debug": "false", "name": "x"}


@pytest.mark.parametrize(
    ("value", "kind"), [({"nested": "x"}, "nested object"), (["a", "b"], "list"), (None, "null")], ids=str
)
def test_a_value_that_is_not_a_scalar_is_an_error_naming_path_and_key(
    openbao: OpenBaoServer, root, vault_prefix: str, value: object, kind: str
) -> None:
    """A nested object, a list or a null is an error naming the path and the key, never a value."""
    put(root, f"{vault_prefix}/odd", {"token": PLANTED, "shape": value})
    message = source_error(lambda: make_source(openbao).read(f"{vault_prefix}/odd"))
    assert f"key 'shape' of secret '{vault_prefix}/odd' in mount 'secret' holds a {kind}" in message


def test_missing_path_is_a_source_error_naming_it(openbao: OpenBaoServer, vault_prefix: str) -> None:
    """Reading a path that holds nothing is a SourceError naming the path and the mount."""
    message = source_error(lambda: make_source(openbao).read(f"{vault_prefix}/nothing"))
    assert message == f"no secret at '{vault_prefix}/nothing' in mount 'secret'"


def test_deleted_and_destroyed_latest_versions_are_source_errors(
    openbao: OpenBaoServer, root, vault_prefix: str
) -> None:
    """A secret whose latest version is deleted, or destroyed, cannot be read: the error says which."""
    put(root, f"{vault_prefix}/gone", {"k": PLANTED})
    root.secrets.kv.v2.delete_latest_version_of_secret(f"{vault_prefix}/gone")
    assert source_error(lambda: make_source(openbao).read(f"{vault_prefix}/gone")) == (
        f"the latest version (1) of '{vault_prefix}/gone' in mount 'secret' is deleted"
    )
    put(root, f"{vault_prefix}/burnt", {"k": PLANTED})
    root.secrets.kv.v2.destroy_secret_versions(f"{vault_prefix}/burnt", [1])
    assert "is destroyed" in source_error(lambda: make_source(openbao).read(f"{vault_prefix}/burnt"))


def test_empty_secret_is_a_source_error(openbao: OpenBaoServer, root, vault_prefix: str) -> None:
    """A secret with no keys is an error, never an empty map that would delete downstream keys."""
    put(root, f"{vault_prefix}/empty", {})
    assert "has no keys" in source_error(lambda: make_source(openbao).read(f"{vault_prefix}/empty"))


def test_dot_segments_in_a_path_are_refused(openbao: OpenBaoServer, vault_prefix: str) -> None:
    """A '..' segment would make the URL name another path, so it is an error before any call."""
    assert "'..' segment" in source_error(lambda: make_source(openbao).read(f"{vault_prefix}/../x"))


def test_list_is_recursive_sorted_and_skips_deleted_secrets(openbao: OpenBaoServer, root, vault_prefix: str) -> None:
    """list returns every live secret below the prefix, at any depth, sorted, as full paths."""
    for path in ("b", "a/x", "a/deep/er/y", "a", "gone"):
        put(root, f"{vault_prefix}/{path}", {"k": "v"})
    put(root, f"{vault_prefix}-sibling/a", {"k": "v"})
    root.secrets.kv.v2.delete_latest_version_of_secret(f"{vault_prefix}/gone")
    expected = [f"{vault_prefix}/{p}" for p in ("a", "a/deep/er/y", "a/x", "b")]
    source = make_source(openbao)
    assert source.list(f"{vault_prefix}/") == expected
    assert source.list(f"/{vault_prefix}") == expected
    assert source.list(f"{vault_prefix}/a/deep/") == [f"{vault_prefix}/a/deep/er/y"]


def test_a_secret_with_delete_version_after_is_live_until_that_time(
    openbao: OpenBaoServer, root, vault_prefix: str
) -> None:
    """With `delete_version_after` set, Vault gives a live version the future time it will be deleted at: such a
    secret is listed and read like any other, not taken as deleted."""
    path = f"{vault_prefix}/expiring"
    put(root, path, {"k": "v1"})
    root.secrets.kv.v2.update_metadata(path, delete_version_after="1h", mount_point="secret")
    put(root, path, {"k": "v2"})
    source = make_source(openbao)
    assert source.list(f"{vault_prefix}/") == [path]
    assert plain(source.read(path).data) == {"k": "v2"}


def test_list_of_a_missing_prefix_is_empty(openbao: OpenBaoServer, vault_prefix: str) -> None:
    """An empty list, which the core reports as 'no secret below prefix', as it does for the file source."""
    assert make_source(openbao).list(f"{vault_prefix}/none/") == []


def test_list_of_the_root_lists_the_whole_mount(openbao: OpenBaoServer, root, vault_prefix: str) -> None:
    """An empty prefix, '/' and '.' all list every secret of the mount."""
    mount = f"kv-{vault_prefix}"
    root.sys.enable_secrets_engine("kv", path=mount, options={"version": "2"})
    for path in ("top", "dir/inner"):
        put(root, path, {"k": "v"}, mount=mount)
    source = make_source(openbao, mount=mount)
    assert source.list("") == source.list("/") == source.list(".") == ["dir/inner", "top"]


def test_a_version_pin_reads_that_version(openbao: OpenBaoServer, root, vault_prefix: str) -> None:
    """`versions` pins a path to a KV v2 version; other paths still read their latest."""
    for value in ("one", "two", "three"):
        put(root, f"{vault_prefix}/pinned", {"k": value})
        put(root, f"{vault_prefix}/free", {"k": value})
    source = make_source(openbao, versions={f"/{vault_prefix}/pinned": 2})
    pinned = source.read(f"{vault_prefix}/pinned")
    assert (pinned.version, plain(pinned.data)) == ("2", {"k": "two"})
    assert source.read(f"{vault_prefix}/free").version == "3"
    # A second read goes through the cache and must still honour the pin.
    assert plain(source.read(f"{vault_prefix}/pinned").data) == {"k": "two"}


def test_a_pin_to_a_missing_or_deleted_version_is_an_error(openbao: OpenBaoServer, root, vault_prefix: str) -> None:
    """A pin to a version that does not exist, or was deleted, names the version and the path."""
    put(root, f"{vault_prefix}/p", {"k": "v"})
    put(root, f"{vault_prefix}/p", {"k": "w"})
    missing = make_source(openbao, versions={f"{vault_prefix}/p": 9})
    assert source_error(lambda: missing.read(f"{vault_prefix}/p")) == (
        f"version 9 of '{vault_prefix}/p' in mount 'secret' does not exist"
    )
    root.secrets.kv.v2.delete_secret_versions(f"{vault_prefix}/p", [1])
    deleted = make_source(openbao, versions={f"{vault_prefix}/p": 1})
    assert "version 1 of" in source_error(lambda: deleted.read(f"{vault_prefix}/p"))


def test_a_read_is_one_data_request_and_no_metadata_request(openbao: OpenBaoServer, root, vault_prefix: str) -> None:
    """Every read of a path is one GET of its data, whose answer carries the version: a second read of an unchanged
    path and a read after a change cost the same, and nothing reads the metadata."""
    path = f"{vault_prefix}/cached"
    put(root, path, {"k": "v1"})
    client, session = counted_client(openbao)
    source = source_on(source_options(openbao, kv_version=2), client)
    first = source.read(path)
    session.reset()
    second = source.read(path)
    assert session.calls == {f"GET secret/data/{path}": 1}
    assert (second.version, plain(second.data)) == ("1", {"k": "v1"}) and second.data == first.data
    put(root, path, {"k": "v2"})
    session.reset()
    third = source.read(path)
    assert session.calls == {f"GET secret/data/{path}": 1}
    assert (third.version, plain(third.data)) == ("2", {"k": "v2"})


def test_a_path_deleted_and_written_again_is_read_again(openbao: OpenBaoServer, root, vault_prefix: str) -> None:
    """After `kv metadata delete` and a new put, the version starts again at 1: the cache still sees the change."""
    path = f"{vault_prefix}/reborn"
    put(root, path, {"k": "before"})
    source = make_source(openbao)
    assert (source.read(path).version, plain(source.read(path).data)) == ("1", {"k": "before"})
    root.secrets.kv.v2.delete_metadata_and_all_versions(path)
    put(root, path, {"k": "after"})
    again = source.read(path)
    assert (again.version, plain(again.data)) == ("1", {"k": "after"})
    paths = source.list(f"{vault_prefix}/")
    root.secrets.kv.v2.delete_metadata_and_all_versions(path)
    put(root, path, {"k": "third"})
    source.list(f"{vault_prefix}/")
    assert paths == [path] and plain(source.read(path).data) == {"k": "third"}


def test_a_one_shot_run_lists_each_folder_once_and_reads_each_live_secret_once(
    openbao: OpenBaoServer, root, vault_prefix: str
) -> None:
    """A run on a new connection costs one LIST per folder (with the children's metadata, which leaves out a
    secret whose latest version is deleted) and one data read per live secret: no metadata read."""
    names = ["a", "b", "c", "deep/d"]
    for name in [*names, "gone"]:
        put(root, f"{vault_prefix}/{name}", {"k": name})
    root.secrets.kv.v2.delete_latest_version_of_secret(f"{vault_prefix}/gone")
    client, session = counted_client(openbao)
    source = source_on(source_options(openbao, kv_version=2), client)
    paths = source.list(f"{vault_prefix}/")
    found = source.read_many(paths)
    assert paths == [f"{vault_prefix}/{name}" for name in names]
    assert {p: plain(s.data) for p, s in found.items() if isinstance(s, SourceSecret)} == {
        f"{vault_prefix}/{name}": {"k": name} for name in names
    }
    assert {call: n for call, n in session.calls.items() if "auth/token" not in call} == {
        f"LIST secret/detailed-metadata/{vault_prefix}": 1,
        f"LIST secret/detailed-metadata/{vault_prefix}/deep": 1,
        **{f"GET secret/data/{vault_prefix}/{name}": 1 for name in names},
    }


def test_a_later_run_on_the_connection_reads_only_what_changed(openbao: OpenBaoServer, root, vault_prefix: str) -> None:
    """The connection remembers what its runs read: a later run (a new source object on it) costs one LIST of the
    folder and one page of its detailed listing, no request for an unchanged secret, and one data read for a
    changed one: written again, removed with `kv metadata delete` and written again at the same version number,
    or changed between the run's list and its read. A secret soft-deleted since is left out of the folder."""
    for name in ("changed", "reborn", "deleted", "same", "late"):
        put(root, f"{vault_prefix}/{name}", {"k": name})
    client, session = counted_client(openbao)
    options = source_options(openbao, kv_version=2)
    first = source_on(options, client)
    first.read_many(first.list(f"{vault_prefix}/"))
    put(root, f"{vault_prefix}/changed", {"k": "changed again"})
    root.secrets.kv.v2.delete_metadata_and_all_versions(f"{vault_prefix}/reborn")
    put(root, f"{vault_prefix}/reborn", {"k": "reborn again"})
    root.secrets.kv.v2.delete_latest_version_of_secret(f"{vault_prefix}/deleted")
    session.reset()
    later = VaultSource(options, first.connection)
    paths = later.list(f"{vault_prefix}/")
    put(root, f"{vault_prefix}/late", {"k": "late change"})
    found = later.read_many(paths)
    assert {p: plain(s.data) for p, s in found.items() if isinstance(s, SourceSecret)} == {
        f"{vault_prefix}/changed": {"k": "changed again"},
        f"{vault_prefix}/late": {"k": "late change"},
        f"{vault_prefix}/reborn": {"k": "reborn again"},
        f"{vault_prefix}/same": {"k": "same"},
    }
    assert found[f"{vault_prefix}/reborn"].version == "1"  # type: ignore[union-attr]
    assert {call: n for call, n in session.calls.items() if "auth/token" not in call} == {
        f"LIST secret/detailed-metadata/{vault_prefix}": 2,
        **{f"GET secret/data/{vault_prefix}/{name}": 1 for name in ("changed", "late", "reborn")},
    }


def test_without_the_detailed_listing_a_folder_is_listed_and_read_without_metadata(
    openbao: OpenBaoServer, root, vault_prefix: str
) -> None:
    """A policy granting no `list` on `detailed-metadata/` works: the connection asks for it once, then lists
    plainly and reads each listed secret's data to leave out a deleted one; a run costs at most two requests per
    secret, and never reads the metadata."""
    for name in ("a", "b", "gone"):
        put(root, f"{vault_prefix}/{name}", {"k": name})
    root.secrets.kv.v2.delete_latest_version_of_secret(f"{vault_prefix}/gone")
    token = token_with_policy(
        root,
        f'path "secret/data/{vault_prefix}/*" {{ capabilities = ["read"] }}\n'
        f'path "secret/metadata/{vault_prefix}/*" {{ capabilities = ["list"] }}',
    )
    client, session = counted_client(openbao)
    options = source_options(openbao, auth=token_auth(token), kv_version=2)
    source = source_on(options, client)
    for _ in range(2):
        later = VaultSource(options, source.connection)
        paths = later.list(f"{vault_prefix}/")
        found = later.read_many(paths)
        assert paths == [f"{vault_prefix}/a", f"{vault_prefix}/b"]
        assert {p: plain(s.data) for p, s in found.items() if isinstance(s, SourceSecret)} == {
            f"{vault_prefix}/a": {"k": "a"},
            f"{vault_prefix}/b": {"k": "b"},
        }
    assert session.count("LIST", "secret/detailed-metadata/") == 1
    assert session.count("LIST", "secret/metadata/") == 2
    assert session.count("GET", "secret/metadata/") == 0
    assert session.count("GET", "secret/data/") == 2 * (3 + 2)


def test_one_source_object_sees_a_change_made_between_its_list_and_its_read(
    openbao: OpenBaoServer, root, vault_prefix: str
) -> None:
    """A source keeps nothing from one call to the next: after a read and a list, a read of the same object sees
    a version written since."""
    path = f"{vault_prefix}/a"
    put(root, path, {"k": "first"})
    source = make_source(openbao, kv_version=2)
    source.read(path)
    assert source.list(f"{vault_prefix}/") == [path]
    put(root, path, {"k": "second"})
    assert plain(source.read(path).data) == {"k": "second"}


def test_read_many_returns_each_secret_or_its_error(openbao: OpenBaoServer, root, vault_prefix: str) -> None:
    """read_many reads paths in parallel and returns, per path, the secret or the error reading it."""
    paths = [f"{vault_prefix}/s{i}" for i in range(12)]
    for path in paths:
        put(root, path, {"k": path})
    found = make_source(openbao).read_many([*paths, f"{vault_prefix}/absent"])
    assert all(plain(found[p].data) == {"k": p} for p in paths)  # type: ignore[union-attr]
    assert isinstance(found[f"{vault_prefix}/absent"], SourceError)


def test_kv1_mount_is_detected_and_read(openbao: OpenBaoServer, root, vault_prefix: str) -> None:
    """With kv_version auto, a KV v1 mount is told apart and read: no version, recursive lists."""
    mount = ensure_kv1(root)
    root.secrets.kv.v1.create_or_update_secret(f"{vault_prefix}/db", {"user": "u", "port": 1}, mount_point=mount)
    root.secrets.kv.v1.create_or_update_secret(f"{vault_prefix}/x/y", {"k": "v"}, mount_point=mount)
    source = make_source(openbao, mount=mount)
    secret = source.read(f"{vault_prefix}/db")
    assert (plain(secret.data), secret.version) == ({"user": "u", "port": "1"}, None)
    assert source.list(f"{vault_prefix}/") == [f"{vault_prefix}/db", f"{vault_prefix}/x/y"]
    assert source_error(lambda: source.read(f"{vault_prefix}/none")) == (
        f"no secret at '{vault_prefix}/none' in mount '{mount}'"
    )


def test_version_pins_on_a_detected_kv1_mount_are_an_error(openbao: OpenBaoServer, root, vault_prefix: str) -> None:
    """KV v1 keeps no versions: pins on a mount detected as v1 are an error naming the mount."""
    mount = ensure_kv1(root)
    source = make_source(openbao, mount=mount, versions={f"{vault_prefix}/db": 1})
    assert "versions needs KV version 2" in source_error(lambda: source.read(f"{vault_prefix}/db"))


def test_a_mount_that_is_not_kv_is_an_error(openbao: OpenBaoServer) -> None:
    """Pointing the source at another kind of secrets engine says which kind it is."""
    message = source_error(lambda: make_source(openbao, mount="cubbyhole").read("x"))
    assert message == "mount 'cubbyhole' is a 'cubbyhole' secrets engine, not KV"


def test_an_unknown_mount_says_to_set_kv_version(openbao: OpenBaoServer) -> None:
    """When the mount cannot be asked about, the error says to set kv_version."""
    message = source_error(lambda: make_source(openbao, mount="no-such-mount").read("x"))
    assert "cannot tell the KV version of mount 'no-such-mount'" in message and "set kv_version" in message


def test_set_kv_version_asks_the_mount_nothing(openbao: OpenBaoServer, root, vault_prefix: str) -> None:
    """kv_version: 2 skips the mount lookup."""
    put(root, f"{vault_prefix}/k", {"k": "v"})
    client, session = counted_client(openbao)
    source_on(source_options(openbao, kv_version=2), client).read(f"{vault_prefix}/k")
    assert session.count(path="sys/internal/ui/mounts") == 0


def test_errors_are_syncd_errors_for_every_read(openbao: OpenBaoServer, vault_prefix: str) -> None:
    """read_many never raises for a path: a missing one comes back as its SyncdError."""
    found = make_source(openbao).read_many([f"{vault_prefix}/a", f"{vault_prefix}/b"])
    assert all(isinstance(value, SyncdError) for value in found.values())


def test_describe_names_address_and_mount(openbao: OpenBaoServer) -> None:
    """describe() names the address and the mount."""
    assert make_source(openbao, mount="kv").describe() == f"vault {openbao.address} kv/"


def test_without_read_on_metadata_every_read_fetches_the_data(openbao: OpenBaoServer, root, vault_prefix: str) -> None:
    """A policy granting only 'read' on the data works: each read is one data read, and no metadata is asked."""
    path = f"{vault_prefix}/db"
    put(root, path, {"k": "v1"})
    token = token_with_policy(root, f'path "secret/data/{vault_prefix}/*" {{ capabilities = ["read"] }}')
    client, session = counted_client(openbao)
    source = source_on(source_options(openbao, auth=token_auth(token), kv_version=2), client)
    for _ in range(3):
        assert plain(source.read(path).data) == {"k": "v1"}
    put(root, path, {"k": "v2"})
    assert (source.read(path).version, plain(source.read(path).data)) == ("2", {"k": "v2"})
    assert session.count("GET", "secret/metadata/") == 0
    assert session.count("GET", f"secret/data/{path}") == 5


def test_read_many_returns_a_transient_error_per_path(fresh_openbao: OpenBaoServer) -> None:
    """A server gone mid-run gives each path its TransientError, which the core retries for those paths."""
    put(fresh_openbao.client(), "a", {"k": "v"})
    source = make_source(fresh_openbao)
    assert isinstance(source.read_many(["a", "missing"])["missing"], SourceError)
    fresh_openbao.kill()
    found = source.read_many(["a", "missing"])
    assert all(isinstance(error, TransientError) and "is unreachable" in str(error) for error in found.values())


def test_the_connection_closes_the_session_and_a_run_leaves_it_open(openbao: OpenBaoServer) -> None:
    """A source's close() ends nothing its connection owns; the connection's close() closes the requests
    session."""
    client, session = counted_client(openbao)
    source = source_on(source_options(openbao), client)
    source.close()
    assert not session.closed
    source.connection.close()
    assert session.closed


def test_a_folder_of_single_paths_keeps_the_detailed_listing_of_the_others(
    openbao: OpenBaoServer, root, vault_prefix: str
) -> None:
    """With the policy `syncd policy` prints for two single paths of one folder and a prefix of another, the denied
    listing of the single paths' folder is asked once, and the prefix's folder keeps its detailed listing: a later
    run reads none of its unchanged secrets again."""
    for name in ("app/db", "app/api", "other/x", "other/y"):
        put(root, f"{vault_prefix}/{name}", {"k": name})
    token = token_with_policy(
        root,
        f'path "secret/data/{vault_prefix}/app/db" {{ capabilities = ["read"] }}\n'
        f'path "secret/data/{vault_prefix}/app/api" {{ capabilities = ["read"] }}\n'
        f'path "secret/data/{vault_prefix}/other/*" {{ capabilities = ["read"] }}\n'
        f'path "secret/metadata/{vault_prefix}/other/" {{ capabilities = ["list"] }}\n'
        f'path "secret/detailed-metadata/{vault_prefix}/other/" {{ capabilities = ["list"] }}',
    )
    client, session = counted_client(openbao)
    options = source_options(openbao, auth=token_auth(token), kv_version=2)
    connection = source_on(options, client).connection
    singles = [f"{vault_prefix}/app/db", f"{vault_prefix}/app/api"]
    for run in range(3):
        if run == 2:
            session.reset()
        source = VaultSource(options, connection)
        found = source.read_many([*singles, *source.list(f"{vault_prefix}/other/")])
        assert sorted(p for p, s in found.items() if isinstance(s, SourceSecret)) == sorted(
            [*singles, f"{vault_prefix}/other/x", f"{vault_prefix}/other/y"]
        )
    assert session.count("LIST", f"secret/detailed-metadata/{vault_prefix}/app") == 0
    assert session.count("LIST", f"secret/detailed-metadata/{vault_prefix}/other") == 2
    assert session.count("GET", f"secret/data/{vault_prefix}/other/") == 0
    assert session.count("GET", f"secret/data/{vault_prefix}/app/") == 2


def test_folder_names_with_url_characters_are_listed_as_they_are(
    openbao: OpenBaoServer, root, vault_prefix: str
) -> None:
    """Folders named with '#', '?' or '%2F' are listed and read as those names, not as a fragment, a query or an
    escaped slash of the URL."""
    names = ["a#b/x", "q?r/w", "pc%2Fx/t", "plain"]
    for name in names:
        put(root, f"{vault_prefix}/{name}", {"k": name})
    client, _ = counted_client(openbao)
    source = source_on(source_options(openbao, kv_version=2), client)
    paths = source.list(f"{vault_prefix}/")
    assert sorted(paths) == sorted(f"{vault_prefix}/{name}" for name in names)
    found = source.read_many(paths)
    assert {p: plain(s.data) for p, s in found.items() if isinstance(s, SourceSecret)} == {
        f"{vault_prefix}/{name}": {"k": name} for name in names
    }
