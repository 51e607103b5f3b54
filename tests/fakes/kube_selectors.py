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
        raise SelectorError(f'<nil>: Invalid value: "{key}": {"; ".join(problems)}')


def _check_value(key: str, position: int, value: str) -> None:
    problems = is_valid_label_value(value)
    if problems:
        raise SelectorError(f'values[{position}][{key}]: Invalid value: "{value}": {"; ".join(problems)}')


def _is_identifier(token: str) -> bool:
    return token != "" and token[0] not in _SPECIAL


class _Parser:
    """labels.Parser: the same steps, so that the same input fails with the same sentence."""

    def __init__(self, text: str) -> None:
        self.tokens = _tokens(text)
        self.index = 0

    def lookahead(self) -> str:
        return self.tokens[self.index] if self.index < len(self.tokens) else ""

    def consume(self) -> str:
        token = self.lookahead()
        self.index += 1
        return token

    def parse(self) -> list[Requirement]:
        requirements: list[Requirement] = []
        while True:
            token = self.lookahead()
            if token == "":
                return requirements
            if token != "!" and not _is_identifier(token):
                raise SelectorError(f"found '{token}', expected: !, identifier, or 'end of string'")
            try:
                requirements.append(self.requirement())
            except SelectorError as error:
                raise SelectorError(f"unable to parse requirement: {error}") from None
            token = self.consume()
            if token == "":
                return requirements
            if token != ",":
                raise SelectorError(f"found '{token}', expected: ',' or 'end of string'")
            following = self.lookahead()
            if following != "!" and not _is_identifier(following):
                raise SelectorError(f"found '{following}', expected: identifier after ','")

    def requirement(self) -> Requirement:
        token = self.consume()
        negated = token == "!"
        if negated:
            token = self.consume()
        if not _is_identifier(token):
            raise SelectorError(f"found '{token}', expected: identifier")
        _check_key(token)
        if negated:
            return Requirement(token, "!")
        if self.lookahead() in ("", ","):
            return Requirement(token, "exists")
        operator = self.consume()
        if operator in ("in", "notin"):
            values = self.value_set()
        elif operator in ("=", "==", "!=", ">", "<"):
            values = (self.exact_value(),)
        else:
            raise SelectorError(f"found '{operator}', expected: in, notin, =, ==, !=, gt, lt")
        if operator in (">", "<"):
            if not re.fullmatch(r"-?\d+", values[0]):
                raise SelectorError(f"for 'Gt', 'Lt' operators, the value must be an integer: {values[0]}")
            return Requirement(token, "gt" if operator == ">" else "lt", values)
        for position, value in enumerate(values):
            _check_value(token, position, value)
        kind = {"in": "in", "notin": "notin", "!=": "!="}.get(operator, "=")
        return Requirement(token, kind, values)

    def exact_value(self) -> str:
        if self.lookahead() in ("", ","):
            return ""  # "key=" selects the empty value
        token = self.consume()
        if not _is_identifier(token):
            raise SelectorError(f"found '{token}', expected: identifier")
        return token

    def value_set(self) -> tuple[str, ...]:
        token = self.consume()
        if token != "(":
            raise SelectorError(f"found '{token}' expected: '('")
        values: list[str] = []
        expecting_value = True
        while True:
            token = self.consume()
            if token == ")":
                if expecting_value:
                    values.append("")  # "()" and "(a,)" hold the empty value, as the apiserver reads them
                return tuple(values)
            if token == "," and expecting_value:
                values.append("")
            elif token == ",":
                expecting_value = True
            elif _is_identifier(token) and expecting_value:
                values.append(token)
                expecting_value = False
            else:
                raise SelectorError(f"found '{token}', expected: ',', ')' or identifier")


def parse_label_selector(text: str) -> list[Requirement]:
    """The requirements of `text` (all must hold); an empty selector selects everything."""
    return _Parser(text).parse()


def label_matcher(text: str | None) -> Callable[[Mapping[str, Any]], bool]:
    requirements = parse_label_selector(text or "")
    return lambda obj: all(req.matches(obj.get("metadata", {}).get("labels") or {}) for req in requirements)


def field_matcher(
    text: str | None,
    fields: Callable[[Mapping[str, Any]], Mapping[str, str]],
    supported: set[str],
    unsupported: Callable[[str], str],
) -> Callable[[Mapping[str, Any]], bool]:
    """A predicate for `text`; `fields(obj)` gives the values of the fields the resource supports selecting on, and
    `unsupported(field)` the message refusing another."""
    terms: list[tuple[str, bool, str]] = []
    for term in (text or "").split(","):
        if not term.strip():
            continue
        match = re.fullmatch(r"\s*([^!=\s]+)\s*(==|=|!=)\s*(.*?)\s*", term)
        if match is None:
            raise SelectorError(f"invalid selector: '{text}'; can't understand '{term}'")
        field, operator, value = match.groups()
        if field not in supported:
            raise SelectorError(unsupported(field))
        terms.append((field, operator != "!=", value))
    return lambda obj: all((fields(obj).get(field) == value) == equal for field, equal, value in terms)
