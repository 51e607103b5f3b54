"""The `file` source: layouts, formats, errors that name places but never values, SOPS, caching."""

from __future__ import annotations

import json
import os
import sys
import threading
import traceback
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import yaml

from connectors import local
from connectors.local import dotenv_format as dotenv
from connectors.local import file_source, file_tree
from connectors.local.file_source import FileSource
from connectors.local.options import FileSourceOptions
from syncd.errors import SourceError
from syncd.secret import Secret
from syncd.testing.contract import Plant, SourceContract

PLANTED = "PLANTED-7f3a-secret"


class TestFileSourceContract(SourceContract):
    """A directory of YAML files, one secret per file."""

    suffix = ".yaml"

    @pytest.fixture
    def source(self, tmp_path: Path) -> FileSource:
        return make_source(tmp_path / "tree")

    @pytest.fixture
    def plant(self, tmp_path: Path) -> Plant:
        def plant(path: str, data: Mapping[str, str]) -> None:
            file = tmp_path / "tree" / f"{path}{self.suffix}"
            file.parent.mkdir(parents=True, exist_ok=True)
            file.write_text(self.document(data), encoding="utf-8")

        (tmp_path / "tree").mkdir()
        return plant

    def document(self, data: Mapping[str, str]) -> str:
        return yaml.safe_dump(dict(data), allow_unicode=True)


class TestJsonFileSourceContract(TestFileSourceContract):
    """A directory of JSON files."""

    suffix = ".json"

    def document(self, data: Mapping[str, str]) -> str:
        return json.dumps(data)


class TestDotenvFileSourceContract(TestFileSourceContract):
    """A directory of dotenv files, written in the sh dialect, which holds every value of the contract."""

    suffix = ".env"

    def document(self, data: Mapping[str, str]) -> str:
        return "".join(dotenv.format_assignment(key, value, "sh") + "\n" for key, value in data.items())


def make_source(path: Path, **options: str) -> FileSource:
    return FileSource(FileSourceOptions(path=str(path), **options))


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def values(source: FileSource, path: str) -> dict[str, str]:
    return {key: value.reveal() for key, value in source.read(path).data.items()}


def source_error(call: Callable[[], object]) -> str:
    """The message of the SourceError `call` raises, after checking its traceback shows no planted value."""
    with pytest.raises(SourceError) as info:
        call()
    assert PLANTED not in "".join(traceback.format_exception(info.value))
    return str(info.value)


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A directory with every kind of file the source reads, and some it ignores."""
    root = tmp_path / "secrets"
    write(root / "apps/payments/db.yaml", "user: alice\npassword: s3cret\n")
    write(root / "apps/db.yaml", "primary:\n  user: a\nreplica:\n  user: b\n")
    write(root / "apps/api.json", '{"token": "t0k", "retries": 3, "debug": false}')
    write(root / ".env", "ROOT_KEY=root\n")
    write(root / "config/.env.prod", "PROD_KEY=prod\n")
    write(root / "ci.env", "CI_KEY=ci\n")
    write(root / ".hidden.yaml", "ignored: yes\n")
    write(root / ".git/config.yaml", "ignored: yes\n")
    write(root / "README.md", "# not a secret\n")
    write(root / ".envrc", "use nix\n")
    write(root / "config/.env.prod.lock", "")
    return root


def test_spec_names_the_file_source() -> None:
    """The local family exports a spec called 'file' whose source is FileSource, read on one thread."""
    assert local.file_spec.name == "file"
    assert local.file_spec.source is FileSource
    assert local.file_spec.roles == ("source",)
    assert FileSource.capabilities.max_concurrency == 1


def test_path_option_is_marked_for_the_core_to_resolve() -> None:
    """The path option is marked as a path, so the core resolves a relative one against the manifest."""
    assert FileSourceOptions.model_fields["path"].json_schema_extra == {"path": True}


def test_flat_yaml_file_is_one_secret_at_dot(tmp_path: Path) -> None:
    """A YAML file whose top level is all scalars is one secret, addressed as '.'."""
    source = make_source(write(tmp_path / "db.yaml", "user: alice\npassword: s3cret\n"))
    assert source.list("") == ["."]
    assert values(source, ".") == {"user": "alice", "password": "s3cret"}


def test_read_returns_secret_values(tmp_path: Path) -> None:
    """Every value read is a Secret, and the secret carries the path asked for."""
    secret = make_source(write(tmp_path / "db.yaml", "user: alice\n")).read(".")
    assert secret.path == "."
    assert all(isinstance(value, Secret) for value in secret.data.values())


def test_yaml_scalars_are_kept_as_written(tmp_path: Path) -> None:
    """YAML booleans, numbers and dates become their text as written, with no YAML 1.1 conversion."""
    text = "a: true\nb: 5432\nc: 0600\nd: 1.50\ne: yes\nf: 2024-01-01\ng: 'quoted'\nh: 0x1F\n"
    source = make_source(write(tmp_path / "s.yaml", text))
    assert values(source, ".") == {
        "a": "true",
        "b": "5432",
        "c": "0600",
        "d": "1.50",
        "e": "yes",
        "f": "2024-01-01",
        "g": "quoted",
        "h": "0x1F",
    }


def test_nested_yaml_file_gives_secrets_below_the_root(tmp_path: Path) -> None:
    """Mappings of mappings are folders; the innermost flat mappings are secrets at joined paths."""
    text = "prod:\n  db:\n    user: p\n  api:\n    token: t\nstaging:\n  db:\n    user: s\n"
    source = make_source(write(tmp_path / "all.yml", text))
    assert source.list("") == ["prod/api", "prod/db", "staging/db"]
    assert values(source, "prod/db") == {"user": "p"}
    assert values(source, "/staging/db") == {"user": "s"}


def test_json_file_keeps_numbers_as_written_and_writes_booleans_in_lowercase(tmp_path: Path) -> None:
    """JSON numbers keep their text and booleans become 'true' and 'false'."""
    text = '{"db": {"port": 5432, "ratio": 1.50, "tls": true, "debug": false, "user": "a"}}'
    source = make_source(write(tmp_path / "s.json", text))
    assert values(source, "db") == {"port": "5432", "ratio": "1.50", "tls": "true", "debug": "false", "user": "a"}


def test_dotenv_file_is_one_secret_at_dot(tmp_path: Path) -> None:
    """A dotenv file is one secret whatever its variable names look like."""
    source = make_source(write(tmp_path / ".env", "A=1\nB=2\n"))
    assert source.list("") == ["."]
    assert values(source, ".") == {"A": "1", "B": "2"}


def test_dotenv_syntax(tmp_path: Path) -> None:
    """Export prefixes, comments, blank lines, and each kind of quoting read as documented."""
    text = (
        "# a comment\n"
        "\n"
        "PLAIN=value\n"
        "export EXPORTED=yes\n"
        "SPACED = padded value  \n"
        "INLINE=kept # dropped\n"
        "HASH=a#b\n"
        "EMPTY=\n"
        "COMMENT_ONLY= # nothing\n"
        "SINGLE='literal \\n $HOME # not a comment'\n"
        'DOUBLE="tab\\tquote\\" backslash\\\\ newline\\n other\\q" # comment\n'
        "MULTI='line one\n"
        "line two'\n"
        "CRLF=windows\r\n"
    )
    source = make_source(write(tmp_path / "app.env", text))
    assert values(source, ".") == {
        "PLAIN": "value",
        "EXPORTED": "yes",
        "SPACED": "padded value",
        "INLINE": "kept",
        "HASH": "a#b",
        "EMPTY": "",
        "COMMENT_ONLY": "",
        "SINGLE": "literal \\n $HOME # not a comment",
        "DOUBLE": 'tab\tquote" backslash\\ newline\n other\\q',
        "MULTI": "line one\nline two",
        "CRLF": "windows",
    }


def test_dotenv_duplicate_variable_names_file_and_line(tmp_path: Path) -> None:
    """A variable set twice is an error naming the file and the second line, not the values."""
    file = write(tmp_path / "app.env", f"A=1\nB=2\nA={PLANTED}\n")
    message = source_error(lambda: make_source(file).read("."))
    assert f"{file}:3" in message
    assert "'A'" in message
    assert PLANTED not in message


@pytest.mark.parametrize(
    "line",
    [f"NO_EQUALS {PLANTED}", f"1BAD={PLANTED}", f"KEY='{PLANTED}' trailing", f'KEY="{PLANTED}'],
)
def test_dotenv_bad_line_names_file_and_line_without_content(tmp_path: Path, line: str) -> None:
    """A line that is not dotenv is an error naming file:line, never the line's text."""
    file = write(tmp_path / "app.env", f"GOOD=1\n{line}\nLATER=2\n")
    message = source_error(lambda: make_source(file).read("."))
    assert f"{file}:2:" in message
    assert PLANTED not in message


def test_directory_layout(tree: Path) -> None:
    """Each file contributes at its relative path without extension; hidden and unknown files, and a dotenv
    sink's lock file (`.env.prod.lock`, which holds no keys), are ignored."""
    assert make_source(tree).list("") == [
        "apps/api",
        "apps/db/primary",
        "apps/db/replica",
        "apps/payments/db",
        "ci",
        "config/env.prod",
        "env",
    ]


def test_directory_secrets_read_from_their_files(tree: Path) -> None:
    """Flat files, nested files and dotenv files in a directory read as their own secrets."""
    source = make_source(tree)
    assert values(source, "apps/payments/db") == {"user": "alice", "password": "s3cret"}
    assert values(source, "apps/db/replica") == {"user": "b"}
    assert values(source, "apps/api") == {"token": "t0k", "retries": "3", "debug": "false"}
    assert values(source, "env") == {"ROOT_KEY": "root"}
    assert values(source, "config/env.prod") == {"PROD_KEY": "prod"}
    assert values(source, "ci") == {"CI_KEY": "ci"}


@pytest.mark.parametrize(
    ("prefix", "expected"),
    [
        ("apps", ["apps/api", "apps/db/primary", "apps/db/replica", "apps/payments/db"]),
        ("apps/", ["apps/api", "apps/db/primary", "apps/db/replica", "apps/payments/db"]),
        ("apps/db", ["apps/db/primary", "apps/db/replica"]),
        ("apps/payments/", ["apps/payments/db"]),
        ("config", ["config/env.prod"]),
        ("apps/payments/db", []),
        ("nothing/here", []),
        ("app", []),
    ],
)
def test_prefix_listing(tree: Path, prefix: str, expected: list[str]) -> None:
    """A prefix lists every secret below it, sorted, with or without a trailing slash."""
    assert make_source(tree).list(prefix) == expected


@pytest.mark.parametrize("prefix", ["", ".", "/", "./"])
def test_empty_or_dot_prefix_lists_everything(tree: Path, prefix: str) -> None:
    """An empty prefix, '.' and '/' all mean the whole source."""
    assert len(make_source(tree).list(prefix)) == 7


def test_format_option_restricts_a_directory_to_that_format(tree: Path) -> None:
    """In a directory, a format other than auto reads only the files of that format."""
    assert make_source(tree, format="dotenv").list("") == ["ci", "config/env.prod", "env"]
    assert make_source(tree, format="json").list("") == ["apps/api"]


def test_format_option_overrides_a_single_files_extension(tmp_path: Path) -> None:
    """A single file of unknown extension reads with the format given."""
    source = make_source(write(tmp_path / "secrets.txt", "user: alice\n"), format="yaml")
    assert values(source, ".") == {"user": "alice"}


def test_unknown_extension_of_a_single_file_is_an_error_naming_it(tmp_path: Path) -> None:
    """With format auto, a single file whose type cannot be told from its name is an error naming it."""
    file = write(tmp_path / "secrets.txt", "user: alice\n")
    message = source_error(lambda: make_source(file).list(""))
    assert str(file) in message
    assert "format" in message


def test_two_files_giving_one_path_are_an_error(tmp_path: Path) -> None:
    """Files differing only by extension would give one path twice: that is an error naming both."""
    write(tmp_path / "db.yaml", "user: a\n")
    write(tmp_path / "db.json", '{"user": "b"}')
    message = source_error(lambda: make_source(tmp_path).read("db"))
    assert "db.yaml" in message
    assert "db.json" in message


def test_a_path_defined_by_two_files_is_an_error(tmp_path: Path) -> None:
    """A nested file and a flat file that both define one secret make reading it an error."""
    write(tmp_path / "apps.yaml", "db:\n  user: a\n")
    write(tmp_path / "apps/db.yaml", "user: b\n")
    source = make_source(tmp_path)
    assert "defined twice" in source_error(lambda: source.read("apps/db"))
    assert "defined twice" in source_error(lambda: source.list("apps"))


def test_missing_secret_is_an_error_naming_path_and_source(tree: Path) -> None:
    """Reading a path that holds nothing names the path and the source."""
    message = source_error(lambda: make_source(tree).read("apps/x"))
    assert "no secret at 'apps/x'" in message
    assert str(tree) in message


def test_missing_key_inside_a_nested_file_is_an_error(tmp_path: Path) -> None:
    """A path below a nested file that the file does not define is missing."""
    file = write(tmp_path / "all.yaml", "db:\n  user: a\n")
    assert "no secret at 'api'" in source_error(lambda: make_source(file).read("api"))


@pytest.mark.parametrize("path", ["apps", "apps/db", "."])
def test_folder_read_as_a_secret_is_an_error_suggesting_a_prefix(tree: Path, path: str) -> None:
    """Reading a folder says it is a folder and that a trailing '/' makes it a prefix."""
    message = source_error(lambda: make_source(tree).read(path))
    assert "is a folder" in message
    assert "trailing '/'" in message


def test_missing_source_path_is_an_error(tmp_path: Path) -> None:
    """A source whose file or directory does not exist fails every call, naming the path."""
    source = make_source(tmp_path / "gone.yaml")
    assert "gone.yaml" in source_error(lambda: source.read("."))
    assert "gone.yaml" in source_error(lambda: source.list(""))


@pytest.mark.parametrize(
    ("name", "text"),
    [("empty.yaml", ""), ("empty.yaml", "{}\n"), ("nested.yaml", "db: {}\n"), ("empty.env", "# only\n")],
)
def test_secret_with_no_keys_is_an_error(tmp_path: Path, name: str, text: str) -> None:
    """A secret holding no keys is listed but reading it is an error."""
    source = make_source(write(tmp_path / name, text))
    path = source.list("")[0]
    assert "has no keys" in source_error(lambda: source.read(path))


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (f"db:\n  user: {PLANTED}\n  nested:\n    x: 1\n", "mixes keys and nested secrets"),
        (f"db:\n  hosts: [{PLANTED}, b]\n", "holds a list"),
        ("db:\n  user:\n", "has no value"),
        ("db:\n  user: ~\n", "has no value"),
        (f"- {PLANTED}\n", "not a mapping"),
        ("db:\n  blob: !!binary QUJD\n", "not text"),
    ],
)
def test_malformed_trees_are_errors_without_values(tmp_path: Path, text: str, problem: str) -> None:
    """Mixed mappings, lists, nulls and non-mapping tops are errors that name the place, not the value."""
    file = write(tmp_path / "s.yaml", text)
    message = source_error(lambda: make_source(file).list(""))
    assert problem in message
    assert str(file) in message
    assert PLANTED not in message


def test_duplicate_yaml_key_is_an_error_with_its_position(tmp_path: Path) -> None:
    """A key given twice in one YAML mapping is an error naming file, line and key."""
    file = write(tmp_path / "s.yaml", f"db:\n  user: a\n  user: {PLANTED}\n")
    message = source_error(lambda: make_source(file).read("db"))
    assert f"{file}:3:3" in message
    assert "duplicate key 'user'" in message
    assert PLANTED not in message


def test_duplicate_folder_key_in_yaml_is_an_error(tmp_path: Path) -> None:
    """A folder name given twice is an error too, not a silent merge."""
    file = write(tmp_path / "s.yaml", "db:\n  user: a\ndb:\n  user: b\n")
    assert "duplicate key 'db'" in source_error(lambda: make_source(file).list(""))


@pytest.mark.parametrize(
    ("text", "where", "problem"),
    [
        ("db:\n  user: a\n  password: *Sup3rS3cret\n", "3:13", "anchors and aliases ('&name', '*name') are not"),
        ("db:\n  user: a\n  password: !Xq9Lk2vR7m\n", "3:13", "tags ('!name') are not allowed"),
        ("db: &Sup3rS3cret\n  user: a\nprod:\n  <<: *Sup3rS3cret\n", "1:5", "anchors and aliases"),
        ("base: &x\n  user: a\ndb:\n  <<: *Sup3rS3cret\n", "4:3", "merge keys ('<<') are not allowed"),
    ],
)
def test_yaml_aliases_anchors_and_tags_are_refused_without_quoting_them(
    tmp_path: Path, text: str, where: str, problem: str
) -> None:
    """A value that YAML reads as an alias, anchor or tag is refused with its place and a fixed sentence; the
    text after '*', '&' or '!' (a password that should have been quoted) is never shown."""
    file = write(tmp_path / "s.yaml", text)
    message = source_error(lambda: make_source(file).read("db"))
    assert message.startswith(f"{file}:{where}: {problem}")
    assert "Sup3rS3cret" not in message and "Xq9Lk2vR7m" not in message


def test_a_yaml_alias_bomb_is_refused_at_its_first_anchor(tmp_path: Path) -> None:
    """Seven levels of nine aliases are refused at the first anchor, before any expansion."""
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    lines += [f"{n}: &{n} [{', '.join([f'*{p}'] * 9)}]" for p, n in zip("abcdef", "bcdefg", strict=True)]
    file = write(tmp_path / "s.yaml", "\n".join(lines) + "\n")
    assert source_error(lambda: make_source(file).list("")).startswith(f"{file}:1:4: anchors and aliases")


def test_a_part_nested_too_deep_fails_only_its_own_paths(tmp_path: Path) -> None:
    """A YAML file with one subtree nested 2,000 levels deep: that subtree's paths fail with a SourceError naming
    its place, and the file's other secrets read and list as usual."""
    deep = "".join(f"{'  ' * depth}k{depth}:\n" for depth in range(1, 2000)) + "  " * 2000 + f"v: {PLANTED}\n"
    file = write(tmp_path / "s.yaml", f"apps:\n  db:\n    user: a\ndeep:\n{deep}")
    source = make_source(file)
    assert values(source, "apps/db") == {"user": "a"}
    assert source.list("apps/") == ["apps/db"]
    message = source_error(lambda: source.list("deep/"))
    assert "is nested more than 100 levels deep" in message
    assert message.startswith(f"{file}:")
    below = "deep/" + "/".join(f"k{depth}" for depth in range(1, 150))
    assert "nested more than" in source_error(lambda: source.read(below))
    assert "nested more than" in source_error(lambda: source.list(""))


def test_a_json_file_nested_too_deep_is_an_error_not_a_recursion(tmp_path: Path) -> None:
    """A JSON file nested 30,000 levels deep is a SourceError with its position."""
    file = write(tmp_path / "s.json", '{"a": ' * 30000 + '"x"' + "}" * 30000)
    assert source_error(lambda: make_source(file).list("")).startswith(f"{file}:1:601: the document is nested")


def test_duplicate_json_key_is_an_error(tmp_path: Path) -> None:
    """A key given twice in one JSON object is an error naming the file and key."""
    file = write(tmp_path / "s.json", f'{{"user": "a", "user": "{PLANTED}"}}')
    message = source_error(lambda: make_source(file).read("."))
    assert str(file) in message
    assert "duplicate key 'user'" in message
    assert PLANTED not in message


def test_yaml_parse_error_names_position_without_a_snippet(tmp_path: Path) -> None:
    """A YAML syntax error gives file:line:column and a plain explanation, never the offending text."""
    file = write(tmp_path / "s.yaml", f"db:\n  user: a\n  password: {PLANTED}: oops\n")
    message = source_error(lambda: make_source(file).read("db"))
    assert (
        message
        == f"{file}:3:32: a ': ' cannot start a value here; quote a value that holds ': ', or check the indentation"
    )


def test_json_parse_error_names_position(tmp_path: Path) -> None:
    """A JSON syntax error gives file:line:column and the problem, never the offending text."""
    file = write(tmp_path / "s.json", f'{{\n  "user": "{PLANTED}",\n}}')
    message = source_error(lambda: make_source(file).read("."))
    assert message.startswith(f"{file}:3:1:")
    assert PLANTED not in message


def test_file_that_is_not_utf8_is_an_error_without_content(tmp_path: Path) -> None:
    """Bytes that are not UTF-8 are reported by position, not shown."""
    file = tmp_path / "s.env"
    file.write_bytes(b"A=" + PLANTED.encode() + b"\xff\n")
    message = source_error(lambda: make_source(file).read("."))
    assert "not valid UTF-8" in message
    assert PLANTED not in message


def test_version_is_the_files_mtime_and_size(tmp_path: Path) -> None:
    """A secret's version is its file's modification time in nanoseconds and its size."""
    file = write(tmp_path / "s.yaml", "user: a\n")
    info = file.stat()
    assert make_source(file).read(".").version == f"{info.st_mtime_ns}-{info.st_size}"


def test_version_changes_when_the_file_changes(tmp_path: Path) -> None:
    """A new source instance sees a new version after the file is rewritten."""
    file = write(tmp_path / "s.yaml", "user: a\n")
    os.utime(file, ns=(1_000_000_000, 1_000_000_000))
    before = make_source(file).read(".").version
    write(file, "user: b\n")
    os.utime(file, ns=(2_000_000_000, 2_000_000_000))
    after = make_source(file).read(".")
    assert after.version != before
    assert after.data["user"].reveal() == "b"


def test_secrets_of_one_file_share_its_version(tmp_path: Path) -> None:
    """Every secret of a nested file carries that file's version."""
    source = make_source(write(tmp_path / "s.yaml", "a:\n  k: 1\nb:\n  k: 2\n"))
    assert source.read("a").version == source.read("b").version is not None


def test_the_directory_is_scanned_again_only_by_list_and_by_a_read_that_finds_no_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Reads of paths the last scan found walk the directory no more; a read of a path no file held, and each list,
    scan it again, and so find a file added since."""
    scans: list[Path] = []
    real_scan = file_source._scan
    monkeypatch.setattr(file_source, "_scan", lambda root, wanted: scans.append(root) or real_scan(root, wanted))
    write(tmp_path / "a.yaml", "k: 1\n")
    write(tmp_path / "b.yaml", "k: 2\n")
    source = make_source(tmp_path)
    assert [values(source, path) for path in ("a", "b", "a")] == [{"k": "1"}, {"k": "2"}, {"k": "1"}]
    assert len(scans) == 1
    write(tmp_path / "c.yaml", "k: 3\n")
    assert values(source, "c") == {"k": "3"}
    assert len(scans) == 2
    assert source.list("") == ["a", "b", "c"]
    assert len(scans) == 3


def test_each_file_is_parsed_once_while_it_is_unchanged(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """One instance parses a file once, even from many threads, while the file is unchanged; once it changes, the
    next read parses it again and sees the change."""
    file = write(tmp_path / "s.yaml", "a:\n  k: one\nb:\n  k: two\n")
    calls: list[Path] = []
    lock = threading.Lock()
    real_load = file_tree.load

    def counting_load(path: Path, *args: Any) -> Any:
        with lock:
            calls.append(path)
        return real_load(path, *args)

    monkeypatch.setattr(file_tree, "load", counting_load)
    source = make_source(file)
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda i: values(source, "ab"[i % 2]), range(64)))
    assert calls == [file]
    assert results[0] == {"k": "one"} and results[1] == {"k": "two"}
    write(file, "a:\n  k: changed\n")
    assert values(source, "a") == {"k": "changed"}
    assert values(source, "a") == {"k": "changed"}
    assert calls == [file, file]


def test_a_bad_file_fails_only_the_paths_it_holds(tmp_path: Path) -> None:
    """In a directory, a malformed file makes its own paths fail and leaves the others readable."""
    write(tmp_path / "good.yaml", "user: a\n")
    write(tmp_path / "bad.yaml", "user: [\n")
    source = make_source(tmp_path)
    assert values(source, "good") == {"user": "a"}
    assert "bad.yaml" in source_error(lambda: source.read("bad"))


# SOPS


def fake_sops(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, stdout: str, exit_code: int = 0) -> Path:
    """Put a `sops` on PATH that records its arguments, prints `stdout` and exits with `exit_code`."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    calls = tmp_path / "sops-calls.txt"
    script = bin_dir / "sops"
    script.write_text(
        f"#!{sys.executable}\n"
        "import sys\n"
        f"open({str(calls)!r}, 'a').write(' '.join(sys.argv[1:]) + '\\n')\n"
        f"sys.stderr.write('failed near line 3: {PLANTED}\\n')\n"
        f"sys.stdout.write({stdout!r})\n"
        f"sys.exit({exit_code})\n"
    )
    script.chmod(0o755)
    monkeypatch.setenv("PATH", str(bin_dir))
    return calls


ENCRYPTED_YAML = "user: ENC[AES256_GCM,data:abc]\nsops:\n  version: 3.9.0\n"


def test_sops_yaml_file_is_decrypted_in_auto_mode(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A YAML file with a top-level sops key is decrypted by running sops with its type."""
    calls = fake_sops(tmp_path, monkeypatch, "user: alice\npassword: s3cret\n")
    file = write(tmp_path / "db.yaml", ENCRYPTED_YAML)
    assert values(make_source(file), ".") == {"user": "alice", "password": "s3cret"}
    assert calls.read_text() == f"--decrypt --input-type yaml --output-type yaml {file}\n"


def test_sops_dotenv_file_is_decrypted_in_auto_mode(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A dotenv file with a sops_version variable is decrypted as dotenv."""
    calls = fake_sops(tmp_path, monkeypatch, "TOKEN=plain\n")
    file = write(tmp_path / "app.env", "TOKEN=ENC[AES256_GCM,data:abc]\nsops_version=3.9.0\n")
    assert values(make_source(file), ".") == {"TOKEN": "plain"}
    assert "--input-type dotenv --output-type dotenv" in calls.read_text()


def test_plain_file_is_not_decrypted_in_auto_mode(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A file without SOPS metadata is read as it is, without running sops."""
    calls = fake_sops(tmp_path, monkeypatch, "user: from-sops\n")
    file = write(tmp_path / "db.yaml", "user: plain\n")
    assert values(make_source(file), ".") == {"user": "plain"}
    assert not calls.exists()


def test_sops_always_decrypts_every_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With sops: always even a file without SOPS metadata goes through sops."""
    fake_sops(tmp_path, monkeypatch, '{"user": "from-sops"}')
    file = write(tmp_path / "db.json", '{"user": "plain"}')
    assert values(make_source(file, sops="always"), ".") == {"user": "from-sops"}


def test_sops_never_reads_the_metadata_as_data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With sops: never the file is read as it is, so its sops key is plain data."""
    calls = fake_sops(tmp_path, monkeypatch, "user: from-sops\n")
    file = write(tmp_path / "db.yaml", "prod:\n  user: ENC[x]\nsops:\n  version: 3.9.0\n")
    source = make_source(file, sops="never")
    assert source.list("") == ["prod", "sops"]
    assert values(source, "prod") == {"user": "ENC[x]"}
    assert not calls.exists()


def test_sops_not_installed_is_an_error_with_a_hint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An encrypted file without sops on PATH says to install sops or set sops: never."""
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    file = write(tmp_path / "db.yaml", ENCRYPTED_YAML)
    message = source_error(lambda: make_source(file).read("."))
    assert str(file) in message
    assert "install sops" in message
    assert "sops: never" in message


def test_sops_failure_reports_the_exit_code_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """When sops fails, the error names the file and exit code and echoes nothing sops printed."""
    fake_sops(tmp_path, monkeypatch, f"user: {PLANTED}\n", exit_code=128)
    file = write(tmp_path / "db.yaml", ENCRYPTED_YAML)
    message = source_error(lambda: make_source(file).read("."))
    assert str(file) in message
    assert "exit code 128" in message
    assert PLANTED not in message


def test_sops_is_run_once_per_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Reading several secrets of one encrypted file decrypts it once."""
    calls = fake_sops(tmp_path, monkeypatch, "a:\n  k: 1\nb:\n  k: 2\n")
    file = write(tmp_path / "all.yaml", "a:\n  k: ENC[x]\nb:\n  k: ENC[y]\nsops:\n  version: 3.9.0\n")
    source = make_source(file)
    assert [values(source, p) for p in source.list("")] == [{"k": "1"}, {"k": "2"}]
    assert len(calls.read_text().splitlines()) == 1


# Parse errors through the whole CLI: no report format and no saved plan holds text of the document.

MANIFEST = """version: 1
instance: parse-errors
source: {{type: file, path: {source}}}
targets:
  env: {{type: dotenv, path: out/app.env}}
syncs:
  - {{name: app, from: {path}, to: [{{target: env}}]}}
"""


@pytest.mark.parametrize(
    ("name", "text", "path", "planted", "problem"),
    [
        ("s.yaml", "app:\n  user: a\n  password: *Sup3rS3cret\n", "app", "Sup3rS3cret", "anchors and aliases"),
        ("s.yaml", "app:\n  user: a\n  password: !Xq9Lk2vR7m\n", "app", "Xq9Lk2vR7m", "tags ('!name')"),
        ("s.yaml", "app:\n  password: Pl4nt3dYaml: x\n", "app", "Pl4nt3dYaml", "cannot start a value here"),
        ("s.json", '{"app": {"password": Pl4nt3dJs0n}}', "app", "Pl4nt3dJs0n", "a value is missing or is not JSON"),
        ("s.json", '{"app": {"password": "a\\qPl4nt3dEsc"}}', "app", "Pl4nt3dEsc", "invalid backslash escape"),
        ("s.env", "USER=a\nPl4nt3dD0tenv\n", ".", "Pl4nt3dD0tenv", ":2:1: expected KEY=value"),
        ("s.env", "USER=a\nPASSWORD='Pl4nt3dQu0te\n", ".", "Pl4nt3dQu0te", ":2:10: a quoted value has no closing"),
        ("sops.yaml", ENCRYPTED_YAML, "app", "Pl4nt3dS0ps", "(as decrypted by sops):2:13: anchors and aliases"),
    ],
)
def test_parse_errors_reach_no_report_and_no_saved_plan(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    name: str,
    text: str,
    path: str,
    planted: str,
    problem: str,
) -> None:
    """A source document that does not parse (YAML, JSON, dotenv, sops's output) is a problem naming file, line,
    column and kind in the table, JSON and Markdown reports and the saved plan, and none of them holds the text
    (the planted text is no Secret, so no redactor hides it)."""
    from syncd.cli import main

    if name == "sops.yaml":
        fake_sops(tmp_path, monkeypatch, "app:\n  password: *Pl4nt3dS0ps\n")
    write(tmp_path / name, text)
    manifest = write(tmp_path / "syncd.yaml", MANIFEST.format(source=name, path=path))
    saved = tmp_path / "plan.json"
    outputs = []
    for argv in (
        ["plan", "-c", str(manifest)],
        ["plan", "-c", str(manifest), "--format", "json"],
        ["plan", "-c", str(manifest), "--format", "markdown"],
        ["plan", "-c", str(manifest), "-o", str(saved)],
        ["apply", "-c", str(manifest), "--yes", "--format", "json"],
    ):
        main(argv)
        captured = capsys.readouterr()
        outputs += [captured.out, captured.err]
    outputs.append(saved.read_text())
    for output in outputs:
        assert planted not in output
    assert problem in outputs[0]
    assert f"{tmp_path / name}" in outputs[0]


def forbid_pure_python_parser(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make PyYAML's own parser fail if anything builds one: its cost grows with the square of the depth."""

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("PyYAML's pure-Python parser was used")

    monkeypatch.setattr(yaml.parser.Parser, "__init__", refuse)


@pytest.mark.parametrize(
    "deep",
    [
        "[" * 100_000 + "]" * 100_000,
        "{a: " * 5000 + "x" + "}" * 5000,
        "\n" + "".join(f"{'  ' * depth}- k{depth}:\n" for depth in range(1, 1200)) + "  " * 1200 + "- x\n",
    ],
    ids=["flow-list-100000", "flow-mapping-5000", "block-1200"],
)
def test_a_part_past_libyamls_limit_is_set_apart_without_pythons_parser(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, deep: str
) -> None:
    """A part nested deeper than libyaml's 1,000 levels is skipped through libyaml alone (PyYAML's quadratic
    parser is never built); the other secrets read, and the deep part's paths say it is too deep."""
    forbid_pure_python_parser(monkeypatch)
    file = write(tmp_path / "fl.yaml", f"apps:\n  ok:\n    k: v\ndeep: {deep}\nlast:\n  k: w\n")
    source = make_source(file)
    assert values(source, "apps/ok") == {"k": "v"}
    assert values(source, "last") == {"k": "w"}
    message = source_error(lambda: source.list("deep/"))
    assert message.startswith(f"{file}:")
    assert "is nested more than 100 levels deep; syncd does not read it" in message


def test_a_part_that_cannot_be_set_apart_refuses_the_file_saying_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """When a part past libyaml's limit cannot be set apart from the levels above it (here it is a key, which
    makes its whole mapping unreadable), no path of the file is read, and the message says so plainly."""
    forbid_pure_python_parser(monkeypatch)
    file = write(tmp_path / "fl.yaml", "apps:\n  ok: {k: v}\n? " + "- " * 2000 + "x\n: v\n")
    message = source_error(lambda: make_source(file).read("apps/ok"))
    assert message.startswith(f"{file}:3:")
    assert "nested more than 1000 levels deep here" in message and "no part of the file is read" in message


@pytest.mark.parametrize(
    ("bad", "where", "problem"),
    [
        ("  db:\n    password: a\n    password: b\n", "4:5", "duplicate key 'password'"),
        ("  db:\n    password: *Sup3rS3cret\n", "3:15", "anchors and aliases"),
        ("  db: &Sup3rS3cret\n    password: a\n", "2:7", "anchors and aliases"),
        ("  db:\n    password: !Xq9Lk2vR7m x\n", "3:15", "tags ('!name') are not allowed"),
        ("  db: !!set {password: a}\n", "2:7", "tags ('!name') are not allowed"),
        ("  db:\n    <<: {password: a}\n", "3:5", "merge keys ('<<') are not allowed"),
    ],
)
def test_a_refused_yaml_part_fails_only_the_paths_at_or_below_it(
    tmp_path: Path, bad: str, where: str, problem: str
) -> None:
    """A duplicate key, an anchor, an alias or a tag fails the secret or folder holding it, with its position;
    every other secret of the file reads and lists as usual, and no alias is ever expanded."""
    file = write(tmp_path / "s.yaml", f"apps:\n{bad}  ok: {{k: v}}\nother:\n  x: {{k: w}}\n")
    source = make_source(file)
    assert values(source, "apps/ok") == {"k": "v"}
    assert values(source, "other/x") == {"k": "w"}
    assert source.list("other/") == ["other/x"]
    message = source_error(lambda: source.read("apps/db"))
    assert message.startswith(f"{file}:{where}: {problem}")
    assert "Sup3rS3cret" not in message and "Xq9Lk2vR7m" not in message
    assert source_error(lambda: source.list("apps/")) == message


def test_a_duplicate_key_at_the_top_fails_the_whole_file(tmp_path: Path) -> None:
    """A key given twice in the top-level mapping fails every path of the file, since it is above them all."""
    file = write(tmp_path / "s.yaml", "a:\n  k: v\nb:\n  k: v\na:\n  k: w\n")
    source = make_source(file)
    assert source_error(lambda: source.read("b")) == f"{file}:5:1: duplicate key 'a'"


def count_parses(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The length of the text each libyaml parse is given, from now on; PyYAML's own parser is forbidden."""
    from syncd.documents import yaml_loader

    parsers: list[int] = []
    loader_class = yaml_loader._loader_class()

    def counting_loader() -> Any:
        def make(text: str) -> Any:
            parsers.append(len(text))
            return loader_class(text)

        return make

    monkeypatch.setattr(yaml_loader, "_loader_class", counting_loader)
    forbid_pure_python_parser(monkeypatch)
    return parsers


def test_many_parts_past_libyamls_limit_cost_one_more_parse(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Fifty runs of brackets past libyaml's limit are blanked out together: the file is parsed twice in all, not
    once more per deep part, and each part fails alone."""

    parsers = count_parses(monkeypatch)
    deep = "".join(f"d{i}: {'[' * 1001}{']' * 1001}\n" for i in range(50))
    file = write(tmp_path / "fl.yaml", f"apps:\n  ok:\n    k: v\n{deep}")
    source = make_source(file)
    assert values(source, "apps/ok") == {"k": "v"}
    assert "'d49' is nested more than 100 levels deep" in source_error(lambda: source.read("d49"))
    assert len(parsers) == 2


def test_many_indented_parts_past_libyamls_limit_refuse_the_file_after_a_bounded_number_of_parses(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each indented part past libyaml's limit costs one more parse of the file: past a few, the file is refused
    with one message, so 40 such parts cost at most a handful of parses, not one each."""
    from syncd import documents

    parsers = count_parses(monkeypatch)
    deep = "".join(f"d{i}:\n  {'- ' * 1001}x\n" for i in range(40))
    file = write(tmp_path / "fl.yaml", f"apps:\n  ok:\n    k: v\n{deep}")
    source = make_source(file)
    message = source_error(lambda: source.read("apps/ok"))
    assert f"more than {documents.MAX_DEEP_BLOCK_PARTS} indented parts are nested" in message
    # Each part set apart costs a parse of the file and one of the text up to the part.
    assert len(parsers) <= 2 * documents.MAX_DEEP_BLOCK_PARTS + 2


def test_a_file_renamed_since_the_last_scan_is_found_again(tmp_path: Path) -> None:
    """A read on one source object finds a secret whose file was renamed since the object last scanned the
    folder, instead of failing on the old file name."""
    root = tmp_path / "secrets"
    write(root / "apps/db.yaml", "user: alice\n")
    source = make_source(root)
    assert values(source, "apps/db") == {"user": "alice"}
    (root / "apps/db.yaml").rename(root / "apps/db.yml")
    assert values(source, "apps/db") == {"user": "alice"}
