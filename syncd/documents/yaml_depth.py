"""YAML nested deeper than libyaml goes: libyaml stops at 1,000 levels, even inside a part that would be skipped,
and PyYAML's own parser is never used instead (its cost grows with the square of the depth).

With `mark_deep`, every run of brackets deeper than 500 is blanked out of the text at once (to a `~` and
spaces, line breaks kept) and the text parsed again; a deep block collection left over is found where libyaml
stopped (its start from the events, its end by indentation) and blanked the same way. Each blank must come back
as exactly one plain scalar inside a part skipped as too deep, or where that part stood, or the whole document
is refused (UNREADABLE). Without `mark_deep`, the text up to where libyaml stopped is parsed again to find the
first level past `max_depth`.
"""

from __future__ import annotations

import re
from typing import Any

from syncd.documents.errors import DocumentError, too_deep
from syncd.documents.yaml_events import LIBYAML_DEPTH, UNREADABLE, Builder

# Each deep block (indented) part costs one more parse of the whole text: past this many, the file is refused,
# so the work stays linear in its size.
MAX_DEEP_BLOCK_PARTS = 8
TOO_MANY_DEEP_PARTS = (
    f"more than {MAX_DEEP_BLOCK_PARTS} indented parts are nested more than {LIBYAML_DEPTH} levels deep, the last"
    " here, so no part of the file is read"
)


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
    builder = Builder(events, scalar, key, max_depth, True, None, {})
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


def first_too_deep(
    source: str, mark: Any, scalar: Any, key: Any, max_depth: int, loader: Any, yaml: Any
) -> DocumentError:
    """The first problem before `mark`, where libyaml stopped at its own depth limit: the first level past
    `max_depth` (or an earlier problem), else that mark, in this package's words."""
    events = loader(source[: mark.index])
    builder = Builder(events, scalar, key, max_depth, False, None, {})
    try:
        builder.run(yaml)
    except DocumentError as exc:
        return exc
    except yaml.YAMLError:
        pass
    finally:
        events.dispose()
    return DocumentError(mark.line + 1, mark.column + 1, too_deep(max_depth), kind="too-deep")


def blank_deep_part(
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


def blank_deep_brackets(source: str, max_depth: int, blanks: dict[int, Any]) -> str:
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
