"""The name template language: how a manifest names the items it writes.

    name: "prod/{sync}/{key|env}"

Literal text with placeholders `{var}` or `{var|filter|...}`; spaces around
names and `|` are ignored, and `{{` / `}}` stand for a literal `{` / `}`.
A template is parsed once by `compile_template`; every mistake is a
`TemplateError` carrying the 1-based column it was found at.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from syncd.errors import ConfigError

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class TemplateError(ConfigError):
    """A name template that cannot be parsed, checked or rendered."""

    def __init__(self, message: str, column: int | None = None, where: str | None = None) -> None:
        self.column = column
        super().__init__(message, where)


def words(text: str) -> list[str]:
    """Split text into words on case changes and on every character that is not a letter or digit.

    "dbPassword" -> ["db", "Password"], "HTTPServer" -> ["HTTP", "Server"],
    "myS3Bucket" -> ["my", "S3", "Bucket"]. Digits stay with the word before them.
    """
    result: list[str] = []
    for chunk in re.split(r"[\W_]+", text):
        start = 0
        for i in range(1, len(chunk)):
            prev, cur = chunk[i - 1], chunk[i]
            nxt = chunk[i + 1] if i + 1 < len(chunk) else ""
            if cur.isupper() and (not prev.isupper() or nxt.islower()):
                result.append(chunk[start:i])
                start = i
        if chunk:
            result.append(chunk[start:])
    return result


def snake(text: str) -> str:
    """Lowercase words joined with '_': "DB-Password" -> "db_password"."""
    return "_".join(w.lower() for w in words(text))


def kebab(text: str) -> str:
    """Lowercase words joined with '-': "dbPassword" -> "db-password"."""
    return "-".join(w.lower() for w in words(text))


def env(text: str) -> str:
    """Uppercase words joined with '_': "db.password" -> "DB_PASSWORD"."""
    return "_".join(w.upper() for w in words(text))


def basename(text: str) -> str:
    """The part after the last '/': "a/b/c" -> "c"."""
    return text.rpartition("/")[2]


def dirname(text: str) -> str:
    """The part before the last '/', "" if none: "a/b/c" -> "a/b"."""
    return text.rpartition("/")[0]


# name -> function; each function's docstring is its one-line description for the docs.
FILTERS: Mapping[str, Callable[[str], str]] = MappingProxyType(
    {
        "upper": str.upper,
        "lower": str.lower,
        "snake": snake,
        "kebab": kebab,
        "env": env,
        "basename": basename,
        "dirname": dirname,
    }
)


def _unknown(kind: str, name: str, known: Collection[str], context: str = "") -> str:
    """'unknown <kind> 'x'<context>; did you mean 'y'? (known: ...)', without a value in sight."""
    choices = sorted(known)
    message = f"unknown {kind} {name!r}{context}"
    match = difflib.get_close_matches(name, choices, n=1)
    if match:
        message += f"; did you mean {match[0]!r}?"
    if kind == "variable" or not match:
        message += f" (known: {', '.join(choices) or 'none'})"
    return message


@dataclass(frozen=True)
class Placeholder:
    """One `{var|filter...}`; `column` is where `var` starts in the template text."""

    name: str
    filters: tuple[str, ...]
    column: int


def _placeholder(text: str, start: int, end: int) -> Placeholder:
    """Parse text[start:end], the inside of a placeholder whose `{` is at start - 1."""
    segments: list[tuple[str, int]] = []
    offset = start
    for raw in text[start:end].split("|"):
        stripped = raw.strip()
        column = offset + (len(raw) - len(raw.lstrip())) + 1
        segments.append((stripped, column))
        offset += len(raw) + 1
    name, column = segments[0]
    if not name and len(segments) == 1:
        raise TemplateError(f"empty placeholder at column {start}", start)
    if not name:
        raise TemplateError(f"missing variable name before '|' at column {column}", column)
    if not _NAME.fullmatch(name):
        raise TemplateError(f"invalid variable name {name!r} at column {column}; use letters, digits and '_'", column)
    for filter_name, filter_column in segments[1:]:
        if not filter_name:
            raise TemplateError(f"empty filter at column {filter_column}", filter_column)
        if filter_name not in FILTERS:
            raise TemplateError(_unknown("filter", filter_name, FILTERS), filter_column)
    return Placeholder(name, tuple(f for f, _ in segments[1:]), column)


def _parse(text: str) -> tuple[str | Placeholder, ...]:
    parts: list[str | Placeholder] = []
    literal: list[str] = []
    i = 0
    while i < len(text):
        char = text[i]
        if char in "{}" and text[i + 1 : i + 2] == char:
            literal.append(char)
            i += 2
        elif char == "}":
            raise TemplateError(f"unmatched '}}' at column {i + 1}; write '}}}}' for a literal '}}'", i + 1)
        elif char == "{":
            close = text.find("}", i + 1)
            inner_open = text.find("{", i + 1)
            if close == -1 or -1 < inner_open < close:
                raise TemplateError(f"unclosed '{{' at column {i + 1}; write '{{{{' for a literal '{{'", i + 1)
            if literal:
                parts.append("".join(literal))
                literal = []
            parts.append(_placeholder(text, i + 1, close))
            i = close + 1
        else:
            literal.append(char)
            i += 1
    if literal:
        parts.append("".join(literal))
    return tuple(parts)


@dataclass(frozen=True)
class Template:
    """A parsed name template. `Template(text)` parses, so a Template is always valid syntax."""

    text: str
    variables: frozenset[str] = field(init=False)
    _parts: tuple[str | Placeholder, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        parts = _parse(self.text)
        object.__setattr__(self, "_parts", parts)
        names = frozenset(p.name for p in parts if isinstance(p, Placeholder))
        object.__setattr__(self, "variables", names)

    @property
    def is_literal(self) -> bool:
        """True when the template has no placeholders: it renders to the same name every time."""
        return not self.variables

    @property
    def placeholders(self) -> tuple[Placeholder, ...]:
        return tuple(p for p in self._parts if isinstance(p, Placeholder))

    def check(self, allowed: Collection[str]) -> None:
        """Raise TemplateError for the first placeholder whose variable is not in `allowed`."""
        for p in self.placeholders:
            if p.name not in allowed:
                raise TemplateError(_unknown("variable", p.name, allowed, " in name template"), p.column)

    def render(self, values: Mapping[str, str]) -> str:
        """Substitute every placeholder, applying its filters left to right."""
        out: list[str] = []
        for part in self._parts:
            if isinstance(part, str):
                out.append(part)
                continue
            if part.name not in values:
                raise TemplateError(f"variable {part.name!r} has no value in name template {self.text!r}", part.column)
            value = values[part.name]
            for name in part.filters:
                value = FILTERS[name](value)
            out.append(value)
        return "".join(out)

    def pattern(self, wildcard: str = "*") -> str:
        """The template with every placeholder as `wildcard`: what any name it renders matches."""
        out = "".join(part if isinstance(part, str) else wildcard for part in self._parts)
        while wildcard * 2 in out:
            out = out.replace(wildcard * 2, wildcard)
        return out


def compile_template(text: str) -> Template:
    """Parse a name template once; raises TemplateError with the column of the first mistake."""
    return Template(text)
