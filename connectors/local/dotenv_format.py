"""The dotenv text syncd reads (file source) and writes (dotenv sink).

The grammar is in docs/connectors.md ("Formats" of the `file` source); the dialects a value is written for, and
why `portable` refuses what it does, in "Quoting and dialects". Errors name a line, never its text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

_ASSIGNMENT = re.compile(r"[ \t]*(?:export[ \t]+)?([A-Za-z_][A-Za-z0-9_.-]*)[ \t]*=")
_PHYSICAL_LINE = re.compile(r"[^\n]*\n|[^\n]+")
# Text up to the closing double quote: a backslash escapes the character after it.
_TO_DOUBLE_QUOTE = re.compile(r'(?:[^"\\]|\\.)*"', re.DOTALL)
_UNESCAPES = {"n": "\n", "r": "\r", "t": "\t", '"': '"', "\\": "\\"}
_SH_QUOTE = "\\''"
# What python-dotenv's default interpolation replaces, in any quotes.
_PYTHON_DOTENV_EXPANDS = re.compile(r"\$\{[^}]*\}")

Dialect = Literal["portable", "sh", "docker-env-file"]
DIALECTS: tuple[Dialect, ...] = ("portable", "sh", "docker-env-file")


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


def parse(text: str, *, raw: bool = False) -> list[Entry]:
    """Every entry of `text` in order; joining their `raw` gives `text` back exactly. A variable set twice is an
    error on its second line. With `raw`, a value is the rest of its line as it stands, as Docker's `--env-file`
    reads it."""
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
        column = len(line) - len(quoted) + 1  # where the value starts
        if raw:
            value = rest.removesuffix("\n").removesuffix("\r")
        elif quoted[:1] in ("'", '"'):
            quote, body = quoted[0], quoted[1:]
            parts: list[str] = []
            searched = part_start = 0
            while True:
                end = _closing_quote(body, quote, searched)
                if end is None:
                    if index == len(lines):
                        raise DotenvSyntaxError(start + 1, "a quoted value has no closing quote", column)
                    # Each line ends in a newline, so no escape runs over into the next one.
                    searched = len(body)
                    body += lines[index]
                    index += 1
                    continue
                parts.append(body[part_start:end])
                # sh's `'it'\''s'`: a quote between two single-quoted parts.
                if quote == "'" and body.startswith(_SH_QUOTE, end + 1):
                    parts.append("'")
                    searched = part_start = end + 1 + len(_SH_QUOTE)
                    continue
                break
            tail = body[end + 1 :].strip()
            if tail and not tail.startswith("#"):
                raise DotenvSyntaxError(start + 1, "unexpected text after the closing quote", column)
            value = "".join(parts) if quote == "'" else _unescape("".join(parts))
        else:
            value = re.split(r"[ \t]#", rest, maxsplit=1)[0].strip(" \t\r\n")
        entries.append(Entry(start + 1, "".join(lines[start:index]), match.group(1), value))
    first: dict[str, int] = {}
    for entry in entries:
        if entry.key is not None and first.setdefault(entry.key, entry.line) != entry.line:
            again = f"variable {entry.key!r} is set again (first on line {first[entry.key]})"
            raise DotenvSyntaxError(entry.line, again)
    return entries


def unwritable(value: str, dialect: Dialect) -> str | None:
    """Why `dialect` cannot hold `value` so that its readers get it back exactly, or None; never quotes it."""
    if "\0" in value:
        return "a NUL character, which a file of environment variables cannot hold"
    if dialect == "sh":
        return None
    if dialect == "docker-env-file":
        if "\n" in value or "\r" in value:
            return "a line break, which Docker's --env-file cannot hold (it has no quoting)"
        return None
    if "\r" in value:
        return "a carriage return, which python-dotenv reads as a line break"
    if _PYTHON_DOTENV_EXPANDS.search(value):
        return "'${' ... '}', which python-dotenv expands even inside quotes"
    if not _fits_single_quotes(value) and ("$" in value or "`" in value):
        return (
            "a single quote, a double backslash or a final backslash together with '$' or '`': "
            "sh, Compose and python-dotenv read no quoting of it alike"
        )
    return None


def format_assignment(key: str, value: str, dialect: Dialect = "portable") -> str:
    """The line `KEY='value'`, without a line ending, written so that `dialect`'s readers, and `parse`, read the value
    back exactly. Raises ValueError (saying why, never quoting the value) when `dialect` cannot hold it."""
    problem = unwritable(value, dialect)
    if problem is not None:
        raise ValueError(f"the value holds {problem}")
    if dialect == "docker-env-file":
        quoted = value
    elif dialect == "sh":
        quoted = "'" + value.replace("'", "'" + _SH_QUOTE) + "'"
    elif _fits_single_quotes(value):
        quoted = f"'{value}'"
    else:
        # No '$' or '`' here: inside double quotes sh, Compose and python-dotenv then only read `\\` and `\"`.
        quoted = '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return f"{key}={quoted}"


def _fits_single_quotes(value: str) -> bool:
    # sh takes single quotes literally; python-dotenv reads `\\` and `\'` in them as escapes, and Compose
    # reads a backslash before the closing quote as escaping it.
    return "'" not in value and "\\\\" not in value and not value.endswith("\\")


def _closing_quote(body: str, quote: str, start: int) -> int | None:
    if quote == "'":
        end = body.find("'", start)
        return end if end >= 0 else None
    match = _TO_DOUBLE_QUOTE.match(body, start)
    return match.end() - 1 if match else None


def _unescape(body: str) -> str:
    return re.sub(r"\\(.)", lambda m: _UNESCAPES.get(m.group(1), m.group(0)), body, flags=re.DOTALL)
