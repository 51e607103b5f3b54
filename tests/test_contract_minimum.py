"""The minimum a sink must implement: `observe`, `write` and `delete` over a dict, with the default capabilities,
pass the whole sink contract; leaving out the check that an item is still as the plan saw it makes it fail."""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from typing import Any

import pytest

from syncd.connector import Observation, Scope, Sink, expect_unmoved
from syncd.model import ActualItem, DesiredItem, Difference, Ownership
from syncd.secret import Secret
from syncd.testing.contract import PlantUnowned, SinkContract


class DictSink(Sink):
    """The smallest sink: items kept in a dict of address → (owner, data), one lock for check-and-set."""

    def __init__(self, target: str = "minimum", options: Any = None, connection: Any = None) -> None:
        super().__init__(target, options, connection)
        self.items: dict[str, tuple[Ownership | None, dict[str, Secret]]] = {}
        self.lock = threading.Lock()

    def current(self, address: str) -> ActualItem | None:
        if address not in self.items:
            return None
        owner, data = self.items[address]
        return ActualItem(address, owner, dict(data))

    def observe(self, desired: Sequence[DesiredItem], scope: Scope) -> Observation:
        with self.lock:
            items = {i.address: found for i in desired if (found := self.current(i.address))}
            owned = {
                address: found
                for address in self.items
                if scope.covers(address)
                and (found := self.current(address))
                and found.owner
                and found.owner.instance == scope.instance
            }
        return Observation(items, owned)

    def write(self, item: DesiredItem, expected: ActualItem | None, difference: Difference) -> None:
        with self.lock:
            current = self.current(item.address)
            # A retry after a lost answer finds its own write done; anything else must be as the plan saw it.
            if current is None or current.owner != item.owner or current.data != item.data:
                expect_unmoved(self.target, expected, current)
            self.items[item.address] = (item.owner, dict(item.data))

    def delete(self, expected: ActualItem) -> None:
        with self.lock:
            current = self.current(expected.address)
            if current is not None:
                expect_unmoved(self.target, expected, current)
                del self.items[expected.address]


def plant_into(sink: DictSink) -> PlantUnowned:
    def plant(address: str, data: Mapping[str, str]) -> None:
        sink.items[address] = (None, {key: Secret(value) for key, value in data.items()})

    return plant


class TestTheMinimumSinkPassesTheContract(SinkContract):
    @pytest.fixture
    def sink(self) -> DictSink:
        return DictSink()

    @pytest.fixture
    def plant_unowned(self, sink: DictSink) -> PlantUnowned:
        return plant_into(sink)


class UncheckedSink(DictSink):
    """The minimum sink without the expected-check: it writes and deletes whatever is there now."""

    def write(self, item: DesiredItem, expected: ActualItem | None, difference: Difference) -> None:
        self.items[item.address] = (item.owner, dict(item.data))

    def delete(self, expected: ActualItem) -> None:
        self.items.pop(expected.address, None)


@pytest.mark.parametrize(
    "test",
    [
        "test_a_create_refuses_an_item_that_appeared_since_the_plan",
        "test_a_write_refuses_an_item_whose_marker_moved_since_the_plan",
        "test_a_delete_refuses_an_item_that_moved_since_the_plan",
    ],
)
def test_leaving_out_the_expected_check_fails_the_contract(test: str) -> None:
    """A sink that writes and deletes without checking that the item is still as planned fails the contract's
    moved-item tests (while DictSink, which checks, passes them)."""
    sink = UncheckedSink()
    with pytest.raises(pytest.fail.Exception, match="DID NOT RAISE"):
        getattr(SinkContract(), test)(sink, plant_into(sink))


def test_the_minimum_sink_implements_only_the_three_calls() -> None:
    """DictSink overrides no method of Sink but observe, write and delete, and keeps the default capabilities."""
    overridden = {name for name in vars(DictSink) if callable(getattr(Sink, name, None))}
    assert overridden == {"__init__", "observe", "write", "delete"}
    assert DictSink.capabilities == Sink.capabilities
