"""JSON a person wrote: parsed by the standard library after a linear scan that refuses nesting deeper than
`max_depth` (its decoder recurses), with duplicate keys refused; its messages replaced by plain ones."""

from __future__ import annotations

import json
import re
from typing import Any

from syncd.documents.errors import DUPLICATE_KEY, MAX_DEPTH, DocumentError, position, too_deep

_JSON_PROBLEMS: tuple[tuple[str, str], ...] = (
    ("Expecting value", "a value is missing or is not JSON (strings take double quotes; no comments)"),
    ("Expecting property name", "a key is not in double quotes, or a ',' is left before a '}'"),
    ("Expecting ':'", "a key is not followed by ':'"),
    ("Expecting ','", "a ',' is missing between two entries"),
    ("Unterminated string", "a string is not closed"),
    ("Invalid control character", "a string holds a raw control character; write a newline as \\n, a tab as \\t"),
    ("Invalid \\", "a string holds an invalid backslash escape"),
    ("Extra data", "more text follows the end of the JSON document"),
    ("Illegal trailing comma", "a ',' is left before a closing bracket"),
)
_JSON_DEFAULT = "the text is not valid JSON here"

_JSON_TOKEN = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}:]', re.DOTALL)


class _Duplicate(Exception):
    pass


def _unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    found = dict(pairs)
    if len(found) != len(pairs):
        raise _Duplicate()
    return found


def load_json(text: str, *, max_depth: int = MAX_DEPTH, **options: Any) -> Any:
    """`json.loads(text, **options)` with nesting capped and duplicate keys refused; raises DocumentError."""
    if text.count("[") + text.count("{") > max_depth:
        _check_depth(text, max_depth)
    try:
        return json.loads(text, object_pairs_hook=_unique, **options)
    except json.JSONDecodeError as exc:
        problem = next((plain for phrase, plain in _JSON_PROBLEMS if exc.msg.startswith(phrase)), _JSON_DEFAULT)
        raise DocumentError(exc.lineno, exc.colno, problem) from None
    except _Duplicate:
        raise _duplicate(text) from None


def _check_depth(text: str, max_depth: int) -> None:
    depth = 0
    for match in _JSON_TOKEN.finditer(text):
        char = text[match.start()]
        if char in "[{":
            depth += 1
            if depth > max_depth:
                line, column = position(text, match.start())
                raise DocumentError(line, column, too_deep(max_depth), kind="too-deep")
        elif char in "]}":
            depth -= 1


def _duplicate(text: str) -> DocumentError:
    """The first duplicate key of `text` (valid JSON), found again with its position."""
    stack: list[set[str] | None] = []
    previous: re.Match[str] | None = None
    for match in _JSON_TOKEN.finditer(text):
        char = text[match.start()]
        if char == "{":
            stack.append(set())
        elif char == "[":
            stack.append(None)
        elif char in "]}":
            stack.pop()
        elif char == ":" and previous is not None and stack and stack[-1] is not None:
            name = json.loads(previous.group())
            if name in stack[-1]:
                line, column = position(text, previous.start())
                return DocumentError(line, column, DUPLICATE_KEY, key=name, depth=len(stack), kind="duplicate-key")
            stack[-1].add(name)
        previous = match if char == '"' else None
    return DocumentError(1, 1, DUPLICATE_KEY, kind="duplicate-key")
