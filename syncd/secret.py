"""Secret values and the redactor that scrubs them from output.

A `Secret` hides its value from `str`, `repr`, formatting and pickling by
accident; code that must hand the value to an SDK calls `reveal()`. Every
Secret registers its value with the process-wide `REDACTOR`, which the log
processor and every report run their text through as a second line of
defence behind never printing values at all.

The redactor must never change what output means. It works on whole tokens
of free text and on the string leaves of structured output (never on
serialised JSON), and it ignores values that hiding would give away: short
or guessable ones, and names syncd prints on purpose (see docs/safety.md).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable
from typing import Any

REDACTED = "[REDACTED]"
# A value shorter than this is not a candidate: hiding "on" or "1234" would mangle output and, by hiding it
# everywhere it appears, tell the reader what it is.
MIN_REDACTABLE_LENGTH = 6
# A value of letters only, up to this length, is a word (`create`, `denied`, `changeme`): guessable, and
# syncd's own messages are made of words.
MAX_WORD_LENGTH = 12
# Characters that join a token: a value is only ever replaced as a whole token, never inside
# `db-admin`, `apps/admin/db` or `ADMIN_USER`.
_JOINERS = frozenset("_-./")
_PEM_ARMOUR = re.compile(r"-----(BEGIN|END) [A-Z0-9 ]+-----")


def _joins(char: str) -> bool:
    return char.isalnum() or char in _JOINERS


def is_candidate(value: str) -> bool:
    """Whether `value` is ever replaced: not PEM armour, and not made only of what is never a candidate on its own
    (short pieces, numbers, words): a phrase such as `to create` is syncd's own wording as much as `create`."""
    if _PEM_ARMOUR.fullmatch(value.strip()) is not None:
        return False
    return any(_is_candidate_token(token) for token in value.split()) and len(value) >= MIN_REDACTABLE_LENGTH


def _is_candidate_token(token: str) -> bool:
    return not (
        len(token) < MIN_REDACTABLE_LENGTH or token.isdigit() or (token.isalpha() and len(token) <= MAX_WORD_LENGTH)
    )


class Redactor:
    """A thread-safe set of strings that must never appear in output.

    `redact` scans free text once, looking candidates up by their first
    characters and then by length, so its cost grows with the text, not
    with the number of secrets known (a run may know tens of thousands, many
    sharing a prefix such as "ghp_"). A candidate is replaced only where it
    stands as a whole token: the characters on either side of it do not
    join it to a longer word.

    `enabled` is for tests that must prove values stay out of output by
    themselves; nothing in syncd turns it off.
    """

    def __init__(self) -> None:
        self.enabled = True
        self._lock = threading.Lock()
        self._values: set[str] = set()
        self._public: frozenset[str] = frozenset()
        # prefix → (lengths, longest first; length → values of that length)
        self._by_prefix: dict[str, tuple[tuple[int, ...], dict[int, set[str]]]] = {}

    def add(self, value: str) -> None:
        if value in self._values:
            # Known, and its lines with it (a run meets each value at least twice: in the source and in a sink).
            return
        # A multi-line value (a PEM key) is also scrubbed line by line, since
        # output may show one line of it on its own.
        candidates = {value, *value.splitlines()}
        fresh = {c for c in candidates if is_candidate(c)} - self._values
        if not fresh:
            return
        with self._lock:
            for item in fresh:
                prefix = item[:MIN_REDACTABLE_LENGTH]
                lengths, by_length = self._by_prefix.get(prefix, ((), {}))
                by_length.setdefault(len(item), set()).add(item)
                if len(item) not in lengths:
                    # Longest first, so a value containing another is replaced whole.
                    lengths = tuple(sorted((*lengths, len(item)), reverse=True))
                self._by_prefix[prefix] = (lengths, by_length)
            # Known only once it is replaced: another thread seeing it here returns at once, and may print it next.
            self._values |= fresh

    def allow(self, names: Iterable[str | None]) -> None:
        """Names syncd prints on purpose (syncs, targets, addresses, keys, paths): a value equal to one is
        never replaced, since hiding the name would tell the reader the value and garble the report."""
        fresh = frozenset(n for n in names if n) - self._public
        if fresh:
            with self._lock:
                self._public = self._public | fresh

    def redact(self, text: str) -> str:
        """Free text with every known value that stands as a whole token replaced by [REDACTED]."""
        index = self._by_prefix
        if not self.enabled or not index or len(text) < MIN_REDACTABLE_LENGTH:
            return text
        public = self._public
        pieces: list[str] = []
        start = position = 0
        last = len(text) - MIN_REDACTABLE_LENGTH
        while position <= last:
            entry = index.get(text[position : position + MIN_REDACTABLE_LENGTH])
            length = 0
            if entry is not None and not (position and _joins(text[position - 1]) and _joins(text[position])):
                lengths, by_length = entry
                length = next(
                    (
                        n
                        for n in lengths
                        if text[position : position + n] in by_length[n]
                        and _ends_token(text, position + n)
                        and text[position : position + n] not in public
                    ),
                    0,
                )
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

    def redact_tree(self, data: Any) -> Any:
        """Structured output (JSON-like) with its string values redacted; keys, numbers, booleans and null are
        kept, so the structure serialised afterwards is the one given."""
        if isinstance(data, str):
            return self.redact(data)
        if isinstance(data, dict):
            return {key: self.redact_tree(value) for key, value in data.items()}
        if isinstance(data, list | tuple):
            return [self.redact_tree(value) for value in data]
        return data

    def snapshot(self) -> tuple[frozenset[str], frozenset[str]]:
        return frozenset(self._values), self._public

    def restore(self, snapshot: tuple[frozenset[str], frozenset[str]]) -> None:
        """Forget every value and name added since `snapshot` (tests use this to stay independent)."""
        values, public = snapshot
        with self._lock:
            self._values = set()
            self._by_prefix = {}
            self._public = public
        for value in values:
            self.add(value)

    def clear(self) -> None:
        self.restore((frozenset(), frozenset()))


def _ends_token(text: str, end: int) -> bool:
    """True when the text after a match does not continue its token (a sentence's full stop does not)."""
    if end >= len(text) or not _joins(text[end - 1]):
        return True
    after = text[end]
    if after == "." and (end + 1 == len(text) or text[end + 1].isspace()):
        return True
    return not _joins(after)


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


def is_text(value: str) -> bool:
    """Whether `value` is valid Unicode text: a lone surrogate (which JSON's \\ud800 escapes can give) is not, and
    no sink can store it unchanged."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
