"""YAML loading that remembers where every key and value stood, and refuses duplicate keys."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

from syncd.errors import ConfigError

Path = tuple[str | int, ...]


@dataclass(frozen=True)
class Position:
    line: int
    column: int


@dataclass
class Located:
    """Plain Python data plus the position of each value and each mapping key, by path."""

    data: Any
    file: str
    values: dict[Path, Position] = field(default_factory=dict)
    keys: dict[Path, Position] = field(default_factory=dict)

    def where(self, path: Path) -> str:
        """'file:line:column' of the deepest part of `path` in the document: its key where it has one."""
        for depth in range(len(path), -1, -1):
            prefix = path[:depth]
            pos = self.keys.get(prefix) or self.values.get(prefix)
            if pos:
                return f"{self.file}:{pos.line}:{pos.column}"
        return f"{self.file}:1:1"


def _position(node: yaml.Node) -> Position:
    return Position(node.start_mark.line + 1, node.start_mark.column + 1)


class _Builder:
    def __init__(self, loader: yaml.SafeLoader, located: Located) -> None:
        self.loader = loader
        self.located = located

    def build(self, node: yaml.Node, path: Path) -> Any:
        self.located.values[path] = _position(node)
        if isinstance(node, yaml.MappingNode):
            self.loader.flatten_mapping(node)
            result: dict[Any, Any] = {}
            for key_node, value_node in node.value:
                key = self.loader.construct_object(key_node, deep=True)
                if not isinstance(key, str | int | float | bool) or key is None:
                    raise ConfigError("a mapping key must be a plain scalar", self._at(key_node))
                key = str(key) if not isinstance(key, str) else key
                if key in result:
                    first = self.located.keys[(*path, key)]
                    raise ConfigError(
                        f"duplicate key {key!r} (first at line {first.line}); YAML would silently keep the last",
                        self._at(key_node),
                    )
                self.located.keys[(*path, key)] = _position(key_node)
                result[key] = self.build(value_node, (*path, key))
            return result
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, (*path, index)) for index, item in enumerate(node.value)]
        return self.loader.construct_object(node, deep=True)

    def _at(self, node: yaml.Node) -> str:
        pos = _position(node)
        return f"{self.located.file}:{pos.line}:{pos.column}"


def load(text: str, file: str) -> Located:
    """Parse one YAML document; errors name file:line:column and never quote the document's text."""
    located = Located(data=None, file=file)
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        located.data = _Builder(loader, located).build(node, ()) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{file}:{mark.line + 1}:{mark.column + 1}" if mark else file
        raise ConfigError(f"invalid YAML: {exc.problem or exc.context}", where) from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"invalid YAML: {type(exc).__name__}", file) from None
    finally:
        loader.dispose()
    return located
