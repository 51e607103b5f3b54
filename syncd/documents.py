"""Documents a person wrote (YAML and JSON), parsed without ever quoting them.

A problem is a `DocumentError`: a line, a column and one sentence from this
module's fixed vocabulary. The parsers' own messages are never shown, since
they can quote the document (PyYAML's "found undefined alias 'x'" holds the
text after a `*`, which may be a password).

YAML is built from the parser's events in one loop, without recursion:

* anchors, aliases and tags other than YAML's standard ones are refused at
  the first one, before anything is expanded, so an alias bomb costs nothing;
* nesting deeper than `max_depth` is refused, or, with `mark_deep`, the deep
  part is skipped and stands as a `TooDeep` value so the rest still reads;
* a key given twice in one mapping is refused.

JSON is parsed by the standard library after a linear scan that refuses
nesting deeper than `max_depth` (its decoder recurses) and duplicate keys.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any, Literal

MAX_DEPTH = 100

Kind = Literal["syntax", "too-deep", "duplicate-key"]

Path = tuple[str | int, ...]
Recorder = Callable[[Path, bool, int, int], None]
"""Told (path, is_key, line, column) for every key and every value, when positions are wanted."""

_STANDARD = "tag:yaml.org,2002:"
_SCALAR_TAGS = frozenset(_STANDARD + name for name in ("str", "int", "float", "bool", "null", "timestamp", "binary"))
_COLLECTION_TAGS = frozenset(_STANDARD + name for name in ("map", "seq"))

# Plain explanations of the parsers' problems, found by a phrase of PyYAML's or libyaml's message.
ALIAS = "anchors and aliases ('&name', '*name') are not allowed; quote a value that starts with '&' or '*'"
TAG = "tags ('!name') are not allowed; quote a value that starts with '!'"
MERGE = "merge keys ('<<') are not allowed, since they need aliases"
KEY_NOT_SCALAR = "a mapping key must be a plain value, not a list or a mapping"
KEY_NOT_TEXT = "a mapping key must be text, a number or true/false"
DUPLICATE_KEY = "a key appears twice in one mapping"
SEVERAL_DOCUMENTS = "the file holds more than one YAML document ('---'); only one is allowed"
_YAML_PROBLEMS: tuple[tuple[tuple[str, ...], str], ...] = (
    (("max depth", "nesting depth"), "the document is nested too deeply"),
    (("tab character",), "a tab is used to indent; YAML indents with spaces only"),
    (
        ("mapping values are not allowed",),
        "a ': ' cannot start a value here; quote a value that holds ': ', or check the indentation",
    ),
    (
        ("could not find expected ':'",),
        "a line is neither 'key: value' nor a list item, or a quote or bracket before it is not closed",
    ),
    (
        ("expected <block end>", "did not find expected key", "did not find expected '-'"),
        "the indentation does not match the lines above: a key or list item is indented more or less than its"
        " neighbours",
    ),
    (
        ("block sequence entries are not allowed", "sequence entries are not allowed"),
        "a list item ('- ') cannot start here; check the indentation",
    ),
    (("mapping keys are not allowed",), "a '? ' key cannot start here; check the indentation"),
    (
        ("cannot start any token",),
        "a value starts with a character YAML reserves ('@', '`', or '%'); quote the value",
    ),
    (("end of stream",), "a quoted value is not closed before the end of the file"),
    (
        ("escape", "hexdecimal", "hexadecimal"),
        "a double-quoted value holds an invalid backslash escape; use single quotes, or write '\\\\' for a backslash",
    ),
    (("',' or ']'",), "a '[' list is not closed, or two of its items are not separated by ','"),
    (("',' or '}'",), "a '{' mapping is not closed, or two of its entries are not separated by ','"),
    (("node content",), "a value is missing, or starts with a character that cannot start one here; quote it"),
    (
        ("alphabetic or numeric", "tag uri", "tag handle", "'>'", "uri escape", "non-specific tag"),
        "a value starting with '&', '*' or '!' must be quoted (it reads as an anchor, an alias or a tag)",
    ),
    (
        ("document start", "document indicator", "directive", "incompatible yaml document"),
        "a document marker or directive ('---', '...', '%') is out of place",
    ),
    (
        ("comment or a line break", "comment or line break", "indentation indicator"),
        "the header of a '|' or '>' block value is malformed",
    ),
)
_YAML_DEFAULT = "the text is not valid YAML here"
_CONTROL = "the text holds a control character or bytes that are not UTF-8, which YAML does not allow"

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


class RefusedKey(Exception):
    """Raised by a `key` function of `load_yaml` for a key it does not take; reported as KEY_NOT_TEXT."""


class DocumentError(ValueError):
    """A document that cannot be read, at a line and column; `problem` never holds text of the document.

    `kind` is "syntax" for text that is not a valid document, or that YAML reads as something syncd refuses (an
    alias, a tag), "too-deep" for nesting past the limit and "duplicate-key" for a key given twice. For the
    latter, `key` is that key (a name, which callers may show where keys are not values), `first_line` the line
    of its first use, and `depth` the nesting of its mapping (1 at the top level).
    """

    def __init__(
        self,
        line: int,
        column: int,
        problem: str,
        *,
        key: Any = None,
        first_line: int = 0,
        depth: int = 0,
        kind: Kind = "syntax",
    ) -> None:
        self.kind = kind
        self.line = line
        self.column = column
        self.problem = problem
        self.key = key
        self.first_line = first_line
        self.depth = depth
        super().__init__(f"line {line}, column {column}: {problem}")


@dataclass(frozen=True)
class TooDeep:
    """Stands for a YAML collection nested deeper than the limit, which was skipped unread."""

    line: int
    column: int


def too_deep(max_depth: int) -> str:
    return f"the document is nested more than {max_depth} levels deep"


def _loader_class() -> Any:
    import yaml

    return getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Frame:
    __slots__ = ("container", "is_mapping", "key", "key_lines", "path")

    def __init__(self, container: dict[Any, Any] | list[Any], path: Path) -> None:
        self.container = container
        self.path = path
        self.is_mapping = isinstance(container, dict)
        self.key: Any = _NO_KEY
        self.key_lines: dict[Any, int] = {}


_NO_KEY = object()


def load_yaml(
    text: str,
    scalar: Callable[[str, str, Any], Any],
    *,
    key: Callable[[Any], Hashable] | None = None,
    max_depth: int = MAX_DEPTH,
    mark_deep: bool = False,
    record: Recorder | None = None,
    loader: Any = None,
) -> Any:
    """The one YAML document in `text` as dicts, lists and what `scalar(tag, value, event)` makes of each scalar.

    `key` turns a constructed key into the one stored (or raises RefusedKey); `record` is told where each
    key and value stood. Raises DocumentError; an empty document is None.
    """
    import yaml

    loader = loader or _loader_class()
    events = loader(text)
    builder = _Builder(events, scalar, key, max_depth, mark_deep, record)
    try:
        builder.run(yaml)
    except yaml.MarkedYAMLError as exc:
        if mark_deep and loader is not yaml.SafeLoader and "nesting depth" in str(exc.problem):
            # libyaml stops at 1,000 levels even in a part that would be skipped; PyYAML's own parser does not.
            return load_yaml(
                text, scalar, key=key, max_depth=max_depth, mark_deep=True, record=record, loader=yaml.SafeLoader
            )
        raise _explain(exc, text) from None
    except yaml.YAMLError as exc:
        line, column = _position(text, getattr(exc, "position", None))
        raise DocumentError(line, column, _CONTROL) from None
    finally:
        events.dispose()
    return builder.root


def _fail(event: Any, problem: str, **extra: Any) -> DocumentError:
    mark = event.start_mark
    return DocumentError(mark.line + 1, mark.column + 1, problem, **extra)


class _Builder:
    """Plain data from a stream of YAML events, with an explicit stack instead of recursion."""

    def __init__(
        self,
        events: Any,
        scalar: Callable[[str, str, Any], Any],
        key: Callable[[Any], Hashable] | None,
        max_depth: int,
        mark_deep: bool,
        record: Recorder | None,
    ) -> None:
        self.events = events
        self.scalar = scalar
        self.key = key
        self.max_depth = max_depth
        self.mark_deep = mark_deep
        self.record = record
        self.root: Any = None
        self.stack: list[_Frame] = []

    def run(self, yaml: Any) -> None:
        scalar_event, alias_event = yaml.ScalarEvent, yaml.AliasEvent
        mapping_start, sequence_start = yaml.MappingStartEvent, yaml.SequenceStartEvent
        mapping_end, sequence_end = yaml.MappingEndEvent, yaml.SequenceEndEvent
        document_start, stream_end = yaml.DocumentStartEvent, yaml.StreamEndEvent
        resolve, scalar_node = self.events.resolve, yaml.ScalarNode
        stack = self.stack
        documents = 0
        while True:
            event = self.events.get_event()
            kind = event.__class__
            if kind is scalar_event:
                if event.anchor is not None:
                    raise _fail(event, ALIAS)
                tag = event.tag
                if tag is None or tag == "!":
                    tag = resolve(scalar_node, event.value, event.implicit)
                if stack and stack[-1].is_mapping and stack[-1].key is _NO_KEY:
                    self._key(tag, event)
                else:
                    if tag not in _SCALAR_TAGS:
                        raise _fail(event, TAG)
                    self._place(self.scalar(tag, event.value, event), event)
            elif kind is mapping_end or kind is sequence_end:
                stack.pop()
            elif kind is mapping_start or kind is sequence_start:
                self._start(event, kind is mapping_start, yaml)
            elif kind is alias_event:
                raise _fail(event, ALIAS)
            elif kind is document_start:
                documents += 1
                if documents > 1:
                    raise _fail(event, SEVERAL_DOCUMENTS)
            elif event is None or kind is stream_end:
                return

    def _key(self, tag: str, event: Any) -> None:
        if tag == _STANDARD + "merge":
            raise _fail(event, MERGE)
        if tag not in _SCALAR_TAGS:
            raise _fail(event, TAG)
        frame = self.stack[-1]
        value = self.scalar(tag, event.value, event)
        try:
            stored = self.key(value) if self.key is not None else value
        except RefusedKey:
            raise _fail(event, KEY_NOT_TEXT) from None
        line = event.start_mark.line + 1
        if stored in frame.key_lines:
            first_line = frame.key_lines[stored]
            depth = len(self.stack)
            raise _fail(event, DUPLICATE_KEY, key=stored, first_line=first_line, depth=depth, kind="duplicate-key")
        frame.key_lines[stored] = line
        frame.key = stored
        if self.record is not None:
            self.record((*frame.path, stored), True, line, event.start_mark.column + 1)

    def _start(self, event: Any, is_mapping: bool, yaml: Any) -> None:
        stack = self.stack
        if stack and stack[-1].is_mapping and stack[-1].key is _NO_KEY:
            raise _fail(event, KEY_NOT_SCALAR)
        if event.anchor is not None:
            raise _fail(event, ALIAS)
        if event.tag not in (None, "!") and event.tag not in _COLLECTION_TAGS:
            raise _fail(event, TAG)
        if len(stack) >= self.max_depth:
            if not self.mark_deep:
                raise _fail(event, too_deep(self.max_depth), kind="too-deep")
            _skip_collection(self.events, yaml)
            self._place(TooDeep(event.start_mark.line + 1, event.start_mark.column + 1), event)
            return
        container: dict[Any, Any] | list[Any] = {} if is_mapping else []
        path = self._path_of_next() if self.record is not None else ()
        self._place(container, event)
        stack.append(_Frame(container, path))

    def _path_of_next(self) -> Path:
        if not self.stack:
            return ()
        frame = self.stack[-1]
        return (*frame.path, frame.key if frame.is_mapping else len(frame.container))

    def _place(self, value: Any, event: Any) -> None:
        if self.record is not None:
            self.record(self._path_of_next(), False, event.start_mark.line + 1, event.start_mark.column + 1)
        if not self.stack:
            self.root = value
            return
        frame = self.stack[-1]
        if frame.is_mapping:
            frame.container[frame.key] = value  # type: ignore[call-overload]
            frame.key = _NO_KEY
        else:
            frame.container.append(value)  # type: ignore[union-attr]


def _skip_collection(events: Any, yaml: Any) -> None:
    """Consume events up to the end of the collection whose start was just read, building nothing."""
    level = 1
    while level:
        event = events.get_event()
        if isinstance(event, yaml.MappingStartEvent | yaml.SequenceStartEvent):
            level += 1
        elif isinstance(event, yaml.MappingEndEvent | yaml.SequenceEndEvent):
            level -= 1


def _explain(exc: Any, text: str) -> DocumentError:
    mark = exc.problem_mark or exc.context_mark
    line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
    said = f"{exc.context or ''} {exc.problem or ''}".lower()
    if "cannot start any token" in said and mark is not None and _char_at(text, mark.line, mark.column) == "\t":
        said = "tab character"
    problem = next((plain for phrases, plain in _YAML_PROBLEMS if any(p.lower() in said for p in phrases)), None)
    return DocumentError(line, column, problem or _YAML_DEFAULT)


def _char_at(text: str, line: int, column: int) -> str:
    lines = text.split("\n", line + 1)
    return lines[line][column : column + 1] if line < len(lines) else ""


def _position(text: str, offset: int | None) -> tuple[int, int]:
    """Line and column (from 1) of a character offset into `text`."""
    if offset is None or not 0 <= offset <= len(text):
        return 1, 1
    line = text.count("\n", 0, offset) + 1
    return line, offset - (text.rfind("\n", 0, offset) + 1) + 1


# JSON

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
                line, column = _position(text, match.start())
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
                line, column = _position(text, previous.start())
                return DocumentError(line, column, DUPLICATE_KEY, key=name, depth=len(stack), kind="duplicate-key")
            stack[-1].add(name)
        previous = match if char == '"' else None
    return DocumentError(1, 1, DUPLICATE_KEY, kind="duplicate-key")
