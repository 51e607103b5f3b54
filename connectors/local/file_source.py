"""The `file` source: secrets kept in a YAML, JSON or dotenv file, or in a directory of them.

This module maps secret paths to the files of a directory and finds the secret a path names; file_tree.py reads
one file. The layout and the rules are in docs/connectors.md ("`file` source").

A source keeps nothing that can go stale: a file is parsed again when its identity (device, inode, modification
time, size) moved since it was read, and otherwise once, whatever the number of readers; `list`, and a read that
finds no file for its path, scan the directory again.
"""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path
from typing import Any, cast

from connectors.local import file_tree
from connectors.local.dotenv_file import LOCK_SUFFIX, current_identity
from connectors.local.file_tree import Format, Tree, display
from connectors.local.options import FileSourceOptions, FormatOption
from syncd.connector import Capabilities, Source, file_location
from syncd.errors import SourceError
from syncd.model import SourceSecret
from syncd.secret import Secret

_FORMAT_BY_SUFFIX: dict[str, Format] = {".yaml": "yaml", ".yml": "yaml", ".json": "json", ".env": "dotenv"}


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
        self._trees: dict[Path, tuple[tuple[int, ...] | None, Tree | str]] = {}

    def read(self, path: str) -> SourceSecret:
        key = _normalize(path)
        try:
            found, is_folder = self._find(key, self._files())
        except SourceError:  # a file of the last scan may have been renamed or removed since
            found, is_folder = [], False
        if not found and not is_folder:  # a file added since the last scan may hold it
            found, is_folder = self._find(key, self._files(scan=True))
        where = self.options.path
        if len(found) > 1:
            files = " and ".join(str(file) for file, _, _ in found)
            raise SourceError(f"secret {display(key)!r} is defined twice, in {files}")
        if not found:
            if is_folder:
                raise SourceError(
                    f"{display(key)!r} in {where} is a folder, not a secret; add a trailing '/' to read it as a prefix"
                )
            raise SourceError(f"no secret at {display(key)!r} in {where}")
        file, tree, rel = found[0]
        data = tree.secrets[rel]
        if not data:
            raise SourceError(f"secret {display(key)!r} in {file} has no keys")
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
                    raise SourceError(f"secret {display(path)!r} is defined twice, in {found[path]} and {file}")
                found[path] = file
        return sorted(display(path) for path in found)

    def location(self, path: str) -> tuple[str, ...]:
        # Every file of the source is read whatever the path, so the whole file or folder is where it reads.
        return file_location(self.options.path)

    def _find(self, key: str, files: dict[str, tuple[Path, Format]]) -> tuple[list[tuple[Path, Tree, str]], bool]:
        """The secrets at `key` (a file, its tree, the path in it), and whether `key` is a folder."""
        found: list[tuple[Path, Tree, str]] = []
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

    def _tree(self, file: Path, fmt: Format) -> Tree:
        """What `file` holds, parsed again only when its identity (device, inode, mtime, size) moved."""
        # Under the lock, so that readers on many threads parse a file once (the core reads on one).
        with self._lock:
            try:
                identity = current_identity(file)
            except OSError:  # unreadable: the load says why
                identity = None
            if file not in self._trees or self._trees[file][0] != identity:
                try:
                    self._trees[file] = (identity, file_tree.load(file, fmt, self.options.sops))
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


def _within(path: str, folder: str) -> bool:
    """Whether `path` is strictly below `folder`; every path but the root itself is below the root."""
    return path.startswith(folder + "/") if folder else True


def _detect(path: Path) -> Format | None:
    return _FORMAT_BY_SUFFIX.get(path.suffix.lower()) or ("dotenv" if _is_dotenv_name(path.name) else None)


def _is_dotenv_name(name: str) -> bool:
    # `.envrc` (direnv) is a shell script, not a dotenv file; `.env.lock` is the dotenv sink's lock file.
    return (name == ".env" or name.startswith(".env.")) and not name.endswith(LOCK_SUFFIX)


def _secret_path(relative: Path) -> str:
    name = relative.name
    if relative.suffix.lower() in _FORMAT_BY_SUFFIX:
        name = name[: -len(relative.suffix)]
    return (relative.parent / name.removeprefix(".")).as_posix()


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
