"""The example plugin under examples/plugin, as a stranger's package: registered by its entry point, found by
syncd, passing the sink contract, and usable from a manifest as `type: example-json`.

Installing it is done as an editable install does it, without a build: the plugin's sources are put on the
path beside the `.dist-info` its pyproject.toml describes (the entry points copied from there), so the
registry finds it through `importlib.metadata` exactly as it would a pip-installed package, in a few seconds
and with no package index.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
PLUGIN = ROOT / "examples" / "plugin"

# The plugin's own contract tests, run in this suite too: its sources on the path, but no metadata, so the
# registry of this process does not know it.
sys.path.insert(0, str(PLUGIN / "src"))
from examples.plugin.tests.test_contract import TestJsonFileSinkContract  # noqa: E402, F401


def install(plugin: Path) -> Path:
    """Make `plugin` (a copy of examples/plugin) importable with its metadata; returns the folder for the path."""
    project = tomllib.loads((plugin / "pyproject.toml").read_text())["project"]
    site = plugin / "src"
    info = site / f"{project['name'].replace('-', '_')}-{project['version']}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {project['name']}\nVersion: {project['version']}\n", encoding="utf-8"
    )
    groups = project["entry-points"]
    (info / "entry_points.txt").write_text(
        "".join(f"[{group}]\n" + "".join(f"{n} = {v}\n" for n, v in eps.items()) for group, eps in groups.items()),
        encoding="utf-8",
    )
    return site


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """A copy of the plugin, installed; and the environment in which a process sees it."""
    plugin = tmp_path_factory.mktemp("example-plugin") / "plugin"
    shutil.copytree(PLUGIN, plugin, ignore=shutil.ignore_patterns("__pycache__", ".pytest_cache", "*.egg-info"))
    site = install(plugin)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")])}
    env.pop("PYTEST_XDIST_WORKER", None)
    return plugin, env


def run(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def test_the_plugins_own_tests_pass_once_it_is_installed(installed: tuple[Path, dict[str, str]]) -> None:
    """`python -m pytest` in the plugin's folder passes: its contract suite, and syncd finding it by entry point."""
    plugin, env = installed
    done = run(["-m", "pytest", "-q", "-p", "no:cacheprovider"], plugin, env)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "passed" in done.stdout and "failed" not in done.stdout


def test_syncd_plans_and_applies_to_the_plugins_sink(installed: tuple[Path, dict[str, str]], tmp_path: Path) -> None:
    """A manifest naming `type: example-json` validates, applies into the JSON file with the ownership marker,
    then plans no change; `syncd policy` says the target needs no access policy."""
    _, env = installed
    (tmp_path / "secrets.yaml").write_text("apps:\n  db: {user: admin, password: example-plugin-password}\n")
    (tmp_path / "syncd.yaml").write_text(
        "version: 1\n"
        "instance: plugin-test\n"
        "source: {type: file, path: secrets.yaml}\n"
        "targets:\n"
        "  json: {type: example-json, path: out/items.json, rate_limit: 50}\n"
        "syncs:\n"
        "  - {name: db, from: apps/db, prune: true, to: [{target: json, name: 'prod/db'}]}\n"
    )
    applied = run(["-m", "syncd", "apply", "--yes", "-c", "syncd.yaml"], tmp_path, env)
    assert applied.returncode == 0, applied.stdout + applied.stderr
    assert "example-plugin-password" not in applied.stdout + applied.stderr
    items = json.loads((tmp_path / "out" / "items.json").read_text())["items"]
    assert items["prod/db"]["data"] == {"user": "admin", "password": "example-plugin-password"}
    assert items["prod/db"]["marker"] == {"syncd.io/instance": "plugin-test", "syncd.io/sync": "db"}
    again = run(["-m", "syncd", "plan", "--detailed-exitcode", "-c", "syncd.yaml"], tmp_path, env)
    assert again.returncode == 0, again.stdout + again.stderr
    policy = run(["-m", "syncd", "policy", "--target", "json", "-c", "syncd.yaml"], tmp_path, env)
    assert policy.returncode == 1
    assert "target 'json' uses connector 'example-json', which needs no access policy" in policy.stderr


def test_without_its_metadata_syncd_does_not_know_the_plugin(tmp_path: Path) -> None:
    """The plugin's code alone on the path is not enough: syncd finds connectors by entry point only."""
    env = {**os.environ, "PYTHONPATH": str(PLUGIN / "src")}
    (tmp_path / "syncd.yaml").write_text(
        "version: 1\ninstance: t\nsource: {type: file, path: s.yaml}\n"
        "targets: {json: {type: example-json, path: items.json}}\n"
        "syncs: [{name: db, from: apps/db, to: [{target: json}]}]\n"
    )
    done = run(["-m", "syncd", "validate", "-c", "syncd.yaml"], tmp_path, env)
    assert done.returncode == 1
    assert "unknown connector type 'example-json'" in done.stderr


@pytest.mark.parametrize(
    "entry",
    [{"data": {"K": "v"}, "marker": "x"}, {"data": {"K": "v"}, "version": "2"}, {"data": {"K": 1}}, {"marker": {}}],
    ids=["marker-not-a-map", "version-not-a-number", "value-not-text", "no-data"],
)
def test_the_plugins_sink_refuses_a_file_it_did_not_write_in_one_sentence(tmp_path: Path, entry: dict) -> None:
    """A file whose items are not the shape the sink writes is one clear error naming the file, never a crash."""
    from syncd_example_plugin import JsonFileSink

    from syncd.connector import Scope
    from syncd.errors import PermanentError

    path = tmp_path / "items.json"
    path.write_text(json.dumps({"items": {"app/db": entry}}))
    sink = JsonFileSink("json", JsonFileSink.Options(path=str(path)))
    with pytest.raises(PermanentError, match="does not hold example-json items"):
        sink.observe([], Scope("prod", ("*",)))
