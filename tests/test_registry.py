"""Connector plugins: found through entry points, imported lazily, with install hints and no duplicates."""

from __future__ import annotations

import sys

import pytest

from syncd.connector import ConnectorSpec
from syncd.errors import ConfigError
from syncd.registry import Registry, default_registry
from syncd.testing import MemorySink


def test_built_in_connectors_register_through_entry_points() -> None:
    """The file and dotenv connectors are found in the `syncd.connectors` entry-point group."""
    assert {"file", "dotenv"} <= set(Registry().names())
    assert default_registry().get("dotenv").roles == ("sink",)
    assert default_registry().get("file").roles == ("source",)


def test_connectors_are_imported_only_when_used() -> None:
    """Listing connectors imports none of them; asking for one imports that one."""
    for name in [name for name in sys.modules if name.startswith("connectors.local")]:
        sys.modules.pop(name)
    registry = Registry()
    registry.names()
    assert "connectors.local.dotenv_sink" not in sys.modules
    registry.get("dotenv")
    assert "connectors.local.dotenv_sink" in sys.modules


def test_unknown_connector_suggests_the_closest(tmp_path) -> None:
    """An unknown type names the known ones and the closest match."""
    with pytest.raises(ConfigError, match=r"unknown connector type 'dotnev'; did you mean 'dotenv'\?"):
        Registry().get("dotnev")


def test_missing_sdk_gives_the_install_command(monkeypatch: pytest.MonkeyPatch) -> None:
    """A plugin whose SDK is not installed is reported with the pip extra that installs it."""
    monkeypatch.setitem(sys.modules, "boto3", None)  # makes `import boto3` fail
    monkeypatch.delitem(sys.modules, "tests.plugin_needing_boto3", raising=False)
    registry = Registry({"aws-thing": "tests.plugin_needing_boto3:spec"})
    with pytest.raises(ConfigError, match=r"needs the Python package 'boto3'.*pip install 'syncd\[aws\]'"):
        registry.get("aws-thing")


def test_a_duplicate_name_is_an_error() -> None:
    """Two plugins may not claim the same connector name."""
    registry = Registry({"memory": ConnectorSpec("memory", "one", sink=MemorySink)})
    with pytest.raises(ConfigError, match="already registered"):
        registry.register(ConnectorSpec("memory", "two", sink=MemorySink))


def test_an_entry_point_that_is_not_a_spec_is_refused() -> None:
    """An entry point must name a ConnectorSpec."""
    with pytest.raises(ConfigError, match="is not a ConnectorSpec"):
        Registry({"bogus": "syncd.model:Action"}).get("bogus")
