"""The run service: connections outlive runs, each run gets fresh connectors, and rate limits reach them."""

from __future__ import annotations

from typing import Any, ClassVar

import pytest

from syncd import connector
from syncd.connector import ConnectorSpec
from syncd.engine import Selection
from syncd.manifest import ManifestError, load_manifest
from syncd.ratelimit import UNLIMITED, RateLimiter
from syncd.registry import Registry
from syncd.run import Connections, Runner
from syncd.testing import MemorySink, MemorySource

MANIFEST = """
version: 1
instance: prod
source: {type: memory}
targets:
  a: {type: counting, token: "${env:TOKEN}", rate_limit: 5}
  b: {type: counting, token: fixed}
syncs:
  - name: db
    from: apps/db
    to: [{target: a}, {target: b}]
"""


class Connection:
    """What `connect` made: its options and limiter, and whether it was closed."""

    def __init__(self, target: str, options: Any, limiter: RateLimiter) -> None:
        self.target, self.options, self.limiter = target, options, limiter
        self.closed = False
        self.store = MemorySink(target)

    def close(self) -> None:
        self.closed = True


class CountingSink(MemorySink):
    """A sink whose items live in its connection, as a real backend outlives the sink object."""

    class Options(connector.Options):
        token: str

    made: ClassVar[list[Connection]] = []

    @classmethod
    def connect(cls, target: str, options: Any, client: Any = None, limiter: RateLimiter = UNLIMITED) -> Connection:
        made = Connection(target, options, limiter)
        cls.made.append(made)
        return made

    def observe(self, desired, scope):
        return self.connection.store.observe(desired, scope)

    def write(self, item, expected, difference):
        self.connection.store.write(item, expected, difference)

    def delete(self, expected):
        self.connection.store.delete(expected)


@pytest.fixture
def manifest(tmp_path):
    CountingSink.made = []
    registry = Registry()
    registry.register(ConnectorSpec("memory", "memory", source=MemorySource))
    registry.register(ConnectorSpec("counting", "counting", sink=CountingSink))
    path = tmp_path / "syncd.yaml"
    path.write_text(MANIFEST)
    return load_manifest(path, registry)


def test_connections_are_made_once_and_shared_by_every_run(manifest) -> None:
    """Two runs on one Connections use one connection per target, each run with sink objects of its own."""
    connections = Connections(env={"TOKEN": "t-1"})
    seen = []
    for _ in range(2):
        with connections.opened(manifest, ["a", "b"]) as (_source, sinks):
            seen.append(sinks)
    assert [c.target for c in CountingSink.made] == ["a", "b"]
    assert seen[0]["a"] is not seen[1]["a"]
    assert seen[0]["a"].connection is seen[1]["a"].connection
    connections.close()
    assert all(c.closed for c in CountingSink.made)


def test_a_target_whose_options_changed_gets_a_new_connection(manifest) -> None:
    """A rotated credential (the reference resolves to something new) closes the old connection and makes a new
    one; the other target keeps its own."""
    env = {"TOKEN": "t-1"}
    connections = Connections(env=env)
    with connections.opened(manifest, ["a", "b"]):
        pass
    env["TOKEN"] = "t-2"
    with connections.opened(manifest, ["a", "b"]) as (_source, sinks):
        assert sinks["a"].options.token == "t-2"
    assert [(c.target, c.options.token, c.closed) for c in CountingSink.made] == [
        ("a", "t-1", True),
        ("b", "fixed", False),
        ("a", "t-2", False),
    ]


def test_each_connection_gets_its_targets_rate_limit(manifest) -> None:
    connections = Connections(env={"TOKEN": "t"})
    with connections.opened(manifest, ["a", "b"]):
        pass
    limits = {c.target: c.limiter.rate for c in CountingSink.made}
    assert limits == {"a": 5, "b": None}


def test_every_options_problem_of_a_run_is_reported_together_and_nothing_stays_open(manifest) -> None:
    connections = Connections(env={})
    with pytest.raises(ManifestError, match="TOKEN"), connections.opened(manifest, ["a", "b"]):
        pass
    assert all(c.target == "b" for c in CountingSink.made)


def test_a_runner_plans_and_applies_on_long_lived_connections(manifest) -> None:
    """Plan, apply, plan again through one Runner: the second plan sees the first apply through the same
    connections (no drift), and the connections were made once."""
    connections = Connections(env={"TOKEN": "t"}, clients={})
    runner = Runner(manifest, connections)
    source_data = {"apps/db": {"user": "app"}}

    def plan():
        with runner.connectors(Selection()) as (source, sinks):
            for path, data in source_data.items():
                source.put(path, data)
            return runner.plan(source, sinks, Selection())

    first = plan()
    assert first.has_drift
    with runner.connectors(Selection()) as (_source, sinks):
        assert all(r.ok for r in runner.apply(first, sinks))
    second = plan()
    assert not second.has_drift
    assert len(CountingSink.made) == 2
