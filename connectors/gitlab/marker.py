"""The ownership marker of a GitLab variable: a fixed form at the end of its `description`, after the user's text.

GitLab variables have no labels or tags, so the marker shares the description with the text a `to` entry gives:
`Database password [syncd instance=prod sync=payments]`, or the marker alone. Only a whole marker at the very end
counts; anything else (none, a broken one, one in the middle of the text) leaves the variable unowned. Instance and
sync names are syncd names (letters, digits, `. _ -`), so the form parses back without ambiguity.

A masked-and-hidden variable's marker also records where its value came from, as `source=` and 16 hex digits: the
start of the SHA-256 of `DesiredItem.source_version` (the source path, the source keys the item takes, and the source
secret's version: a Vault version number, an AWS version id, a file's modification time and size). GitLab never
returns a hidden value, so that record is how a plan tells new data (a new version, another path or key); it is
derived from names and versions, never from a value, and the digest keeps even a file's size out of GitLab.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from syncd.model import Ownership

_MARKER = re.compile(r"\[syncd instance=([A-Za-z0-9._-]+) sync=([A-Za-z0-9._-]+)(?: source=([0-9a-f]{16}))?\]\Z")


@dataclass(frozen=True)
class Stamp:
    """What a description says besides the user's text: the owner, and the recorded origin's digest."""

    owner: Ownership
    source: str | None = None


def source_digest(version: str | None) -> str | None:
    """The digest recorded for an item's origin (`DesiredItem.source_version`); None when the source reports no
    version."""
    return None if version is None else hashlib.sha256(version.encode("utf-8")).hexdigest()[:16]


def marker(owner: Ownership, source: str | None = None) -> str:
    recorded = f" source={source}" if source else ""
    return f"[syncd instance={owner.instance} sync={owner.sync}{recorded}]"


def stamped(text: str | None, owner: Ownership, source: str | None = None) -> str:
    """The description to store: the user's text, one space, the marker (the marker alone without text)."""
    return f"{text} {marker(owner, source)}" if text else marker(owner, source)


def parse_stamp(description: str | None) -> tuple[str | None, Stamp | None]:
    """The user's text and the stamp a stored description holds; (description, None) without a whole marker.

    The exact inverse of `stamped`: the one space before the marker is dropped, nothing else, so a text read back
    equals the text written and a steady state writes nothing.
    """
    if not description:
        return description, None
    found = _MARKER.search(description)
    if found is None:
        return description, None
    text = description[: found.start()]
    if text and not text.endswith(" "):
        # "xyz[syncd ...]" is not a form syncd writes: the marker must stand alone or after one space.
        return description, None
    return (text[:-1] or None) if text else None, Stamp(Ownership(found.group(1), found.group(2)), found.group(3))


def parse(description: str | None) -> tuple[str | None, Ownership | None]:
    """The user's text and the owner a stored description names (see `parse_stamp`)."""
    text, stamp = parse_stamp(description)
    return text, stamp.owner if stamp else None
