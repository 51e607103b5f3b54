"""Installed, the plugin is found by syncd through its entry point."""

from syncd_example_plugin import JsonFileSink

from syncd.registry import Registry


def test_syncd_finds_the_sink_by_its_entry_point() -> None:
    """The `syncd.connectors` entry point `example-json` names this package's spec and its sink."""
    spec = Registry().get("example-json")
    assert spec.sink is JsonFileSink
    assert spec.roles == ("sink",)
