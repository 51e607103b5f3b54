"""The example-json sink passes syncd's sink contract."""

import json
from collections.abc import Mapping
from pathlib import Path

import pytest
from syncd_example_plugin import JsonFileSink

from syncd.testing.contract import PlantUnowned, SinkContract


class TestJsonFileSinkContract(SinkContract):
    @pytest.fixture
    def sink(self, tmp_path: Path) -> JsonFileSink:
        return JsonFileSink("contract", JsonFileSink.Options(path=str(tmp_path / "items.json")))

    @pytest.fixture
    def plant_unowned(self, sink: JsonFileSink) -> PlantUnowned:
        def plant(address: str, data: Mapping[str, str]) -> None:
            """Put an item with no marker into the file, as another program would."""
            document = json.loads(sink.path.read_text()) if sink.path.exists() else {"items": {}}
            document["items"][address] = {"data": dict(data), "version": 1000}
            sink.path.write_text(json.dumps(document))

        return plant
