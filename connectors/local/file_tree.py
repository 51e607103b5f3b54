"""What one file of the `file` source holds: its text parsed (after sops, when it is encrypted) into secrets and
folders, by path relative to the file. The rules are in docs/connectors.md ("`file` source")."""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from connectors.local import dotenv_format as dotenv
from syncd.connector import BadPart, DocumentError, TooDeep, load_json, load_yaml
from syncd.errors import SourceError

Format = Literal["yaml", "json", "dotenv"]

SOPS_TIMEOUT_SECONDS = 120
# Folders and secrets nested deeper than this are refused (YAML: that part only; JSON: the file).
MAX_DEPTH = 100


@dataclass(frozen=True)
class Tree:
    """What one file holds, by path relative to the file ("" is the file itself)."""

    version: str
    # How messages about the document name it: the file, or sops's output of it.
    where: str
    secrets: dict[str, dict[str, str]] = field(default_factory=dict)
    folders: set[str] = field(default_factory=set)
    # Paths whose content cannot be read (nested too deep, or holding an alias, a tag or a key given twice), with
    # the message that says so.
    broken: dict[str, str] = field(default_factory=dict)


def display(path: str) -> str:
    """A secret path as messages show it: the root is "."."""
    return path or "."


def load(file: Path, fmt: Format, sops: str) -> Tree:
    """What `file` holds, read as `fmt`; `sops` is the option of that name (auto, never, always)."""
    try:
        with open(file, "rb") as handle:
            info = os.fstat(handle.fileno())
            raw = handle.read()
    except OSError as exc:
        raise SourceError(f"cannot read {file}: {exc.strerror}") from None
    version = f"{info.st_mtime_ns}-{info.st_size}"
    where = str(file)
    content = None if sops == "always" else _parse(_decode(raw, file), fmt, where)
    # sops marks what it encrypts with a top-level `sops` key, or a `sops_version` variable in a dotenv file.
    marker = "sops_version" if fmt == "dotenv" else "sops"
    if sops == "always" or (sops == "auto" and isinstance(content, dict) and marker in content):
        where = f"{file} (as decrypted by sops)"
        content = _parse(_decrypt(file, fmt), fmt, where)
    if fmt == "dotenv":
        return Tree(version, where, {"": content})
    if content is None:  # an empty YAML file
        content = {}
    if isinstance(content, BadPart):  # the top-level mapping holds a key twice, or a bad key
        raise SourceError(_message(content.error, where))
    if not isinstance(content, dict):
        raise SourceError(f"the top level of {file} is not a mapping")
    tree = Tree(version, where)
    _walk(content, "", file, tree)
    return tree


def _decode(raw: bytes, file: Path) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        column = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        raise SourceError(f"{file}:{line}:{column}: not valid UTF-8 (byte {exc.start})") from None


def _parse(text: str, fmt: Format, where: str) -> Any:
    """The content of a file's text; `where` names it in messages (the file, or sops's output of it).

    A message names the place and the kind of problem, never text of the file: a parser's own message can
    quote a value (PyYAML's "found undefined alias 'Sup3rS3cret'" for `password: *Sup3rS3cret`).
    """
    if fmt == "dotenv":
        try:
            return {entry.key: entry.value for entry in dotenv.parse(text) if entry.key is not None}
        except dotenv.DotenvSyntaxError as exc:
            raise SourceError(f"{where}:{exc.line}:{exc.column}: {exc.problem}") from None
    try:
        if fmt == "json":
            return load_json(text, max_depth=MAX_DEPTH, parse_int=str, parse_float=str, parse_constant=str)
        return load_yaml(text, _as_written, max_depth=MAX_DEPTH, mark_deep=True)
    except DocumentError as exc:
        raise SourceError(_message(exc, where)) from None


def _message(exc: DocumentError, where: str) -> str:
    # Keys are names of folders and secrets' keys here, never values: a duplicate one may be named.
    problem = f"duplicate key {exc.key!r}" if exc.kind == "duplicate-key" and exc.key is not None else exc.problem
    return f"{where}:{exc.line}:{exc.column}: {problem}"


# A YAML `!!binary` value: read, but no secret's value can be one.
_NOT_TEXT = object()
_BY_TAG: dict[str, Any] = {"tag:yaml.org,2002:null": None, "tag:yaml.org,2002:binary": _NOT_TEXT}


def _as_written(tag: str, value: str, event: Any) -> Any:
    """A scalar kept as written, so `0600` stays "0600" and `yes` stays "yes"; a null is None."""
    return _BY_TAG.get(tag, value)


def _decrypt(file: Path, fmt: Format) -> str:
    program = shutil.which("sops")
    if program is None:
        raise SourceError(
            f"{file} is encrypted with SOPS and the sops program is not installed; "
            f"install sops, or set `sops: never` to read the file as it is"
        )
    command = [program, "--decrypt", "--input-type", fmt, "--output-type", fmt, str(file)]
    try:
        done = subprocess.run(
            command, stdin=subprocess.DEVNULL, capture_output=True, timeout=SOPS_TIMEOUT_SECONDS, check=False
        )
    except subprocess.TimeoutExpired:
        raise SourceError(f"sops took more than {SOPS_TIMEOUT_SECONDS}s to decrypt {file}") from None
    except OSError as exc:
        raise SourceError(f"could not run sops for {file}: {exc.strerror}") from None
    if done.returncode != 0:
        # sops's stderr may quote the file, so only the exit code is reported.
        raise SourceError(f"sops could not decrypt {file} (exit code {done.returncode})")
    return _decode(done.stdout, file)


def _unreadable(value: Any) -> TooDeep | BadPart | None:
    """What makes `value` unreadable: itself, or, for a list, the first part nested too deep inside it (a list
    is no secret, but one that holds such a part is reported as too deep)."""
    if isinstance(value, TooDeep | BadPart):
        return value
    pending = [value] if isinstance(value, list) else []
    while pending:
        for item in pending.pop():
            if isinstance(item, TooDeep):
                return item
            if isinstance(item, list | dict):
                pending.append(item.values() if isinstance(item, dict) else item)
    return None


def _is_bad_scalar(value: Any) -> bool:
    return isinstance(value, BadPart) and not value.collection


def _walk(mapping: dict[Any, Any], where: str, file: Path, found: Tree) -> None:
    parts = {name: _unreadable(value) for name, value in mapping.items()}
    nested = [
        isinstance(value, dict) or (parts[name] is not None and not _is_bad_scalar(value))
        for name, value in mapping.items()
    ]
    if nested and all(nested):
        found.folders.add(where)
        for name, child in mapping.items():
            if not isinstance(name, str) or not name or "/" in name or name in (".", ".."):
                shown = repr(name) if isinstance(name, str | None) else "that is not text"
                raise SourceError(f"{display(where)!r} in {file} holds the name {shown}, which is no path segment")
            path = f"{where}/{name}" if where else name
            part = parts[name]
            if isinstance(part, TooDeep):
                found.broken[path] = (
                    f"{file}:{part.line}:{part.column}: {display(path)!r} is nested more than {MAX_DEPTH} levels "
                    "deep; syncd does not read it"
                )
            elif isinstance(part, BadPart):
                found.broken[path] = _message(part.error, found.where)
            else:
                _walk(child, path, file, found)
    elif any(nested):
        raise SourceError(f"{display(where)!r} in {file} mixes keys and nested secrets")
    else:
        bad = next((value for value in mapping.values() if _is_bad_scalar(value)), None)
        if bad is not None:  # a value with an alias or a tag: its secret is unreadable, nothing else
            found.broken[where] = _message(bad.error, found.where)
            return
        found.secrets[where] = {key: _text(key, value, where, file) for key, value in mapping.items()}


def _text(key: Any, value: Any, where: str, file: Path) -> str:
    """The value of `key` in the secret at `where` as text, or the error naming the key or the value's kind."""
    if not isinstance(key, str):
        raise SourceError(f"secret {display(where)!r} in {file} has a key that is not text")
    if isinstance(value, bool):  # only JSON gives booleans; YAML ones are kept as written
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if value is None:
        problem = "has no value"
    elif isinstance(value, list):
        problem = "holds a list"
    else:
        problem = "holds a value that is not text"
    raise SourceError(f"key {key!r} of secret {display(where)!r} in {file} {problem}")
