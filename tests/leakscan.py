"""Leak checks that can fail: run with the redactor off, then look for planted values everywhere.

The redactor is syncd's second line of defence. A test that claims "no value leaks" must prove the first
line, that values never reach output, so it runs syncd with the redactor switched off:

    from tests.leakscan import assert_no_leaks, redactor_off

    with redactor_off():
        code = main([...])
    captured = capsys.readouterr()
    assert_no_leaks({"password": planted}, texts={"stdout": captured.out, "stderr": captured.err}, paths=[tmp_path])

or, for a whole test, the `no_redactor` fixture (import it into the test module, or use
`@pytest.mark.usefixtures("no_redactor")` after importing it).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

import pytest

from syncd.testing.leaks import redactor_off

__all__ = ["assert_no_leaks", "find_leaks", "no_redactor", "redactor_off"]


@pytest.fixture
def no_redactor() -> Iterator[None]:
    """The whole test runs with the redactor off."""
    with redactor_off():
        yield


def _files(paths: Iterable[Path], skip: frozenset[Path]) -> Iterator[Path]:
    for path in paths:
        candidates = sorted(path.rglob("*")) if path.is_dir() else [path]
        yield from (p for p in candidates if p.is_file() and p.resolve() not in skip)


def find_leaks(
    planted: Mapping[str, str],
    texts: Mapping[str, str] | None = None,
    paths: Iterable[Path] = (),
    skip: Iterable[Path] = (),
) -> list[str]:
    """Where each planted value shows up, as "planted NAME (line N) in WHERE", never the value itself.

    `planted` maps a name to a value; each line of a multi-line value is looked for on its own. `texts` maps a
    label ("stdout of plan") to text; `paths` are files or folders (searched recursively) to read, except
    `skip` (the source and the sinks, which rightly hold the values).
    """
    skipped = frozenset(p.resolve() for p in skip)
    places = dict(texts or {})
    for file in _files(paths, skipped):
        places[str(file)] = file.read_text(encoding="utf-8", errors="replace")
    found = []
    for name, value in planted.items():
        lines = [line for line in value.splitlines() if line.strip()] or [value]
        for number, line in enumerate(lines, 1):
            shown = f"planted {name!r}" + (f" (line {number})" if len(lines) > 1 else "")
            # As printed, and as JSON or a Python repr would escape it.
            forms = {line, json.dumps(line)[1:-1], repr(line)[1:-1]}
            found += [f"{shown} in {where}" for where, text in places.items() if any(f in text for f in forms)]
    return found


def assert_no_leaks(
    planted: Mapping[str, str],
    texts: Mapping[str, str] | None = None,
    paths: Iterable[Path] = (),
    skip: Iterable[Path] = (),
) -> None:
    """Fail, naming each place, when a planted value shows up in `texts` or the files under `paths`."""
    leaks = find_leaks(planted, texts, paths, skip)
    assert not leaks, "values leaked:\n" + "\n".join(leaks)
