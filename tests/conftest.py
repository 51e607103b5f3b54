"""Shared fixtures: a registry with the in-memory connectors, and manifests written to temp dirs."""

from __future__ import annotations

import os
import shutil
import tempfile
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from syncd.connector import ConnectorSpec
from syncd.manifest import Manifest, load_manifest
from syncd.registry import Registry
from syncd.retry import RetryPolicy
from syncd.secret import REDACTOR
from syncd.testing import MemorySink, MemorySource

# Only the light `aws_env` fixture is offered to every test. The fake servers' fixtures (aws_fake, aws_no_backoff,
# the OpenBao servers) come from the conftest.py of the folders whose tests use them, so that the other tests do not
# import moto, botocore and hvac.
pytest_plugins = ["tests.fakes.aws_env"]

MEMORY = ConnectorSpec(name="memory", summary="in-memory (tests)", source=MemorySource, sink=MemorySink)
FAST_RETRY = RetryPolicy(attempts=3, initial_delay=0)
_STATE_DIR = pytest.StashKey[str]()


def make_registry() -> Registry:
    registry = Registry()
    registry.register(MEMORY)
    return registry


@pytest.fixture(autouse=True)
def _independent_redactor() -> Iterator[None]:
    """Values registered by one test must not scrub another test's output."""
    snapshot = REDACTOR.snapshot()
    yield
    REDACTOR.restore(snapshot)


def pytest_configure(config: pytest.Config) -> None:
    """Before any fixture, of any scope, and any child process a test starts: `syncd apply` appends to the audit log
    in the state directory, which must never be the home's of the person running the tests."""
    config.stash[_STATE_DIR] = os.environ["SYNCD_STATE_DIR"] = tempfile.mkdtemp(prefix="syncd-test-state-")


def pytest_unconfigure(config: pytest.Config) -> None:
    shutil.rmtree(config.stash.get(_STATE_DIR, ""), ignore_errors=True)


@pytest.fixture(autouse=True)
def _private_state_dir(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    """`syncd apply` appends to the audit log in the state directory: each test gets its own, never the home's."""
    monkeypatch.setenv("SYNCD_STATE_DIR", str(tmp_path_factory.mktemp("state")))


@pytest.fixture
def registry() -> Registry:
    return make_registry()


@pytest.fixture
def write_manifest(tmp_path: Path, registry: Registry) -> Callable[[str], Manifest]:
    """Write YAML text (dedented) to a temp manifest and load it."""

    def write(text: str, name: str = "syncd.yaml") -> Manifest:
        path = tmp_path / name
        path.write_text(textwrap.dedent(text))
        return load_manifest(path, registry)

    return write
