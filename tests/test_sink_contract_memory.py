"""The sink contract, run against MemorySink alone and wrapped in the recording and failing sinks."""

import pytest

from syncd.model import Granularity
from syncd.testing import FailingSink, MemorySink, RecordingSink
from syncd.testing.contract import PlantUnowned, SinkContract


class TestMemorySinkContract(SinkContract):
    @pytest.fixture
    def sink(self) -> MemorySink:
        return MemorySink("contract-memory")

    @pytest.fixture
    def plant_unowned(self, sink: MemorySink) -> PlantUnowned:
        return sink.put_unowned


class TestMemorySinkPerKeyContract(TestMemorySinkContract):
    granularity = Granularity.PER_KEY


class TestWrappedMemorySinkContract(SinkContract):
    @pytest.fixture
    def memory(self) -> MemorySink:
        return MemorySink("contract-wrapped")

    @pytest.fixture
    def sink(self, memory: MemorySink) -> RecordingSink:
        return RecordingSink(FailingSink(memory))

    @pytest.fixture
    def plant_unowned(self, memory: MemorySink) -> PlantUnowned:
        return memory.put_unowned
