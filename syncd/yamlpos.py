"""Manifest YAML: loaded in one pass through `syncd.documents` (no anchors, aliases, tags or duplicate keys),
with the position of every key and value found again only when a message needs one."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import Any

from syncd import documents
from syncd.errors import ConfigError

Path = tuple[str | int, ...]

# A manifest is a few levels deep (syncs[0].to[0].tags.KEY); connector options add a few more.
MAX_DEPTH = 32


@dataclass(frozen=True)
class Position:
    line: int
    column: int


@dataclass
class Located:
    """Plain Python data, and the position of each value and each mapping key by path, found when first asked."""

    data: Any
    file: str
    text: str = field(default="", repr=False)
    _values: dict[Path, Position] | None = field(default=None, repr=False)
    _keys: dict[Path, Position] | None = field(default=None, repr=False)

    @property
    def values(self) -> dict[Path, Position]:
        self._find_positions()
        assert self._values is not None
        return self._values

    @property
    def keys(self) -> dict[Path, Position]:
        self._find_positions()
        assert self._keys is not None
        return self._keys

    def where(self, path: Path) -> str:
        """'file:line:column' of the deepest part of `path` in the document: its key where it has one."""
        keys, values = self.keys, self.values
        for depth in range(len(path), -1, -1):
            prefix = path[:depth]
            pos = keys.get(prefix) or values.get(prefix)
            if pos:
                return f"{self.file}:{pos.line}:{pos.column}"
        return f"{self.file}:1:1"

    def _find_positions(self) -> None:
        # Parsing again costs as much as the first load, and happens only when a message needs a position:
        # a large valid manifest keeps no position at all.
        if self._values is not None:
            return
        values: dict[Path, Position] = {}
        keys: dict[Path, Position] = {}

        def record(path: Path, is_key: bool, line: int, column: int) -> None:
            (keys if is_key else values)[path] = Position(line, column)

        with contextlib.suppress(documents.DocumentError):
            _parse(self.text, record)
        self._values, self._keys = values, keys


def _scalar_maker() -> Any:
    import yaml

    constructor = yaml.constructor.SafeConstructor()
    made = constructor.yaml_constructors
    str_tag = "tag:yaml.org,2002:str"

    def scalar(tag: str, value: str, event: Any) -> Any:
        if tag == str_tag:
            return value
        node = yaml.ScalarNode(tag, value, event.start_mark, event.end_mark, event.style)
        return made[tag](constructor, node)

    return scalar


def _key(key: Any) -> str:
    if isinstance(key, str):
        return key
    if isinstance(key, bool | int | float):
        return str(key)
    raise documents.RefusedKey()  # a null, a date or binary data: no manifest key is one


def _parse(text: str, record: documents.Recorder | None = None) -> Any:
    return documents.load_yaml(text, _scalar_maker(), key=_key, max_depth=MAX_DEPTH, record=record)


def load(text: str, file: str) -> Located:
    """Parse one YAML document; errors name file:line:column, say what is wrong plainly and quote nothing."""
    try:
        data = _parse(text)
    except documents.DocumentError as exc:
        where = f"{file}:{exc.line}:{exc.column}"
        if exc.kind == "duplicate-key":
            raise ConfigError(
                f"duplicate key {exc.key!r} (first at line {exc.first_line}); YAML would silently keep the last", where
            ) from None
        raise ConfigError(f"invalid YAML: {exc.problem}", where) from None
    return Located(data, file, text)
