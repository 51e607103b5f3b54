"""What the `dotenv` sink writes reads back exactly in POSIX `sh`, in python-dotenv and in the `file` source.

Each dialect is checked against the readers it promises: `portable` against
`sh` (and bash in POSIX mode), python-dotenv and syncd's own parser; `sh`
against the shells and syncd's parser. Values a dialect cannot hold are a
`check` problem naming the variable, never the value.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path

import dotenv as python_dotenv
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.local import dotenv_format as dotenv
from connectors.local.dotenv_sink import DotenvSink
from connectors.local.file_source import FileSource
from connectors.local.options import DotenvSinkOptions, FileSourceOptions
from syncd.model import DesiredItem, Granularity, Ownership
from syncd.secret import Secret
from tests.connectors.local.dotenv_support import observed, write

OWNER = Ownership("shell-test", "awkward")
SHELLS = [shell for shell in (["sh"], ["bash", "--posix"]) if shutil.which(shell[0])]

AWKWARD = {
    "HOME_REF": "$HOME and ${HOME:-x} stay",
    "BACKTICKS": "`id` runs nothing",
    "SUBSHELL": "$(id) runs nothing",
    "SINGLE_QUOTE": "it's",
    "DOUBLE_QUOTE": 'say "hi"',
    "BOTH_QUOTES": 'it\'s "both"',
    "BACKSLASHES": "a\\b\\\\c\\n\\",
    "HASH": "a #not a comment#",
    "SPACES": "  leading and trailing  ",
    "TAB": "\tindented\t",
    "NEWLINES": "line one\nline two\n\n",
    "CRLF": "windows\r\nline\r\n",
    "UNICODE": "ünïcødé ✓ 密码 🔑 \u2028 \u00a0",
    "EQUALS": "a=b==c",
    "EMPTY": "",
    "SEMICOLON": "a; echo pwned; b",
    "DOLLAR_QUOTE": "it's $5",
    "PYTHON_DOTENV_EXPANDS": "${HOME}",
}
# What the portable dialect refuses, and why (part of the reason each check problem gives).
PORTABLE_REFUSES = {
    "HOME_REF": "'${' ... '}'",
    "CRLF": "a carriage return",
    "DOLLAR_QUOTE": "a single quote, a double backslash or a final backslash together with '$' or '`'",
    "PYTHON_DOTENV_EXPANDS": "'${' ... '}'",
}


def desired(name: str, value: str) -> DesiredItem:
    return DesiredItem(
        target="shell", address=name, owner=OWNER, data={name: Secret(value)}, granularity=Granularity.PER_KEY
    )


def write_all(path: Path, values: Mapping[str, str], dialect: dotenv.Dialect) -> None:
    sink = DotenvSink("shell", DotenvSinkOptions(path=str(path), dialect=dialect))
    with sink.batch():
        for name, value in values.items():
            write(sink, desired(name, value))


def sourced(shell: list[str], path: Path, names: list[str]) -> dict[str, str]:
    """Each variable's exact bytes after `set -a; . FILE` in `shell`, read with printf, decoded as UTF-8."""
    script = "set -a; . ./" + path.name + "; printf '%s\\0' " + " ".join(f'"${name}"' for name in names)
    done = subprocess.run(
        [*shell, "-c", script], cwd=path.parent, capture_output=True, check=True, timeout=30, env={"HOME": "/home/x"}
    )
    # A command substitution or backquote that ran would print to stdout before the values, or fail.
    assert done.stderr == b""
    values = done.stdout.split(b"\0")
    assert values[-1] == b"" and len(values) == len(names) + 1
    return {name: value.decode("utf-8") for name, value in zip(names, values, strict=False)}


def file_source(path: Path) -> dict[str, str]:
    return {key: value.reveal() for key, value in FileSource(FileSourceOptions(path=str(path))).read(".").data.items()}


@pytest.mark.parametrize("shell", SHELLS, ids=lambda shell: shell[0])
def test_sh_sources_portable_values_exactly(tmp_path: Path, shell: list[str]) -> None:
    """Sourced in sh with `set -a`, every value the portable dialect holds comes back byte for byte, nothing runs."""
    held = {name: value for name, value in AWKWARD.items() if name not in PORTABLE_REFUSES}
    path = tmp_path / "app.env"
    write_all(path, held, "portable")
    assert sourced(shell, path, list(held)) == held


def test_python_dotenv_reads_portable_values_exactly(tmp_path: Path) -> None:
    """python-dotenv, with its default interpolation on, reads every value the portable dialect holds exactly."""
    held = {name: value for name, value in AWKWARD.items() if name not in PORTABLE_REFUSES}
    path = tmp_path / "app.env"
    write_all(path, held, "portable")
    assert dict(python_dotenv.dotenv_values(path)) == held
    assert file_source(path) == held


@pytest.mark.parametrize("shell", SHELLS, ids=lambda shell: shell[0])
def test_sh_dialect_sources_every_value_exactly(tmp_path: Path, shell: list[str]) -> None:
    """The sh dialect holds every awkward value, CRLF and quotes next to '$' included, and sh reads each back."""
    path = tmp_path / "app.env"
    write_all(path, AWKWARD, "sh")
    assert sourced(shell, path, list(AWKWARD)) == AWKWARD
    assert file_source(path) == AWKWARD


def test_portable_check_refuses_what_a_reader_would_change(tmp_path: Path) -> None:
    """check names each variable the portable dialect cannot hold, and why, and never shows the value."""
    sink = DotenvSink("shell", DotenvSinkOptions(path=str(tmp_path / "app.env")))
    for name, value in AWKWARD.items():
        problems = sink.check(desired(name, value))
        if name in PORTABLE_REFUSES:
            assert len(problems) == 1 and name in problems[0] and PORTABLE_REFUSES[name] in problems[0]
            assert value not in problems[0]
        else:
            assert problems == []


def test_docker_env_file_dialect_writes_values_unquoted(tmp_path: Path) -> None:
    """The docker-env-file dialect writes KEY=value as it is and refuses line breaks, naming the variable."""
    path = tmp_path / "docker.env"
    held = {"SPACES": "  a 'b' \"c\" $HOME #d  ", "EMPTY": ""}
    write_all(path, held, "docker-env-file")
    assert path.read_text().splitlines()[2::2] == ["SPACES=  a 'b' \"c\" $HOME #d  ", "EMPTY="]
    sink = DotenvSink("shell", DotenvSinkOptions(path=str(path), dialect="docker-env-file"))
    assert {name: value.data[name].reveal() for name, value in observed(sink, list(held)).items()} == held
    problem = sink.check(desired("MULTI", "one\ntwo"))
    assert len(problem) == 1 and "MULTI" in problem[0] and "line break" in problem[0]


def test_nul_is_refused_by_every_dialect(tmp_path: Path) -> None:
    """No dialect can hold a NUL character: check says so for the variable."""
    for dialect in dotenv.DIALECTS:
        sink = DotenvSink("shell", DotenvSinkOptions(path=str(tmp_path / "x.env"), dialect=dialect))
        problems = sink.check(desired("NUL_VALUE", "a\0b"))
        assert len(problems) == 1 and "NUL_VALUE" in problems[0] and "NUL" in problems[0]


ALPHABET = st.sampled_from([*"ab $`'\"\\#={}()\n\t;!*?~&|<>%^é€😀\u2028", "${", "$(", "\\\\", "'\\''"])


@settings(max_examples=8, deadline=None)
@given(values=st.lists(st.lists(ALPHABET, max_size=12).map("".join), min_size=40, max_size=40))
def test_portable_values_read_back_alike_everywhere(
    tmp_path_factory: pytest.TempPathFactory, values: list[str]
) -> None:
    """Any value the portable dialect accepts reads back exactly in sh, python-dotenv and the file source."""
    held = {f"V{index}": value for index, value in enumerate(values) if dotenv.unwritable(value, "portable") is None}
    path = tmp_path_factory.mktemp("portable") / "app.env"
    write_all(path, held, "portable")
    assert sourced(["sh"], path, list(held)) == held
    assert dict(python_dotenv.dotenv_values(path)) == held
    assert file_source(path) == held
