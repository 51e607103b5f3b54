"""YAML a person wrote: the one document in a text, built from libyaml's events (`yaml_events`), with what
is nested past libyaml's own limit set apart (`yaml_depth`), and the parsers' messages replaced by plain ones:
they are never shown, since they can quote the document (PyYAML's "found undefined alias 'x'" holds the text
after a `*`, which may be a password)."""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any

from syncd.documents.errors import MAX_DEPTH, DocumentError, position
from syncd.documents.yaml_depth import (
    MAX_DEEP_BLOCK_PARTS,
    TOO_MANY_DEEP_PARTS,
    blank_deep_brackets,
    blank_deep_part,
    first_too_deep,
)
from syncd.documents.yaml_events import UNREADABLE, Builder, Recorder

# Plain explanations of the parsers' problems, found by a phrase of PyYAML's or libyaml's message.
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


def _loader_class() -> Any:
    import yaml

    return getattr(yaml, "CSafeLoader", yaml.SafeLoader)


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
        builder = Builder(events, scalar, key, max_depth, mark_deep, record, blanks)
        try:
            builder.run(yaml)
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            if mark is None or "nesting depth" not in f"{exc.context} {exc.problem}":
                raise _explain(exc, source) from None
            if not mark_deep:
                raise first_too_deep(source, mark, scalar, key, max_depth, loader, yaml) from None
            if not blanks:
                # Every run of brackets deeper than libyaml goes is blanked at once, so a file of many deep parts
                # is parsed again once, not once per part; what is left (deep block collections) is found one by one.
                source = blank_deep_brackets(source, max_depth, blanks)
                if blanks:
                    continue
            block_parts += 1
            if block_parts > MAX_DEEP_BLOCK_PARTS:
                line, column = mark.line + 1, mark.column + 1
                raise DocumentError(line, column, TOO_MANY_DEEP_PARTS, kind="too-deep") from None
            source = blank_deep_part(source, mark, scalar, key, max_depth, loader, yaml, blanks)
            continue
        except yaml.YAMLError as exc:
            line, column = position(source, getattr(exc, "position", None))
            raise DocumentError(line, column, _CONTROL) from None
        finally:
            events.dispose()
        unseen = sorted(set(blanks) - builder.seen)
        if unseen:
            line, column = position(source, unseen[0])
            raise DocumentError(line, column, UNREADABLE, kind="too-deep")
        return builder.root


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
