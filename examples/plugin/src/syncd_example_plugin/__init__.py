"""syncd's example plugin: the `example-json` sink, registered through the `syncd.connectors` entry point."""

from syncd.connector import ConnectorSpec
from syncd_example_plugin.sink import JsonFileSink

spec = ConnectorSpec(name="example-json", summary="Items kept in one JSON file (an example plugin).", sink=JsonFileSink)

__all__ = ["JsonFileSink", "spec"]
