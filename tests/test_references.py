"""`${env:NAME}` and `${file:PATH}` references: syntax, resolution, redaction, tree paths."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from syncd.errors import ConfigError
from syncd.references import (
    BadReference,
    Reference,
    bad_references,
    check_tree,
    find_references,
    has_references,
    resolve,
    resolve_tree,
)
from syncd.secret import REDACTED, REDACTOR


def unique(prefix: str = "value") -> str:
    """A value no other test registers with the process-wide redactor."""
    return f"{prefix}-{uuid.uuid4().hex}"


def syntax_error(text: str) -> BadReference:
    with pytest.raises(BadReference) as info:
        find_references(text)
    return info.value


def resolve_error(text: str, env: dict[str, str] | None = None, base_dir: Path = Path("/")) -> BadReference:
    with pytest.raises(BadReference) as info:
        resolve(text, env=env or {}, base_dir=base_dir)
    return info.value


def test_find_references_locates_each_reference() -> None:
    """Each reference is reported with its scheme, name and span in the text."""
    text = "Bearer ${env:TOKEN} from ${file:/run/secrets/ca.pem}"
    refs = find_references(text)
    assert refs == [
        Reference("env", "TOKEN", 7, 19),
        Reference("file", "/run/secrets/ca.pem", 25, len(text)),
    ]
    assert [text[r.start : r.end] for r in refs] == [str(r) for r in refs]


def test_text_without_references_has_none() -> None:
    """Plain text, lone dollars and escaped `$${` hold no reference."""
    assert find_references("price $5, {braces}, $$ and $${env:X}") == []


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("${vault:x}", "unknown reference scheme 'vault' in '${vault:x}'; use ${env:NAME} or ${file:PATH}"),
        ("${TOKEN}", "reference '${TOKEN}' has no scheme; use ${env:NAME} or ${file:PATH}"),
        ("${}", "reference '${}' has no scheme"),
        ("${env:}", "empty variable name in '${env:}'"),
        ("${file:}", "empty path in '${file:}'"),
        ("${env:1TOKEN}", "invalid environment variable name '1TOKEN' in '${env:1TOKEN}'"),
        ("${env:MY-TOKEN}", "invalid environment variable name 'MY-TOKEN'"),
        ("Bearer ${env:X", "unterminated reference '${env:X'; close it with '}'"),
    ],
)
def test_bad_syntax_is_an_error_saying_what_is_wrong(text: str, message: str) -> None:
    """Every malformed `${...}` raises BadReference, a ConfigError, explaining the mistake."""
    exc = syntax_error(text)
    assert isinstance(exc, ConfigError)
    assert str(exc).startswith(message)


def test_a_bad_reference_after_a_good_one_is_still_an_error() -> None:
    """Syntax is checked across the whole string, not just up to the first reference."""
    assert "'vault'" in str(syntax_error("${env:A} and ${vault:b}"))


def test_resolve_substitutes_a_whole_string_reference() -> None:
    """A string that is wholly a reference becomes the variable's value."""
    token = unique()
    assert resolve("${env:TOKEN}", env={"TOKEN": token}, base_dir=Path("/")) == token


def test_resolve_substitutes_embedded_and_multiple_references() -> None:
    """References embedded in text are substituted in place, each with its own value."""
    env = {"USER_NAME": "syncd", "PASS": unique()}
    assert resolve("https://${env:USER_NAME}:${env:PASS}@host/${env:USER_NAME}", env=env, base_dir=Path("/")) == (
        f"https://syncd:{env['PASS']}@host/syncd"
    )


def test_escaped_dollar_brace_becomes_a_literal() -> None:
    """`$${` resolves to a literal `${` next to a real reference, and other dollars stay as they are."""
    value = unique()
    assert resolve("$${env:X} $$ $5 ${env:X}", env={"X": value}, base_dir=Path("/")) == (f"${{env:X}} $$ $5 {value}")


def test_a_value_is_not_itself_scanned_for_references() -> None:
    """A resolved value containing `${...}` is inserted as written, never resolved in turn."""
    assert resolve("${env:A}", env={"A": "x${env:B}$${", "B": unique()}, base_dir=Path("/")) == "x${env:B}$${"


def test_missing_environment_variable_is_named() -> None:
    """An unset variable is an error naming it and the reference."""
    exc = resolve_error("Bearer ${env:GITLAB_TOKEN}")
    assert str(exc) == ("environment variable 'GITLAB_TOKEN' is not set (referenced as ${env:GITLAB_TOKEN})")


def test_empty_environment_variable_is_an_error() -> None:
    """A variable that is set but empty is an error, not an empty credential."""
    assert "'TOKEN' is empty" in str(resolve_error("${env:TOKEN}", env={"TOKEN": ""}))


def test_file_reference_is_relative_to_base_dir_and_loses_one_trailing_newline(tmp_path: Path) -> None:
    """A relative file path is read from base_dir, and one trailing newline is dropped."""
    value = unique()
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "token").write_text(value + "\n\n", encoding="utf-8")
    assert resolve("${file:secrets/token}", env={}, base_dir=tmp_path) == value + "\n"


@pytest.mark.parametrize(("content", "expected"), [(b"a1b2\r\n", "a1b2"), (b"a1b2\r", "a1b2\r"), (b"a\r\nb", "a\r\nb")])
def test_file_reference_strips_only_a_final_line_ending(tmp_path: Path, content: bytes, expected: str) -> None:
    """A final `\\r\\n` is stripped whole; a lone `\\r` and inner line endings are kept as written."""
    (tmp_path / "f").write_bytes(content)
    assert resolve("${file:f}", env={}, base_dir=tmp_path) == expected


def test_absolute_file_path_ignores_base_dir(tmp_path: Path) -> None:
    """An absolute path is read as written, whatever base_dir is."""
    value = unique()
    (tmp_path / "token").write_text(value, encoding="utf-8")
    assert resolve(f"${{file:{tmp_path / 'token'}}}", env={}, base_dir=Path("/nonexistent")) == value


def test_file_path_expands_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A path starting with `~` is read from the home directory."""
    value = unique()
    (tmp_path / "token").write_text(value, encoding="utf-8")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert resolve("${file:~/token}", env={}, base_dir=Path("/nonexistent")) == value


def test_unreadable_file_names_the_path_and_the_reason(tmp_path: Path) -> None:
    """A missing file is an error naming the resolved path and the OS reason, nothing more."""
    exc = resolve_error("${file:missing}", base_dir=tmp_path)
    missing = tmp_path / "missing"
    assert str(exc) == (f"cannot read file '{missing}' (referenced as ${{file:missing}}): No such file or directory")


def test_a_directory_is_not_a_readable_file(tmp_path: Path) -> None:
    """Referencing a directory is an error giving the OS reason."""
    assert "Is a directory" in str(resolve_error("${file:.}", base_dir=tmp_path))


def test_empty_file_is_an_error(tmp_path: Path) -> None:
    """A file holding nothing but a newline yields an empty value, which is an error."""
    (tmp_path / "empty").write_text("\n", encoding="utf-8")
    assert f"file '{tmp_path / 'empty'}' is empty" in str(resolve_error("${file:empty}", base_dir=tmp_path))


def test_file_that_is_not_utf8_is_an_error_without_its_bytes(tmp_path: Path) -> None:
    """A file that is not UTF-8 is an error that quotes none of its content."""
    (tmp_path / "bin").write_bytes(b"\xffsecretbytes")
    message = str(resolve_error("${file:bin}", base_dir=tmp_path))
    assert "not valid UTF-8" in message
    assert "0xff" not in message and "secretbytes" not in message


def test_errors_never_contain_the_value_obtained(tmp_path: Path) -> None:
    """When one reference resolves and the next fails, the message holds no resolved value."""
    value = unique()
    exc = resolve_error("${env:GOOD} ${env:BAD}", env={"GOOD": value}, base_dir=tmp_path)
    assert value not in str(exc)


def test_every_resolved_value_is_registered_with_the_redactor(tmp_path: Path) -> None:
    """Each value a reference yields, and the whole resolved string, is scrubbed from output."""
    from_env, from_file = unique("env"), unique("file")
    (tmp_path / "f").write_text(from_file + "\n", encoding="utf-8")
    resolved = resolve("u:${env:A}|${file:f}", env={"A": from_env}, base_dir=tmp_path)
    assert REDACTOR.redact(f"log {from_env} and {from_file}") == f"log {REDACTED} and {REDACTED}"
    assert REDACTOR.redact(resolved) == REDACTED


def test_text_without_references_is_not_registered() -> None:
    """A string holding no reference is not secret, so it is not scrubbed from output."""
    text = unique("plain")
    assert resolve(text, env={}, base_dir=Path("/")) == text
    assert REDACTOR.redact(text) == text


@given(st.text().filter(lambda s: "$" not in s))
def test_strings_without_a_dollar_resolve_to_themselves(text: str) -> None:
    """Any string with no `$` is returned unchanged and holds no reference."""
    assert resolve(text, env={}, base_dir=Path("/nonexistent")) == text
    assert find_references(text) == []


@given(st.text(alphabet=st.sampled_from("ab${}:$")))
def test_text_without_references_resolves_to_itself_with_escapes_undone(text: str) -> None:
    """Any text that parses and holds no reference resolves to itself with each `$${` made `${`."""
    try:
        refs = find_references(text)
    except BadReference:
        return
    if not refs:
        assert resolve(text, env={}, base_dir=Path("/")) == text.replace("$${", "${")


TREE = {
    "source": {"type": "file", "path": "./secrets"},
    "targets": {
        "gitlab": {"type": "gitlab", "token": "${env:GITLAB_TOKEN}", "timeout": 30, "verify": True},
        "vault": {"type": "vault", "headers": ["X-A: 1", "Authorization: Bearer ${env:VAULT_TOKEN}"]},
    },
}


def test_check_tree_accepts_a_tree_of_good_references() -> None:
    """A tree whose strings are all well-formed passes, non-strings included."""
    assert check_tree(TREE) is None


def test_check_tree_error_carries_the_path_to_the_string() -> None:
    """A malformed reference deep in a tree is reported with the keys and indexes leading to it."""
    tree = {"targets": {"gitlab": {"token": "${vault:x}"}, "k8s": {"contexts": ["a", {"b": "${env:}"}]}}}
    with pytest.raises(BadReference) as info:
        check_tree(tree)
    assert info.value.path == ("targets", "gitlab", "token")
    assert str(info.value).startswith("targets.gitlab.token: unknown reference scheme 'vault'")
    with pytest.raises(BadReference) as info:
        check_tree(tree["targets"]["k8s"], path=("targets", "k8s"))
    assert info.value.path == ("targets", "k8s", "contexts", 1, "b")
    assert str(info.value).startswith("targets.k8s.contexts[1].b: empty variable name")


def test_bad_references_gives_every_malformed_reference_of_a_tree_in_order() -> None:
    """Every malformed reference is found, each with its path, in the order of the tree, not just the first."""
    tree = {"a": "${vault:x}", "b": ["ok ${env:A}", {"c": "${env:}"}], "d": 3, "e": "x ${env:1X} ${nope}"}
    found = bad_references(tree, ("targets", "t"))
    assert [(exc.path, exc.message.split(" in ")[0]) for exc in found] == [
        (("targets", "t", "a"), "unknown reference scheme 'vault'"),
        (("targets", "t", "b", 1, "c"), "empty variable name"),
        (("targets", "t", "e"), "invalid environment variable name '1X'"),
    ]


def test_resolve_tree_returns_a_new_tree_of_the_same_shape() -> None:
    """Strings are resolved, other leaves kept as they are, and the input left untouched."""
    env = {"GITLAB_TOKEN": unique(), "VAULT_TOKEN": unique()}
    resolved = resolve_tree(TREE, env=env, base_dir=Path("/"))
    assert resolved["targets"]["gitlab"] == {
        "type": "gitlab",
        "token": env["GITLAB_TOKEN"],
        "timeout": 30,
        "verify": True,
    }
    assert resolved["targets"]["vault"]["headers"] == [
        "X-A: 1",
        f"Authorization: Bearer {env['VAULT_TOKEN']}",
    ]
    assert resolved["source"] == TREE["source"]
    assert TREE["targets"]["gitlab"]["token"] == "${env:GITLAB_TOKEN}"
    assert resolve_tree((1, "${env:VAULT_TOKEN}"), env=env, base_dir=Path("/")) == (1, env["VAULT_TOKEN"])


def test_resolve_tree_error_carries_the_path_to_the_string() -> None:
    """A reference that cannot be resolved is reported with where it is in the tree."""
    with pytest.raises(BadReference) as info:
        resolve_tree(TREE, env={"GITLAB_TOKEN": unique()}, base_dir=Path("/"))
    assert info.value.path == ("targets", "vault", "headers", 1)
    assert "'VAULT_TOKEN' is not set" in info.value.message


def test_resolve_tree_path_argument_prefixes_error_paths() -> None:
    """The path given to resolve_tree is where the subtree sits, and errors start with it."""
    with pytest.raises(BadReference) as info:
        resolve_tree({"token": "${env:NOPE}"}, env={}, base_dir=Path("/"), path=("targets", "gitlab"))
    assert info.value.path == ("targets", "gitlab", "token")


@pytest.mark.parametrize(
    ("tree", "expected"),
    [
        (TREE, True),
        (TREE["source"], False),
        ({"a": ["x", {"b": 1}]}, False),
        ({"a": ["x", {"b": "$${env:X}"}]}, False),
        ("${file:x}", True),
        ({"a": "${vault:x}"}, True),
        (None, False),
    ],
)
def test_has_references_finds_references_anywhere_in_a_tree(tree: object, expected: bool) -> None:
    """has_references is true for any well-formed or malformed reference in any string of the tree."""
    assert has_references(tree) is expected
