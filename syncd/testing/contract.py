"""The source and sink contracts: the behaviour every source and every sink must show, as pytest classes to
subclass (`SourceContract` is described at its class).

A connector's test module subclasses `SinkContract` and provides a `sink`
fixture (a fresh, empty sink); the contract's tests then run against it::

    from syncd.testing.contract import SinkContract

    class TestMySinkContract(SinkContract):
        addresses = ("contract/alpha", "contract/beta", "contract/gamma")

        @pytest.fixture
        def sink(self) -> MySink:
            return MySink("contract", MySink.Options(...))

        @pytest.fixture
        def plant_unowned(self, sink: MySink) -> PlantUnowned:
            return lambda address, data: ...  # write straight to the backend, no marker

The tests reach the sink only through the contract's three calls (`observe`,
`write`, `delete`), as the core does. Without `plant_unowned` the tests about
unowned items (and about an item that moved since the plan) are skipped. Set
`granularity` to run the suite for a granularity other than the sink's
first, `destination` when the sink's Destination has required fields, and
`special_values` to leave out values the sink rightly refuses.
"""

from __future__ import annotations

import contextlib
import traceback
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import replace
from typing import Any, ClassVar

import pytest
from pydantic import BaseModel

from syncd.connector import Scope, Sink, Source
from syncd.diff import difference
from syncd.errors import ItemMoved, SourceError
from syncd.model import ActualItem, DesiredItem, Granularity, Ownership, SourceSecret
from syncd.secret import Secret
from syncd.testing.leaks import redactor_off

# Puts an item with no syncd marker straight into the backend: (address, plain data).
PlantUnowned = Callable[[str, Mapping[str, str]], None]
# Writes a secret straight into a source's backend, replacing what the path held: (path, plain keys and values).
Plant = Callable[[str, Mapping[str, str]], None]

OWNER = Ownership(instance="contract-instance", sync="contract-sync")
OTHER_OWNER = Ownership(instance="contract-other-instance", sync="contract-other-sync")

SPECIAL_VALUES = (
    "first line\nsecond line\n",
    "quotes \" and ' and `backticks`",
    "dollar $HOME ${HOME} $(id), a key=value and # not a comment",
    "unicode ünïcødé ✓ 密码 🔑",
    "0123456789abcdef" * 256,  # 4 KiB
)


def plain(data: Mapping[str, Any] | None) -> dict[str, Any]:
    """Item data with Secret values revealed, for comparing in assertions."""
    return {k: v.reveal() if isinstance(v, Secret) else v for k, v in (data or {}).items()}


def shown(exc: BaseException) -> str:
    """All the text an exception can show: its traceback with causes, and its arguments."""
    return "".join(traceback.format_exception(exc)) + repr(exc.args)


@contextlib.contextmanager
def no_leak(value: str) -> Iterator[None]:
    """Fail if the block raises an exception that shows `value`; other exceptions pass through.

    The redactor is off inside the block, so a message the sink builds from the value is seen as it is. A
    failed assertion inside the block is the test's own and passes through unchecked.
    """
    try:
        with redactor_off():
            yield
    except AssertionError:
        raise
    except Exception as exc:
        assert value not in shown(exc), f"{type(exc).__name__} raised by the sink shows a secret value"
        raise


def everywhere(instance: str) -> Scope:
    """A scope that covers every address: the whole target."""
    return Scope(instance, ("*",))


class SinkContract:
    """Contract tests every sink must pass; subclass it and provide a `sink` fixture."""

    addresses: ClassVar[Sequence[str]] = ("contract/alpha", "contract/beta", "contract/gamma")
    granularity: ClassVar[Granularity | None] = None
    destination: ClassVar[BaseModel | None] = None
    special_values: ClassVar[Sequence[str]] = SPECIAL_VALUES

    @pytest.fixture
    def plant_unowned(self) -> PlantUnowned:
        pytest.skip("the sink's contract tests provide no plant_unowned fixture")

    # The three calls, as the core makes them.

    def read(self, sink: Sink, addresses: Sequence[str]) -> dict[str, ActualItem]:
        """What `observe` finds at `addresses`."""
        desired = [self.desired_item(sink, address) for address in addresses]
        return dict(sink.observe(desired, everywhere(OWNER.instance)).items)

    def owned(self, sink: Sink, instance: str, scope: Scope | None = None) -> dict[str, ActualItem]:
        """What `observe` reports as `instance`'s (in the whole target unless `scope` is given)."""
        return dict(sink.observe([], scope or everywhere(instance)).owned)

    def put(self, sink: Sink, item: DesiredItem, expected: ActualItem | None) -> None:
        """Write `item` over `expected` with the difference the core would compute (an item found without a
        marker is adopted, one of another sync taken over)."""
        found = difference(item, expected)
        if expected is not None and expected.owner is None:
            found = replace(found, adopt=True)
        elif expected is not None and expected.owner != item.owner:
            found = replace(found, owner_was=expected.owner.sync)
        sink.write(item, expected, found)

    def gone(self, sink: Sink, address: str) -> bool:
        """True when `address` reads as absent, or as scheduled for deletion (a sink with a recovery window)."""
        found = self.read(sink, [address])
        return address not in found or found[address].pending_deletion

    def desired_item(
        self,
        sink: Sink,
        address: str,
        value: str = "contract-value-1",
        *,
        owner: Ownership = OWNER,
        tags: Mapping[str, str] | None = None,
        description: str | None = None,
    ) -> DesiredItem:
        """An item for `address` holding `value`: in a document with two more keys, or alone per key."""
        granularity = self.granularity or sink.capabilities.granularities[0]
        if granularity is Granularity.PER_KEY:
            data = {address.rsplit("/", 1)[-1]: value}
        else:
            data = {"PASSWORD": value, "USERNAME": "contract-user", "NOTE": "written by the sink contract"}
        destination = self.destination if self.destination is not None else sink.Destination()
        return DesiredItem(
            target=sink.target,
            address=address,
            owner=owner,
            data={key: Secret(v) for key, v in data.items()},
            granularity=granularity,
            source_paths=("contract/source",),
            tags=dict(tags or {}),
            description=description,
            flags=sink.flags(destination),
            destination=destination,
        )

    def test_read_of_absent_addresses_returns_nothing(self, sink: Sink) -> None:
        """Reading addresses that hold nothing returns an empty mapping."""
        assert self.read(sink, list(self.addresses)) == {}
        assert self.read(sink, []) == {}

    def test_write_then_read_returns_the_data_and_owner(self, sink: Sink) -> None:
        """An item read after a write holds the written data and the owner."""
        address = self.addresses[0]
        item = self.desired_item(sink, address)
        self.put(sink, item, None)
        found = self.read(sink, [address])
        assert list(found) == [address]
        assert found[address].address == address
        assert plain(found[address].data) == plain(item.data)
        assert found[address].owner == OWNER

    def test_read_values_are_secrets(self, sink: Sink) -> None:
        """The values of a read item are Secret objects, never plain strings."""
        address = self.addresses[0]
        self.put(sink, self.desired_item(sink, address), None)
        data = self.read(sink, [address])[address].data
        assert data
        assert all(isinstance(value, Secret) for value in data.values())

    def test_read_of_many_returns_the_present_and_omits_the_absent(self, sink: Sink) -> None:
        """One read of many addresses returns every present item and omits the absent ones."""
        first, absent, last = self.addresses[:3]
        items = {a: self.desired_item(sink, a, f"value-of-{a}") for a in (first, last)}
        for item in items.values():
            self.put(sink, item, None)
        found = self.read(sink, [first, absent, last])
        assert set(found) == {first, last}
        for address, item in items.items():
            assert plain(found[address].data) == plain(item.data)

    def test_write_is_idempotent(self, sink: Sink) -> None:
        """Writing the same item twice, as a retry would, leaves one item with the same data."""
        address = self.addresses[0]
        item = self.desired_item(sink, address)
        self.put(sink, item, None)
        self.put(sink, item, None)
        assert plain(self.read(sink, [address])[address].data) == plain(item.data)
        assert list(self.owned(sink, OWNER.instance)) == [address]

    def test_update_changes_the_data(self, sink: Sink) -> None:
        """Writing new data over an owned item replaces its data."""
        address = self.addresses[0]
        self.put(sink, self.desired_item(sink, address, "before-update"), None)
        actual = self.read(sink, [address])[address]
        updated = self.desired_item(sink, address, "after-update")
        self.put(sink, updated, actual)
        assert plain(self.read(sink, [address])[address].data) == plain(updated.data)

    def test_owner_marker_carries_instance_and_sync(self, sink: Sink) -> None:
        """A written item's owner, read or listed, carries both the instance and the sync."""
        address = self.addresses[0]
        self.put(sink, self.desired_item(sink, address, owner=OTHER_OWNER), None)
        assert self.read(sink, [address])[address].owner == OTHER_OWNER
        assert self.owned(sink, OTHER_OWNER.instance)[address].owner == OTHER_OWNER

    def test_owned_items_are_only_that_instances(self, sink: Sink) -> None:
        """observe reports as owned the items of the scope's instance and none of another's."""
        mine, theirs = self.addresses[:2]
        self.put(sink, self.desired_item(sink, mine, owner=OWNER), None)
        self.put(sink, self.desired_item(sink, theirs, owner=OTHER_OWNER), None)
        assert set(self.owned(sink, OWNER.instance)) == {mine}
        assert set(self.owned(sink, OTHER_OWNER.instance)) == {theirs}
        assert self.owned(sink, "contract-nobody") == {}

    def test_owned_items_omit_a_deleted_item(self, sink: Sink) -> None:
        """An item deleted is no longer listed among its instance's items."""
        kept, deleted = self.addresses[:2]
        for address in (kept, deleted):
            self.put(sink, self.desired_item(sink, address), None)
        sink.delete(self.read(sink, [deleted])[deleted])
        assert set(self.owned(sink, OWNER.instance)) == {kept}

    def test_delete_removes_the_item(self, sink: Sink) -> None:
        """A deleted item reads as absent."""
        address = self.addresses[0]
        self.put(sink, self.desired_item(sink, address), None)
        sink.delete(self.read(sink, [address])[address])
        assert self.gone(sink, address)

    def test_delete_of_a_deleted_item_does_not_raise(self, sink: Sink) -> None:
        """Deleting an item that is already gone succeeds and leaves it absent."""
        address = self.addresses[0]
        self.put(sink, self.desired_item(sink, address), None)
        actual = self.read(sink, [address])[address]
        sink.delete(actual)
        sink.delete(actual)
        assert self.gone(sink, address)

    def test_unowned_item_reads_without_owner_and_is_not_listed(self, sink: Sink, plant_unowned: PlantUnowned) -> None:
        """An item syncd did not write reads with no owner and is not among any instance's items."""
        address = self.addresses[0]
        data = plain(self.desired_item(sink, address, "planted-unowned").data)
        plant_unowned(address, data)
        found = self.read(sink, [address])[address]
        assert found.owner is None
        assert plain(found.data) == data
        assert address not in self.owned(sink, OWNER.instance)

    def test_writing_over_an_unowned_item_stamps_the_marker(self, sink: Sink, plant_unowned: PlantUnowned) -> None:
        """Adopting an unowned item by writing over it gives it the owner's marker and the new data."""
        address = self.addresses[0]
        plant_unowned(address, plain(self.desired_item(sink, address, "planted-unowned").data))
        item = self.desired_item(sink, address, "adopted")
        self.put(sink, item, self.read(sink, [address])[address])
        found = self.read(sink, [address])[address]
        assert found.owner == OWNER
        assert plain(found.data) == plain(item.data)
        assert address in self.owned(sink, OWNER.instance)

    def test_writes_in_a_batch_are_visible_after_it(self, sink: Sink) -> None:
        """Every item written inside a batch block reads back after the block ends."""
        items = [self.desired_item(sink, a, f"batched-{a}") for a in self.addresses]
        with sink.batch():
            for item in items:
                self.put(sink, item, None)
        found = self.read(sink, list(self.addresses))
        assert {a: plain(found[a].data) for a in found} == {i.address: plain(i.data) for i in items}

    def test_special_values_roundtrip(self, sink: Sink) -> None:
        """Values with newlines, quotes, $, #, unicode, and of 4 KiB read back unchanged."""
        for index, value in enumerate(self.special_values):
            address = self.addresses[index % len(self.addresses)]
            item = self.desired_item(sink, address, value)
            self.put(sink, item, self.read(sink, [address]).get(address))
            found = self.read(sink, [address])[address]
            assert plain(found.data) == plain(item.data), f"special value #{index} changed"

    def test_tags_roundtrip(self, sink: Sink) -> None:
        """The tags of a written item read back when it is observed as desired with them, when the sink supports
        tags (a sink may confirm in bulk only the tags the desired items name: the only ones the core compares)."""
        if not sink.capabilities.tags:
            pytest.skip("the sink does not support tags")
        address = self.addresses[0]
        tags = {"team": "platform", "env": "contract"}
        item = self.desired_item(sink, address, tags=tags)
        self.put(sink, item, None)
        found = sink.observe([item], everywhere(OWNER.instance)).items[address]
        assert tags.items() <= dict(found.tags).items()

    def test_description_roundtrips(self, sink: Sink) -> None:
        """The description of a written item reads back, when the sink supports descriptions."""
        if not sink.capabilities.description:
            pytest.skip("the sink does not support descriptions")
        address = self.addresses[0]
        description = "Written by the syncd sink contract."
        self.put(sink, self.desired_item(sink, address, description=description), None)
        assert self.read(sink, [address])[address].description == description

    def test_check_finds_no_problem_in_a_valid_item(self, sink: Sink) -> None:
        """check returns an empty list for an item at each sample address."""
        for address in self.addresses:
            assert sink.check(self.desired_item(sink, address)) == []

    def test_version_changes_after_an_update(self, sink: Sink) -> None:
        """An item's version moves when its data is updated, when the sink reports versions."""
        address = self.addresses[0]
        self.put(sink, self.desired_item(sink, address, "version-one"), None)
        before = self.read(sink, [address])[address]
        if before.version is None:
            pytest.skip("the sink reports no item versions")
        self.put(sink, self.desired_item(sink, address, "version-two"), before)
        assert self.read(sink, [address])[address].version != before.version

    def test_errors_and_reprs_never_show_a_planted_value(self, sink: Sink) -> None:
        """No exception, check problem or item repr from the sink shows a value it was given."""
        planted = f"PLANTED-contract-{uuid.uuid4().hex}"
        address = self.addresses[0]
        item = self.desired_item(sink, address, planted)
        invalid = replace(item, address=f"{address}/ not *valid* ?{'x' * 300}")
        with no_leak(planted):
            problems = sink.check(item) + sink.check(invalid)
            assert not any(planted in problem for problem in problems)
            self.put(sink, item, None)
            actual = self.read(sink, [address])[address]
            assert planted not in repr(actual) + repr(self.owned(sink, OWNER.instance))
            sink.delete(actual)
            sink.delete(actual)
            assert self.gone(sink, address)
        # A write the sink may rightly refuse: its error must not show the value either.
        try:
            with redactor_off():
                self.put(sink, invalid, None)
        except Exception as exc:
            assert planted not in shown(exc), f"{type(exc).__name__} raised by the sink shows a secret value"
        else:
            for accepted in self.read(sink, [invalid.address]).values():
                sink.delete(accepted)

    def test_two_observations_of_one_sink_object_see_a_change_between_them(self, sink: Sink) -> None:
        """A sink keeps nothing between runs: the second observe of the same object sees the item written since
        the first, and its new value."""
        address = self.addresses[0]
        assert self.read(sink, [address]) == {}
        self.put(sink, self.desired_item(sink, address, "first-run"), None)
        first = self.read(sink, [address])[address]
        assert address in self.owned(sink, OWNER.instance)
        updated = self.desired_item(sink, address, "second-run")
        self.put(sink, updated, first)
        assert plain(self.read(sink, [address])[address].data) == plain(updated.data)

    def test_observe_reports_as_owned_only_the_items_inside_the_scope(self, sink: Sink) -> None:
        """Owned items outside the scope's patterns are not reported: prune never sees them."""
        inside, outside = self.addresses[:2]
        for address in (inside, outside):
            self.put(sink, self.desired_item(sink, address), None)
        owned = self.owned(sink, OWNER.instance, Scope(OWNER.instance, (inside,)))
        assert inside in owned
        assert outside not in owned

    def test_observe_finds_desired_items_whatever_the_scope(self, sink: Sink) -> None:
        """The items at the desired addresses are reported even with an empty scope."""
        address = self.addresses[0]
        self.put(sink, self.desired_item(sink, address), None)
        observed = sink.observe([self.desired_item(sink, address)], Scope(OWNER.instance))
        assert list(observed.items) == [address]
        assert dict(observed.owned) == {}

    def test_an_update_retried_after_a_lost_answer_succeeds(self, sink: Sink) -> None:
        """A write repeated with the same expected item (its first answer lost) finds its own write done."""
        address = self.addresses[0]
        self.put(sink, self.desired_item(sink, address, "before-retry"), None)
        expected = self.read(sink, [address])[address]
        updated = self.desired_item(sink, address, "after-retry")
        self.put(sink, updated, expected)
        self.put(sink, updated, expected)
        assert plain(self.read(sink, [address])[address].data) == plain(updated.data)

    def test_a_create_refuses_an_item_that_appeared_since_the_plan(
        self, sink: Sink, plant_unowned: PlantUnowned
    ) -> None:
        """A create planned on an absent item raises ItemMoved when someone else's item is there now, and
        leaves it as it is."""
        address = self.addresses[0]
        theirs = plain(self.desired_item(sink, address, "appeared-meanwhile").data)
        plant_unowned(address, theirs)
        with pytest.raises(ItemMoved):
            self.put(sink, self.desired_item(sink, address, "planned-create"), None)
        found = self.read(sink, [address])[address]
        assert found.owner is None
        assert plain(found.data) == theirs

    def test_a_write_refuses_an_item_whose_marker_moved_since_the_plan(
        self, sink: Sink, plant_unowned: PlantUnowned
    ) -> None:
        """An update planned on an owned item raises ItemMoved when the item lost its marker since (another
        writer replaced it), and leaves the other writer's data."""
        address = self.addresses[0]
        self.put(sink, self.desired_item(sink, address, "owned-at-plan"), None)
        expected = self.read(sink, [address])[address]
        theirs = plain(self.desired_item(sink, address, "replaced-meanwhile").data)
        plant_unowned(address, theirs)
        with pytest.raises(ItemMoved):
            self.put(sink, self.desired_item(sink, address, "planned-update"), expected)
        found = self.read(sink, [address])[address]
        assert plain(found.data) == theirs
        assert found.owner is None, "the refused write left syncd's marker on another writer's item"

    def test_an_adoption_refuses_an_item_whose_value_changed_since_the_plan(
        self, sink: Sink, plant_unowned: PlantUnowned
    ) -> None:
        """An adoption planned on an unowned item raises ItemMoved when its writer changed its value since (even
        where that leaves its version as it was), and marks nothing."""
        address = self.addresses[0]
        plant_unowned(address, plain(self.desired_item(sink, address, "unowned-at-plan").data))
        expected = self.read(sink, [address])[address]
        theirs = plain(self.desired_item(sink, address, "edited-meanwhile").data)
        plant_unowned(address, theirs)
        with pytest.raises(ItemMoved):
            self.put(sink, self.desired_item(sink, address, "planned-adoption"), expected)
        found = self.read(sink, [address])[address]
        assert plain(found.data) == theirs
        assert found.owner is None, "the refused adoption left syncd's marker on another writer's item"

    def test_a_write_refuses_an_item_whose_version_moved_since_the_plan(self, sink: Sink) -> None:
        """An update planned on one version raises ItemMoved when another writer wrote a newer one since, when
        the sink reports versions, and the newer value stays."""
        address = self.addresses[0]
        self.put(sink, self.desired_item(sink, address, "version-at-plan"), None)
        expected = self.read(sink, [address])[address]
        if expected.version is None:
            pytest.skip("the sink reports no item versions")
        meanwhile = self.desired_item(sink, address, "written-meanwhile")
        self.put(sink, meanwhile, expected)
        with pytest.raises(ItemMoved):
            self.put(sink, self.desired_item(sink, address, "planned-update"), expected)
        assert plain(self.read(sink, [address])[address].data) == plain(meanwhile.data)

    def test_a_delete_refuses_an_item_that_moved_since_the_plan(self, sink: Sink, plant_unowned: PlantUnowned) -> None:
        """A delete planned on an owned item raises ItemMoved when the item lost its marker since, and the item
        stays."""
        address = self.addresses[0]
        self.put(sink, self.desired_item(sink, address, "owned-at-plan"), None)
        expected = self.read(sink, [address])[address]
        theirs = plain(self.desired_item(sink, address, "replaced-meanwhile").data)
        plant_unowned(address, theirs)
        with pytest.raises(ItemMoved):
            sink.delete(expected)
        found = self.read(sink, [address])[address]
        assert plain(found.data) == theirs
        assert found.owner is None, "the refused delete left syncd's marker on another writer's item"

    def test_a_create_refuses_an_item_another_instance_wrote_since_the_plan(self, sink: Sink) -> None:
        """A create planned on an absent item raises ItemMoved when another syncd instance wrote the item since,
        and leaves it that instance's, with its data (needs no fixture: the other writer is the sink itself)."""
        address = self.addresses[0]
        theirs = self.desired_item(sink, address, "other-instance-meanwhile", owner=OTHER_OWNER)
        self.put(sink, theirs, None)
        with pytest.raises(ItemMoved):
            self.put(sink, self.desired_item(sink, address, "planned-create"), None)
        found = self.read(sink, [address])[address]
        assert found.owner == OTHER_OWNER
        assert plain(found.data) == plain(theirs.data)


class SourceContract:
    """Contract tests every source must pass; subclass it and provide two fixtures::

        class TestMySourceContract(SourceContract):
            @pytest.fixture
            def source(self) -> MySource:
                return MySource(MySource.Options(...))  # a fresh source over an empty backend

            @pytest.fixture
            def plant(self, source: MySource) -> Plant:
                return lambda path, data: ...  # write the secret straight to the backend

    The tests plant the paths of `folder` (one a level deeper) and of `outside` (a sibling folder whose name
    starts like the folder's, and another folder), then reach the source only through `read`, `list` and
    `read_many`, as the core does. Override them when your backend names paths differently, and
    `special_values` to leave out values the backend rightly cannot hold.
    """

    folder: ClassVar[str] = "contract/app"
    paths: ClassVar[Sequence[str]] = ("contract/app/alpha", "contract/app/beta", "contract/app/nested/gamma")
    outside: ClassVar[Sequence[str]] = ("contract/apparel/delta", "contract/other/epsilon")
    missing: ClassVar[str] = "contract/app/missing"
    special_values: ClassVar[Sequence[str]] = SPECIAL_VALUES

    @staticmethod
    def secret_data(value: str = "contract-value-1") -> dict[str, str]:
        """The keys planted at a path: `value` and two more."""
        return {"PASSWORD": value, "USERNAME": "contract-user", "NOTE": "planted by the source contract"}

    def plant_all(self, plant: Plant, value: str = "contract-value") -> dict[str, dict[str, str]]:
        """Plant every path of `paths` and `outside`, each with a value of its own; returns what was planted."""
        every = (*self.paths, *self.outside)
        planted = {path: self.secret_data(f"{value}-{index}") for index, path in enumerate(every)}
        for path, data in planted.items():
            plant(path, data)
        return planted

    def test_read_returns_the_planted_keys_as_secrets(self, source: Source, plant: Plant) -> None:
        """A read returns the path it was asked for and every planted key, each value a Secret."""
        path = self.paths[0]
        data = self.secret_data()
        plant(path, data)
        secret = source.read(path)
        assert isinstance(secret, SourceSecret)
        assert secret.path == path
        assert all(isinstance(value, Secret) for value in secret.data.values())
        assert plain(secret.data) == data

    def test_read_of_a_missing_path_raises_a_source_error_naming_the_path(self, source: Source, plant: Plant) -> None:
        """Reading a path that holds nothing raises SourceError; its message names the path and no value."""
        planted = self.plant_all(plant, f"PLANTED-missing-{uuid.uuid4().hex}")
        with redactor_off(), pytest.raises(SourceError) as raised:
            source.read(self.missing)
        assert self.missing in str(raised.value)
        for data in planted.values():
            assert data["PASSWORD"] not in shown(raised.value), "the error shows a planted value"

    def test_list_returns_every_path_below_the_folder_recursively_and_sorted(
        self, source: Source, plant: Plant
    ) -> None:
        """`list` of a folder returns each path below it, at any depth, sorted, and none beside it (not those of a
        folder whose name merely starts like it); the folder with or without a trailing '/' alike."""
        self.plant_all(plant)
        expected = sorted(self.paths)
        assert source.list(self.folder) == expected
        assert source.list(self.folder + "/") == expected

    def test_list_of_a_folder_holding_nothing_finds_nothing(self, source: Source, plant: Plant) -> None:
        """`list` of a folder with no secret below it returns no path (or raises SourceError naming it)."""
        self.plant_all(plant)
        empty = self.folder + "-empty"
        try:
            found = source.list(empty)
        except SourceError as exc:
            assert empty in str(exc)
        else:
            assert found == []

    def test_read_many_answers_each_path_with_its_secret_or_its_error(self, source: Source, plant: Plant) -> None:
        """`read_many` answers every path asked, once: the planted ones with their secret, a missing one with a
        SourceError; one bad path never makes the whole call raise."""
        first, second = self.paths[:2]
        planted = {first: self.secret_data("read-many-1"), second: self.secret_data("read-many-2")}
        for path, data in planted.items():
            plant(path, data)
        answer = source.read_many([first, self.missing, second])
        assert set(answer) == {first, self.missing, second}
        assert isinstance(answer[self.missing], SourceError)
        for path, data in planted.items():
            found = answer[path]
            assert isinstance(found, SourceSecret), f"{path}: {found!r}"
            assert found.path == path
            assert plain(found.data) == data

    def test_version_moves_when_the_secret_changes(self, source: Source, plant: Plant) -> None:
        """A secret's version changes when its value does, when the source reports versions."""
        path = self.paths[0]
        plant(path, self.secret_data("version-one"))
        before = source.read(path)
        if before.version is None:
            pytest.skip("the source reports no versions")
        # A longer value: a version made of a file's modification time and size moves even within one tick of
        # the file system's clock.
        plant(path, self.secret_data("version-two, longer"))
        after = source.read(path)
        assert after.version is not None
        assert after.version != before.version
        assert plain(after.data) == self.secret_data("version-two, longer")

    def test_special_values_roundtrip(self, source: Source, plant: Plant) -> None:
        """Values with newlines, quotes, $, #, unicode, and of 4 KiB read back unchanged."""
        for index, value in enumerate(self.special_values):
            path = self.paths[index % len(self.paths)]
            plant(path, self.secret_data(value))
            assert plain(source.read(path).data) == self.secret_data(value), f"special value #{index} changed"

    def test_errors_and_reprs_never_show_a_planted_value(self, source: Source, plant: Plant) -> None:
        """No exception, answer or repr of the source shows a value planted in it, with the redactor off."""
        planted = f"PLANTED-source-{uuid.uuid4().hex}"
        path = self.paths[0]
        plant(path, self.secret_data(planted))
        with no_leak(planted):
            secret = source.read(path)
            answer = source.read_many([path, self.missing])
            listed = source.list(self.folder)
            texts = [repr(secret), str(secret), repr(secret.data), repr(answer), repr(listed), repr(source)]
            texts.append(shown(answer[self.missing]))  # type: ignore[arg-type]
            try:
                source.read(self.missing)
            except SourceError as exc:
                texts.append(shown(exc))
            assert not any(planted in text for text in texts), "the source's answers show a planted value"

    def test_two_reads_of_one_source_object_see_a_change_between_them(self, source: Source, plant: Plant) -> None:
        """A source keeps nothing between runs: the same object reads a value and a path planted since its last
        read and listing."""
        first, second = self.paths[:2]
        plant(first, self.secret_data("first-run"))
        assert plain(source.read(first).data) == self.secret_data("first-run")
        assert source.list(self.folder) == [first]
        plant(first, self.secret_data("second-run, changed"))
        plant(second, self.secret_data("second-run, changed"))
        assert plain(source.read(first).data) == self.secret_data("second-run, changed")
        assert plain(source.read_many([second])[second].data) == self.secret_data("second-run, changed")  # type: ignore[union-attr]
        assert source.list(self.folder) == sorted([first, second])
