"""The README's console examples are what the commands print: each `$ command` block is run and compared."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parent.parent
README = (ROOT / "README.md").read_text()
INSTALL = "pip install -e . && "  # the README's first step; the package is installed already


def _sessions() -> list[list[tuple[str, str]]]:
    """Each ```console block as (command, expected output) pairs, in order."""
    sessions = []
    for block in re.findall(r"^```console\n(.*?)^```$", README, flags=re.MULTILINE | re.DOTALL):
        pairs: list[tuple[str, list[str]]] = []
        for line in block.splitlines():
            if line.startswith("$ "):
                pairs.append((line[2:].removeprefix(INSTALL), []))
            else:
                pairs[-1][1].append(line)
        sessions.append([(command, "\n".join(output).strip("\n")) for command, output in pairs])
    return sessions


def _matches(expected: str, actual: str) -> bool:
    """`expected` equals `actual`, where a line `...` in `expected` stands for any lines."""
    pattern = "".join(r"(?:.*\n)*?" if line == "..." else re.escape(line) + r"\n" for line in expected.splitlines())
    return re.fullmatch(pattern, actual.strip("\n") + "\n") is not None


def test_the_readme_has_console_examples() -> None:
    """The quickstart's examples are there to be checked."""
    commands = [command for session in _sessions() for command, _ in session]
    assert "syncd apply -c examples/quickstart/syncd.yaml --yes" in commands


def test_every_console_example_prints_what_the_readme_shows(tmp_path: Path) -> None:
    """Run in the README's order from a copy of the repository's examples, each command prints what is shown."""
    shutil.copytree(ROOT / "examples", tmp_path / "examples", ignore=shutil.ignore_patterns("out"))
    shutil.copy(ROOT / "config.example.yaml", tmp_path)
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}", "NO_COLOR": "1"}
    wrong = []
    for command, expected in [pair for session in _sessions() for pair in session]:
        done = subprocess.run(["sh", "-c", command], cwd=tmp_path, env=env, capture_output=True, text=True)
        if not _matches(expected, done.stdout):
            wrong.append(f"$ {command}\n--- README.md shows\n{expected}\n--- the command printed\n{done.stdout}")
    assert not wrong, "\n\n".join(wrong)
