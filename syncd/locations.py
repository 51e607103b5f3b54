"""Targets that share a place, or write where the source reads: refused before any call.

Two targets on one dotenv file, one AWS account and region, or nested Vault
prefixes would overwrite each other's items, flip their ownership on every
run and, with prune, delete each other's items. A target where a sync
reads would copy its own output back on every run. Connectors say where
they are through `Sink.location()` and `Source.location(path)`; an unknown
location (None) is never refused.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator, Mapping, Sequence

import structlog

from syncd.connector import Location, Sink, Source
from syncd.errors import ConfigError
from syncd.manifest import Manifest, Sync

log = structlog.get_logger("syncd.locations")


def overlap(a: Location, b: Location) -> bool:
    """Whether one location holds the other: equal, or one a prefix of the other."""
    shorter = min(len(a), len(b))
    return a[:shorter] == b[:shorter]


def refuse_overlaps(
    source: Source, syncs: Sequence[Sync], sinks: Mapping[str, Sink], unselected: Mapping[str, Sink] | None = None
) -> None:
    """Raise one ConfigError naming every pair of overlapping targets and every target a sync reads from.

    `sinks` are the run's targets; `unselected` the manifest's other targets, compared with those only: a run
    of one target still prunes what another target on the same place wrote.
    """
    problems: list[str] = []
    located = [(name, sink, where) for name, sink in sinks.items() if (where := sink.location()) is not None]
    others = [(n, s, where) for n, s in (unselected or {}).items() if (where := s.location()) is not None]
    for i, (first, first_sink, first_at) in enumerate(located):
        for second, second_sink, second_at in [*located[i + 1 :], *others]:
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


@contextlib.contextmanager
def unselected_targets(manifest: Manifest, selected: Iterable[str]) -> Iterator[dict[str, Sink]]:
    """The manifest's targets outside `selected`, opened only to say where they are (no call is made).

    Their references are resolved leniently, as for the policy commands: one that cannot be resolved is kept as
    written, and a target whose options are then invalid is left out (its location is unknown).
    """
    opened: dict[str, Sink] = {}
    try:
        for name in manifest.spec.targets:
            if name in selected:
                continue
            try:
                opened[name] = manifest.open_sink(name, lenient=True)
            except Exception as exc:
                log.debug("target not compared for overlaps", target=name, error_type=type(exc).__name__)
        yield opened
    finally:
        for sink in opened.values():
            with contextlib.suppress(Exception):
                sink.close()
