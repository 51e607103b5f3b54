"""Plain data built from a stream of YAML events in one loop, with an explicit stack instead of recursion.

Anchors, aliases and tags other than YAML's standard ones are refused at the first one, before anything is
expanded, so an alias bomb costs nothing; nesting deeper than `max_depth` is refused, or, with `mark_deep`, the
deep part is skipped and stands as a `TooDeep` value so the rest still reads; a key given twice in one mapping
is refused. With `mark_deep` (documents made of independent parts, such as a file of secrets), an anchor,
alias, tag or bad key does not fail the document either: the node holding it (the mapping, for a duplicate or
bad key) stands as a `BadPart` holding the error, and its events are consumed unread.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any

from syncd.documents.errors import DUPLICATE_KEY, DocumentError, Path, too_deep

Recorder = Callable[[Path, bool, int, int], None]
"""Told (path, is_key, line, column) for every key and every value, when positions are wanted."""

_STANDARD = "tag:yaml.org,2002:"
_SCALAR_TAGS = frozenset(_STANDARD + name for name in ("str", "int", "float", "bool", "null", "timestamp", "binary"))
_COLLECTION_TAGS = frozenset(_STANDARD + name for name in ("map", "seq"))

# Plain explanations of what syncd refuses in YAML.
ALIAS = "anchors and aliases ('&name', '*name') are not allowed; quote a value that starts with '&' or '*'"
TAG = "tags ('!name') are not allowed; quote a value that starts with '!'"
MERGE = "merge keys ('<<') are not allowed, since they need aliases"
KEY_NOT_SCALAR = "a mapping key must be a plain value, not a list or a mapping"
KEY_NOT_TEXT = "a mapping key must be text, a number or true/false"
SEVERAL_DOCUMENTS = "the file holds more than one YAML document ('---'); only one is allowed"
# libyaml refuses nesting deeper than this, in its scanner, even inside a part that would be skipped.
LIBYAML_DEPTH = 1000
UNREADABLE = (
    f"the document is nested more than {LIBYAML_DEPTH} levels deep here, in a way syncd cannot set apart from the"
    " rest, so no part of the file is read"
)


class RefusedKey(Exception):
    """Raised by a `key` function of `load_yaml` for a key it does not take; reported as KEY_NOT_TEXT."""


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


def _fail(event: Any, problem: str, **extra: Any) -> DocumentError:
    mark = event.start_mark
    return DocumentError(mark.line + 1, mark.column + 1, problem, **extra)


class Builder:
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
