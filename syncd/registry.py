"""Connector plugins: found through the entry-point group `syncd.connectors`, imported on first use.

Built-in connectors register exactly as a third party's would. A plugin
whose SDK is missing is reported with the pip command that installs it.
Importing this module imports no connector and no pydantic model, so a
command that needs no connector (`syncd version`) starts fast.
"""

from __future__ import annotations

import difflib
import importlib
import threading
from collections.abc import Mapping
from importlib.metadata import entry_points
from typing import TYPE_CHECKING

from syncd.errors import ConfigError

if TYPE_CHECKING:
    from syncd.connector import ConnectorSpec

GROUP = "syncd.connectors"

# SDK module → the extra of this package that installs it.
_EXTRAS = {
    "boto3": "aws",
    "botocore": "aws",
    "hvac": "vault",
    "kubernetes": "kubernetes",
    "gitlab": "gitlab",
}


def did_you_mean(word: str, choices: list[str] | tuple[str, ...] | set[str]) -> str:
    """'; did you mean 'x'?' when a close match exists, else ''."""
    close = difflib.get_close_matches(word, sorted(choices), n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


class Registry:
    """Connector names mapped to lazily imported specs."""

    def __init__(self, entries: Mapping[str, str | ConnectorSpec] | None = None) -> None:
        self._entries: dict[str, str | ConnectorSpec] = {}
        self._lock = threading.Lock()
        if entries is None:
            for ep in entry_points(group=GROUP):
                self._add(ep.name, ep.value)
        else:
            for name, entry in entries.items():
                self._add(name, entry)

    def _add(self, name: str, entry: str | ConnectorSpec) -> None:
        if name in self._entries and self._entries[name] != entry:
            raise ConfigError(f"two plugins register the connector {name!r}; uninstall one of them")
        self._entries[name] = entry

    def register(self, spec: ConnectorSpec) -> None:
        """Add a connector programmatically (tests, embedding); a duplicate name is an error."""
        with self._lock:
            if spec.name in self._entries:
                raise ConfigError(f"a connector named {spec.name!r} is already registered")
            self._entries[spec.name] = spec

    def names(self) -> list[str]:
        return sorted(self._entries)

    def get(self, name: str) -> ConnectorSpec:
        entry = self._entries.get(name)
        if entry is None:
            known = ", ".join(self.names()) or "none"
            raise ConfigError(f"unknown connector type {name!r}{did_you_mean(name, self.names())} (known: {known})")
        if not isinstance(entry, str):
            return entry
        spec = self._import(name, entry)
        with self._lock:
            self._entries[name] = spec
        return spec

    @staticmethod
    def _import(name: str, target: str) -> ConnectorSpec:
        from syncd.connector import ConnectorSpec

        module_name, _, attr = target.partition(":")
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            missing = (exc.name or "").split(".")[0]
            if missing and not module_name.startswith(missing):
                extra = _EXTRAS.get(missing)
                hint = f"pip install 'syncd[{extra}]'" if extra else f"pip install {missing}"
                raise ConfigError(
                    f"connector {name!r} needs the Python package {missing!r}, which is not installed: {hint}"
                ) from None
            raise ConfigError(f"connector {name!r} cannot be imported from {module_name!r}") from None
        spec = getattr(module, attr or "spec", None)
        if not isinstance(spec, ConnectorSpec):
            raise ConfigError(f"connector {name!r}: {target!r} is not a ConnectorSpec")
        return spec


_default: Registry | None = None


def default_registry() -> Registry:
    global _default
    if _default is None:
        _default = Registry()
    return _default
