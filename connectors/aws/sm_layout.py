"""How syncd lays items out in AWS Secrets Manager (docs/connectors.md, "Layout: document or raw"), and the rules
an item must follow there. Pure: no call.

An address known to hold a per-key item is always read raw, so a per-key value that happens to be a JSON object
(a service-account key) is compared as the string it is.
"""

from __future__ import annotations

import contextlib
import json
import re
from typing import Any

from connectors.aws.options import item_tag_problems
from syncd.connector import MARKER_INSTANCE, MARKER_SYNC, DocumentError, load_json
from syncd.errors import SourceError
from syncd.model import DesiredItem, Granularity
from syncd.secret import Secret, is_text

MAX_NAME = 512
# A secret's JSON nested deeper than this is refused (Python's decoder recurses; AWS allows 64 KiB of it).
MAX_DEPTH = 100
MAX_VALUE_BYTES = 65536
MAX_DESCRIPTION = 2048
_NAME = re.compile(r"^[A-Za-z0-9/_+=.@-]+$")
DEFAULT_KEY = "alias/aws/secretsmanager"


def key_of(name: str) -> str:
    """The key a single-value secret's value reads under: the last segment of its name."""
    return name.rstrip("/").rsplit("/", 1)[-1] or name


def encode(item: DesiredItem) -> str:
    """The SecretString that stores `item`."""
    if item.granularity is Granularity.PER_KEY:
        return item.single_value().reveal()
    return json.dumps({key: item.data[key].reveal() for key in sorted(item.data)}, ensure_ascii=False)


def decode(name: str, text: str, *, raw: bool = False) -> dict[str, Secret]:
    """A stored SecretString as item data: a document when it is a JSON object of strings and `raw` is False."""
    if not raw:
        with contextlib.suppress(DocumentError):
            parsed = load_json(text, max_depth=MAX_DEPTH)
            if isinstance(parsed, dict) and parsed and all(isinstance(v, str) for v in parsed.values()):
                return {key: Secret(value) for key, value in parsed.items()}
    return {key_of(name): Secret(text)}


def decode_source(name: str, text: str, where: str = "") -> dict[str, Secret]:
    """A source secret's keys: a JSON object's members (non-strings as their JSON text), else one key for the text.

    A JSON document nested too deep or holding a key twice is a SourceError naming the secret, the line and
    column and the problem, never text of the secret; `where` follows the name in it (" in eu-west-1").
    """
    parsed = _json(f"secret {name!r}{where}", text)
    if not isinstance(parsed, dict):
        return {key_of(name): Secret(text)} if text else {}
    return {
        key: Secret(value if isinstance(value, str) else json.dumps(value, ensure_ascii=False))
        for key, value in parsed.items()
    }


def _json(secret: str, text: str) -> Any:
    """`text` parsed as JSON, or None when it is not JSON (a raw value)."""
    try:
        return load_json(text, max_depth=MAX_DEPTH)
    except DocumentError as exc:
        if exc.kind == "syntax":
            return None
        at = f"line {exc.line}, column {exc.column}"
        if exc.kind == "too-deep":
            raise SourceError(f"{secret} holds JSON nested more than {MAX_DEPTH} levels deep ({at})") from None
        # A top-level key is a key name; a nested object is part of a value, and its keys are not shown.
        what = f"the key {exc.key!r}" if exc.depth == 1 and exc.key is not None else "a key of a nested object"
        raise SourceError(
            f"{secret} holds {what} twice ({at}); syncd refuses duplicate JSON keys rather than keep one"
        ) from None


def kms_reference(key: str | None) -> str | None:
    """A KMS key as AWS may report it: 'alias/NAME' for an alias (name or ARN), else the bare key id."""
    if not key:
        return None
    if key.startswith("arn:"):
        resource = key.split(":", 5)[-1]
        return resource.removeprefix("key/")
    return key


def item_problems(item: DesiredItem) -> list[str]:
    """Every rule of AWS Secrets Manager `item` breaks, one sentence each; none names or measures a value."""
    name = item.address
    problems = _name_problems(name)
    problems.extend(_value_problems(item))
    problems.extend(item_tag_problems(item.tags))
    for key in sorted({MARKER_INSTANCE, MARKER_SYNC} & set(item.tags)):
        problems.append(f"The tag {key!r} is syncd's ownership marker, which the manifest cannot set.")
    if item.description is not None and len(item.description) > MAX_DESCRIPTION:
        problems.append(
            f"The description of {_shown(name)} is longer than the {MAX_DESCRIPTION} characters AWS allows."
        )
    return problems


def _name_problems(name: str) -> list[str]:
    if not 1 <= len(name) <= MAX_NAME:
        return [f"The secret name {_shown(name)} must be 1 to {MAX_NAME} characters long."]
    if not _NAME.match(name):
        return [
            f"The secret name {_shown(name)} has a character AWS Secrets Manager does not allow "
            "(use letters, digits and / _ + = . @ -)."
        ]
    return []


def _value_problems(item: DesiredItem) -> list[str]:
    name = item.address
    if item.granularity is Granularity.PER_KEY and len(item.data) != 1:
        return [f"Item {_shown(name)} holds {len(item.data)} keys, but a per-key secret holds exactly one."]
    if not item.data:
        return [f"Item {_shown(name)} holds no key, and syncd does not store an empty secret."]
    stored = encode(item)
    if not stored:
        return [f"The value of {_shown(name)} is empty, which AWS Secrets Manager cannot store."]
    if len(stored.encode("utf-8", "surrogatepass")) > MAX_VALUE_BYTES:
        return [f"The value of {_shown(name)} is larger than the {MAX_VALUE_BYTES:,} bytes a secret can hold."]
    if not is_text(stored):
        return [f"The value of {_shown(name)} holds a lone surrogate, which UTF-8 cannot encode."]
    return []


def _shown(name: str) -> str:
    """A name for a message, cut short: an invalid one may be very long."""
    return repr(name if len(name) <= 80 else name[:77] + "...")
