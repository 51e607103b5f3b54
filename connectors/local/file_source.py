"""The `file` source: secrets kept in a YAML, JSON or dotenv file, or in a directory of them.

A mapping whose values are all scalars is a secret; a mapping whose values
are all mappings is a folder; anything else (a mix of both, a list, a null)
is an error. Secret paths join names with "/".

* A YAML or JSON file is one tree. If its top level is all scalars, the
  file is one secret, addressed as "."; otherwise its mappings are folders
  and secrets below the root (`db/primary`).
* A dotenv file is always one secret, addressed as ".".
* A directory: each file contributes at its path relative to the
  directory without its extension, so `apps/payments/db.yaml` is
  `apps/payments/db`. A flat file is one secret at that path; a nested
  one contributes secrets below it (`apps/db.yaml` holding
  `primary: {user: a}` gives `apps/db/primary`). A `.env` or `.env.NAME`
  file loses its leading dot: `.env` is `env`, `config/.env.prod` is
  `config/env.prod`, while `prod.env` is `prod`. Other hidden files and
  directories, and files of unknown type, are ignored; a `format` other
  than auto reads only the files of that format. Two files giving the same
  path are an error.

Scalars are kept as written, which avoids YAML 1.1 surprises: `true` is
"true", `yes` is "yes", `0600` is "0600" (not 384), JSON `1.50` is "1.50".
An empty mapping is a secret with no keys, and reading it is an error.

With `sops: auto` a YAML or JSON file with a top-level `sops` key, or a
dotenv file with a `sops_version` variable, is decrypted by the `sops`
program; `always` decrypts every file and `never` reads every file as it is.

A source keeps nothing that can go stale: a file is parsed again when its
identity (device, inode, modification time, size) moved since it was read,
and otherwise once, whatever the number of readers; `list`, and a read that
finds no file for its path, scan the directory again. A secret's version is
its file's modification time and size.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, cast

from connectors.local import dotenv_format as dotenv
from connectors.local.dotenv_file import current_identity
from connectors.local.options import FileSourceOptions, FormatOption
from syncd.connector import BadPart, Capabilities, DocumentError, Source, TooDeep, file_location, load_json, load_yaml
from syncd.errors import SourceError
from syncd.model import SourceSecret
from syncd.secret import Secret

Format = Literal["yaml", "json", "dotenv"]

SOPS_TIMEOUT_SECONDS = 120
# Folders and secrets nested deeper than this are refused (YAML: that part only; JSON: the file).
MAX_DEPTH = 100
_FORMAT_BY_SUFFIX: dict[str, Format] = {".yaml": "yaml", ".yml": "yaml", ".json": "json", ".env": "dotenv"}


@dataclass(frozen=True)
class _Tree:
    """What one file holds, by path relative to the file ("" is the file itself)."""

    version: str
    # How messages about the document name it: the file, or sops's output of it.
    where: str
    secrets: dict[str, dict[str, str]] = field(default_factory=dict)
    folders: set[str] = field(default_factory=set)
    # Paths whose content cannot be read (nested too deep, or holding an alias, a tag or a key given twice), with
    # the message that says so.
    broken: dict[str, str] = field(default_factory=dict)


class FileSource(Source):
    """Reads secrets from a file or a directory tree of files; see the module docstring for the layout."""

    Options = FileSourceOptions
    # Reading files gains nothing from threads.
    capabilities = Capabilities(max_concurrency=1)

    def __init__(self, options: FileSourceOptions, connection: Any = None) -> None:
        super().__init__(options, connection)
        self.options: FileSourceOptions = options
        self._lock = threading.Lock()
        self._layout: dict[str, tuple[Path, Format]] | None = None
        # A file's tree, or the message of the error reading it (so a bad file is read once too), and the file's
        # identity when it was read.
        self._trees: dict[Path, tuple[tuple[int, ...] | None, _Tree | str]] = {}

    def read(self, path: str) -> SourceSecret:
        key = _normalize(path)
        found, is_folder = self._find(key, self._files())
        if not found and not is_folder:  # a file added since the last scan may hold it
            found, is_folder = self._find(key, self._files(scan=True))
        where = self.options.path
        if len(found) > 1:
            files = " and ".join(str(file) for file, _, _ in found)
            raise SourceError(f"secret {_display(key)!r} is defined twice, in {files}")
        if not found:
            if is_folder:
                raise SourceError(
                    f"{_display(key)!r} in {where} is a folder, not a secret; add a trailing '/' to read it as a prefix"
                )
            raise SourceError(f"no secret at {_display(key)!r} in {where}")
        file, tree, rel = found[0]
        data = tree.secrets[rel]
        if not data:
            raise SourceError(f"secret {_display(key)!r} in {file} has no keys")
        return SourceSecret(path=path, data={k: Secret(v) for k, v in data.items()}, version=tree.version)

    def list(self, prefix: str) -> list[str]:
        key = _normalize(prefix)
        found: dict[str, Path] = {}
        for base, (file, fmt) in self._files(scan=True).items():
            if not _overlaps(base, key):
                continue
            tree = self._tree(file, fmt)
            for broken, message in tree.broken.items():
                if _overlaps(f"{base}/{broken}" if base else broken, key):
                    raise SourceError(message)
            for rel in tree.secrets:
                path = f"{base}/{rel}" if base and rel else base or rel
                if not _within(path, key):
                    continue
                if path in found:
                    raise SourceError(f"secret {_display(path)!r} is defined twice, in {found[path]} and {file}")
                found[path] = file
        return sorted(_display(path) for path in found)

    def location(self, path: str) -> tuple[str, ...]:
        # Every file of the source is read whatever the path, so the whole file or folder is where it reads.
        return file_location(self.options.path)

    def _find(self, key: str, files: dict[str, tuple[Path, Format]]) -> tuple[list[tuple[Path, _Tree, str]], bool]:
        """The secrets at `key` (a file, its tree, the path in it), and whether `key` is a folder."""
        found: list[tuple[Path, _Tree, str]] = []
        is_folder = False
        # Only a file starting at the path or at one of its parents can hold it: look those up
        # instead of scanning every file, so reading a directory of n files stays O(n).
        parts = key.split("/") if key else []
        for base in dict.fromkeys(["", *("/".join(parts[:i]) for i in range(1, len(parts) + 1))]):
            if base not in files:
                continue
            file, fmt = files[base]
            tree = self._tree(file, fmt)
            rel = key[len(base) :].lstrip("/")
            for broken, message in tree.broken.items():
                if broken == rel or _within(rel, broken):
                    raise SourceError(message)
            if rel in tree.secrets:
                found.append((file, tree, rel))
            elif rel in tree.folders:
                is_folder = True
        return found, is_folder or (not found and any(_within(base, key) for base in files))

    def _files(self, scan: bool = False) -> dict[str, tuple[Path, Format]]:
        """Each file of the source by the secret path it starts at ("" for a single file), as found by the last
        scan of the folder, or by a new one when `scan` is set."""
        with self._lock:
            if scan or self._layout is None:
                self._layout = _scan(Path(self.options.path), self.options.format)
            return self._layout

    def _tree(self, file: Path, fmt: Format) -> _Tree:
        """What `file` holds, parsed again only when its identity (device, inode, mtime, size) moved."""
        # Under the lock, so that readers on many threads parse a file once (the core reads on one).
        with self._lock:
            try:
                identity = current_identity(file)
            except OSError:  # unreadable: the load says why
                identity = None
            if file not in self._trees or self._trees[file][0] != identity:
                try:
                    self._trees[file] = (identity, _load(file, fmt, self.options.sops))
                except SourceError as exc:
                    self._trees[file] = (identity, exc.message)
            tree = self._trees[file][1]
        if isinstance(tree, str):
            raise SourceError(tree)
        return tree


def _normalize(path: str) -> str:
    """A path without its outer slashes; "" is the root, which "." names too."""
    path = path.strip("/")
    return "" if path == "." else path


def _overlaps(path: str, prefix: str) -> bool:
    """Whether listing `prefix` would need what is at `path`: it is the prefix, below it or above it."""
    return path == prefix or _within(path, prefix) or _within(prefix, path)


def _display(path: str) -> str:
    return path or "."


def _within(path: str, folder: str) -> bool:
    """Whether `path` is strictly below `folder`; every path but the root itself is below the root."""
    return path.startswith(folder + "/") if folder else True


def _detect(path: Path) -> Format | None:
    return _FORMAT_BY_SUFFIX.get(path.suffix.lower()) or ("dotenv" if _is_dotenv_name(path.name) else None)


def _is_dotenv_name(name: str) -> bool:
    # `.envrc` (direnv) is a shell script, not a dotenv file.
    return name == ".env" or name.startswith(".env.")


def _secret_path(relative: Path) -> str:
    name = relative.name
    if relative.suffix.lower() in _FORMAT_BY_SUFFIX:
        name = name[: -len(relative.suffix)]
    name = name.removeprefix(".")
    parent = relative.parent.as_posix()
    return name if parent == "." else f"{parent}/{name}"


def _scan(root: Path, wanted: FormatOption) -> dict[str, tuple[Path, Format]]:
    try:
        is_dir = stat.S_ISDIR(root.stat().st_mode)
    except FileNotFoundError:
        raise SourceError(f"no such file or directory: {root}") from None
    except OSError as exc:
        raise SourceError(f"cannot read {root}: {exc.strerror}") from None
    if not is_dir:
        fmt = _detect(root) if wanted == "auto" else cast(Format, wanted)
        if fmt is None:
            raise SourceError(f"cannot tell the format of {root} from its name; set `format`")
        return {"": (root, fmt)}

    def fail(exc: OSError) -> None:
        # A directory skipped silently would look like deleted secrets.
        raise SourceError(f"cannot read {exc.filename}: {exc.strerror}")

    layout: dict[str, tuple[Path, Format]] = {}
    for directory, subdirectories, names in os.walk(root, onerror=fail):
        subdirectories[:] = sorted(d for d in subdirectories if not d.startswith("."))
        for name in sorted(names):
            file = Path(directory, name)
            fmt = _detect(file)
            if fmt is None or (name.startswith(".") and not _is_dotenv_name(name)) or wanted not in ("auto", fmt):
                continue
            path = _secret_path(file.relative_to(root))
            if path in layout:
                raise SourceError(f"{layout[path][0]} and {file} both give the secret path {path!r}")
            layout[path] = (file, fmt)
    return layout


def _load(file: Path, fmt: Format, sops: str) -> _Tree:
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
        return _Tree(version, where, {"": content})
    if content is None:  # an empty YAML file
        content = {}
    if isinstance(content, BadPart):  # the top-level mapping holds a key twice, or a bad key
        raise SourceError(_message(content.error, where))
    if not isinstance(content, dict):
        raise SourceError(f"the top level of {file} is not a mapping")
    tree = _Tree(version, where)
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
_NULL = "tag:yaml.org,2002:null"
_BINARY = "tag:yaml.org,2002:binary"


def _as_written(tag: str, value: str, event: Any) -> Any:
    """A scalar kept as written, so `0600` stays "0600" and `yes` stays "yes"; a null is None."""
    if tag == _NULL:
        return None
    if tag == _BINARY:
        return _NOT_TEXT
    return value


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


def _walk(mapping: dict[Any, Any], where: str, file: Path, found: _Tree) -> None:
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
                raise SourceError(f"{_display(where)!r} in {file} holds the name {shown}, which is no path segment")
            path = f"{where}/{name}" if where else name
            part = parts[name]
            if isinstance(part, TooDeep):
                found.broken[path] = (
                    f"{file}:{part.line}:{part.column}: {_display(path)!r} is nested more than {MAX_DEPTH} levels "
                    "deep; syncd does not read it"
                )
            elif isinstance(part, BadPart):
                found.broken[path] = _message(part.error, found.where)
            else:
                _walk(child, path, file, found)
    elif any(nested):
        raise SourceError(f"{_display(where)!r} in {file} mixes keys and nested secrets")
    else:
        bad = next((value for value in mapping.values() if _is_bad_scalar(value)), None)
        if bad is not None:  # a value with an alias or a tag: its secret is unreadable, nothing else
            found.broken[where] = _message(bad.error, found.where)
            return
        found.secrets[where] = {
            _key(key, where, file): _scalar(value, key, where, file) for key, value in mapping.items()
        }


def _key(key: Any, where: str, file: Path) -> str:
    if not isinstance(key, str):
        raise SourceError(f"secret {_display(where)!r} in {file} has a key that is not text")
    return key


def _scalar(value: Any, key: Any, where: str, file: Path) -> str:
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
    raise SourceError(f"key {key!r} of secret {_display(where)!r} in {file} {problem}")
