"""The `vault` sink against a real OpenBao: the sink contract on KV v2 and KV v1, the custom_metadata marker,
check-and-set against edits made since the plan, soft deletes and destroys, and observe scoped to the prefix."""

from __future__ import annotations

import traceback
import uuid
from collections.abc import Callable

import hvac
import pytest
import requests

from connectors.vault import VaultSink
from connectors.vault.kv2_marker import MARKER_VERSION
from connectors.vault.sink import MAX_PATH_LENGTH, OWNER_KEY
from syncd.connector import MARKER_INSTANCE, MARKER_SYNC, Scope
from syncd.diff import Policy, diff_item
from syncd.errors import PermanentError
from syncd.model import Action, Ownership
from syncd.retry import RetryPolicy
from syncd.testing.contract import PlantUnowned, SinkContract
from tests.connectors.vault.vault_support import (
    OWNER,
    counted_client,
    ensure_kv1,
    item,
    make_sink,
    observe,
    owned,
    plain,
    read,
    sink_options,
    sink_with,
    write,
)
from tests.fakes.openbao import OpenBaoServer

PLANTED = f"PLANTED-vault-{uuid.uuid4().hex}"
OTHER = Ownership("another-instance", "app")


@pytest.fixture
def root(openbao: OpenBaoServer) -> hvac.Client:
    return openbao.client()


def metadata(root: hvac.Client, path: str) -> dict:
    return root.secrets.kv.v2.read_secret_metadata(path)["data"]


def data_at(root: hvac.Client, path: str) -> dict:
    return root.secrets.kv.v2.read_secret_version(path, raise_on_deleted_version=True)["data"]["data"]


def permanent_error(call: Callable[[], object]) -> PermanentError:
    """The PermanentError `call` raises, after checking its traceback shows no planted value."""
    with pytest.raises(PermanentError) as info:
        call()
    assert PLANTED not in "".join(traceback.format_exception(info.value)) + repr(info.value.args)
    return info.value


class TestVaultKv2SinkContract(SinkContract):
    # One shared server per worker: each test gets a prefix of its own.
    @pytest.fixture
    def sink(self, openbao: OpenBaoServer, vault_prefix: str) -> VaultSink:
        self.addresses = tuple(f"{vault_prefix}/contract/{name}" for name in ("alpha", "beta", "gamma"))
        return make_sink(openbao, vault_prefix, target="contract")

    @pytest.fixture
    def plant_unowned(self, root: hvac.Client) -> PlantUnowned:
        return lambda address, data: root.secrets.kv.v2.create_or_update_secret(address, dict(data))


class TestVaultKv1SinkContract(SinkContract):
    @pytest.fixture
    def sink(self, openbao: OpenBaoServer, root: hvac.Client, vault_prefix: str) -> VaultSink:
        self.addresses = tuple(f"{vault_prefix}/contract/{name}" for name in ("alpha", "beta", "gamma"))
        return make_sink(openbao, vault_prefix, target="contract", mount=ensure_kv1(root))

    @pytest.fixture
    def plant_unowned(self, root: hvac.Client) -> PlantUnowned:
        mount = ensure_kv1(root)
        return lambda address, data: root.secrets.kv.v1.create_or_update_secret(address, dict(data), mount_point=mount)


def test_address_is_the_name_below_the_prefix(openbao: OpenBaoServer) -> None:
    """A `to` entry's name lands below the target's prefix; an empty prefix means the mount's root."""
    options = VaultSink.Destination()
    assert make_sink(openbao, "syncd/prod").address(options, "payments/db") == "syncd/prod/payments/db"
    assert make_sink(openbao, "/").address(options, "payments/db") == "payments/db"
    assert make_sink(openbao, "syncd", mount="kv").describe() == f"vault {openbao.address} kv/syncd"


@pytest.mark.parametrize(
    ("address", "problem"),
    [
        ("a//b", "has an empty segment"),
        ("a/b/", "has an empty segment"),
        ("a/../b", "has a '.' or '..' segment"),
        ("a/./b", "has a '.' or '..' segment"),
        ("a/with space", "has characters other than"),
        ("a/what?", "has characters other than"),
        ("x" * (MAX_PATH_LENGTH + 1), f"at most {MAX_PATH_LENGTH}"),
    ],
)
def test_check_refuses_bad_paths_in_one_sentence(openbao: OpenBaoServer, address: str, problem: str) -> None:
    """Each path rule is one sentence naming the path (shortened when long), never a value."""
    problems = make_sink(openbao, "p").check(item(address, {"k": PLANTED}))
    assert len(problems) == 1 and problem in problems[0]
    assert PLANTED not in problems[0] and len(problems[0]) < 200


def test_check_refuses_an_empty_key_and_the_reserved_key(openbao: OpenBaoServer) -> None:
    """An empty key, and the key reserved for the KV v1 marker, are problems; a valid item has none."""
    sink = make_sink(openbao, "p")
    assert sink.check(item("p/ok", {"user": "u", "password": PLANTED})) == []
    assert sink.check(item("p/a", {"": PLANTED})) == ["Item 'p/a' has an empty key."]
    assert sink.check(item("p/a", {OWNER_KEY: "x"})) == [
        f"Item 'p/a' has the key '{OWNER_KEY}', which syncd keeps for its marker."
    ]


def test_write_stamps_the_marker_in_custom_metadata_and_keeps_other_settings(
    openbao: OpenBaoServer, root, vault_prefix: str
) -> None:
    """Adopting a secret adds the marker keys (instance, sync and the version written) to custom_metadata; its
    other keys and settings stay."""
    path = f"{vault_prefix}/adopted"
    root.secrets.kv.v2.create_or_update_secret(path, {"k": "old"})
    root.secrets.kv.v2.update_metadata(path, max_versions=4, delete_version_after="1h", custom_metadata={"team": "x"})
    sink = make_sink(openbao, vault_prefix)
    write(sink, item(path, {"k": "new"}), read(sink, [path])[path])
    meta = metadata(root, path)
    assert meta["custom_metadata"] == {
        "team": "x",
        MARKER_INSTANCE: OWNER.instance,
        MARKER_SYNC: OWNER.sync,
        MARKER_VERSION: "2",
    }
    assert (meta["max_versions"], meta["delete_version_after"], meta["current_version"]) == (4, "1h0m0s", 2)
    assert data_at(root, path) == {"k": "new"}


def test_read_gives_the_kv_version_and_owner(openbao: OpenBaoServer, vault_prefix: str) -> None:
    """A read item carries its KV version, which moves with each write, and its owner."""
    path = f"{vault_prefix}/v"
    sink = make_sink(openbao, vault_prefix)
    write(sink, item(path, {"k": "1"}), None)
    first = read(sink, [path])[path]
    write(sink, item(path, {"k": "2"}), first)
    assert (first.version, read(sink, [path])[path].version, first.owner) == ("1", "2", OWNER)


def test_an_owned_secret_with_delete_version_after_is_live_and_in_sync(
    openbao: OpenBaoServer, root, vault_prefix: str
) -> None:
    """A secret syncd wrote, on which someone set `delete_version_after`, has a future deletion time on its live
    version: it is observed as owned and live, so a plan finds nothing to do."""
    path = f"{vault_prefix}/expiring"
    sink = make_sink(openbao, vault_prefix)
    wanted = item(path, {"k": "1"})
    write(sink, wanted, None)
    root.secrets.kv.v2.update_metadata(path, delete_version_after="1h", mount_point="secret")
    write(sink, item(path, {"k": "2"}), read(sink, [path])[path])
    wanted = item(path, {"k": "2"})
    found = observe(sink, [wanted])
    assert path in found.owned and not found.items[path].pending_deletion
    assert diff_item(OWNER.instance, wanted, found.items[path], Policy()).action is Action.NOOP


def test_an_edit_since_the_plan_fails_the_write_and_is_kept(openbao: OpenBaoServer, root, vault_prefix: str) -> None:
    """Check-and-set: a version written by someone else since the plan is never overwritten."""
    path = f"{vault_prefix}/cas"
    sink = make_sink(openbao, vault_prefix)
    write(sink, item(path, {"k": "ours"}), None)
    planned = read(sink, [path])[path]
    root.secrets.kv.v2.create_or_update_secret(path, {"k": "edited by hand"})
    error = permanent_error(lambda: write(sink, item(path, {"k": PLANTED}), planned))
    assert str(error) == (
        f"target 'vault-target', item '{path}': changed in Vault since the plan "
        "(version 1 then, version 2 now); nothing was written, run plan again"
    )
    assert data_at(root, path) == {"k": "edited by hand"}
    assert metadata(root, path)["current_version"] == 2


def test_a_marker_taken_off_since_the_plan_fails_the_write_and_is_not_put_back(
    openbao: OpenBaoServer, root, vault_prefix: str
) -> None:
    """An update planned on an owned secret raises ItemMoved when someone took syncd's marker off since (a
    metadata change only, so the version is the same), and neither the data nor the marker is written."""
    path = f"{vault_prefix}/disowned"
    sink = make_sink(openbao, vault_prefix)
    write(sink, item(path, {"k": "ours"}), None)
    expected = read(sink, [path])[path]
    root.secrets.kv.v2.update_metadata(path, custom_metadata={"team": "took-it-back"})
    with pytest.raises(PermanentError, match="marker"):
        write(sink, item(path, {"k": "planned"}), expected)
    meta = metadata(root, path)
    assert (meta["current_version"], meta["custom_metadata"]) == (int(expected.version), {"team": "took-it-back"})
    assert data_at(root, path) == {"k": "ours"}


def test_a_secret_created_since_the_plan_is_left_alone(openbao: OpenBaoServer, root, vault_prefix: str) -> None:
    """A create planned for an absent path fails when someone created it meanwhile; no marker lands on it."""
    path = f"{vault_prefix}/raced"
    sink = make_sink(openbao, vault_prefix)
    assert read(sink, [path]) == {}
    root.secrets.kv.v2.create_or_update_secret(path, {"k": "theirs"})
    assert "changed in Vault since the plan (absent then, version 1 now)" in str(
        permanent_error(lambda: write(sink, item(path, {"k": PLANTED}), None))
    )
    assert data_at(root, path) == {"k": "theirs"}
    assert not metadata(root, path)["custom_metadata"]


def test_a_version_slipping_in_before_the_write_is_caught_by_check_and_set(
    openbao: OpenBaoServer, root, vault_prefix: str
) -> None:
    """A version written between the metadata check and the write fails the write and takes the marker back."""
    path = f"{vault_prefix}/race"
    root.secrets.kv.v2.create_or_update_secret(path, {"k": "theirs"})
    client, session = counted_client(openbao)
    sink = sink_with("t", sink_options(openbao, vault_prefix, kv_version=2), client)
    planned = read(sink, [path])[path]

    def sneak_in(call: str) -> None:
        if call == f"POST secret/data/{path}":
            session.before = None
            root.secrets.kv.v2.create_or_update_secret(path, {"k": "sneaked in"})

    session.before = sneak_in
    error = permanent_error(lambda: write(sink, item(path, {"k": "x"}), planned))
    assert "changed in Vault since the plan" in str(error)
    assert data_at(root, path) == {"k": "sneaked in"}
    assert not metadata(root, path)["custom_metadata"]


def test_a_retried_write_whose_answer_was_lost_is_a_no_op(openbao: OpenBaoServer, root, vault_prefix: str) -> None:
    """Writing the same item again with the plan's old version (a retry) writes no second version."""
    path = f"{vault_prefix}/retry"
    sink = make_sink(openbao, vault_prefix)
    write(sink, item(path, {"k": "v1"}), None)
    planned = read(sink, [path])[path]
    write(sink, item(path, {"k": "v2"}), planned)
    write(sink, item(path, {"k": "v2"}), planned)
    assert metadata(root, path)["current_version"] == 2


def test_delete_soft_deletes_and_takes_the_marker_off(openbao: OpenBaoServer, root, vault_prefix: str) -> None:
    """Prune soft-deletes the version the plan saw (it can be undeleted) and the marker goes."""
    path = f"{vault_prefix}/pruned"
    root.secrets.kv.v2.create_or_update_secret(path, {"k": "v"})
    root.secrets.kv.v2.update_metadata(path, custom_metadata={"team": "x"})
    sink = make_sink(openbao, vault_prefix)
    write(sink, item(path, {"k": "ours"}), read(sink, [path])[path])
    sink.delete(read(sink, [path])[path])
    meta = metadata(root, path)
    assert meta["versions"]["2"]["deletion_time"] and not meta["versions"]["2"]["destroyed"]
    assert meta["custom_metadata"] == {"team": "x"}
    assert read(sink, [path]) == {} and owned(sink, OWNER.instance) == {}
    root.secrets.kv.v2.undelete_secret_versions(path, [2])
    assert data_at(root, path) == {"k": "ours"}


def test_prune_deletes_a_secret_whose_live_version_has_a_future_deletion_time(
    openbao: OpenBaoServer, root, vault_prefix: str
) -> None:
    """With `delete_version_after` set, the live version carries a future deletion time; prune still soft-deletes
    it (now), so its data is gone, and the marker goes."""
    path = f"{vault_prefix}/expiring-pruned"
    sink = make_sink(openbao, vault_prefix)
    write(sink, item(path, {"k": "1"}), None)
    root.secrets.kv.v2.update_metadata(path, delete_version_after="1h", mount_point="secret")
    write(sink, item(path, {"k": "2"}), read(sink, [path])[path])
    sink.delete(read(sink, [path])[path])
    with pytest.raises(hvac.exceptions.InvalidPath):
        root.secrets.kv.v2.read_secret_version(path, raise_on_deleted_version=True)
    assert owned(sink, OWNER.instance) == {}


def test_a_deleted_path_can_be_written_again(openbao: OpenBaoServer, root, vault_prefix: str) -> None:
    """After a soft delete the path reads as absent, and a create writes the next version with the marker."""
    path = f"{vault_prefix}/back"
    sink = make_sink(openbao, vault_prefix)
    write(sink, item(path, {"k": "one"}), None)
    sink.delete(read(sink, [path])[path])
    write(sink, item(path, {"k": "two"}), None)
    found = read(sink, [path])[path]
    assert (found.version, found.owner, plain(found.data)) == ("2", OWNER, {"k": "two"})


def test_destroy_on_delete_removes_every_version(openbao: OpenBaoServer, root, vault_prefix: str) -> None:
    """With destroy_on_delete, a delete removes the metadata and every version; a new write starts at version 1."""
    path = f"{vault_prefix}/destroyed"
    sink = make_sink(openbao, vault_prefix, destroy_on_delete=True)
    write(sink, item(path, {"k": "v"}), None)
    sink.delete(read(sink, [path])[path])
    with pytest.raises(hvac.exceptions.InvalidPath):
        root.secrets.kv.v2.read_secret_metadata(path)
    write(sink, item(path, {"k": "again"}), None)
    assert read(sink, [path])[path].version == "1"


def test_delete_leaves_a_secret_that_changed_or_changed_hands(openbao: OpenBaoServer, root, vault_prefix: str) -> None:
    """A delete planned on version N leaves a secret edited since, or whose marker now names someone else."""
    edited, taken = f"{vault_prefix}/edited", f"{vault_prefix}/taken"
    sink = make_sink(openbao, vault_prefix)
    for path in (edited, taken):
        write(sink, item(path, {"k": "v"}), None)
    planned = read(sink, [edited, taken])
    root.secrets.kv.v2.create_or_update_secret(edited, {"k": "edited"})
    root.secrets.kv.v2.update_metadata(taken, custom_metadata={MARKER_INSTANCE: "someone", MARKER_SYNC: "else"})
    assert "not deleted, run plan again" in str(permanent_error(lambda: sink.delete(planned[edited])))
    assert "left alone" in str(permanent_error(lambda: sink.delete(planned[taken])))
    assert data_at(root, edited) == {"k": "edited"} and data_at(root, taken) == {"k": "v"}


def test_observe_lists_only_inside_the_prefix(openbao: OpenBaoServer, root, vault_prefix: str) -> None:
    """observe lists the prefix's folders and reads their metadata, nothing outside; another's items are left out."""
    sink = make_sink(openbao, f"{vault_prefix}/syncd")
    outside = make_sink(openbao, f"{vault_prefix}/elsewhere")
    write(sink, item(f"{vault_prefix}/syncd/a", {"k": "v"}), None)
    write(sink, item(f"{vault_prefix}/syncd/deep/b", {"k": "v"}), None)
    write(sink, item(f"{vault_prefix}/syncd/theirs", {"k": "v"}, owner=OTHER), None)
    write(outside, item(f"{vault_prefix}/elsewhere/c", {"k": "v"}), None)
    client, session = counted_client(openbao)
    counted = sink_with("t", sink_options(openbao, f"{vault_prefix}/syncd", kv_version=2), client)
    mine = owned(counted, OWNER.instance)
    assert sorted(mine) == [f"{vault_prefix}/syncd/a", f"{vault_prefix}/syncd/deep/b"]
    assert all(i.owner == OWNER and i.version == "1" and i.data is None for i in mine.values())
    touched = {call.partition(" ")[2] for call in session.calls if "auth/token" not in call}
    assert touched and all(path.startswith(f"secret/metadata/{vault_prefix}/syncd") for path in touched)


def test_observe_lists_only_the_folders_of_the_scope(openbao: OpenBaoServer, vault_prefix: str) -> None:
    """With a scope narrower than the prefix, observe lists only the folders leading into the scope's prefixes
    and reports as owned only the items inside them; a scope outside the prefix lists nothing, and a wider one
    ('*') lists the prefix's folders and nothing above them."""
    sink = make_sink(openbao, vault_prefix)
    for name in ("a", "deep/b", "deep/other/c", "deeper/d", "wide/e"):
        write(sink, item(f"{vault_prefix}/{name}", {"k": "v"}), None)
    client, session = counted_client(openbao)
    counted = sink_with("t", sink_options(openbao, vault_prefix, kv_version=2), client)
    scope = Scope(OWNER.instance, (f"{vault_prefix}/deep/*", f"{vault_prefix}/a"))
    assert sorted(counted.observe([], scope).owned) == [
        f"{vault_prefix}/a",
        f"{vault_prefix}/deep/b",
        f"{vault_prefix}/deep/other/c",
    ]
    assert {call: n for call, n in session.calls.items() if call.startswith("LIST")} == {
        f"LIST secret/metadata/{vault_prefix}": 1,
        f"LIST secret/metadata/{vault_prefix}/deep": 1,
        f"LIST secret/metadata/{vault_prefix}/deep/other": 1,
    }
    session.reset()
    assert counted.observe([], Scope(OWNER.instance, ("elsewhere/*",))).owned == {}
    assert session.count("LIST") == 0
    counted.observe([], Scope(OWNER.instance, ("*",)))
    assert {call for call in session.calls if call.startswith("LIST")} == {
        f"LIST secret/metadata/{vault_prefix}",
        f"LIST secret/metadata/{vault_prefix}/deep",
        f"LIST secret/metadata/{vault_prefix}/deep/other",
        f"LIST secret/metadata/{vault_prefix}/deeper",
        f"LIST secret/metadata/{vault_prefix}/wide",
    }


def test_values_another_writer_stored_as_numbers_read_as_json_text(
    openbao: OpenBaoServer, root, vault_prefix: str
) -> None:
    """A number or an object in a sink's secret reads as JSON text, so it differs from the string syncd writes."""
    path = f"{vault_prefix}/typed"
    root.secrets.kv.v2.create_or_update_secret(path, {"port": 5432, "obj": {"a": 1}})
    found = read(make_sink(openbao, vault_prefix), [path])[path]
    assert plain(found.data) == {"port": "5432", "obj": '{"a": 1}'}


def test_kv1_marker_is_a_reserved_key_hidden_on_read(openbao: OpenBaoServer, root, vault_prefix: str) -> None:
    """On KV v1 the marker is stored in the data under a reserved key, and read back as the owner only."""
    mount = ensure_kv1(root)
    path = f"{vault_prefix}/db"
    sink = make_sink(openbao, vault_prefix, mount=mount)
    write(sink, item(path, {"user": "u"}), None)
    stored = root.secrets.kv.v1.read_secret(path, mount_point=mount)["data"]
    assert stored == {"user": "u", OWNER_KEY: f"{OWNER.instance}/{OWNER.sync}"}
    found = read(sink, [path])[path]
    assert (plain(found.data), found.owner, found.version) == ({"user": "u"}, OWNER, None)


def test_kv1_write_and_delete_leave_a_secret_that_changed_hands(
    openbao: OpenBaoServer, root, vault_prefix: str
) -> None:
    """Without check-and-set, KV v1 checks the owner just before writing or deleting."""
    mount = ensure_kv1(root)
    path = f"{vault_prefix}/taken"
    sink = make_sink(openbao, vault_prefix, mount=mount)
    write(sink, item(path, {"k": "v"}), None)
    planned = read(sink, [path])[path]
    root.secrets.kv.v1.create_or_update_secret(path, {"k": "theirs"}, mount_point=mount)
    permanent_error(lambda: write(sink, item(path, {"k": PLANTED}), planned))
    permanent_error(lambda: sink.delete(planned))
    assert root.secrets.kv.v1.read_secret(path, mount_point=mount)["data"] == {"k": "theirs"}


def test_write_refuses_a_path_vault_would_read_as_another(openbao: OpenBaoServer, vault_prefix: str) -> None:
    """A write refuses a path its URL would change: a '..' path never reaches Vault, whose URL handling would
    resolve it."""
    sink = make_sink(openbao, vault_prefix)
    error = permanent_error(lambda: write(sink, item(f"{vault_prefix}/../x", {"k": "v"}), None))
    assert "'.' or '..' segment" in str(error)


def test_kv1_a_retried_adopting_write_succeeds(openbao: OpenBaoServer, root, vault_prefix: str) -> None:
    """Adopting on KV v1, then the same write again (a retry): the second sees its own marker and goes on."""
    mount = ensure_kv1(root)
    path = f"{vault_prefix}/adopt"
    root.secrets.kv.v1.create_or_update_secret(path, {"k": "theirs"}, mount_point=mount)
    sink = make_sink(openbao, vault_prefix, mount=mount)
    planned = read(sink, [path])[path]
    assert planned.owner is None
    write(sink, item(path, {"k": "ours"}), planned)
    write(sink, item(path, {"k": "ours"}), planned)
    found = read(sink, [path])[path]
    assert (found.owner, plain(found.data)) == (OWNER, {"k": "ours"})


def test_destroy_spares_a_soft_deleted_secret_that_changed_hands(
    openbao: OpenBaoServer, root, vault_prefix: str
) -> None:
    """With destroy_on_delete, a path soft-deleted since the plan is destroyed only while it carries our marker."""
    ours, theirs = f"{vault_prefix}/ours", f"{vault_prefix}/theirs"
    sink = make_sink(openbao, vault_prefix, destroy_on_delete=True)
    for path in (ours, theirs):
        write(sink, item(path, {"k": "v"}), None)
    planned = read(sink, [ours, theirs])
    root.secrets.kv.v2.update_metadata(theirs, custom_metadata={MARKER_INSTANCE: "someone", MARKER_SYNC: "else"})
    for path in (ours, theirs):
        root.secrets.kv.v2.delete_latest_version_of_secret(path)
        sink.delete(planned[path])
    with pytest.raises(hvac.exceptions.InvalidPath):
        root.secrets.kv.v2.read_secret_metadata(ours)
    assert metadata(root, theirs)["custom_metadata"] == {MARKER_INSTANCE: "someone", MARKER_SYNC: "else"}


def test_observe_reads_no_metadata_of_a_desired_path_and_keeps_nothing(
    openbao: OpenBaoServer, vault_prefix: str
) -> None:
    """observe takes a desired path's marker from its data read, not from a metadata read; a second observe of the
    same sink object asks Vault again and sees a write made in between."""
    client, session = counted_client(openbao)
    sink = sink_with("vault-target", sink_options(openbao, vault_prefix), client)
    desired = [item(f"{vault_prefix}/app{i}", {"K": "v"}) for i in range(3)]
    for wanted in desired:
        write(sink, wanted, None)
    session.reset()
    first = observe(sink, desired)
    assert set(first.owned) == set(first.items) == {wanted.address for wanted in desired}
    assert session.count("GET", "secret/metadata/") == 0
    assert session.count("GET", "secret/data/") == 3
    write(sink, item(desired[0].address, {"K": "changed"}), first.items[desired[0].address])
    session.reset()
    second = observe(sink, desired)
    assert session.count("GET", "secret/metadata/") == 0
    assert second.owned[desired[0].address].version == "2"
    assert plain(second.items[desired[0].address].data) == {"K": "changed"}


def test_another_instances_soft_deleted_secret_is_a_conflict_and_never_written(
    openbao: OpenBaoServer, root, vault_prefix: str
) -> None:
    """A path another instance owns whose latest version was soft-deleted reads as pending with that owner: the
    diff makes it a conflict, and a write refuses it whatever the plan says."""
    path = f"{vault_prefix}/theirs"
    write(make_sink(openbao, vault_prefix), item(path, {"k": "theirs"}, owner=OTHER), None)
    root.secrets.kv.v2.delete_latest_version_of_secret(path)
    sink = make_sink(openbao, vault_prefix)
    wanted = item(path, {"k": PLANTED})
    actual = read(sink, [path]).get(path)
    assert actual is not None
    assert (actual.owner, actual.data, actual.version, actual.pending_deletion) == (OTHER, None, "1", True)
    change = diff_item(OWNER.instance, wanted, actual, Policy())
    assert change.action is Action.CONFLICT
    # Listed as the other instance's, not pending: its own prune takes the marker off a path deleted by hand.
    assert [(i.address, i.pending_deletion) for i in owned(sink, OTHER.instance).values()] == [(path, False)]
    for planned in (actual, None):
        error = permanent_error(lambda planned=planned: write(sink, wanted, planned))
        assert str(error) == (
            f"target 'vault-target', item '{path}': carries the ownership marker of syncd instance "
            f"'{OTHER.instance}'; nothing was written"
        )
    meta = metadata(root, path)
    assert meta["current_version"] == 1 and meta["versions"]["1"]["deletion_time"]
    assert meta["custom_metadata"] == {MARKER_INSTANCE: OTHER.instance, MARKER_SYNC: OTHER.sync, MARKER_VERSION: "1"}


def test_a_write_never_lands_on_another_instances_live_secret(openbao: OpenBaoServer, root, vault_prefix: str) -> None:
    """Defence in depth: even with a plan that saw the other owner, a write over another instance's marker fails."""
    path = f"{vault_prefix}/theirs"
    sink = make_sink(openbao, vault_prefix)
    write(sink, item(path, {"k": "theirs"}, owner=OTHER), None)
    planned = read(sink, [path])[path]
    assert "carries the ownership marker of syncd instance" in str(
        permanent_error(lambda: write(sink, item(path, {"k": PLANTED}), planned))
    )
    assert data_at(root, path) == {"k": "theirs"} and metadata(root, path)["current_version"] == 1


def test_kv1_a_write_never_lands_on_another_instances_secret(openbao: OpenBaoServer, root, vault_prefix: str) -> None:
    """On KV v1 too, a write over another instance's marker fails, even with a plan that saw that owner."""
    mount = ensure_kv1(root)
    path = f"{vault_prefix}/theirs"
    sink = make_sink(openbao, vault_prefix, mount=mount)
    write(sink, item(path, {"k": "theirs"}, owner=OTHER), None)
    planned = read(sink, [path])[path]
    assert "carries the ownership marker of syncd instance" in str(
        permanent_error(lambda: write(sink, item(path, {"k": PLANTED}), planned))
    )
    stored = root.secrets.kv.v1.read_secret(path, mount_point=mount)["data"]
    assert stored["k"] == "theirs"


def test_our_soft_deleted_secret_is_restored_with_a_new_version(
    openbao: OpenBaoServer, root, vault_prefix: str
) -> None:
    """Our own path soft-deleted by hand (marker kept) reads as pending (listed as owned, so that a prune would
    take the marker off), and the diff's restore writes the next version with check-and-set on the deleted one."""
    path = f"{vault_prefix}/ours"
    sink = make_sink(openbao, vault_prefix)
    write(sink, item(path, {"k": "one"}), None)
    root.secrets.kv.v2.delete_latest_version_of_secret(path)
    actual = read(sink, [path])[path]
    assert (actual.owner, actual.data, actual.version, actual.pending_deletion) == (OWNER, None, "1", True)
    assert set(owned(sink, OWNER.instance)) == {path}  # right after read, from what it found
    assert set(owned(sink, OWNER.instance)) == {path}  # from the metadata
    wanted = item(path, {"k": "two"})
    change = diff_item(OWNER.instance, wanted, actual, Policy())
    assert (change.action, change.reasons) == (Action.CREATE, ("restore from scheduled deletion",))
    write(sink, wanted, actual)
    found = read(sink, [path])[path]
    assert (found.version, found.owner, found.pending_deletion, plain(found.data)) == ("2", OWNER, False, {"k": "two"})
    assert metadata(root, path)["versions"]["1"]["deletion_time"]


@pytest.mark.parametrize("before", [None, Ownership(OWNER.instance, "old-sync")], ids=["adopt", "owner-move"])
def test_a_transient_failure_after_stamping_the_marker_is_finished_by_the_retry(
    openbao: OpenBaoServer, root, vault_prefix: str, before: Ownership | None
) -> None:
    """Adopting (or moving to another sync) stamps the marker first; when the data write then fails transiently,
    the core's retry finds only its own marker changed, and writes the data with check-and-set on the planned
    version."""
    path = f"{vault_prefix}/taken-over"
    if before is None:
        root.secrets.kv.v2.create_or_update_secret(path, {"k": "old"})
    else:
        write(make_sink(openbao, vault_prefix), item(path, {"k": "old"}, owner=before), None)
    client, session = counted_client(openbao)
    sink = sink_with("vault-target", sink_options(openbao, vault_prefix, kv_version=2), client)
    planned = read(sink, [path])[path]
    assert (planned.owner, planned.version) == (before, "1")
    failed: list[str] = []

    def fail_once(call: str) -> None:
        if call == f"POST secret/data/{path}" and not failed:
            failed.append(call)
            raise requests.ConnectionError("connection reset")

    session.before = fail_once
    _, attempts = RetryPolicy(attempts=3, initial_delay=0).call(lambda: write(sink, item(path, {"k": "new"}), planned))
    assert (failed, attempts) == ([f"POST secret/data/{path}"], 2)
    meta = metadata(root, path)
    assert meta["current_version"] == 2
    assert meta["custom_metadata"] == {MARKER_INSTANCE: OWNER.instance, MARKER_SYNC: OWNER.sync, MARKER_VERSION: "2"}
    assert data_at(root, path) == {"k": "new"}


def test_a_retry_after_the_marker_was_stamped_still_fails_when_the_path_moved(
    openbao: OpenBaoServer, root, vault_prefix: str
) -> None:
    """The retry finishes only a path still at the planned version: a version written meanwhile is kept, and the
    marker the failed try stamped is taken back."""
    path = f"{vault_prefix}/raced"
    root.secrets.kv.v2.create_or_update_secret(path, {"k": "old"})
    client, session = counted_client(openbao)
    sink = sink_with("vault-target", sink_options(openbao, vault_prefix, kv_version=2), client)
    planned = read(sink, [path])[path]

    def fail_and_sneak_in(call: str) -> None:
        if call == f"POST secret/data/{path}":
            session.before = None
            root.secrets.kv.v2.create_or_update_secret(path, {"k": "sneaked in"})
            raise requests.ConnectionError("connection reset")

    session.before = fail_and_sneak_in
    error = permanent_error(
        lambda: RetryPolicy(attempts=3, initial_delay=0).call(lambda: write(sink, item(path, {"k": PLANTED}), planned))
    )
    assert "changed in Vault since the plan (version 1 then, version 2 now)" in str(error)
    assert data_at(root, path) == {"k": "sneaked in"}
    assert not metadata(root, path)["custom_metadata"]


def test_observe_reads_only_the_desired_paths_its_listing_found(openbao: OpenBaoServer, vault_prefix: str) -> None:
    """observe lists the target first and reads only the desired paths the listing named: on an empty target it
    costs the one LIST, and a desired path that exists one data read."""
    client, session = counted_client(openbao)
    sink = sink_with("vault-target", sink_options(openbao, vault_prefix, kv_version=2), client)
    desired = [item(f"{vault_prefix}/app{i}", {"K": "v"}) for i in range(3)]
    first = observe(sink, desired)
    assert (first.items, first.owned) == ({}, {})
    assert {call: n for call, n in session.calls.items() if "auth/token" not in call} == {
        f"LIST secret/metadata/{vault_prefix}": 1
    }
    write(sink, desired[0], None)
    session.reset()
    second = observe(sink, desired)
    assert set(second.items) == set(second.owned) == {desired[0].address}
    assert dict(session.calls) == {
        f"LIST secret/metadata/{vault_prefix}": 1,
        f"GET secret/data/{desired[0].address}": 1,
    }
