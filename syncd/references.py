"""`${env:NAME}` and `${file:PATH}` in manifest strings, resolved at run time.

Credentials are never written in the manifest; an option names where to find
one instead. A string may be wholly a reference or hold several
(`"Bearer ${env:TOKEN}"`), and `$${` is a literal `${`. What a reference
yields in a secret option (a token, a password) is registered with
`REDACTOR`; the caller says which options are secret, and anything it does
not say is. No message here ever contains a resolved value, only the
variable or file it came from.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, cast

from syncd.errors import ConfigError
from syncd.secret import REDACTOR

TreePath = tuple[str | int, ...]
Scheme = Literal["env", "file"]

_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# "$${" is an escaped "${"; "${" starts a reference, which runs to the next "}".
_TOKEN = re.compile(r"\$\$\{|\$\{(?P<body>[^}]*)(?P<close>\})?")
_USAGE = "use ${env:NAME} or ${file:PATH}"


class BadReference(ConfigError):
    """A reference that is malformed or cannot be resolved.

    `path` says where in the data tree the offending string is, e.g.
    ("targets", "gitlab", "token"); the tree walkers fill it in.
    """

    def __init__(self, message: str, path: TreePath = (), where: str | None = None) -> None:
        self.path = path
        super().__init__(message, where)

    def __str__(self) -> str:
        text = f"{format_path(self.path)}: {self.message}" if self.path else self.message
        return f"{self.where}: {text}" if self.where else text


def format_path(path: TreePath) -> str:
    """("targets", "gitlab", "items", 2) -> "targets.gitlab.items[2]"."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


@dataclass(frozen=True)
class Reference:
    """One `${scheme:name}` found at text[start:end]."""

    scheme: Scheme
    name: str
    start: int
    end: int

    def __str__(self) -> str:
        return f"${{{self.scheme}:{self.name}}}"


def _reference(match: re.Match[str]) -> Reference:
    """Check one `${...}` token of _TOKEN and make it a Reference."""
    spelled = match.group()
    if match["close"] is None:
        shown = spelled if len(spelled) <= 40 else spelled[:40] + "..."
        raise BadReference(f"unterminated reference {shown!r}; close it with '}}' or write '$${{' for a literal '${{'")
    scheme, colon, name = match["body"].partition(":")
    if not colon:
        raise BadReference(f"reference {spelled!r} has no scheme; {_USAGE}")
    if scheme not in ("env", "file"):
        raise BadReference(f"unknown reference scheme {scheme!r} in {spelled!r}; {_USAGE}")
    if not name:
        what = "variable name" if scheme == "env" else "path"
        raise BadReference(f"empty {what} in {spelled!r}; {_USAGE}")
    if scheme == "env" and not _ENV_NAME.fullmatch(name):
        raise BadReference(
            f"invalid environment variable name {name!r} in {spelled!r}; "
            "use letters, digits and '_', not starting with a digit"
        )
    return Reference(cast(Scheme, scheme), name, match.start(), match.end())


def _scan(text: str) -> list[str | Reference]:
    """Split text into literal pieces (escapes already undone) and references."""
    parts: list[str | Reference] = []
    literal, pos = "", 0
    for match in _TOKEN.finditer(text):
        literal += text[pos : match.start()]
        pos = match.end()
        if match.group() == "$${":
            literal += "${"
        else:
            parts += [literal, _reference(match)] if literal else [_reference(match)]
            literal = ""
    literal += text[pos:]
    return [*parts, literal] if literal else parts


def find_references(text: str) -> list[Reference]:
    """Every reference in text, in order; raises BadReference on bad syntax. No I/O."""
    return [p for p in _scan(text) if isinstance(p, Reference)]


def _value(ref: Reference, env: Mapping[str, str], base_dir: Path, secret: bool) -> str:
    """What one reference yields; a secret one is registered with REDACTOR before anything else can fail."""
    if ref.scheme == "env":
        value = env.get(ref.name)
        if value is None:
            raise BadReference(f"environment variable {ref.name!r} is not set (referenced as {ref})")
        if not value:
            raise BadReference(f"environment variable {ref.name!r} is empty (referenced as {ref})")
        if secret:
            REDACTOR.add(value)
        return value
    try:
        path = base_dir / Path(ref.name).expanduser()
    except RuntimeError:
        raise BadReference(f"cannot expand '~' in {ref}: no home directory is known") from None
    try:
        data = path.read_bytes()
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise BadReference(f"cannot read file '{path}' (referenced as {ref}): {reason}") from None
    try:
        value = data.decode("utf-8")
    except UnicodeDecodeError:
        # The decoder's own message quotes a byte of the file: never show it.
        raise BadReference(f"file '{path}' is not valid UTF-8 (referenced as {ref})") from None
    value = value.removesuffix("\n").removesuffix("\r") if value.endswith("\n") else value
    if not value:
        raise BadReference(f"file '{path}' is empty (referenced as {ref})")
    if secret:
        REDACTOR.add(value)
    return value


def resolve(text: str, *, env: Mapping[str, str], base_dir: Path, secret: bool = True) -> str:
    """Substitute every reference in text and undo `$${` escapes; raises BadReference.

    When `secret`, every value obtained, and the whole result when it held a
    reference, is registered with REDACTOR so output can be scrubbed of it.
    Configuration (a region, an address, a path) is not secret: hiding it
    would break what syncd prints, such as a policy's ARNs.
    """
    parts = _scan(text)
    result = "".join(p if isinstance(p, str) else _value(p, env, base_dir, secret) for p in parts)
    if secret and any(isinstance(p, Reference) for p in parts):
        REDACTOR.add(result)
    return result


def _key(key: object) -> str | int:
    return key if isinstance(key, str | int) else str(key)


def _strings(obj: Any, path: TreePath) -> Iterator[tuple[TreePath, str]]:
    """Every string value in a tree of mappings, lists and tuples, with where it is (depth first, in order)."""
    # An explicit stack: a manifest's syncs hold hundreds of thousands of strings, and recursion costs.
    pending: list[tuple[TreePath, Any]] = [(path, obj)]
    while pending:
        where, item = pending.pop()
        if isinstance(item, str):
            yield where, item
        elif isinstance(item, Mapping):
            pending.extend(((*where, _key(key)), value) for key, value in reversed(item.items()))
        elif isinstance(item, list | tuple):
            pending.extend(((*where, index), value) for index, value in reversed(list(enumerate(item))))


def _texts(obj: Any) -> Iterator[str]:
    """Every string value in a tree, in no particular order: `_strings` without the cost of paths."""
    pending = [obj]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            yield item
        elif isinstance(item, Mapping):
            pending.extend(item.values())
        elif isinstance(item, list | tuple):
            pending.extend(item)


def _located(path: TreePath, exc: BadReference) -> BadReference:
    if not exc.path:
        exc.path = path
    return exc


def bad_references(obj: Any, path: TreePath = ()) -> list[BadReference]:
    """The syntax error of every string in a tree that has one, each carrying the string's `path`.

    Keys are not checked: references are only recognised in values.
    """
    found = []
    for where, text in _strings(obj, path):
        if "${" not in text:
            continue
        try:
            _scan(text)
        except BadReference as exc:
            found.append(_located(where, exc))
    return found


def check_tree(obj: Any, path: TreePath = ()) -> None:
    """Raise the first of `bad_references(obj, path)`, if any."""
    for exc in bad_references(obj, path):
        raise exc


def resolve_tree(
    obj: Any,
    *,
    env: Mapping[str, str],
    base_dir: Path,
    path: TreePath = (),
    unresolved: dict[TreePath, BadReference] | None = None,
    is_secret: Callable[[TreePath], bool] | None = None,
) -> Any:
    """A new tree of the same shape with every string resolved; other leaves are returned as they are.

    `is_secret(path)` says whether the string at `path` is secret (see `resolve`); without it, every one is.

    With `unresolved`, a string whose reference cannot be resolved (an unset variable, a missing file) is kept
    as written and its error recorded there by path, instead of raised: for commands that need only some options.
    """
    if isinstance(obj, str):
        try:
            return resolve(obj, env=env, base_dir=base_dir, secret=is_secret is None or is_secret(path))
        except BadReference as exc:
            if unresolved is None:
                raise _located(path, exc) from None
            unresolved[path] = _located(path, exc)
            return obj
    if isinstance(obj, Mapping):
        return {
            key: resolve_tree(
                value, env=env, base_dir=base_dir, path=(*path, _key(key)), unresolved=unresolved, is_secret=is_secret
            )
            for key, value in obj.items()
        }
    if isinstance(obj, list | tuple):
        items = [
            resolve_tree(
                value, env=env, base_dir=base_dir, path=(*path, index), unresolved=unresolved, is_secret=is_secret
            )
            for index, value in enumerate(obj)
        ]
        return items if isinstance(obj, list) else tuple(items)
    return obj


def has_references(obj: Any) -> bool:
    """True when some string in the tree holds an unescaped `${`: a reference, or a malformed one.

    Never raises: a malformed reference counts, so "no references allowed
    here" rejects it and check_tree or resolve_tree explain what is wrong.
    """
    for text in _texts(obj):
        if "${" not in text:
            continue
        try:
            if find_references(text):
                return True
        except BadReference:
            return True
    return False
