"""YAML loading with positions: duplicate keys are errors, positions point at keys, errors quote nothing."""

from __future__ import annotations

import pytest
import yaml

from syncd import yamlpos
from syncd.documents import yaml_loader
from syncd.errors import ConfigError


def test_positions_of_keys_and_items() -> None:
    """where() points at a key's line and column, and at list items by index."""
    doc = yamlpos.load("a:\n  b: 1\n  c:\n    - x\n    - {d: 2}\n", "m.yaml")
    assert doc.data == {"a": {"b": 1, "c": ["x", {"d": 2}]}}
    assert doc.where(("a", "b")) == "m.yaml:2:3"
    assert doc.where(("a", "c", 1, "d")) == "m.yaml:5:8"
    assert doc.where(("a", "missing")) == "m.yaml:1:1"


def test_duplicate_keys_are_an_error_naming_both_lines() -> None:
    """A key given twice in one mapping is refused, not silently last-wins."""
    with pytest.raises(ConfigError, match=r"m.yaml:3:1: duplicate key 'a' \(first at line 1\)"):
        yamlpos.load("a: 1\nb: 2\na: 3\n", "m.yaml")


def test_syntax_errors_give_a_position_and_no_snippet() -> None:
    """A YAML syntax error names file:line:column and never quotes the document."""
    with pytest.raises(ConfigError) as info:
        yamlpos.load("a: 1\nb: [PLANTED-yaml-8080\n", "m.yaml")
    assert str(info.value).startswith("m.yaml:3:1: invalid YAML")
    assert "PLANTED" not in str(info.value)


ALIAS_BOMB = "".join(
    [
        'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n',
        *(
            f"{name}: &{name} [{', '.join(f'*{prev}' for _ in range(9))}]\n"
            for prev, name in zip("abcdef", "bcdefg", strict=True)
        ),
    ]
)


def test_an_alias_bomb_is_refused_at_its_first_anchor_before_anything_is_expanded(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Seven levels of nine aliases fail at the first anchor, after reading only the events before it."""
    assert len(ALIAS_BOMB) < 400
    read = []
    loader_class = yaml_loader._loader_class()

    class CountingLoader(loader_class):  # type: ignore[misc, valid-type]
        def get_event(self):  # type: ignore[no-untyped-def]
            read.append(1)
            return super().get_event()

    monkeypatch.setattr(yaml_loader, "_loader_class", lambda: CountingLoader)
    with pytest.raises(ConfigError) as info:
        yamlpos.load(ALIAS_BOMB, "m.yaml")
    assert str(info.value) == (
        "m.yaml:1:4: invalid YAML: anchors and aliases ('&name', '*name') are not allowed; "
        "quote a value that starts with '&' or '*'"
    )
    assert len(read) <= 5


@pytest.mark.parametrize(
    ("text", "where", "problem"),
    [
        ("user: a\npassword: *Sup3rS3cret\n", "2:11", "anchors and aliases ('&name', '*name') are not allowed"),
        ("user: a\npassword: &Sup3rS3cret x\n", "2:11", "anchors and aliases ('&name', '*name') are not allowed"),
        ("user: a\npassword: !Xq9Lk2vR7m\n", "2:11", "tags ('!name') are not allowed; quote a value"),
        ("password: !Xq9Lk2vR7m [a]\n", "1:11", "tags ('!name') are not allowed"),
        ("base: {x: 1}\nitem: {<<: {y: 2}}\n", "2:8", "merge keys ('<<') are not allowed"),
    ],
)
def test_aliases_anchors_tags_and_merge_keys_are_refused_without_quoting_them(
    text: str, where: str, problem: str
) -> None:
    """An alias, anchor, tag or merge key is refused with its position and a fixed sentence, never its text."""
    with pytest.raises(ConfigError) as info:
        yamlpos.load(text, "m.yaml")
    message = str(info.value)
    assert message.startswith(f"m.yaml:{where}: invalid YAML: {problem}")
    for planted in ("Sup3rS3cret", "Xq9Lk2vR7m"):
        assert planted not in message


def test_a_document_nested_2000_levels_deep_is_refused_without_recursion() -> None:
    """Deep nesting is refused at the level past the limit, with its position, and never a RecursionError."""
    text = "a:\n" + "".join(f"{'  ' * depth}k:\n" for depth in range(1, 2000)) + "  " * 2000 + "v: 1\n"
    with pytest.raises(ConfigError) as info:
        yamlpos.load(text, "m.yaml")
    assert str(info.value) == (
        f"m.yaml:{yamlpos.MAX_DEPTH + 1}:{2 * yamlpos.MAX_DEPTH + 1}: invalid YAML: "
        f"the document is nested more than {yamlpos.MAX_DEPTH} levels deep"
    )
    flow = "[" * 30000 + "]" * 30000
    with pytest.raises(ConfigError, match="nested"):
        yamlpos.load(flow, "m.yaml")


PYYAML_WORDING = ("expected <block end>", "mapping values are not allowed", "could not find expected", "found ")


@pytest.mark.parametrize("parser", ["libyaml", "python"])
@pytest.mark.parametrize(
    ("text", "where", "explanation"),
    [
        ("a:\n  b: 1\n c: PLANTED-x\n", "3:2", "the indentation does not match the lines above"),
        ("a: PLANTED-x: y\n", "1:13", "a ': ' cannot start a value here; quote a value that holds ': '"),
        ("a: 1\nPLANTED-x\nb: 2\n", "3:1", "a line is neither 'key: value' nor a list item"),
        ("a:\n\tb: PLANTED-x\n", "2:1", "a tab is used to indent; YAML indents with spaces only"),
        ("a: 'PLANTED-x\n", "2:1", "a quoted value is not closed before the end of the file"),
        ('a: "PLANTED-x\\q"\n', "1:", "a double-quoted value holds an invalid backslash escape"),
        ("a: [PLANTED-x\n", "2:1", "a '[' list is not closed"),
        ("a: {b: PLANTED-x\n", "2:1", "a '{' mapping is not closed"),
        ("a: @PLANTED-x\n", "1:4", "a value starts with a character YAML reserves"),
        ("a: 1\n---\nb: PLANTED-x\n", "2:1", "the file holds more than one YAML document"),
        ("? [a]\n: PLANTED-x\n", "1:3", "a mapping key must be a plain value, not a list or a mapping"),
        ("~: PLANTED-x\n", "1:1", "a mapping key must be text, a number or true/false"),
    ],
)
def test_syntax_errors_get_a_plain_explanation_and_never_the_parsers_wording(
    text: str, where: str, explanation: str, parser: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each YAML mistake gives its position and a plain sentence, with libyaml and with PyYAML's own parser;
    neither parser's wording nor the document's text appears."""
    if parser == "python":
        monkeypatch.setattr(yaml_loader, "_loader_class", lambda: yaml.SafeLoader)
    with pytest.raises(ConfigError) as info:
        yamlpos.load(text, "m.yaml")
    message = str(info.value)
    assert message.startswith(f"m.yaml:{where}"), message
    assert explanation in message
    assert "PLANTED" not in message
    for wording in PYYAML_WORDING:
        assert wording not in message


def test_positions_are_found_only_when_a_message_needs_one() -> None:
    """A load keeps no position; the first where() parses again and finds them all (a large manifest stays cheap)."""
    doc = yamlpos.load("a:\n  b: [x, y]\n", "m.yaml")
    assert doc._values is None and doc._keys is None
    assert doc.where(("a", "b", 1)) == "m.yaml:2:10"
    assert doc.keys[("a", "b")] == yamlpos.Position(2, 3)


@pytest.mark.parametrize(
    ("deep", "where"),
    [("syncs: " + "[" * 100_000 + "]" * 100_000 + "\n", "2:39"), ("syncs:\n" + "- " * 2000 + "x\n", "3:63")],
    ids=["flow", "block"],
)
def test_nesting_past_libyamls_limit_is_reported_at_the_first_level_past_the_manifests(
    deep: str, where: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A manifest nested past libyaml's own 1,000-level limit gets the project's message at the first level past
    32, not libyaml's wording at the place libyaml stopped, and PyYAML's own parser is never built."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("PyYAML's pure-Python parser was used")

    monkeypatch.setattr(yaml.parser.Parser, "__init__", refuse)
    with pytest.raises(ConfigError) as info:
        yamlpos.load("version: 1\n" + deep, "m.yaml")
    assert str(info.value) == f"m.yaml:{where}: invalid YAML: the document is nested more than 32 levels deep"
