"""Reading SSM parameters' tags for the `aws-ssm` sink: in bulk where a filter can confirm them, else one by one.

SSM has no batch tag read, but DescribeParameters takes `tag:KEY` filters (AND-ed, with a `Name` filter of up to
50 names) and returns only the parameters carrying every one of them. So one call confirms up to 50 parameters
whose tags the sink expects (the desired item's tags and marker); only those it leaves out need
ListTagsForResource. A confirmation is exact for the tags asked about and says nothing of the others, which the
core never compares. The same filters sweep for the sync of owned parameters (see `TagReader.owners_of`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import structlog

from connectors.aws.client import AwsSession, chunks
from connectors.aws.options import tag_map
from syncd.connector import MARKER_INSTANCE, MARKER_SYNC, in_parallel

log = structlog.get_logger("connectors.aws.ssm")

# How many calls one observation fans out to at once (ListTagsForResource has no batch form).
READERS = 8

# ParameterStringFilter `Values`: 1 to 50 values of 1 to 1,024 characters (service model).
NAMES_PER_FILTER = 50
# Filters in one request: the service model sets no bound and the API reference states none; 10 is the limit
# reported for DescribeParameters (not verified live). One filter is the Name filter; a tag set with more tags
# than fit is confirmed in several calls, each on the names the previous one kept.
FILTERS_PER_CALL = 10
TAG_FILTERS_PER_CALL = FILTERS_PER_CALL - 1
# DescribeParameters MaxResults: 1 to 50 (moto ignores it and pages by 10).
DESCRIBE_MAX = 50
# Error codes with which AWS may refuse a filtered request (a filter count or a value it does not take):
# the parameters concerned are then read one by one, as if no confirmation had been tried.
REFUSED = ("ValidationException", "InvalidFilterKey", "InvalidFilterOption", "InvalidFilterValue")
# Sweeps that saved no more ListTagsForResource calls than they cost, after which the rest are read one by one: a
# bound on what sweeping can waste (3 sweeps of ceil(n/50) calls) when the names belong to many small syncs.
IDLE_SWEEPS = 3

Tags = Mapping[str, str]
TagSet = tuple[tuple[str, str], ...]


def filterable(tags: Tags) -> bool:
    """Whether DescribeParameters filters can confirm these tags.

    A filter value has 1 to 1,024 characters, so a tag with an empty value
    cannot be asked about; a value with spaces at either end is left to
    ListTagsForResource too, since how AWS matches those is not verified.
    """
    return bool(tags) and all(value and value == value.strip() for value in tags.values())


def name_filter(names: Sequence[str]) -> dict[str, Any]:
    return {"Key": "Name", "Option": "Equals", "Values": list(names)}


def tag_filters(tags: Tags) -> list[dict[str, Any]]:
    return [{"Key": f"tag:{key}", "Option": "Equals", "Values": [value]} for key, value in sorted(tags.items())]


def groups(expected: Mapping[str, Tags], names: Sequence[str]) -> list[tuple[TagSet, list[str]]]:
    """The names that have a filterable expectation, grouped by tag set, in chunks one Name filter holds."""
    by_tags: dict[TagSet, list[str]] = {}
    for name in sorted(set(names)):
        tags = expected.get(name)
        if tags is not None and filterable(tags):
            by_tags.setdefault(tuple(sorted(tags.items())), []).append(name)
    return [(tags, chunk) for tags, group in sorted(by_tags.items()) for chunk in chunks(group, NAMES_PER_FILTER)]


class TagReader:
    """The tag reads of one sink: bulk confirmation, sweeps by sync, and ListTagsForResource for the rest."""

    def __init__(self, session: AwsSession) -> None:
        self.session = session
        self._warned = False

    # In bulk

    def confirm(self, expected: Mapping[str, Tags], names: Sequence[str]) -> dict[str, dict[str, Any]]:
        """The metadata of the parameters among `names` that carry every tag `expected` lists for them.

        Names without an expectation, or whose expectation no filter can
        express, are left out, as are parameters a tag differs on or lacks.
        """
        confirmed: dict[str, dict[str, Any]] = {}
        for batch in in_parallel(self._confirm_chunk, groups(expected, names), READERS):
            confirmed.update(batch)
        return confirmed

    def _confirm_chunk(self, task: tuple[TagSet, list[str]]) -> dict[str, dict[str, Any]]:
        tags, names = task
        kept: dict[str, dict[str, Any]] = {}
        remaining = names
        for part in chunks(tag_filters(dict(tags)), TAG_FILTERS_PER_CALL):
            answer = self.describe([name_filter(remaining), *part])
            if answer is None:
                return {}
            kept = answer
            remaining = sorted(answer)
            if not remaining:
                break
        return kept

    def owners_of(self, instance: str, names: Sequence[str]) -> dict[str, dict[str, str]]:
        """Tags enough to tell the owner of each of `names`, parameters listed as carrying `instance`'s marker;
        one deleted meanwhile is left out. One ListTagsForResource learns a sync, one sweep per 50 names finds the
        others of that sync (their other tags are not read), until `IDLE_SWEEPS` sweeps have not paid for themselves.
        """
        found: dict[str, dict[str, str]] = {}
        pending = sorted(set(names))
        idle = 0
        while len(pending) > 1 and idle < IDLE_SWEEPS:
            probe, pending = pending[0], pending[1:]
            tags = list_tags(self.session, probe)
            if tags is None:
                continue
            found[probe] = tags
            marker = {MARKER_INSTANCE: instance, MARKER_SYNC: tags.get(MARKER_SYNC, "")}
            if tags.get(MARKER_INSTANCE) != instance or not filterable(marker):
                continue
            cost = math.ceil(len(pending) / NAMES_PER_FILTER)
            swept = self._sweep(marker, pending)
            if swept is None:
                break
            found.update((name, dict(marker)) for name in swept)
            pending = [name for name in pending if name not in swept]
            if len(swept) <= cost:
                idle += 1
        found.update(self.tags_of(pending))
        return found

    def _sweep(self, marker: Tags, names: list[str]) -> set[str] | None:
        """The names among `names` that carry `marker`, or None when AWS refused the filters."""
        answers = in_parallel(
            lambda chunk: self.describe([name_filter(chunk), *tag_filters(marker)]),
            chunks(names, NAMES_PER_FILTER),
            READERS,
        )
        if any(answer is None for answer in answers):
            return None
        return {name for answer in answers if answer is not None for name in answer}

    def describe(self, filters: list[dict[str, Any]]) -> dict[str, dict[str, Any]] | None:
        """Every page of DescribeParameters with `filters` (the first a Name filter), by name; None when AWS refused
        the filters. Once every name asked about is found no page is left to ask for: AWS may still hand back a
        NextToken (moto does after a full page), and following it costs a call that can find nothing."""
        request: dict[str, Any] = {"ParameterFilters": filters, "MaxResults": DESCRIBE_MAX}
        asked = set(filters[0]["Values"])
        found: dict[str, dict[str, Any]] = {}
        for page in self.session.pages("ssm", "DescribeParameters", request, tolerate=REFUSED):
            if page is None:
                self._refused()
                return None
            found.update((meta["Name"], meta) for meta in page.get("Parameters", []))
            if found.keys() >= asked:  # the names themselves: a filter may also match a name not asked about
                break
        return found

    def _refused(self) -> None:
        if not self._warned:
            self._warned = True
            log.warning(
                "DescribeParameters refused the tag filters; tags are read one parameter at a time instead",
                target=self.session.target,
            )

    # One by one

    def tags_of(self, names: Sequence[str]) -> dict[str, dict[str, str]]:
        """Each parameter's tags by ListTagsForResource, on a few threads; one deleted meanwhile is left out."""
        answers = in_parallel(lambda name: list_tags(self.session, name), list(names), READERS)
        return {name: tags for name, tags in zip(names, answers, strict=True) if tags is not None}


def list_tags(session: AwsSession, name: str) -> dict[str, str] | None:
    """A parameter's tags (ListTagsForResource); None when it does not exist."""
    request = {"ResourceType": "Parameter", "ResourceId": name}
    answer = session.call(
        "ssm", "ListTagsForResource", request, address=name, tolerate=("InvalidResourceId", "ParameterNotFound")
    )
    return None if answer is None else tag_map(answer.get("TagList"))
