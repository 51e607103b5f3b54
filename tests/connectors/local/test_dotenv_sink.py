"""The `dotenv` sink: file layout, quoting, ownership markers, batching, atomic writes, no leaks."""

from __future__ import annotations

import os
import stat
import traceback
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import structlog
import structlog.testing
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from connectors import local
from connectors.local import dotenv_format as dotenv
from connectors.local.dotenv_file import HEADER, DotenvFile
from connectors.local.dotenv_sink import DotenvSink
from connectors.local.file_source import FileSource
from connectors.local.options import DotenvSinkOptions, FileSourceOptions
from syncd.connector import Capabilities, Scope
from syncd.errors import ItemMoved, PermanentError
from syncd.model import ActualItem, DesiredItem, Granularity, Ownership
from syncd.secret import Secret
from syncd.testing.contract import SPECIAL_VALUES, PlantUnowned, SinkContract
from tests.connectors.local.dotenv_support import observed, owned, write

TARGET = "local-env"
OWNER = Ownership("prod-eu", "payments-db")
OTHER = Ownership("staging", "payments-db")
PLANTED = "PLANTED-7f3a-secret"
MARKER = "# syncd: owner=prod-eu/payments-db\n"


def make_sink(path: Path, **options: Any) -> DotenvSink:
    return DotenvSink(TARGET, DotenvSinkOptions(path=str(path), **options))


def item(name: str, value: str, owner: Ownership = OWNER) -> DesiredItem:
    return DesiredItem(
        target=TARGET, address=name, owner=owner, data={name: Secret(value)}, granularity=Granularity.PER_KEY
    )


def plain(items: Mapping[str, ActualItem]) -> dict[str, str]:
    """Each item's single value, revealed."""
    return {address: next(iter(actual.data.values())).reveal() for address, actual in items.items() if actual.data}


def put(sink: DotenvSink, desired: DesiredItem) -> None:
    """Write `desired` over what the sink holds now, as apply does after a plan."""
    write(sink, desired, observed(sink, [desired.address]).get(desired.address))


def permanent_error(call: Callable[[], object]) -> PermanentError:
    """The PermanentError `call` raises, after checking its traceback shows no planted value."""
    with pytest.raises(PermanentError) as info:
        call()
    assert PLANTED not in "".join(traceback.format_exception(info.value))
    return info.value


@pytest.fixture
def env(tmp_path: Path) -> Path:
    return tmp_path / ".env"


@pytest.fixture
def replaces(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The destination of every os.replace call made during the test."""
    calls: list[str] = []
    real_replace = os.replace

    def counting_replace(source: Any, destination: Any) -> None:
        calls.append(str(destination))
        real_replace(source, destination)

    monkeypatch.setattr(os, "replace", counting_replace)
    return calls


class TestDotenvSinkContract(SinkContract):
    addresses = ("CONTRACT_ALPHA", "CONTRACT_BETA", "CONTRACT_GAMMA")
    # The portable dialect refuses a quote next to '$' or '`', and '${...}' (see test_dotenv_shell.py).
    special_values = tuple(v for v in SPECIAL_VALUES if dotenv.unwritable(v, "portable") is None)

    @pytest.fixture
    def sink(self, tmp_path: Path) -> DotenvSink:
        return make_sink(tmp_path / "contract.env")

    @pytest.fixture
    def plant_unowned(self, tmp_path: Path) -> PlantUnowned:
        def plant(address: str, data: Mapping[str, str]) -> None:
            """Put the variable in the file without a marker, in place of what was there, as a person would."""
            path = tmp_path / "contract.env"
            document = DotenvFile(str(path), TARGET, 0o600).load()
            document.remove(address)
            text = document.text() + dotenv.format_assignment(address, next(iter(data.values()))) + "\n"
            path.write_text(text, encoding="utf-8")

        return plant

    def test_dialect_holds_the_expected_special_values(self) -> None:
        """The portable dialect leaves out only the special values with '${' or with a quote and '`'."""
        assert len(self.special_values) == len(SPECIAL_VALUES) - 2


class TestShDialectContract(TestDotenvSinkContract):
    special_values = SPECIAL_VALUES

    @pytest.fixture
    def sink(self, tmp_path: Path) -> DotenvSink:
        return make_sink(tmp_path / "contract.env", dialect="sh")

    def test_dialect_holds_the_expected_special_values(self) -> None:
        """The sh dialect holds every special value of the contract."""
        assert self.special_values == SPECIAL_VALUES


def test_spec_names_the_dotenv_sink() -> None:
    """The local family exports a spec called 'dotenv' whose sink is DotenvSink: buffered, one variable per item,
    no tags and no description."""
    assert local.dotenv_spec.name == "dotenv"
    assert local.dotenv_spec.sink is DotenvSink
    assert DotenvSink.capabilities == Capabilities(granularities=(Granularity.PER_KEY,), buffered=True)


def test_path_option_is_marked_for_the_core_to_resolve() -> None:
    """The path option is marked as a path, so the core resolves a relative one against the manifest."""
    assert DotenvSinkOptions.model_fields["path"].json_schema_extra == {"path": True}


def test_first_write_creates_the_file_with_header_marker_and_variable(env: Path) -> None:
    """A first write makes a file holding the header, then the marker line and the variable."""
    write(make_sink(env), item("DB_USER", "alice"))
    assert env.read_text() == f"{HEADER}\n{MARKER}DB_USER='alice'\n"


def test_written_file_has_mode_0600(env: Path) -> None:
    """The file syncd writes can be read by its owner only, by default."""
    write(make_sink(env), item("A", "1"))
    assert stat.S_IMODE(env.stat().st_mode) == 0o600


def test_mode_option_sets_the_files_permissions(env: Path) -> None:
    """The mode option, an octal string, is the written file's permission bits."""
    write(make_sink(env, mode="0640"), item("A", "1"))
    assert stat.S_IMODE(env.stat().st_mode) == 0o640


def test_a_looser_file_is_tightened_on_the_next_write(env: Path) -> None:
    """A file others may read gets the sink's mode back when syncd next writes it."""
    env.write_text("OTHER=1\n")
    env.chmod(0o644)
    write(make_sink(env), item("A", "1"))
    assert stat.S_IMODE(env.stat().st_mode) == 0o600


@pytest.mark.parametrize(("mode", "bits"), [("0600", 0o600), ("640", 0o640), ("0400", 0o400)])
def test_mode_is_read_as_octal(mode: str, bits: int) -> None:
    """A valid mode string gives its octal value as permissions."""
    assert DotenvSinkOptions(path="x", mode=mode).permissions == bits


def test_a_file_another_user_owns_keeps_its_owner_and_group(env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Written by syncd running as another user (root, say), the file keeps its owner and group, so the program
    that reads it still can."""
    env.write_text("OTHER=1\n")
    owner = env.stat()
    given: list[tuple[int, int]] = []
    monkeypatch.setattr(os, "geteuid", lambda: owner.st_uid + 1)
    monkeypatch.setattr(os, "fchown", lambda fd, uid, gid: given.append((uid, gid)))
    write(make_sink(env), item("A", "1"))
    assert given == [(owner.st_uid, owner.st_gid)]


def test_an_owner_that_cannot_be_kept_is_a_warning_and_the_write_goes_on(
    env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env.write_text("OTHER=1\n")
    monkeypatch.setattr(os, "geteuid", lambda: env.stat().st_uid + 1)

    def refused(fd: int, uid: int, gid: int) -> None:
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(os, "fchown", refused)
    with structlog.testing.capture_logs() as logs:
        write(make_sink(env), item("A", "1"))
    assert "A=" in env.read_text()
    assert [entry["event"] for entry in logs] == ["owner not kept"]


@pytest.mark.parametrize("mode", ["0800", "rw-------", "06000", "", 384, "0o600"])
def test_invalid_mode_is_refused(mode: Any) -> None:
    """A mode that is not a 3-digit octal string, including a YAML number, is a validation error."""
    with pytest.raises(ValidationError, match="octal permission string"):
        DotenvSinkOptions(path="x", mode=mode)


def test_unmanaged_lines_are_kept_byte_for_byte(env: Path) -> None:
    """Comments, blank lines, odd spacing, CRLF and multi-line values not owned by syncd are kept exactly."""
    original = (
        "# hand-written comment\r\n"
        "export OTHER = 'x'   # note\n"
        "\n"
        '   MULTI="line one\n'
        'line two"\n'
        "  # indented comment\n"
        "LAST=no-newline-at-end"
    )
    env.write_bytes(original.encode())
    write(make_sink(env), item("NEW", "v"))
    assert env.read_bytes().decode() == f"{HEADER}\n{original}\n{MARKER}NEW='v'\n"


def test_header_is_written_once(env: Path) -> None:
    """Later writes do not repeat the header, nor add one to a file that has it."""
    sink = make_sink(env)
    write(sink, item("A", "1"))
    write(sink, item("B", "2"))
    put(sink, item("A", "3"))
    assert env.read_text().count(HEADER) == 1


def test_owned_variable_is_replaced_in_place(env: Path) -> None:
    """Updating an owned variable rewrites its line where it is, keeping the order of the file."""
    sink = make_sink(env)
    for name in ("A", "B", "C"):
        write(sink, item(name, "old"))
    write(sink, item("B", "new"), observed(sink, ["B"])["B"])
    assert env.read_text() == f"{HEADER}\n{MARKER}A='old'\n{MARKER}B='new'\n{MARKER}C='old'\n"


def test_unmanaged_variable_is_adopted_in_place(env: Path) -> None:
    """Writing over an unmanaged variable puts the marker above it and replaces its line, in place."""
    env.write_text("X=1\nDB_USER=old # by hand\nY=2\n")
    sink = make_sink(env)
    actual = observed(sink, ["DB_USER"])["DB_USER"]
    assert actual.owner is None
    write(sink, item("DB_USER", "alice"), actual)
    assert env.read_text() == f"{HEADER}\nX=1\n{MARKER}DB_USER='alice'\nY=2\n"
    assert observed(sink, ["DB_USER"])["DB_USER"].owner == OWNER


def test_new_variable_is_appended_at_the_end(env: Path) -> None:
    """A variable not yet in the file goes after every existing line."""
    env.write_text("FIRST=1\n")
    write(make_sink(env), item("SECOND", "2"))
    assert env.read_text().endswith(f"FIRST=1\n{MARKER}SECOND='2'\n")


def test_write_of_an_unchanged_variable_does_not_touch_the_file(env: Path, replaces: list[str]) -> None:
    """Writing the value and owner a variable already has leaves the file alone."""
    sink = make_sink(env)
    write(sink, item("A", "1"))
    before = env.read_bytes()
    write(sink, item("A", "1"))
    assert len(replaces) == 1
    assert env.read_bytes() == before


def test_write_changes_the_owner_marker(env: Path) -> None:
    """Writing a variable for another owner rewrites its marker."""
    sink = make_sink(env)
    write(sink, item("A", "1"))
    put(sink, item("A", "1", owner=OTHER))
    assert observed(sink, ["A"])["A"].owner == OTHER
    assert "# syncd: owner=staging/payments-db\nA='1'\n" in env.read_text()


def test_delete_removes_the_marker_and_the_variable(env: Path) -> None:
    """Deleting an owned variable removes both its lines and nothing else."""
    env.write_text("KEEP=1\n")
    sink = make_sink(env)
    write(sink, item("GONE", "x"))
    sink.delete(observed(sink, ["GONE"])["GONE"])
    assert env.read_text() == f"{HEADER}\nKEEP=1\n"


def test_delete_of_an_absent_variable_succeeds_without_writing(env: Path, replaces: list[str]) -> None:
    """Deleting a variable that is not there, in an existing or absent file, is no error and no write."""
    sink = make_sink(env)
    sink.delete(ActualItem("NOPE", OWNER))
    env.write_text("A=1\n")
    sink.delete(ActualItem("NOPE", OWNER))
    assert replaces == []
    assert env.read_text() == "A=1\n"


@pytest.mark.parametrize(
    ("text", "owner"),
    [("A=1\n", OWNER), ("# syncd: owner=staging/payments-db\nA=1\n", OWNER), (f"{MARKER}A=1\n", None)],
)
def test_delete_leaves_a_variable_no_longer_owned_by_that_owner(env: Path, text: str, owner: Any) -> None:
    """A variable whose marker was removed or changed, or a delete without an owner, is left alone, with an error."""
    env.write_text(text)
    error = permanent_error(lambda: make_sink(env).delete(ActualItem("A", owner)))
    assert error.address == "A"
    assert env.read_text() == text


def test_read_returns_present_items_and_omits_absent_ones(env: Path) -> None:
    """Read returns owned and unmanaged variables asked for, with owner, value and the file's mtime."""
    env.write_text(f"PLAIN=hand\n{MARKER}OWNED='syncd'\nOTHER=x\n")
    found = observed(make_sink(env), ["PLAIN", "OWNED", "ABSENT"])
    assert set(found) == {"PLAIN", "OWNED"}
    assert found["PLAIN"].owner is None
    assert found["OWNED"].owner == OWNER
    assert plain(found) == {"PLAIN": "hand", "OWNED": "syncd"}
    assert found["OWNED"].version == str(env.stat().st_mtime_ns)
    assert isinstance(found["OWNED"].data["OWNED"], Secret)


def test_read_of_an_absent_file_is_empty(env: Path) -> None:
    """A file that does not exist yet holds no items."""
    sink = make_sink(env)
    assert observed(sink, ["A"]) == {}
    assert owned(sink, "prod-eu") == {}


def test_list_owned_filters_by_instance(env: Path) -> None:
    """Only variables marked with the instance asked for are listed; unmanaged ones never are."""
    env.write_text(
        "HAND=1\n"
        f"{MARKER}MINE='a'\n"
        "# syncd: owner=staging/x\nTHEIRS='b'\n"
        "# syncd: owner=prod-eu/other-sync\nMINE_TOO='c'\n"
    )
    sink = make_sink(env)
    assert plain(owned(sink, "prod-eu")) == {"MINE": "a", "MINE_TOO": "c"}
    assert set(owned(sink, "staging")) == {"THEIRS"}
    assert owned(sink, "prod") == {}


def test_owned_holds_only_variables_inside_the_scope(env: Path) -> None:
    """observe reports as owned only the instance's variables its scope's patterns cover."""
    env.write_text(
        f"{MARKER}APP_DB='a'\n{MARKER}APP_KEY='b'\n{MARKER}OTHER_DB='c'\n# syncd: owner=staging/x\nAPP_X='d'\n"
    )
    sink = make_sink(env)
    assert set(owned(sink, "prod-eu", "APP_*")) == {"APP_DB", "APP_KEY"}
    assert set(owned(sink, "prod-eu", "OTHER_DB", "APP_K*")) == {"OTHER_DB", "APP_KEY"}
    assert owned(sink, "prod-eu", "NONE_*") == {}


def test_a_variable_both_desired_and_owned_is_read_into_one_item(env: Path) -> None:
    """observe makes one ActualItem (one Secret) per variable: a desired variable that is also owned is the same item
    in `items` and in `owned`, not a second copy of its value."""
    env.write_text(f"{MARKER}A='1'\n{MARKER}B='2'\n")
    observation = make_sink(env).observe([item("A", "1")], Scope("prod-eu", ("*",)))
    assert set(observation.owned) == {"A", "B"}
    assert observation.owned["A"] is observation.items["A"]


def test_two_plans_on_one_sink_see_a_change_made_between_them(env: Path) -> None:
    """One sink object observes the file anew on each plan: an edit between two plans is seen by the second."""
    env.write_text(f"{MARKER}A='1'\nHAND=x\n")
    sink = make_sink(env)
    desired = [item("A", "1"), item("HAND", "x"), item("NEW", "n")]
    first = sink.observe(desired, Scope("prod-eu", ("*",)))
    assert plain(first.items) == {"A": "1", "HAND": "x"} and set(first.owned) == {"A"}
    env.write_text(f"{MARKER}A='2'\n{MARKER}NEW='n'\n")
    second = sink.observe(desired, Scope("prod-eu", ("*",)))
    assert plain(second.items) == {"A": "2", "NEW": "n"}
    assert set(second.owned) == {"A", "NEW"}


MOVED = {
    "value": (f"{MARKER}A='by-hand'\n", "its value changed since"),
    "unmarked": ("A='1'\n", "its ownership marker changed since"),
    "marker": ("# syncd: owner=staging/payments-db\nA='1'\n", "its ownership marker changed since"),
    "removed": ("", "it was removed since"),
}


@pytest.mark.parametrize("call", ["write", "delete"])
@pytest.mark.parametrize("edit", MOVED)
def test_a_change_to_a_variable_moved_since_the_plan_raises_item_moved(env: Path, call: str, edit: str) -> None:
    """In a batch, a write or a delete of a variable edited since the plan raises ItemMoved naming how it moved and
    no value; the edit and the batch's other changes are kept. A delete of a variable removed since is done."""
    env.write_text(f"{MARKER}A='1'\n")
    sink = make_sink(env)
    planned = observed(sink, ["A"])["A"]
    text, reason = MOVED[edit]
    env.write_text(text)
    with sink.batch():
        write(sink, item("B", "2"))
        if call == "delete" and edit == "removed":
            sink.delete(planned)
        else:
            error = permanent_error(
                lambda: write(sink, item("A", PLANTED), planned) if call == "write" else sink.delete(planned)
            )
            assert isinstance(error, ItemMoved)
            assert error.address == "A" and f"moved since the plan ({reason})" in str(error)
    assert env.read_text() == f"{HEADER}\n{text}{MARKER}B='2'\n"


def test_a_variable_created_since_the_plan_is_not_overwritten(env: Path) -> None:
    """A create whose variable someone added since the plan raises ItemMoved and keeps their line."""
    sink = make_sink(env)
    env.write_text("A=theirs\n")
    error = permanent_error(lambda: write(sink, item("A", PLANTED)))
    assert isinstance(error, ItemMoved) and "it was created since" in str(error)
    assert env.read_text() == "A=theirs\n"


def test_a_retry_after_a_lost_answer_succeeds(env: Path, replaces: list[str]) -> None:
    """Writing again what a write already did (its answer lost), against the same plan, succeeds and writes nothing;
    so does deleting again."""
    sink = make_sink(env)
    write(sink, item("A", "1"))
    write(sink, item("A", "1"))
    planned = observed(sink, ["A"])["A"]
    write(sink, item("A", "2"), planned)
    write(sink, item("A", "2"), planned)
    deleted = observed(sink, ["A"])["A"]
    sink.delete(deleted)
    sink.delete(deleted)
    assert len(replaces) == 3
    assert observed(sink, ["A"]) == {}


def test_marker_not_above_a_variable_is_an_ordinary_comment(env: Path) -> None:
    """A marker followed by a blank line does not claim the variable after it, and is kept."""
    text = f"{MARKER}\nA=1\n"
    env.write_text(text)
    sink = make_sink(env)
    assert observed(sink, ["A"])["A"].owner is None
    write(sink, item("B", "2"))
    assert env.read_text() == f"{HEADER}\n{text}{MARKER}B='2'\n"


def test_version_changes_on_every_write(env: Path) -> None:
    """Each write moves the version, even two writes within one tick of the file clock."""
    sink = make_sink(env)
    versions = []
    for value in ("one", "two", "six"):
        put(sink, item("A", value))
        versions.append(observed(sink, ["A"])["A"].version)
    assert len(set(versions)) == 3


def test_version_moves_forward_even_when_the_clock_has_not(env: Path) -> None:
    """A write gives the file a later mtime than the one it replaces, even one ahead of the clock."""
    sink = make_sink(env)
    write(sink, item("A", "one"))
    ahead = env.stat().st_mtime_ns + 3_600 * 10**9
    os.utime(env, ns=(ahead, ahead))
    put(sink, item("A", "two"))
    assert int(observed(sink, ["A"])["A"].version or 0) > ahead


def test_batch_writes_the_file_once(env: Path, replaces: list[str]) -> None:
    """Inside a batch, changes are kept in memory, readable, and written in one replace at the end."""
    env.write_text(f"{MARKER}OLD='x'\n")
    sink = make_sink(env)
    with sink.batch():
        write(sink, item("A", "1"))
        write(sink, item("B", "2"))
        sink.delete(observed(sink, ["OLD"])["OLD"])
        assert plain(observed(sink, ["A", "B", "OLD"])) == {"A": "1", "B": "2"}
        assert env.read_text() == f"{MARKER}OLD='x'\n"
    assert len(replaces) == 1
    assert env.read_text() == f"{HEADER}\n{MARKER}A='1'\n{MARKER}B='2'\n"


def test_batch_without_changes_writes_nothing(env: Path, replaces: list[str]) -> None:
    """A batch whose writes change nothing does not write the file."""
    sink = make_sink(env)
    write(sink, item("A", "1"))
    with sink.batch():
        write(sink, item("A", "1"))
    with sink.batch():
        pass
    assert len(replaces) == 1


def test_writes_outside_a_batch_each_write_the_file(env: Path, replaces: list[str]) -> None:
    """Without a batch every write and delete is on disk when it returns."""
    sink = make_sink(env)
    write(sink, item("A", "1"))
    write(sink, item("B", "2"))
    sink.delete(observed(sink, ["A"])["A"])
    assert len(replaces) == 3


def test_batch_from_many_threads_keeps_every_write(env: Path, replaces: list[str]) -> None:
    """Writes made by many threads in one batch all land, in one replace."""
    sink = make_sink(env)
    names = [f"VAR_{i}" for i in range(64)]
    with sink.batch(), ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda name: write(sink, item(name, f"value-{name}")), names))
    assert len(replaces) == 1
    assert plain(observed(sink, names)) == {name: f"value-{name}" for name in names}


def test_batch_is_saved_when_its_block_fails(env: Path) -> None:
    """Writes that returned inside a batch are saved even if the block then raises."""
    sink = make_sink(env)
    with pytest.raises(RuntimeError), sink.batch():
        write(sink, item("A", "1"))
        raise RuntimeError("apply stopped")
    assert plain(observed(sink, ["A"])) == {"A": "1"}


def test_writes_leave_no_temporary_files(env: Path) -> None:
    """After writes and deletes the directory holds the dotenv file alone."""
    sink = make_sink(env)
    for value in ("1", "2"):
        put(sink, item("A", value))
    with sink.batch():
        write(sink, item("B", "3"))
    sink.delete(observed(sink, ["A"])["A"])
    assert sorted(os.listdir(env.parent)) == [".env", ".env.lock"]


def test_failed_replace_leaves_the_file_and_no_temporary(env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """If the final rename fails, the old file is intact, the temp file is gone, and the error names the path."""
    env.write_text("A=1\n")

    def failing_replace(source: Any, destination: Any) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(os, "replace", failing_replace)
    error = permanent_error(lambda: write(make_sink(env), item("B", PLANTED)))
    assert error.target == TARGET
    assert str(env) in str(error)
    assert env.read_text() == "A=1\n"
    assert sorted(os.listdir(env.parent)) == [".env", ".env.lock"]


def test_missing_parent_directories_are_created(tmp_path: Path) -> None:
    """Writing to a path whose directories do not exist yet creates them."""
    path = tmp_path / "deep" / "er" / "app.env"
    write(make_sink(path), item("A", "1"))
    assert path.read_text().endswith("A='1'\n")


def test_a_symbolic_link_is_written_through(tmp_path: Path) -> None:
    """When the path is a symbolic link, the file it points to is updated and the link kept."""
    real = tmp_path / "real.env"
    real.write_text("")
    link = tmp_path / "link.env"
    link.symlink_to(real)
    write(make_sink(link), item("A", "1"))
    assert link.is_symlink()
    assert real.read_text().endswith("A='1'\n")


@pytest.mark.parametrize(
    "text",
    [f"OK=1\nNOT A LINE {PLANTED}\n", f"OK=1\nKEY='{PLANTED}' junk\n", f'OK=1\nKEY="{PLANTED}\n'],
)
def test_malformed_file_is_a_permanent_error_without_content(env: Path, text: str) -> None:
    """A line that is not dotenv makes read, list_owned and write fail naming file:line, never the text."""
    env.write_text(text)
    sink = make_sink(env)
    for call in (
        lambda: observed(sink, ["OK"]),
        lambda: owned(sink, "prod-eu"),
        lambda: write(sink, item("B", "2")),
    ):
        error = permanent_error(call)
        assert error.target == TARGET
        assert f"{env}:2:" in str(error)
    assert env.read_text() == text


def test_duplicate_variable_is_a_permanent_error_naming_the_line(env: Path) -> None:
    """A variable set twice in the file is an error naming file and line, never the values."""
    env.write_text(f"A=1\nB=2\n{MARKER}A={PLANTED}\n")
    error = permanent_error(lambda: observed(make_sink(env), ["A"]))
    assert f"{env}:4:" in str(error)
    assert "'A'" in str(error)


def test_check_accepts_a_valid_item(env: Path) -> None:
    """A variable name of letters, digits and underscores with a plain value has no problem."""
    assert make_sink(env).check(item("_DB_USER2", "x")) == []


@pytest.mark.parametrize("name", ["1ABC", "A-B", "A B", "", "apps/db", "É"])
def test_check_refuses_invalid_variable_names(env: Path, name: str) -> None:
    """A name that is not a shell variable name is one problem naming the name, not the value."""
    problems = make_sink(env).check(item(name, PLANTED))
    assert len(problems) == 1
    assert repr(name) in problems[0]
    assert PLANTED not in problems[0]


def test_check_refuses_a_nul_character(env: Path) -> None:
    """A value holding a NUL character is a problem that does not show the value."""
    problems = make_sink(env).check(item("A", f"{PLANTED}\0"))
    assert len(problems) == 1
    assert "NUL" in problems[0]
    assert PLANTED not in problems[0]


def test_check_refuses_a_lone_surrogate(env: Path) -> None:
    """A value UTF-8 cannot encode, as an environment variable may hold, is a problem, not a crash."""
    problems = make_sink(env).check(item("A", f"{PLANTED}\udcff"))
    assert len(problems) == 1
    assert "surrogate" in problems[0]
    assert PLANTED not in problems[0]


def test_check_refuses_more_than_one_key(env: Path) -> None:
    """A per-key item must hold exactly one key."""
    two = DesiredItem(TARGET, "A", OWNER, {"a": Secret("1"), "b": Secret("2")}, Granularity.PER_KEY)
    assert "holds 2 keys" in make_sink(env).check(two)[0]


def test_check_refuses_an_owner_the_marker_cannot_hold(env: Path) -> None:
    """Instance and sync names outside [A-Za-z0-9._-] cannot be written into a marker."""
    assert len(make_sink(env).check(item("A", "1", owner=Ownership("prod eu", "s")))) == 1


def test_write_of_a_name_that_is_no_variable_is_refused_without_touching_the_file(env: Path) -> None:
    """A name check refuses, written all the same (check is the core's to call), is refused: the file would not
    parse again. The error shows no value."""
    error = permanent_error(lambda: write(make_sink(env), item("BAD NAME", PLANTED)))
    assert error.address == "BAD NAME"
    assert not env.exists()


@pytest.mark.parametrize(
    ("value", "line"),
    [
        ("plain", "K='plain'"),
        ("", "K=''"),
        ('$HOME # not a comment "q"\ttab `id`', "K='$HOME # not a comment \"q\"\ttab `id`'"),
        ("two\nlines\n", "K='two\nlines\n'"),
        ("back\\slash", "K='back\\slash'"),
        ("it's", 'K="it\'s"'),
        ("double\\\\backslash", 'K="double\\\\\\\\backslash"'),
        ("ends in\\", 'K="ends in\\\\"'),
        ('it\'s "quoted"\t', 'K="it\'s \\"quoted\\"\t"'),
    ],
)
def test_quoting(value: str, line: str) -> None:
    """Single quotes unless they cannot hold the value; then double quotes, escaping only backslash and quote."""
    assert dotenv.format_assignment("K", value) == line


@pytest.mark.parametrize(
    ("value", "line"),
    [("plain", "K='plain'"), ("it's", "K='it'\\''s'"), ("'", "K=''\\'''"), ("a\r\nb", "K='a\r\nb'")],
)
def test_sh_dialect_quoting(value: str, line: str) -> None:
    """The sh dialect writes single quotes, with '\\'' for a quote, and any other character as it is."""
    assert dotenv.format_assignment("K", value, "sh") == line


@pytest.mark.parametrize("dialect", dotenv.DIALECTS)
@given(value=st.text())
def test_format_then_parse_roundtrips_any_text(dialect: dotenv.Dialect, value: str) -> None:
    """Any text a dialect can hold, written as a variable between other lines, parses back unchanged."""
    if dotenv.unwritable(value, dialect) is not None:
        with pytest.raises(ValueError, match="the value holds"):
            dotenv.format_assignment("K", value, dialect)
        return
    text = f"# before\nA=1\n{dotenv.format_assignment('K', value, dialect)}\nB=2\n"
    raw = dialect == "docker-env-file"
    assert {e.key: e.value for e in dotenv.parse(text, raw=raw) if e.key} == {"A": "1", "K": value, "B": "2"}
    assert "".join(entry.raw for entry in dotenv.parse(text, raw=raw)) == text


def test_only_nul_is_beyond_the_sh_dialect() -> None:
    """The sh dialect holds every character but NUL; the portable one refuses CR and '${...}' too."""
    assert dotenv.unwritable("a\r\n${HOME}'`$", "sh") is None
    assert dotenv.unwritable("a\0", "sh") is not None
    assert dotenv.unwritable("a\r\nb", "portable") is not None
    assert dotenv.unwritable("${HOME}", "portable") is not None


@settings(max_examples=50, deadline=None)
@given(value=st.text(st.characters(codec="utf-8", exclude_characters="\0")))
def test_sink_roundtrips_any_text(tmp_path_factory: pytest.TempPathFactory, value: str) -> None:
    """Any text check accepts (UTF-8 without NUL) the sh-dialect sink writes, it and the file source read back."""
    path = tmp_path_factory.mktemp("roundtrip") / ".env"
    sink = make_sink(path, dialect="sh")
    write(sink, item("KEY", value))
    assert plain(observed(sink, ["KEY"])) == {"KEY": value}
    source = FileSource(FileSourceOptions(path=str(path)))
    assert source.read(".").data == {"KEY": Secret(value)}


def test_file_source_reads_what_the_sink_wrote(env: Path) -> None:
    """Header and markers are comments to the file source, which sees just the variables."""
    env.write_text("HAND=made\n")
    sink = make_sink(env)
    with sink.batch():
        write(sink, item("A", "multi\nline 'quoted'"))
        write(sink, item("B", "x"))
    data = FileSource(FileSourceOptions(path=str(env))).read(".").data
    assert {k: v.reveal() for k, v in data.items()} == {"HAND": "made", "A": "multi\nline 'quoted'", "B": "x"}


def test_describe_names_the_path(env: Path) -> None:
    """describe() is the file's path as configured."""
    assert make_sink(env).describe() == str(env)


def test_address_is_the_name(env: Path) -> None:
    """The variable name is the item's name, unchanged."""
    sink = make_sink(env)
    assert sink.address(sink.Destination(), "DB_USER") == "DB_USER"


def test_crlf_file_keeps_crlf_line_endings(env: Path) -> None:
    """In a CRLF file, the header, markers and variables syncd adds or rewrites end in CRLF too."""
    env.write_bytes(b"# by hand\r\nHAND=1\r\nLAST=2")
    sink = make_sink(env)
    with sink.batch():
        write(sink, item("NEW", "x"))
        write(sink, item("MULTI", "a\nb"))
    put(sink, item("NEW", "y"))
    put(sink, item("HAND", "3"))
    text = env.read_bytes().decode()
    assert text.count("\n") == text.count("\r\n") + 1  # the one line break inside MULTI's quotes
    assert text.startswith(HEADER + "\r\n# by hand\r\n")
    assert plain(observed(sink, ["NEW", "MULTI", "HAND", "LAST"])) == {
        "NEW": "y",
        "MULTI": "a\nb",
        "HAND": "3",
        "LAST": "2",
    }


def test_lf_file_and_new_file_use_lf(env: Path) -> None:
    """A new file, and a file whose lines mostly end in LF, get LF line endings."""
    sink = make_sink(env)
    write(sink, item("A", "1"))
    assert "\r" not in env.read_text()
    env.write_bytes(b"X=1\nY=2\r\nZ=3\n")
    write(sink, item("B", "2"))
    assert env.read_bytes().endswith(b"Z=3\n# syncd: owner=prod-eu/payments-db\nB='2'\n")


def test_an_edit_made_during_a_batch_without_the_lock_is_kept(env: Path) -> None:
    """A person who saves the file while a batch is open (people take no lock) keeps their edit; the batch fails."""
    env.write_text("HAND=1\n")
    sink = make_sink(env)
    with pytest.raises(PermanentError, match="changed while syncd was writing it"), sink.batch():
        write(sink, item("A", PLANTED))
        env.write_text("HAND=1\nPERSON=saved-meanwhile\n")
    assert env.read_text() == "HAND=1\nPERSON=saved-meanwhile\n"
    assert [name for name in os.listdir(env.parent) if name.endswith(".tmp")] == []


def test_another_writer_waits_for_the_lock(env: Path) -> None:
    """A second sink on the same file, writing while the first holds the lock in a batch, loses nothing."""
    first, second = make_sink(env), make_sink(env)
    with ThreadPoolExecutor(max_workers=1) as pool:
        with first.batch():
            write(first, item("A", "1"))
            waiting = pool.submit(write, second, item("B", "2"))
        waiting.result(timeout=30)
    assert plain(observed(second, ["A", "B"])) == {"A": "1", "B": "2"}
