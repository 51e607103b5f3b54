"""YAML loading with positions: duplicate keys are errors, positions point at keys, errors quote nothing."""

from __future__ import annotations

import pytest

from syncd import yamlpos
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


def test_merge_keys_are_flattened() -> None:
    """YAML merge keys (<<) work as in any YAML loader."""
    doc = yamlpos.load("base: &b {x: 1}\nitem:\n  <<: *b\n  y: 2\n", "m.yaml")
    assert doc.data["item"] == {"x": 1, "y": 2}
