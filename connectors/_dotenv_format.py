"""The dotenv dialect syncd reads (file source) and writes (dotenv sink).

One entry per line, except that a quoted value may run over several lines:

* blank lines, and lines whose first non-blank character is `#`;
* `KEY=VALUE` or `export KEY=VALUE`, spaces allowed around `=`; a key is a
  letter or `_` followed by letters, digits, `_`, `.` or `-`.

A value is single-quoted (taken literally), double-quoted (`\\n`, `\\r`,
`\\t`, `\\"` and `\\\\` are escapes; any other backslash is kept as
written) or unquoted (trimmed; a `#` after a space starts a comment). There
is no variable expansion: `$` is an ordinary character.

Errors carry a line number and a problem, never the text of the line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_ASSIGNMENT = re.compile(r"[ \t]*(?:export[ \t]+)?([A-Za-z_][A-Za-z0-9_.-]*)[ \t]*=")
_PHYSICAL_LINE = re.compile(r"[^\n]*\n|[^\n]+")
_UNESCAPES = {"n": "\n", "r": "\r", "t": "\t", '"': '"', "\\": "\\"}
_ESCAPES = str.maketrans({"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"})


class DotenvSyntaxError(ValueError):
    """A line that is not dotenv; the message names the line (and column), never its text."""

    def __init__(self, line: int, problem: str, column: int = 1) -> None:
        self.line = line
        self.column = column
        self.problem = problem
        super().__init__(f"line {line}: {problem}")


@dataclass(frozen=True)
class Entry:
    """One entry of a dotenv text: an assignment, or a blank or comment line (`key` None)."""

    line: int
    raw: str
    key: str | None = None
    value: str | None = None


def parse(text: str) -> list[Entry]:
    """Every entry of `text` in order; joining their `raw` gives `text` back exactly."""
    lines = _PHYSICAL_LINE.findall(text)
    entries: list[Entry] = []
    index = 0
    while index < len(lines):
        start = index
        line = lines[index]
        index += 1
        if not line.strip() or line.lstrip().startswith("#"):
            entries.append(Entry(start + 1, line))
            continue
        match = _ASSIGNMENT.match(line)
        if match is None:
            column = len(line) - len(line.lstrip(" \t")) + 1
            raise DotenvSyntaxError(start + 1, "expected KEY=value, a comment or a blank line", column)
        # Spaces before a value are not kept, but they tell `KEY= #comment` from `KEY=#value`.
        rest = line[match.end() :]
        quoted = rest.lstrip(" \t")
        if quoted[:1] in ("'", '"'):
            quote, body = quoted[0], quoted[1:]
            searched = 0
            while (end := _closing_quote(body, quote, searched)) is None:
                if index == len(lines):
                    column = len(line) - len(quoted) + 1
                    raise DotenvSyntaxError(start + 1, "a quoted value has no closing quote", column)
                # Each line ends in a newline, so no escape runs over into the next one.
                searched = len(body)
                body += lines[index]
                index += 1
            tail = body[end + 1 :].strip()
            if tail and not tail.startswith("#"):
                column = len(line) - len(quoted) + 1
                raise DotenvSyntaxError(start + 1, "unexpected text after the closing quote", column)
            value = body[:end] if quote == "'" else _unescape(body[:end])
        else:
            value = re.split(r"[ \t]#", rest, maxsplit=1)[0].strip(" \t\r\n")
        entries.append(Entry(start + 1, "".join(lines[start:index]), match.group(1), value))
    return entries


def parse_variables(text: str) -> dict[str, str]:
    """The variables of `text`; a variable set twice is an error on the second line."""
    found: dict[str, str] = {}
    first_line: dict[str, int] = {}
    for entry in parse(text):
        if entry.key is None or entry.value is None:
            continue
        if entry.key in found:
            raise DotenvSyntaxError(
                entry.line, f"variable {entry.key!r} is set again (first on line {first_line[entry.key]})"
            )
        found[entry.key] = entry.value
        first_line[entry.key] = entry.line
    return found


def format_value(value: str) -> str:
    """`value` quoted so that `parse` reads it back exactly, on one line."""
    if any(c in value for c in "'\\\n\r"):
        return '"' + value.translate(_ESCAPES) + '"'
    return f"'{value}'"


def format_assignment(key: str, value: str) -> str:
    """The line `KEY='value'`, without a line ending."""
    return f"{key}={format_value(value)}"


def _closing_quote(body: str, quote: str, start: int) -> int | None:
    if quote == "'":
        end = body.find("'", start)
        return end if end >= 0 else None
    escaped = False
    for position in range(start, len(body)):
        char = body[position]
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == '"':
            return position
    return None


def _unescape(body: str) -> str:
    return re.sub(r"\\(.)", lambda m: _UNESCAPES.get(m.group(1), m.group(0)), body, flags=re.DOTALL)
