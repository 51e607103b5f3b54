"""The source contract, run against MemorySource, and the contract's teeth: sources broken in one way each fail
the test about that way."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from syncd.errors import SourceError, SyncdError
from syncd.model import SourceSecret
from syncd.testing import MemorySource
from syncd.testing.contract import Plant, SourceContract


class TestMemorySourceContract(SourceContract):
    @pytest.fixture
    def source(self) -> MemorySource:
        return MemorySource()

    @pytest.fixture
    def plant(self, source: MemorySource) -> Plant:
        return source.put


# The contract's teeth


class SiblingListingSource(MemorySource):
    """Lists by string prefix, so "app" also finds "apparel/x"."""

    def list(self, prefix: str) -> list[str]:
        return sorted(p for p in self._data if p.startswith(prefix))


class UnsortedListingSource(MemorySource):
    def list(self, prefix: str) -> list[str]:
        return list(reversed(super().list(prefix)))


class ShallowListingSource(MemorySource):
    """Lists only the folder's own secrets, not those of its sub-folders."""

    def list(self, prefix: str) -> list[str]:
        folder = prefix.rstrip("/") + "/"
        return [p for p in super().list(prefix) if "/" not in p[len(folder) :]]


class TellingSource(MemorySource):
    """Names a missing path's neighbours, values and all."""

    def read(self, path: str) -> SourceSecret:
        if path not in self._data:
            raise SourceError(f"source path {path!r} does not exist; the source holds {self._data}")
        return super().read(path)


class AllOrNothingSource(MemorySource):
    """Raises for the whole batch when one path of it is missing."""

    def read_many(self, paths: Sequence[str]) -> dict[str, SourceSecret | SyncdError]:
        return {path: self.read(path) for path in paths}


class SnapshotSource(MemorySource):
    """Keeps what it read once on the object, so a second run sees the first run's world."""

    def __init__(self) -> None:
        super().__init__()
        self._seen: dict[str, SourceSecret] = {}

    def read(self, path: str) -> SourceSecret:
        if path not in self._seen:
            self._seen[path] = super().read(path)
        return self._seen[path]


class UnversionedChangeSource(MemorySource):
    """Reports the same version whatever the value."""

    def read(self, path: str) -> SourceSecret:
        secret = super().read(path)
        return SourceSecret(secret.path, secret.data, version="1")


@pytest.mark.parametrize(
    ("broken", "test"),
    [
        (SiblingListingSource, "test_list_returns_every_path_below_the_folder_recursively_and_sorted"),
        (UnsortedListingSource, "test_list_returns_every_path_below_the_folder_recursively_and_sorted"),
        (ShallowListingSource, "test_list_returns_every_path_below_the_folder_recursively_and_sorted"),
        (TellingSource, "test_read_of_a_missing_path_raises_a_source_error_naming_the_path"),
        (TellingSource, "test_errors_and_reprs_never_show_a_planted_value"),
        (AllOrNothingSource, "test_read_many_answers_each_path_with_its_secret_or_its_error"),
        (SnapshotSource, "test_two_reads_of_one_source_object_see_a_change_between_them"),
        (UnversionedChangeSource, "test_version_moves_when_the_secret_changes"),
    ],
    ids=lambda v: getattr(v, "__name__", v),
)
def test_the_source_contract_fails_a_broken_source(broken: type[MemorySource], test: str) -> None:
    """Each broken source fails the contract test about what it does wrong (while MemorySource passes them all)."""
    source = broken()
    with pytest.raises((AssertionError, SyncdError)):
        getattr(SourceContract(), test)(source, source.put)
