"""Every error syncd raises, classified by what the run should do about it.

    SyncdError
    ├── ConfigError            manifest, flags, references: fatal before any call
    ├── ConnectorError(target, address)
    │   ├── TransientError     throttling, 5xx, timeouts: retried with backoff
    │   └── PermanentError     auth, permission, missing source: reported, not retried
    │       └── SourceError    a source path that cannot be read (missing, empty, denied)
    └── StalePlanError         a saved plan no longer matches the world

Messages never contain a secret value: they name targets, addresses,
operations and codes, nothing else.
"""

from __future__ import annotations


class SyncdError(Exception):
    """Base of every error syncd raises on purpose."""


class ConfigError(SyncdError):
    """Bad manifest, flag or reference; raised before any network call.

    `where` is "file:line:column" when the problem has a position.
    """

    def __init__(self, message: str, where: str | None = None) -> None:
        self.message = message
        self.where = where
        super().__init__(f"{where}: {message}" if where else message)


class ConnectorError(SyncdError):
    """A connector call failed; names the target and, when known, the item."""

    def __init__(self, message: str, *, target: str | None = None, address: str | None = None) -> None:
        self.message = message
        self.target = target
        self.address = address
        super().__init__(message)

    def __str__(self) -> str:
        parts = []
        if self.target:
            parts.append(f"target {self.target!r}")
        if self.address:
            parts.append(f"item {self.address!r}")
        prefix = ", ".join(parts)
        return f"{prefix}: {self.message}" if prefix else self.message


class TransientError(ConnectorError):
    """Worth retrying: throttling, server errors, timeouts, a sealed Vault."""


class PermanentError(ConnectorError):
    """Retrying will not help: auth, permissions, validation, ownership."""


class SourceError(PermanentError):
    """A source path that is missing, empty or unreadable: an error for its sync, never a delete."""


class StalePlanError(SyncdError):
    """A saved plan was made against a world that has moved since."""
