"""The test kit: memory source and sink, the recording and failing wrappers, and the contract's teeth."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from hypothesis import given
from hypothesis import strategies as st

from syncd.connector import AccessPolicy, ItemDefaults, Scope, Sink
from syncd.diff import difference
from syncd.errors import ConnectorError, PermanentError, SourceError, TransientError
from syncd.model import ActualItem, DesiredItem, Difference, Granularity, Ownership
from syncd.secret import Secret
from syncd.testing import Call, FailingSink, MemorySink, MemorySource, RecordingSink
from syncd.testing.contract import SinkContract

OWNER = Ownership(instance="kit", sync="kit-sync")


def item(address: str, value: str = "kit-value", **fields: object) -> DesiredItem:
    return DesiredItem(
        target="memory",
        address=address,
        owner=OWNER,
        data={"KEY": Secret(value)},
        granularity=Granularity.DOCUMENT,
        **fields,  # type: ignore[arg-type]
    )


def _read(sink: Sink, addresses: list[str]) -> dict[str, ActualItem]:
    """What `observe` finds at `addresses`."""
    return dict(sink.observe([item(a) for a in addresses], Scope(OWNER.instance, ("*",))).items)


def _owned(sink: Sink, instance: str) -> dict[str, ActualItem]:
    """What `observe` reports as `instance`'s in the whole sink."""
    return dict(sink.observe([], Scope(instance, ("*",))).owned)


def _write(sink: Sink, wanted: DesiredItem, expected: ActualItem | None) -> None:
    sink.write(wanted, expected, difference(wanted, expected))


def revealed(data: object) -> dict[str, str]:
    assert isinstance(data, dict)
    return {key: value.reveal() for key, value in data.items()}


# MemorySource


def test_source_read_returns_secrets_at_the_put_version() -> None:
    """A read returns the put keys as Secrets, with the path's put count as version."""
    source = MemorySource(secrets={"app/db": {"user": "admin"}})
    source.put("app/db", {"user": "admin", "password": "hunter22"})
    secret = source.read("app/db")
    assert secret.path == "app/db"
    assert revealed(secret.data) == {"user": "admin", "password": "hunter22"}
    assert all(isinstance(value, Secret) for value in secret.data.values())
    assert secret.version == "2"


def test_source_version_keeps_counting_after_a_remove() -> None:
    """A path removed and put again gets a version it never had before."""
    source = MemorySource(secrets={"app/db": {"k": "v"}})
    source.remove("app/db")
    source.put("app/db", {"k": "v"})
    assert source.read("app/db").version == "2"


@pytest.mark.parametrize("secrets", [{}, {"app/db": {}}], ids=["missing", "empty"])
def test_source_read_of_a_missing_or_empty_path_raises_source_error(secrets: dict) -> None:
    """Reading a path that does not exist or holds no keys raises SourceError naming the path."""
    source = MemorySource(secrets=secrets)
    with pytest.raises(SourceError, match="app/db"):
        source.read("app/db")


def test_source_read_of_a_removed_path_raises_source_error() -> None:
    """A removed path can no longer be read."""
    source = MemorySource(secrets={"app/db": {"k": "v"}})
    source.remove("app/db")
    with pytest.raises(SourceError):
        source.read("app/db")


@pytest.mark.parametrize(
    ("prefix", "expected"),
    [
        ("", ["app/a", "app/sub/b", "apple/c", "other"]),
        ("app", ["app/a", "app/sub/b"]),
        ("app/", ["app/a", "app/sub/b"]),
        ("app/sub", ["app/sub/b"]),
        ("missing", []),
    ],
)
def test_source_list_returns_sorted_paths_below_the_prefix(prefix: str, expected: list[str]) -> None:
    """list returns, sorted, every path below the prefix's folder, and every path for ""."""
    source = MemorySource(secrets={p: {"k": "v"} for p in ["other", "app/sub/b", "apple/c", "app/a"]})
    assert source.list(prefix) == expected


def test_source_fail_makes_reads_of_that_path_raise_until_healed() -> None:
    """A failed path raises the given error on read, in read_many too, until healed."""
    source = MemorySource(secrets={"app/a": {"k": "v"}, "app/b": {"k": "v"}})
    error = TransientError("vault is sealed")
    source.fail("app/a", error)
    with pytest.raises(TransientError) as raised:
        source.read("app/a")
    assert raised.value is error
    found = source.read_many(["app/a", "app/b"])
    assert found["app/a"] is error
    assert revealed(found["app/b"].data) == {"k": "v"}  # type: ignore[union-attr]
    source.heal()
    assert source.read("app/a").path == "app/a"


def test_source_counts_reads_including_failed_ones() -> None:
    """The reads counter counts every read, whether it succeeded or not."""
    source = MemorySource(secrets={"app/a": {"k": "v"}})
    source.read("app/a")
    with pytest.raises(SourceError):
        source.read("app/missing")
    assert source.reads == 2


def test_sources_do_not_share_storage() -> None:
    """A path put in one memory source is absent from another."""
    first, second = MemorySource(), MemorySource()
    first.put("app/a", {"k": "v"})
    assert second.list("") == []


# MemorySink


def test_sinks_do_not_share_storage() -> None:
    """An item written to one memory sink is absent from another."""
    first, second = MemorySink("one"), MemorySink("two")
    _write(first, item("app/a"), None)
    assert second.snapshot() == {}
    assert _read(second, ["app/a"]) == {}
    assert list(first.snapshot()) == ["app/a"]


def test_sink_write_stamps_a_new_version_on_every_change() -> None:
    """Each write gives the item a fresh version and moves the sink's version counter."""
    sink = MemorySink()
    _write(sink, item("app/a", "one"), None)
    found = _read(sink, ["app/a"])["app/a"]
    first = found.version
    _write(sink, item("app/a", "two"), found)
    second = _read(sink, ["app/a"])["app/a"].version
    assert first != second
    assert sink.version == int(second or 0) == 2


def test_sink_delete_moves_the_version_only_when_something_was_deleted() -> None:
    """Deleting a present item moves the sink's version; deleting an absent one does not."""
    sink = MemorySink()
    _write(sink, item("app/a"), None)
    actual = _read(sink, ["app/a"])["app/a"]
    sink.delete(actual)
    assert sink.version == 2
    sink.delete(actual)
    assert sink.version == 2


def test_sink_write_merges_tags_over_existing_ones() -> None:
    """A write keeps existing tags it does not name and overrides the ones it does."""
    sink = MemorySink()
    sink.put_unowned("app/a", {"KEY": "old"}, tags={"team": "data", "env": "dev"})
    _write(sink, item("app/a", tags={"env": "prod"}, description="db"), _read(sink, ["app/a"])["app/a"])
    found = _read(sink, ["app/a"])["app/a"]
    assert found.tags == {"team": "data", "env": "prod"}
    assert found.description == "db"
    assert found.owner == OWNER


def test_sink_write_stores_the_items_flags() -> None:
    """The flags of a written item read back, and flags() reports the destination's flavor."""
    sink = MemorySink()
    destination = MemorySink.Destination(flavor="spicy")
    flags = sink.flags(destination)
    _write(sink, item("app/a", flags=flags), None)
    assert flags == {"flavor": "spicy"}
    assert _read(sink, ["app/a"])["app/a"].flags == {"flavor": "spicy"}
    assert sink.flags(MemorySink.Destination()) == {}


@pytest.mark.parametrize(
    ("address", "fragment"),
    [("", "empty"), ("app/has space", "characters"), ("a" * 257, "257 characters")],
)
def test_sink_check_names_a_bad_address_and_not_the_value(address: str, fragment: str) -> None:
    """check reports an empty, badly spelt or too long address in a sentence without the value."""
    problems = MemorySink().check(item(address, "PLANTED-check-value"))
    assert len(problems) == 1
    assert fragment in problems[0]
    assert problems[0].endswith(".")
    assert "PLANTED-check-value" not in problems[0]


def test_sink_check_accepts_every_allowed_character() -> None:
    """An address made of letters, digits and /_.+=@- passes check."""
    assert MemorySink().check(item("Az09/_.+=@-")) == []


def test_sink_check_refuses_an_invalid_address() -> None:
    """check names an address with characters the memory sink refuses (the core then never writes it)."""
    assert any("characters" in problem for problem in MemorySink().check(item("bad address")))


def test_sink_max_items_refuses_a_new_item_past_the_quota() -> None:
    """With max_items set, creating one item too many raises PermanentError, but updates pass."""
    sink = MemorySink(options=MemorySink.Options(max_items=1))
    _write(sink, item("app/a", "one"), None)
    _write(sink, item("app/a", "two"), _read(sink, ["app/a"])["app/a"])
    with pytest.raises(PermanentError, match="maximum of 1"):
        _write(sink, item("app/b"), None)
    assert sink.values() == {"app/a": {"KEY": "two"}}


def test_sink_options_forbid_unknown_keys() -> None:
    """The sink's Options model refuses keys it does not define."""
    with pytest.raises(ValueError, match="nonsense"):
        MemorySink.Options(nonsense=1)  # type: ignore[call-arg]


def test_sink_read_returns_copies() -> None:
    """Changing the mappings of a read item does not change the stored item."""
    sink = MemorySink()
    _write(sink, item("app/a", "kept", tags={"env": "dev"}), None)
    found = _read(sink, ["app/a"])["app/a"]
    found.data["KEY"] = Secret("changed")  # type: ignore[index]
    found.tags["env"] = "prod"  # type: ignore[index]
    assert sink.values() == {"app/a": {"KEY": "kept"}}
    assert _read(sink, ["app/a"])["app/a"].tags == {"env": "dev"}


def test_sink_list_owned_returns_the_instances_items_without_values() -> None:
    """list_owned returns only the instance's items, with data left unread."""
    sink = MemorySink()
    sink.put_owned("app/mine", {"k": "v"}, OWNER)
    sink.put_owned("app/theirs", {"k": "v"}, Ownership("other", "s"))
    sink.put_unowned("app/nobody", {"k": "v"})
    owned = _owned(sink, "kit")
    assert list(owned) == ["app/mine"]
    assert owned["app/mine"].owner == OWNER
    assert owned["app/mine"].data is None


def test_sink_keeps_every_write_made_from_many_threads() -> None:
    """Writes from many threads at once all land, each with its own version."""
    sink = MemorySink()
    addresses = [f"app/{n}" for n in range(400)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda a: _write(sink, item(a), None), addresses))
    versions = {found.version for found in sink.snapshot().values()}
    assert len(sink.snapshot()) == 400
    assert len(versions) == 400
    assert sink.version == 400


@given(st.text(min_size=1, max_size=200))
def test_sink_roundtrips_any_value_and_never_shows_it(value: str) -> None:
    """Any text value reads back equal, and neither the item's nor the sink's repr shows it."""
    sink = MemorySink()
    _write(sink, item("app/a", f"PLANTED-{value}"), None)
    found = _read(sink, ["app/a"])["app/a"]
    assert revealed(found.data) == {"KEY": f"PLANTED-{value}"}
    assert f"PLANTED-{value}" not in repr(found) + repr(sink) + repr(sink.snapshot())


# RecordingSink


def test_recording_sink_records_each_call_in_order() -> None:
    """Every backend call is recorded with its addresses, in the order it was made."""
    sink = RecordingSink(MemorySink())
    with sink.batch():
        _write(sink, item("app/a"), None)
    found = _read(sink, ["app/a", "app/b"])
    _owned(sink, "kit")
    sink.delete(found["app/a"])
    sink.close()
    assert sink.calls == [
        Call("batch"),
        Call("write", ("app/a",)),
        Call("batch_end"),
        Call("observe", ("app/a", "app/b")),
        Call("observe"),
        Call("delete", ("app/a",)),
        Call("close"),
    ]
    assert sink.writes == [Call("write", ("app/a",)), Call("delete", ("app/a",))]
    assert sink.reads == [Call("observe", ("app/a", "app/b")), Call("observe")]


def test_recording_sink_delegates_to_the_wrapped_sink() -> None:
    """Writes through the recorder reach the wrapped sink, and its answers come back."""
    memory = MemorySink()
    sink = RecordingSink(memory)
    _write(sink, item("app/a", "through"), None)
    assert memory.values() == {"app/a": {"KEY": "through"}}
    assert revealed(_read(sink, ["app/a"])["app/a"].data) == {"KEY": "through"}
    assert sink.check(item("bad address")) == memory.check(item("bad address")) != []
    assert sink.flags(MemorySink.Destination(flavor="x")) == {"flavor": "x"}
    assert sink.address(MemorySink.Destination(), "name") == "name"
    assert sink.describe() == "in memory"


class HintedSink(MemorySink):
    """A memory sink with target defaults and an access policy."""

    def item_defaults(self) -> ItemDefaults:
        return ItemDefaults({"team": "platform"}, "from the target")

    def required_access(self, patterns):
        return AccessPolicy("memory", " ".join(patterns))


def test_recording_sink_delegates_the_optional_hooks() -> None:
    """Defaults and the access policy reach the wrapped sink through a wrapper."""
    sink = RecordingSink(FailingSink(HintedSink()))
    assert sink.item_defaults() == ItemDefaults({"team": "platform"}, "from the target")
    assert sink.required_access(["a/*", "b"]) == AccessPolicy("memory", "a/* b")


def test_recording_sink_mirrors_the_wrapped_sinks_class_attributes() -> None:
    """The recorder shows the wrapped sink's options, destination and capabilities."""
    sink = RecordingSink(MemorySink("mirrored"))
    assert sink.Options is MemorySink.Options
    assert sink.Destination is MemorySink.Destination
    assert sink.capabilities.granularities == (Granularity.DOCUMENT, Granularity.PER_KEY)
    assert sink.capabilities.tags and sink.capabilities.description
    assert sink.target == "mirrored"


def test_recording_sink_records_a_call_that_fails() -> None:
    """A call that raises is recorded all the same, and clear forgets the record."""
    failing = FailingSink(MemorySink())
    failing.fail_on("write")
    sink = RecordingSink(failing)
    with pytest.raises(TransientError):
        _write(sink, item("app/a"), None)
    assert sink.calls == [Call("write", ("app/a",))]
    sink.clear()
    assert sink.calls == []


# FailingSink


def test_failing_sink_fails_only_the_named_address() -> None:
    """A failure aimed at one address raises for it, naming method, target and address, and not for others."""
    memory = MemorySink("vault-prod")
    sink = FailingSink(memory)
    sink.fail_on("write", "app/a")
    with pytest.raises(TransientError) as raised:
        _write(sink, item("app/a", "PLANTED-failing"), None)
    _write(sink, item("app/b"), None)
    assert raised.value.target == "vault-prod"
    assert raised.value.address == "app/a"
    assert "write" in str(raised.value)
    assert "PLANTED-failing" not in str(raised.value)
    assert list(memory.values()) == ["app/b"]


def test_failing_sink_fails_the_given_number_of_times() -> None:
    """With times=2 the first two calls fail and the third reaches the sink."""
    sink = FailingSink(MemorySink())
    sink.fail_on("write", times=2)
    for _ in range(2):
        with pytest.raises(TransientError):
            _write(sink, item("app/a"), None)
    _write(sink, item("app/a"), None)
    assert sink.attempts[("write", "app/a")] == 3
    assert list(_read(sink.inner, ["app/a"])) == ["app/a"]


def test_failing_sink_counts_attempts_per_method_and_address() -> None:
    """Attempts are counted per method and address, a read once per address it names."""
    sink = FailingSink(MemorySink())
    _read(sink, ["app/a", "app/b"])
    _read(sink, ["app/a"])
    _owned(sink, "kit")
    assert sink.attempts == {("observe", "app/a"): 2, ("observe", "app/b"): 1, ("observe", None): 1}
    assert sink.attempts[("delete", "app/a")] == 0


def test_failing_sink_fails_a_read_that_includes_the_address() -> None:
    """A read failure aimed at an address fails reads naming it and spares the others."""
    sink = FailingSink(MemorySink())
    sink.fail_on("observe", "app/a", error=PermanentError)
    with pytest.raises(PermanentError):
        _read(sink, ["app/b", "app/a"])
    assert _read(sink, ["app/b"]) == {}


def test_failing_sink_raises_a_given_instance_as_is() -> None:
    """An error instance is raised itself, not a copy."""
    sink = FailingSink(MemorySink())
    error = PermanentError("access denied", target="t")
    sink.fail_on("observe", error=error)
    with pytest.raises(PermanentError) as raised:
        _owned(sink, "kit")
    assert raised.value is error


def test_failing_sink_instantiates_a_plain_exception_class_with_a_message() -> None:
    """An exception class that is no ConnectorError gets only the message naming method and address."""
    sink = FailingSink(MemorySink())
    sink.fail_on("delete", error=TimeoutError)
    with pytest.raises(TimeoutError, match="delete on app/a"):
        sink.delete(ActualItem(address="app/a", owner=OWNER))


def test_failing_sink_fails_a_batch_on_entry() -> None:
    """A batch failure raises before the block runs."""
    sink = FailingSink(MemorySink())
    sink.fail_on("batch", times=1)
    ran = []
    with pytest.raises(TransientError), sink.batch():
        ran.append(True)
    assert ran == []


def test_failing_sink_heal_stops_every_failure() -> None:
    """After heal, calls that were set to fail reach the sink and attempts are kept."""
    sink = FailingSink(MemorySink())
    sink.fail_on("write")
    sink.fail_on("delete")
    with pytest.raises(TransientError):
        _write(sink, item("app/a"), None)
    sink.heal()
    _write(sink, item("app/a"), None)
    assert list(_read(sink.inner, ["app/a"])) == ["app/a"]
    assert sink.attempts[("write", "app/a")] == 2


@pytest.mark.parametrize(
    ("method", "address", "options", "error"),
    [
        ("check", None, {}, ValueError),
        ("batch", "app/a", {}, ValueError),
        ("write", None, {"times": 0}, ValueError),
        ("write", None, {"error": "boom"}, TypeError),
    ],
)
def test_failing_sink_refuses_a_failure_it_cannot_inject(
    method: str, address: str | None, options: dict, error: type[Exception]
) -> None:
    """fail_on refuses an unknown method, an address for an addressless method, times below 1 and a non-error."""
    with pytest.raises(error):
        FailingSink(MemorySink()).fail_on(method, address, **options)


def test_failing_sink_errors_are_connector_errors_by_default() -> None:
    """The default injected error is a TransientError, which the core retries."""
    sink = FailingSink(MemorySink())
    sink.fail_on("observe")
    with pytest.raises(ConnectorError) as raised:
        _read(sink, ["app/a"])
    assert type(raised.value) is TransientError


# The contract's teeth


class LeakySink(MemorySink):
    def delete(self, expected: ActualItem) -> None:
        shown = ", ".join(v.reveal() for v in (expected.data or {}).values())
        raise PermanentError(f"cannot delete an item holding {shown}", target=self.target)


class ForgetfulSink(MemorySink):
    def write(self, item: DesiredItem, expected: ActualItem | None, difference: Difference) -> None:
        pass


def test_contract_catches_an_error_that_shows_a_value() -> None:
    """The contract's leak test fails for a sink whose error message shows a value."""
    with pytest.raises(AssertionError, match="shows a secret value"):
        SinkContract().test_errors_and_reprs_never_show_a_planted_value(LeakySink())


def test_contract_catches_a_sink_that_drops_writes() -> None:
    """The contract's roundtrip test fails for a sink that forgets what it was given."""
    with pytest.raises(AssertionError):
        SinkContract().test_write_then_read_returns_the_data_and_owner(ForgetfulSink())


class PlacedSink(MemorySink):
    """A memory sink that says where it is, as a file-backed one would."""

    def location(self):
        return ("file", "/", "srv", "app.env")


def test_wrappers_report_the_wrapped_sinks_location() -> None:
    """Recording and failing wrappers pass `location()` through, so overlapping targets are refused through them."""
    from syncd.errors import ConfigError
    from syncd.locations import refuse_overlaps

    inner = PlacedSink("inner")
    assert RecordingSink(inner).location() == FailingSink(inner).location() == inner.location()
    assert MemorySink("plain").location() is None
    with pytest.raises(ConfigError, match="targets 'a' \\(in memory\\) and 'b' \\(in memory\\)"):
        refuse_overlaps(MemorySource(), [], {"a": RecordingSink(inner), "b": FailingSink(PlacedSink("other"))})
