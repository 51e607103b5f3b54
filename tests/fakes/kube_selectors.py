"""Label and field selectors as the fake Kubernetes API server parses and matches them.

The label selector grammar and meaning follow k8s.io/apimachinery/pkg/labels/selector.go (Parse): requirements
joined by ',' (AND), each `key`, `!key`, `key=v`, `key==v`, `key!=v`, `key in (v1,v2)`, `key notin (v1,v2)`,
`key>n`, `key<n`; `!=` and `notin` also match objects without the label. Keys must be qualified names and values valid
label values. Field selectors (k8s.io/apimachinery/pkg/fields/selector.go) take `field=v`, `field==v`, `field!=v`.

PYTEST_DONT_REWRITE
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from tests.fakes.kube_validation import is_qualified_name, is_valid_label_value

_SPECIAL = "!(),=<> \t\n"
_TOKEN = re.compile(r"\s*(!=|==|=|!|\(|\)|,|<|>|[^!(),=<>\s]+)")


class SelectorError(ValueError):
    """A malformed selector; the apiserver answers 400 BadRequest with this message."""


@dataclass(frozen=True)
class Requirement:
    key: str
    operator: str  # "exists", "!", "=", "!=", "in", "notin", "gt", "lt"
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        present = self.key in labels
        value = labels.get(self.key)
        if self.operator == "exists":
            return present
        if self.operator == "!":
            return not present
        if self.operator in ("=", "in"):
            return present and value in self.values
        if self.operator in ("!=", "notin"):
            return not present or value not in self.values
        if not present:
            return False
        try:
            number = int(value or "")
        except ValueError:
            return False
        limit = int(self.values[0])
        return number > limit if self.operator == "gt" else number < limit


def _tokens(text: str) -> list[str]:
    tokens = []
    position = 0
    text = text.rstrip()
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None:  # pragma: no cover - the pattern matches any non-space character
            raise SelectorError(f"unable to parse requirement: unexpected character at {position}")
        tokens.append(match.group(1))
        position = match.end()
    return tokens


def _check_key(key: str) -> None:
    problems = is_qualified_name(key)
    if problems:
        raise SelectorError(f'unable to parse requirement: <nil>: Invalid value: "{key}": {problems[0]}')


def _check_value(key: str, value: str) -> None:
    problems = is_valid_label_value(value)
    if problems:
        raise SelectorError(f'unable to parse requirement: values[0][{key}]: Invalid value: "{value}": {problems[0]}')


def _is_identifier(token: str) -> bool:
    return token[0] not in _SPECIAL


def parse_label_selector(text: str) -> list[Requirement]:
    """The requirements of `text` (all must hold); an empty selector selects everything."""
    tokens = _tokens(text)
    requirements: list[Requirement] = []
    index = 0

    def expect_identifier(what: str) -> str:
        nonlocal index
        if index >= len(tokens):
            raise SelectorError(f"found '', expected: {what}")
        token = tokens[index]
        if not _is_identifier(token):
            raise SelectorError(f"found '{token}', expected: {what}")
        index += 1
        return token

    while index < len(tokens):
        if tokens[index] == "!":
            index += 1
            key = expect_identifier("identifier after '!'")
            _check_key(key)
            requirements.append(Requirement(key, "!"))
        else:
            key = expect_identifier("identifier")
            _check_key(key)
            operator = tokens[index] if index < len(tokens) else ","
            if operator == ",":
                requirements.append(Requirement(key, "exists"))
            elif operator in ("=", "==", "!=", ">", "<"):
                index += 1
                value = ""
                if index < len(tokens) and _is_identifier(tokens[index]) and tokens[index] not in ("in", "notin"):
                    value = tokens[index]
                    index += 1
                elif operator in (">", "<"):
                    raise SelectorError(f"found '{tokens[index] if index < len(tokens) else ''}', expected: value")
                if operator in (">", "<"):
                    if not re.fullmatch(r"-?\d+", value):
                        raise SelectorError(
                            "unable to parse requirement: for 'Gt', 'Lt' operators, the value must be an integer"
                        )
                    requirements.append(Requirement(key, "gt" if operator == ">" else "lt", (value,)))
                else:
                    _check_value(key, value)
                    requirements.append(Requirement(key, "!=" if operator == "!=" else "=", (value,)))
            elif operator in ("in", "notin"):
                index += 1
                requirements.append(Requirement(key, operator, _value_set(tokens, index, key)))
                index = tokens.index(")", index) + 1
            else:
                raise SelectorError(f"found '{operator}', expected: in, notin, =, ==, !=, gt, lt")
        if index < len(tokens):
            if tokens[index] != ",":
                raise SelectorError(f"found '{tokens[index]}', expected: ',' or 'end of string'")
            index += 1
            if index == len(tokens):
                raise SelectorError("found '', expected: identifier")
    return requirements


def _value_set(tokens: list[str], index: int, key: str) -> tuple[str, ...]:
    if index >= len(tokens) or tokens[index] != "(":
        found = tokens[index] if index < len(tokens) else ""
        raise SelectorError(f"found '{found}', expected: '('")
    index += 1
    values: list[str] = []
    expecting_value = True
    while True:
        if index >= len(tokens):
            raise SelectorError("found '', expected: ')'")
        token = tokens[index]
        if token == ")":
            if expecting_value and values:
                values.append("")  # "(a,)" holds the empty value, as the apiserver's parser reads it
            break
        if token == ",":
            if expecting_value:
                values.append("")
            expecting_value = True
        elif _is_identifier(token) and expecting_value:
            values.append(token)
            expecting_value = False
        else:
            raise SelectorError(f"found '{token}', expected: ',', ')' or identifier")
        index += 1
    if not values:
        values = [""]
    for value in values:
        _check_value(key, value)
    return tuple(values)


def label_matcher(text: str | None) -> Callable[[Mapping[str, Any]], bool]:
    requirements = parse_label_selector(text or "")
    return lambda obj: all(req.matches(obj.get("metadata", {}).get("labels") or {}) for req in requirements)


def field_matcher(text: str | None, fields: Callable[[Mapping[str, Any]], Mapping[str, str]], supported: set[str]):
    """A predicate for `text`; `fields(obj)` gives the values of the fields the resource supports selecting on."""
    terms: list[tuple[str, bool, str]] = []
    for term in (text or "").split(","):
        if not term.strip():
            continue
        match = re.fullmatch(r"\s*([^!=\s]+)\s*(==|=|!=)\s*(.*?)\s*", term)
        if match is None:
            raise SelectorError(f"invalid selector: '{text}'; can't understand '{term}'")
        field, operator, value = match.groups()
        if field not in supported:
            raise SelectorError(f"field label not supported: {field}")
        terms.append((field, operator != "!=", value))
    return lambda obj: all((fields(obj).get(field) == value) == equal for field, equal, value in terms)
