"""A sink wrapper that fails on demand, to test retries and error reports."""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass

from syncd.connector import Sink
from syncd.errors import ConnectorError, TransientError
from syncd.testing.recording import HOOKED_METHODS, DelegatingSink

# Methods that concern no single address, so a failure cannot be aimed at one.
_ADDRESSLESS = ("batch", "close")


@dataclass
class _Rule:
    method: str
    address: str | None
    error: Exception | type[Exception]
    times: int | None

    def matches(self, method: str, addresses: tuple[str, ...]) -> bool:
        return method == self.method and (self.address is None or self.address in addresses)


class FailingSink(DelegatingSink):
    """Delegates to `inner`, raising an injected error where `fail_on` says.

    `attempts` counts every call per (method, address), failed or not; an
    observe of many addresses counts once for each, and a call without an
    address (an observe of nothing, a batch) under (method, None). A failing
    `batch` raises on entering the block, before anything in it runs.
    """

    def __init__(self, inner: Sink) -> None:
        super().__init__(inner)
        self._lock = threading.Lock()
        self._rules: list[_Rule] = []
        self._attempts: Counter[tuple[str, str | None]] = Counter()

    def fail_on(
        self,
        method: str,
        address: str | None = None,
        *,
        error: Exception | type[Exception] = TransientError,
        times: int | None = None,
    ) -> None:
        """Make the next `times` calls (None: every call) of `method`, for `address` or any, raise `error`.

        An error class is instantiated with a message naming the method and
        address (and, for a ConnectorError, `target=` and `address=`); an
        instance is raised as it is. The earliest matching rule applies.
        """
        if method not in HOOKED_METHODS:
            raise ValueError(f"cannot fail {method!r}: choose one of {', '.join(HOOKED_METHODS)}")
        if address is not None and method in _ADDRESSLESS:
            raise ValueError(f"{method} concerns no single address, so it cannot fail for one")
        if times is not None and times < 1:
            raise ValueError("times must be at least 1, or None for always")
        if not isinstance(error, Exception) and not (isinstance(error, type) and issubclass(error, Exception)):
            raise TypeError("error must be an exception or an exception class")
        with self._lock:
            self._rules.append(_Rule(method, address, error, times))

    def heal(self) -> None:
        """Stop every injected failure; the attempt counts are kept."""
        with self._lock:
            self._rules.clear()

    @property
    def attempts(self) -> Counter[tuple[str, str | None]]:
        """Calls per (method, address) so far, failed or not (a copy; absent keys count 0)."""
        with self._lock:
            return Counter(self._attempts)

    def _before(self, method: str, addresses: tuple[str, ...]) -> None:
        with self._lock:
            for address in addresses or (None,):
                self._attempts[(method, address)] += 1
            rule = next((r for r in self._rules if r.matches(method, addresses)), None)
            if rule is None:
                return
            if rule.times is not None:
                rule.times -= 1
                if rule.times == 0:
                    self._rules.remove(rule)
        address = rule.address or (addresses[0] if len(addresses) == 1 else None)
        raise self._error(rule.error, method, address)

    def _error(self, error: Exception | type[Exception], method: str, address: str | None) -> Exception:
        if isinstance(error, Exception):
            return error
        message = f"injected failure of {method}" + (f" on {address}" if address else "")
        if issubclass(error, ConnectorError):
            return error(message, target=self.target, address=address)
        return error(message)
