"""Every error syncd raises, classified by what the run should do about it.

    SyncdError
    ├── ConfigError            manifest, flags, references: fatal before any call
    ├── ConnectorError(target, address)
    │   ├── TransientError     throttling, 5xx, timeouts: retried with backoff (and the server's Retry-After)
    │   └── PermanentError     auth, permission, missing source: reported, not retried
    │       ├── SourceError    a source path that cannot be read (missing, empty, denied)
    │       └── ItemMoved      an item changed between the plan and its write: apply re-plans a write once
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
    """Worth retrying: throttling, server errors, timeouts, a sealed Vault.

    `retry_after` is the wait in seconds the server asked for (an HTTP `Retry-After`), when it said one; the
    core waits at least that long before the next attempt.
    """

    def __init__(
        self, message: str, *, target: str | None = None, address: str | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(message, target=target, address=address)
        self.retry_after = retry_after


class PermanentError(ConnectorError):
    """Retrying will not help: auth, permissions, validation, ownership."""


class SourceError(PermanentError):
    """A source path that is missing, empty or unreadable: an error for its sync, never a delete."""


class ItemMoved(PermanentError):
    """The item is no longer as the plan saw it (another writer changed its value, version or marker since).
    A sink raises it and never retries itself. For a write, apply observes and diffs that one item again
    (`syncd.apply.replan`) and writes once more only when nothing syncd compares moved but the version (a NOOP
    when it is already as wanted); otherwise, and for a delete, the change fails and the next run plans it from
    what is there then."""


class StalePlanError(SyncdError):
    """A saved plan was made against a world that has moved since."""
