"""Secret values and the registry that lets output be scrubbed of them.

A `Secret` hides its value from `str`, `repr`, formatting and pickling by
accident; code that must hand the value to an SDK calls `reveal()`. Every
Secret registers its value with the process-wide `REDACTOR`, which the log
processor and every report run their text through as a second line of
defence behind never printing values at all.
"""

from __future__ import annotations

import threading

REDACTED = "[REDACTED]"
# Values shorter than this are not scrubbed from free text: replacing every
# "1" or "on" would mangle output while protecting nothing worth protecting.
MIN_REDACTABLE_LENGTH = 4


class Redactor:
    """A thread-safe set of strings that must never appear in output.

    `redact` scans text once, looking candidates up by their first
    characters and then by length, so its cost grows with the text, not
    with the number of secrets known (a run may know tens of thousands, many
    sharing a prefix such as "ghp_").
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values: set[str] = set()
        # prefix → (lengths, longest first; length → values of that length)
        self._by_prefix: dict[str, tuple[tuple[int, ...], dict[int, set[str]]]] = {}

    def add(self, value: str) -> None:
        # A multi-line value (a PEM key) is also scrubbed line by line, since
        # output may show one line of it on its own.
        candidates = {value, *value.splitlines()}
        fresh = {c for c in candidates if len(c) >= MIN_REDACTABLE_LENGTH} - self._values
        if not fresh:
            return
        with self._lock:
            self._values |= fresh
            for item in fresh:
                prefix = item[:MIN_REDACTABLE_LENGTH]
                lengths, by_length = self._by_prefix.get(prefix, ((), {}))
                by_length.setdefault(len(item), set()).add(item)
                if len(item) not in lengths:
                    # Longest first, so a value containing another is replaced whole.
                    lengths = tuple(sorted((*lengths, len(item)), reverse=True))
                self._by_prefix[prefix] = (lengths, by_length)

    def redact(self, text: str) -> str:
        index = self._by_prefix
        if not index or len(text) < MIN_REDACTABLE_LENGTH:
            return text
        pieces: list[str] = []
        start = position = 0
        last = len(text) - MIN_REDACTABLE_LENGTH
        while position <= last:
            entry = index.get(text[position : position + MIN_REDACTABLE_LENGTH])
            length = 0
            if entry is not None:
                lengths, by_length = entry
                length = next((n for n in lengths if text[position : position + n] in by_length[n]), 0)
            if not length:
                position += 1
                continue
            pieces.append(text[start:position])
            pieces.append(REDACTED)
            position += length
            start = position
        if not pieces:
            return text
        pieces.append(text[start:])
        return "".join(pieces)

    def snapshot(self) -> frozenset[str]:
        return frozenset(self._values)

    def restore(self, snapshot: frozenset[str]) -> None:
        """Forget every value added since `snapshot` (tests use this to stay independent)."""
        with self._lock:
            self._values = set()
            self._by_prefix = {}
        for value in snapshot:
            self.add(value)

    def clear(self) -> None:
        self.restore(frozenset())


REDACTOR = Redactor()


class Secret:
    """A secret value. Equal by value; never shows it unless `reveal()` is called."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        if not isinstance(value, str):
            raise TypeError("a secret value must be a string")
        object.__setattr__(self, "_value", value)
        REDACTOR.add(value)

    def reveal(self) -> str:
        return self._value

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("Secret is immutable")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        return repr(self)

    def __reduce__(self) -> object:
        raise TypeError("a Secret cannot be pickled")
