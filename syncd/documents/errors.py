"""What every document parser here shares: `DocumentError`, a problem at a line and a column in one sentence
of this package's fixed vocabulary (never text of the document), and the depth limit."""

from __future__ import annotations

from typing import Any, Literal

MAX_DEPTH = 100

Kind = Literal["syntax", "too-deep", "duplicate-key"]

Path = tuple[str | int, ...]

DUPLICATE_KEY = "a key appears twice in one mapping"


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


def too_deep(max_depth: int) -> str:
    return f"the document is nested more than {max_depth} levels deep"


def position(text: str, offset: int | None) -> tuple[int, int]:
    """Line and column (from 1) of a character offset into `text`."""
    if offset is None or not 0 <= offset <= len(text):
        return 1, 1
    line = text.count("\n", 0, offset) + 1
    return line, offset - (text.rfind("\n", 0, offset) + 1) + 1
