"""The ownership marker of a GitLab variable: a fixed form at the end of its `description`, after the user's text.

GitLab variables have no labels or tags, so the marker shares the description with the text a `to` entry gives:
`Database password [syncd instance=prod sync=payments]`, or the marker alone. Only a whole marker at the very end
counts; anything else (none, a broken one, one in the middle of the text) leaves the variable unowned. Instance and
sync names are syncd names (letters, digits, `. _ -`), so the form parses back without ambiguity.
"""

from __future__ import annotations

import re

from syncd.model import Ownership

_MARKER = re.compile(r"\[syncd instance=([A-Za-z0-9._-]+) sync=([A-Za-z0-9._-]+)\]\Z")


def marker(owner: Ownership) -> str:
    return f"[syncd instance={owner.instance} sync={owner.sync}]"


def stamped(text: str | None, owner: Ownership) -> str:
    """The description to store: the user's text, one space, the marker (the marker alone without text)."""
    return f"{text} {marker(owner)}" if text else marker(owner)


def parse(description: str | None) -> tuple[str | None, Ownership | None]:
    """The user's text and the owner a stored description names; (description, None) without a whole marker.

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
    return (text[:-1] or None) if text else None, Ownership(found.group(1), found.group(2))
