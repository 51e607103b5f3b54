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

With `mark_deep` (documents made of independent parts, such as a file of
secrets), an anchor, alias, tag or bad key does not fail the document
either: the node holding it (the mapping, for a duplicate or bad key) stands
as a `BadPart` holding the error, and its events are consumed unread.

libyaml stops at 1,000 levels, even inside a part that would be skipped.
PyYAML's own parser is never used instead (its cost grows with the square of
the depth). With `mark_deep`, every run of brackets deeper than 500 is
blanked out of the text at once (to a `~` and spaces, line breaks kept) and
the text parsed again; a deep block collection left over is found where
libyaml stopped (its start from the events, its end by indentation) and
blanked the same way. Each blank must come back as exactly one plain scalar
inside a part skipped as too deep, or where that part stood, or the whole
document is refused (UNREADABLE). Without `mark_deep`, the text up to where
libyaml stopped is parsed again to find the first level past `max_depth`.

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


@dataclass(frozen=True)
class BadPart:
    """Stands for a YAML node that holds something refused (an anchor, an alias, a tag, a key given twice);
    skipped unread and never expanded. `error` says what and where; `collection` whether the node was a mapping
    or a list (else a scalar or an alias)."""

    error: DocumentError
    collection: bool


# libyaml refuses nesting deeper than this, in its scanner, even inside a part that would be skipped.
LIBYAML_DEPTH = 1000
UNREADABLE = (
    f"the document is nested more than {LIBYAML_DEPTH} levels deep here, in a way syncd cannot set apart from the"
    " rest, so no part of the file is read"
)
# Each deep block (indented) part costs one more parse of the whole text: past this many, the file is refused,
# so the work stays linear in its size.
MAX_DEEP_BLOCK_PARTS = 8
TOO_MANY_DEEP_PARTS = (
    f"more than {MAX_DEEP_BLOCK_PARTS} indented parts are nested more than {LIBYAML_DEPTH} levels deep, the last"
    " here, so no part of the file is read"
)


def too_deep(max_depth: int) -> str:
    return f"the document is nested more than {max_depth} levels deep"


def _loader_class() -> Any:
    import yaml

    return getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Frame:
    __slots__ = ("container", "is_mapping", "key", "key_lines", "path", "slot")

    def __init__(self, container: dict[Any, Any] | list[Any], path: Path, slot: tuple[_Frame | None, Any]) -> None:
        self.container = container
        self.path = path
        self.is_mapping = isinstance(container, dict)
        self.key: Any = _NO_KEY
        self.key_lines: dict[Any, int] = {}
        # Where the container stands in its parent (None: the root), so a bad mapping can be replaced.
        self.slot = slot


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
    key and value stood. With `mark_deep`, a part nested past `max_depth` stands as a `TooDeep`, and a part
    holding an anchor, alias, tag or bad key as a `BadPart`, instead of failing the document. Raises
    DocumentError; an empty document is None.
    """
    import yaml

    loader = loader or _loader_class()
    # Collections past libyaml's limit, blanked out of the text: by start offset, what stands in their place.
    blanks: dict[int, Any] = {}
    source = text
    block_parts = 0
    while True:
        events = loader(source)
        builder = _Builder(events, scalar, key, max_depth, mark_deep, record, blanks)
        try:
            builder.run(yaml)
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            if mark is None or "nesting depth" not in f"{exc.context} {exc.problem}":
                raise _explain(exc, source) from None
            if not mark_deep:
                raise _first_too_deep(source, mark, scalar, key, max_depth, loader, yaml) from None
            if not blanks:
                # Every run of brackets deeper than libyaml goes is blanked at once, so a file of many deep parts
                # is parsed again once, not once per part; what is left (deep block collections) is found one by one.
                source = _blank_deep_brackets(source, max_depth, blanks)
                if blanks:
                    continue
            block_parts += 1
            if block_parts > MAX_DEEP_BLOCK_PARTS:
                line, column = mark.line + 1, mark.column + 1
                raise DocumentError(line, column, TOO_MANY_DEEP_PARTS, kind="too-deep") from None
            source = _blank_deep_part(source, mark, scalar, key, max_depth, loader, yaml, blanks)
            continue
        except yaml.YAMLError as exc:
            line, column = _position(source, getattr(exc, "position", None))
            raise DocumentError(line, column, _CONTROL) from None
        finally:
            events.dispose()
        unseen = sorted(set(blanks) - builder.seen)
        if unseen:
            line, column = _position(source, unseen[0])
            raise DocumentError(line, column, UNREADABLE, kind="too-deep")
        return builder.root


def _skipped_at(
    source: str, mark: Any, scalar: Any, key: Any, max_depth: int, loader: Any, yaml: Any
) -> tuple[Any, Any] | None:
    """The start event of the collection being skipped at `mark` (where libyaml gave up), and what stands for it.

    libyaml reads up to 1,024 characters ahead, so it can give up before it has told of the levels above: cut
    at `mark`, the text tells of every level up to the cut, and then fails (a flow collection left open) or
    closes every block collection at its end.
    """
    cut = source[: mark.index]
    events = loader(cut)
    builder = _Builder(events, scalar, key, max_depth, True, None, {})
    try:
        builder.run(yaml)
    except (yaml.YAMLError, DocumentError):
        pass
    finally:
        events.dispose()
    if builder.skipping is not None:
        return builder.skipping
    if builder.last_skip is not None and builder.last_skip[2] >= len(cut.rstrip()):
        return builder.last_skip[:2]
    return None


def _first_too_deep(
    source: str, mark: Any, scalar: Any, key: Any, max_depth: int, loader: Any, yaml: Any
) -> DocumentError:
    """The first problem before `mark`, where libyaml stopped at its own depth limit: the first level past
    `max_depth` (or an earlier problem), else that mark, in this module's words."""
    events = loader(source[: mark.index])
    builder = _Builder(events, scalar, key, max_depth, False, None, {})
    try:
        builder.run(yaml)
    except DocumentError as exc:
        return exc
    except yaml.YAMLError:
        pass
    finally:
        events.dispose()
    return DocumentError(mark.line + 1, mark.column + 1, too_deep(max_depth), kind="too-deep")


def _blank_deep_part(
    source: str, mark: Any, scalar: Any, key: Any, max_depth: int, loader: Any, yaml: Any, blanks: dict[int, Any]
) -> str:
    """`source` with the collection that holds `mark` (one being skipped) blanked out, recorded in `blanks`.

    The collection becomes a plain `~` followed by spaces, line breaks kept, so every other position stays.
    Raises DocumentError (UNREADABLE) when no such collection is found.
    """
    skipping = _skipped_at(source, mark, scalar, key, max_depth, loader, yaml)
    unreadable = DocumentError(mark.line + 1, mark.column + 1, UNREADABLE, kind="too-deep")
    if skipping is None:
        raise unreadable
    event, stands_for = skipping
    start = event.start_mark.index
    if start in blanks:
        raise unreadable
    if event.flow_style:
        end = _end_of_flow(source, start)
    else:
        end = _end_of_block(source, start, event.start_mark.column, isinstance(event, yaml.SequenceStartEvent))
    if end is None or end <= mark.index:
        raise unreadable
    blanks[start] = stands_for
    kept = _LINE_BREAKS.sub(" ", source[start + 1 : end])
    return f"{source[:start]}~{kept}{source[end:]}"


def _blank_deep_brackets(source: str, max_depth: int, blanks: dict[int, Any]) -> str:
    """`source` with each flow collection that starts `_BRACKETS_KEPT` brackets deep in a run of brackets blanked
    out (recorded in `blanks` as standing for nothing: each must fall inside a part skipped as too deep)."""
    kept = max(max_depth + 1, _BRACKETS_KEPT)
    parts: list[str] = []
    done = depth = 0
    start = -1
    for match in _FLOW_TOKEN.finditer(source):
        char = source[match.start()]
        if char in "[{":
            depth += 1
            if depth == kept:
                start = match.start()
        elif char in "]}":
            if depth == kept and start >= done:
                parts += [source[done:start], "~", _LINE_BREAKS.sub(" ", source[start + 1 : match.end()])]
                blanks[start] = None
                done = match.end()
            depth = max(depth - 1, 0)
    parts.append(source[done:])
    return "".join(parts)


# How many brackets deep a run of brackets is kept when libyaml's limit is reached: room for block levels above.
_BRACKETS_KEPT = LIBYAML_DEPTH // 2
_LINE_BREAKS = re.compile("[^\n\r\x85\u2028\u2029]")
# In a flow collection: a quoted scalar (where a scalar can start), a comment, or a bracket.
_FLOW_TOKEN = re.compile(r"""(?<![^\s\[\]{},:])(?:"(?:[^"\\]|\\.)*"|'(?:[^']|'')*'|\#[^\n\r]*)|[\[\]{}]""", re.DOTALL)


def _end_of_flow(source: str, start: int) -> int | None:
    """The offset just past the bracket that closes the flow collection opening at `start`."""
    depth = 0
    for match in _FLOW_TOKEN.finditer(source, start):
        char = source[match.start()]
        if char in "[{":
            depth += 1
        elif char in "]}":
            depth -= 1
            if depth == 0:
                return match.end()
    return None


def _end_of_block(source: str, start: int, column: int, is_sequence: bool) -> int:
    """The start of the first line after `start` that is outside the block collection starting there, at
    `column`: one indented less, or, for a list, as much but not one of its items (end of text if none).

    A mapping goes on over a list item at its own column: a list that is the value of its last key."""
    position = source.find("\n", start)
    while position != -1:
        line_start = position + 1
        position = source.find("\n", line_start)
        line = source[line_start : len(source) if position == -1 else position]
        content = line.lstrip(" ")
        if not content.strip() or content.startswith("#"):
            continue
        indent = len(line) - len(content)
        is_entry = content[0] == "-" and content[1:2] in ("", " ", "\r", "\t")
        if indent < column or (indent == column and is_sequence and not is_entry):
            return line_start
    return len(source)


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
        blanks: dict[int, Any],
    ) -> None:
        self.events = events
        self.scalar = scalar
        self.key = key
        self.max_depth = max_depth
        self.mark_deep = mark_deep
        self.record = record
        self.blanks = blanks
        self.seen: set[int] = set()
        # The start event of the collection being skipped, and what stands for it; None when not skipping.
        self.skipping: tuple[Any, Any] | None = None
        # The last collection skipped, what stands for it and where it ended.
        self.last_skip: tuple[Any, Any, int] | None = None
        self.root: Any = None
        self.stack: list[_Frame] = []

    def run(self, yaml: Any) -> None:
        scalar_event, alias_event = yaml.ScalarEvent, yaml.AliasEvent
        mapping_start, sequence_start = yaml.MappingStartEvent, yaml.SequenceStartEvent
        mapping_end, sequence_end = yaml.MappingEndEvent, yaml.SequenceEndEvent
        document_start, stream_end = yaml.DocumentStartEvent, yaml.StreamEndEvent
        resolve, scalar_node = self.events.resolve, yaml.ScalarNode
        stack = self.stack
        blanks = self.blanks
        documents = 0
        while True:
            event = self.events.get_event()
            kind = event.__class__
            if kind is scalar_event:
                if blanks and event.start_mark.index in blanks:
                    self._blank(event)
                    continue
                if event.anchor is not None:
                    self._refuse(event, _fail(event, ALIAS), yaml)
                    continue
                tag = event.tag
                if tag is None or tag == "!":
                    tag = resolve(scalar_node, event.value, event.implicit)
                if stack and stack[-1].is_mapping and stack[-1].key is _NO_KEY:
                    self._key(tag, event, yaml)
                elif tag not in _SCALAR_TAGS:
                    self._refuse(event, _fail(event, TAG), yaml)
                else:
                    self._place(self.scalar(tag, event.value, event), event)
            elif kind is mapping_end or kind is sequence_end:
                stack.pop()
            elif kind is mapping_start or kind is sequence_start:
                self._start(event, kind is mapping_start, yaml)
            elif kind is alias_event:
                self._refuse(event, _fail(event, ALIAS), yaml)
            elif kind is document_start:
                documents += 1
                if documents > 1:
                    raise _fail(event, SEVERAL_DOCUMENTS)
            elif event is None or kind is stream_end:
                return

    def _blank(self, event: Any) -> None:
        """A blanked-out collection's `~`: it must stand exactly where the collection did, at the same depth."""
        start = event.start_mark.index
        stands_for = self.blanks[start]
        stack = self.stack
        exact = event.value == "~" and event.end_mark.index == start + 1
        in_key = bool(stack) and stack[-1].is_mapping and stack[-1].key is _NO_KEY
        misplaced = stands_for is None or (isinstance(stands_for, TooDeep) and len(stack) != self.max_depth)
        if not exact or in_key or misplaced:
            raise _fail(event, UNREADABLE, kind="too-deep")
        self.seen.add(start)
        self._place(stands_for, event)

    def _refuse(self, event: Any, error: DocumentError, yaml: Any) -> None:
        """Raise `error`; with `mark_deep`, make the node holding it a BadPart instead: the mapping, when the
        event is one of its keys, else the node the event starts. Its events are consumed unread."""
        if not self.mark_deep:
            raise error
        stack = self.stack
        opens = isinstance(event, yaml.MappingStartEvent | yaml.SequenceStartEvent)
        if stack and stack[-1].is_mapping and stack[-1].key is _NO_KEY:
            frame = stack.pop()
            _skip(self.events, yaml, 2 if opens else 1, self.blanks, self.seen)
            parent, slot = frame.slot
            if parent is None:
                self.root = BadPart(error, collection=True)
            else:
                parent.container[slot] = BadPart(error, collection=True)
            return
        bad = BadPart(error, collection=opens)
        if opens:
            self._skip_part(event, bad, yaml)
        self._place(bad, event)

    def _skip_part(self, event: Any, stands_for: Any, yaml: Any) -> None:
        self.skipping = (event, stands_for)
        end = _skip(self.events, yaml, 1, self.blanks, self.seen)
        self.last_skip = (event, stands_for, end)
        self.skipping = None

    def _key(self, tag: str, event: Any, yaml: Any) -> None:
        if tag == _STANDARD + "merge":
            return self._refuse(event, _fail(event, MERGE), yaml)
        if tag not in _SCALAR_TAGS:
            return self._refuse(event, _fail(event, TAG), yaml)
        frame = self.stack[-1]
        value = self.scalar(tag, event.value, event)
        try:
            stored = self.key(value) if self.key is not None else value
        except RefusedKey:
            return self._refuse(event, _fail(event, KEY_NOT_TEXT), yaml)
        line = event.start_mark.line + 1
        if stored in frame.key_lines:
            first_line = frame.key_lines[stored]
            depth = len(self.stack)
            error = _fail(event, DUPLICATE_KEY, key=stored, first_line=first_line, depth=depth, kind="duplicate-key")
            return self._refuse(event, error, yaml)
        frame.key_lines[stored] = line
        frame.key = stored
        if self.record is not None:
            self.record((*frame.path, stored), True, line, event.start_mark.column + 1)
        return None

    def _start(self, event: Any, is_mapping: bool, yaml: Any) -> None:
        stack = self.stack
        if stack and stack[-1].is_mapping and stack[-1].key is _NO_KEY:
            return self._refuse(event, _fail(event, KEY_NOT_SCALAR), yaml)
        if event.anchor is not None:
            return self._refuse(event, _fail(event, ALIAS), yaml)
        if event.tag not in (None, "!") and event.tag not in _COLLECTION_TAGS:
            return self._refuse(event, _fail(event, TAG), yaml)
        if len(stack) >= self.max_depth:
            if not self.mark_deep:
                raise _fail(event, too_deep(self.max_depth), kind="too-deep")
            deep = TooDeep(event.start_mark.line + 1, event.start_mark.column + 1)
            self._skip_part(event, deep, yaml)
            self._place(deep, event)
            return None
        container: dict[Any, Any] | list[Any] = {} if is_mapping else []
        path = self._path_of_next() if self.record is not None else ()
        slot: tuple[_Frame | None, Any] = (None, None)
        if stack:
            parent = stack[-1]
            slot = (parent, parent.key if parent.is_mapping else len(parent.container))
        self._place(container, event)
        stack.append(_Frame(container, path, slot))
        return None

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


def _skip(events: Any, yaml: Any, level: int, blanks: dict[int, Any], seen: set[int]) -> int:
    """Consume events until `level` open collections are closed, building nothing (aliases are never expanded);
    the offset where the last of them ends. Blanked-out collections met on the way are noted in `seen`."""
    while True:
        event = events.get_event()
        if isinstance(event, yaml.MappingStartEvent | yaml.SequenceStartEvent):
            level += 1
        elif isinstance(event, yaml.MappingEndEvent | yaml.SequenceEndEvent):
            level -= 1
            if not level:
                return int(event.end_mark.index)
        elif isinstance(event, yaml.ScalarEvent):
            start = event.start_mark.index
            if blanks and start in blanks and event.value == "~" and event.end_mark.index == start + 1:
                seen.add(start)
        elif event is None or isinstance(event, yaml.StreamEndEvent):
            return -1


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
