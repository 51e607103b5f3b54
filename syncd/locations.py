"""Targets that share a place, or write where the source reads: refused before any call.

Two targets on one dotenv file, one AWS account and region, or nested Vault
prefixes would overwrite each other's items, flip their ownership on every
run and, with prune, delete each other's items. A target where a sync
reads would copy its own output back on every run. Connectors say where
they are through `Sink.location()` and `Source.location(path)`; an unknown
location (None) is never refused.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from syncd.connector import Location, Sink, Source
from syncd.errors import ConfigError
from syncd.manifest import Sync


def overlap(a: Location, b: Location) -> bool:
    """Whether one location holds the other: equal, or one a prefix of the other."""
    shorter = min(len(a), len(b))
    return a[:shorter] == b[:shorter]


def refuse_overlaps(source: Source, syncs: Sequence[Sync], sinks: Mapping[str, Sink]) -> None:
    """Raise one ConfigError naming every pair of overlapping targets and every target a sync reads from."""
    problems: list[str] = []
    located = [(name, sink, where) for name, sink in sinks.items() if (where := sink.location()) is not None]
    for i, (first, first_sink, first_at) in enumerate(located):
        for second, second_sink, second_at in located[i + 1 :]:
            if overlap(first_at, second_at):
                problems.append(
                    f"targets {first!r} ({first_sink.describe()}) and {second!r} ({second_sink.describe()}) "
                    "write to the same place: they would overwrite, take over and prune each other's items; "
                    "give each its own file, account and region, or prefix"
                )
    for name, sink, where in located:
        reader = next(
            (
                sync
                for sync in syncs
                if (read_at := source.location(sync.spec.from_)) is not None and overlap(read_at, where)
            ),
            None,
        )
        if reader is not None:
            problems.append(
                f"target {name!r} ({sink.describe()}) is where sync {reader.name!r} reads from "
                f"(source path {reader.spec.from_!r}): every run would copy its own output again; "
                "give the target a place the source does not read"
            )
    if problems:
        raise ConfigError("\n".join(problems))
