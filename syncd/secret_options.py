"""Which of a connector's options are credentials, read from its options model: a value a reference yields for
one is registered with the redactor, and the other options (configuration) stay readable in messages."""

from __future__ import annotations

import types
import typing
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, SecretBytes, SecretStr

Loc = tuple[str | int, ...]


def _alternatives(annotation: Any) -> list[Any]:
    """The types an annotation allows: `Annotated` unwrapped, unions and optionals split."""
    if typing.get_origin(annotation) is typing.Annotated:
        return _alternatives(typing.get_args(annotation)[0])
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return [t for arg in typing.get_args(annotation) for t in _alternatives(arg)]
    return [annotation]


def is_secret_option(annotation: Any, path: Loc) -> bool:
    """Whether the option at `path` in a connector's options model is a credential: a field typed `SecretStr`
    (or `SecretBytes`) or declared with `secret_field()`, at any depth. An option the model does not describe
    counts as secret."""
    alternatives = _alternatives(annotation)
    if any(t in (SecretStr, SecretBytes, Any) for t in alternatives):
        return True
    if not path:
        return False
    described = False
    for alternative in alternatives:
        if isinstance(alternative, type) and issubclass(alternative, BaseModel):
            info = next((f for n, f in alternative.model_fields.items() if path[0] in (n, f.alias)), None)
            if info is None:
                continue
            described = True
            extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
            if extra.get("secret") or is_secret_option(info.annotation, path[1:]):
                return True
        elif typing.get_origin(alternative) in (dict, list, tuple, Mapping):
            described = True
            if is_secret_option((typing.get_args(alternative) or (Any,))[-1], path[1:]):
                return True
    return not described
