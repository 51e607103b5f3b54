"""The `aws-ssm` sink: SSM Parameter Store, one parameter per key, at a `to` entry's `path` + name.

docs/connectors.md lists the calls of `observe` (tags confirmed in bulk: see `ssm_tags`) and of each write. What
decides them: PutParameter refuses Tags together with Overwrite, so tags go with the create and later through
AddTagsToResource; it is also the only call that sets a description; and SSM has no conditional write, so a
write or a delete re-reads the marker (ListTagsForResource) and, before a value changes, the version.
"""

from __future__ import annotations

import posixpath
from collections.abc import Mapping, Sequence
from typing import Any

from connectors.aws.client import AwsSink, chunks
from connectors.aws.options import item_tag_problems, tag_list
from connectors.aws.ssm_options import SsmDestination, SsmTargetOptions
from connectors.aws.ssm_policy import sink_policy
from connectors.aws.ssm_rules import (
    SECURE_STRING,
    STANDARD,
    description_problems,
    leaf,
    name_problems,
    shown,
    tier_for,
    value_problems,
)
from connectors.aws.ssm_tags import DESCRIBE_MAX, READERS, TagReader, list_tags, name_filter
from syncd.connector import (
    MARKER_INSTANCE,
    AccessPolicy,
    Capabilities,
    Observation,
    Scope,
    in_parallel,
    marker_tags,
    owner_of,
    user_tags,
)
from syncd.errors import ItemMoved, TransientError
from syncd.model import ActualItem, DesiredItem, Difference, Granularity
from syncd.secret import Secret

GET_PARAMETERS_MAX = 10


class SsmSink(AwsSink):
    """Writes each item as one SSM parameter; see the module docstring for layout, tiers, tags and calls."""

    Options = SsmTargetOptions
    options: SsmTargetOptions
    Destination = SsmDestination
    capabilities = Capabilities(
        granularities=(Granularity.PER_KEY,), tags=True, description=True, versions=True, max_concurrency=8
    )

    # Conventions (no call)

    def address(self, destination: SsmDestination, name: str) -> str:
        return destination.path + name

    def flags(self, destination: SsmDestination) -> Mapping[str, Any]:
        kind = destination.parameter_type or self.options.parameter_type
        if kind == SECURE_STRING and self.options.kms_key_id:
            return {"type": kind, "key_id": self.options.kms_key_id}
        return {"type": kind}

    def describe(self) -> str:
        account = self.options.expected_account
        return f"{self.options.region}, account {account}" if account else self.options.region

    def location(self) -> tuple[str, ...]:
        # The overlap check knows no path of a target: its `to` entries name them. A target is its whole region.
        return self.options.location("aws-ssm")

    def check(self, item: DesiredItem) -> list[str]:
        options = self.options
        problems = name_problems(item.address, partition=options.partition, region=options.region)
        if len(item.data) != 1:
            problems.append(f"Item {shown(item.address)} holds {len(item.data)} keys; a parameter holds one.")
        else:
            problems += value_problems(
                item.address,
                item.single_value().reveal(),
                target=self.target,
                advanced_allowed=options.allow_advanced_tier,
            )
        problems += description_problems(item.address, item.description)
        return problems + item_tag_problems(item.tags)

    def required_access(self, patterns: Sequence[str]) -> AccessPolicy:
        return sink_policy(self.options, patterns)

    # Reads

    def observe(self, desired: Sequence[DesiredItem], scope: Scope) -> Observation:
        expected = {item.address: {**item.tags, **marker_tags(item.owner)} for item in desired}
        # A reader per observation: its one warning about refused filters is per run.
        reader = TagReader(self.session)

        # The listing of marked parameters pages on its own thread while the desired names are read.
        def part(listing: bool) -> Any:
            return self._marked(scope) if listing else self._read(reader, sorted(expected), expected)

        marked, (items, seen) = in_parallel(part, [True, False], 2)
        return Observation(items, self._owned(reader, scope, marked, seen))

    def _read(
        self, reader: TagReader, names: Sequence[str], expected: Mapping[str, Mapping[str, str]]
    ) -> tuple[dict[str, ActualItem], dict[str, dict[str, str]]]:
        """The parameters among `names` that exist, and the tags known of each."""
        parameters: dict[str, dict[str, Any]] = {}
        for batch in in_parallel(self._get_parameters, chunks(names, GET_PARAMETERS_MAX), READERS):
            parameters.update(batch)
        confirmable = {name: expected[name] for name in parameters if name in expected}
        # Those carrying every expected tag come back with their metadata: nothing more to ask of them.
        metadata = reader.confirm(confirmable, sorted(parameters))
        tags = {name: dict(confirmable[name]) for name in metadata}
        rest = sorted(name for name in parameters if name not in metadata)
        described: dict[str, dict[str, Any]] = {}
        for batch in in_parallel(self._describe_named, chunks(rest, DESCRIBE_MAX), READERS):
            described.update(batch)
        metadata.update(described)
        tags.update(reader.tags_of(sorted(described)))
        found = {}
        for name, meta in metadata.items():
            actual = _actual(meta, tags.get(name), parameter=parameters[name])
            if actual is not None:
                found[name] = actual
        return found, tags

    def _marked(self, scope: Scope) -> dict[str, dict[str, Any]]:
        """The metadata of the parameters in the scope carrying its instance's marker (one listing, 50 a page)."""
        marker = {"Key": f"tag:{MARKER_INSTANCE}", "Option": "Equals", "Values": [scope.instance]}
        described: dict[str, dict[str, Any]] = {}
        if scope.prefixes:
            folder = _folder(scope.prefixes)
            path = [{"Key": "Path", "Option": "Recursive", "Values": [folder]}] if folder else []
            request = {"ParameterFilters": [marker, *path], "MaxResults": DESCRIBE_MAX}
            for meta in self.session.entries("ssm", "DescribeParameters", request, "Parameters"):
                if scope.covers(meta["Name"]):
                    described[meta["Name"]] = meta
        return described

    def _owned(
        self,
        reader: TagReader,
        scope: Scope,
        described: Mapping[str, Mapping[str, Any]],
        seen: Mapping[str, Mapping[str, str]],
    ) -> dict[str, ActualItem]:
        """The marked parameters of `described` whose marker is the scope's instance's; their sync is found in bulk."""
        known = {name: dict(tags) for name, tags in seen.items() if tags.get(MARKER_INSTANCE) == scope.instance}
        tags = {**reader.owners_of(scope.instance, [name for name in described if name not in known]), **known}
        owned = {}
        for name, meta in described.items():
            actual = _actual(meta, tags.get(name), parameter=None)
            if actual is not None and actual.owner is not None and actual.owner.instance == scope.instance:
                owned[name] = actual
        return owned

    def _get_parameters(self, names: list[str]) -> dict[str, dict[str, Any]]:
        # Names that do not exist come back in InvalidParameters: absent, not an error.
        answer = self.session.call("ssm", "GetParameters", {"Names": names, "WithDecryption": True})
        return {parameter["Name"]: parameter for parameter in answer.get("Parameters", [])}

    def _describe_named(self, names: list[str]) -> dict[str, dict[str, Any]]:
        request = {"ParameterFilters": [name_filter(names)], "MaxResults": DESCRIBE_MAX}
        found: dict[str, dict[str, Any]] = {}
        for page in self.session.pages("ssm", "DescribeParameters", request):
            found.update((meta["Name"], meta) for meta in (page or {}).get("Parameters") or ())
            if found.keys() >= set(names):  # every name found: a next page could hold nothing (see TagReader.describe)
                break
        return found

    # Writes

    def write(self, item: DesiredItem, expected: ActualItem | None, difference: Difference) -> None:
        """PutParameter with Tags to create; else PutParameter (Overwrite) and/or AddTagsToResource, as `difference`
        says, once the marker is found unmoved."""
        if expected is None:
            if self._put(item, None, overwrite=False) is not None:
                return
            # The name is taken: ours only if it carries this very marker (a create retried after its answer was lost).
            now = list_tags(self.session, item.address)
            if now is None:
                raise TransientError(
                    "the parameter was deleted while syncd created it", target=self.target, address=item.address
                )
            if owner_of(now) != item.owner:
                raise ItemMoved(
                    "a parameter of that name was created by someone else since the plan (it does not carry this "
                    "sync's marker); it is left alone (plan again; on_conflict: adopt takes it over)",
                    target=self.target,
                    address=item.address,
                )
            everything = Difference(value=True, tags=tuple(item.tags), description=item.description is not None)
            self._update(item, None, everything, restamp=False)
            return
        # The version too when a value is written or the marker stamped: a marker stamped on a value someone
        # wrote since the plan would make syncd the owner of their value. Tags alone leave ownership as it is.
        needs_put = bool(difference.value or difference.description or difference.flags)
        now = self._unmoved(expected, item=item, version=needs_put or difference.marker)
        if now is None:
            raise ItemMoved("the parameter was deleted since the plan", target=self.target, address=item.address)
        self._update(item, expected, difference, restamp=difference.marker or owner_of(now) != item.owner)

    def _update(self, item: DesiredItem, expected: ActualItem | None, difference: Difference, *, restamp: bool) -> None:
        tags = {key: item.tags[key] for key in difference.tags if key in item.tags}
        if (difference.value or difference.description or difference.flags) and self._put(
            item, expected, overwrite=True
        ) == 1:
            # Version 1: the parameter was deleted after its marker was read and Overwrite made it anew, untagged.
            tags, restamp = dict(item.tags), True
        if restamp:
            tags.update(marker_tags(item.owner))
        if tags:
            request = {"ResourceType": "Parameter", "ResourceId": item.address, "Tags": tag_list(tags)}
            self.session.call("ssm", "AddTagsToResource", request, address=item.address)

    def _put(self, item: DesiredItem, actual: ActualItem | None, *, overwrite: bool) -> int | None:
        """PutParameter; the parameter's new version, or None when creating found the name taken."""
        value = item.single_value().reveal()
        kind = item.flags.get("type", self.options.parameter_type)
        request: dict[str, Any] = {
            "Name": item.address,
            "Value": value,
            "Type": kind,
            "Tier": tier_for(value, actual.flags.get("tier") if actual else None),
        }
        # Keep the key a parameter was adopted with unless the target names one.
        key_id = self.options.kms_key_id or (actual.flags.get("key_id") if actual else None)
        if kind == SECURE_STRING and key_id:
            request["KeyId"] = key_id
        if item.description is not None:
            request["Description"] = item.description
        if overwrite:
            request["Overwrite"] = True
        else:
            request["Tags"] = tag_list({**marker_tags(item.owner), **item.tags})
        taken = () if overwrite else ("ParameterAlreadyExists",)
        answer = self.session.call("ssm", "PutParameter", request, address=item.address, tolerate=taken)
        return None if answer is None else int(answer.get("Version", 0))

    def delete(self, expected: ActualItem) -> None:
        """DeleteParameter, once the marker and the version are found unmoved (SSM keeps no deleted parameter);
        already gone is success."""
        if self._unmoved(expected, version=True) is None:
            return
        request = {"Name": expected.address}
        self.session.call("ssm", "DeleteParameter", request, address=expected.address, tolerate=("ParameterNotFound",))

    def _unmoved(
        self, expected: ActualItem, *, item: DesiredItem | None = None, version: bool
    ) -> dict[str, str] | None:
        """The parameter's tags now (one ListTagsForResource), None when it is gone, once its marker is found as
        the plan saw it and, when `version` asks (a value about to be written or deleted, a marker about to be
        stamped), its version too (one GetParameters). For a write, `item`'s own marker and value are accepted as
        well: an earlier attempt of the write stamped or stored them, and its answer was lost."""
        address = expected.address
        tags = list_tags(self.session, address)
        if tags is None:
            return None
        self.expect_owner(owner_of(tags), expected, item, "parameter")
        if version and expected.version is not None:
            current = self._get_parameters([address]).get(address)
            if current is None:
                return None
            value = current.get("Value")
            self.expect_version(
                expected,
                str(current.get("Version")),
                lambda: item is not None and value == item.single_value().reveal(),
            )
        return tags


def _folder(prefixes: Sequence[str]) -> str | None:
    """The one folder to list for the scope's prefixes: the deepest holding all of them ("/prod" for "/prod/db/"
    and "/prod/web/X"), so the listing costs no more calls than one of the whole region; None (no Path filter)
    when that is the root or a prefix is not a hierarchy."""
    if not prefixes or not all(prefix.startswith("/") for prefix in prefixes):
        return None
    common = posixpath.commonpath([prefix[: prefix.rfind("/")] or "/" for prefix in prefixes])
    return common if common != "/" else None


def _flags(meta: Mapping[str, Any]) -> dict[str, Any]:
    """What DescribeParameters says of a parameter besides its value: type, tier, and KMS key of a SecureString."""
    flags = {"type": meta.get("Type"), "tier": meta.get("Tier", STANDARD)}
    if meta.get("Type") == SECURE_STRING and meta.get("KeyId"):
        flags["key_id"] = meta["KeyId"]
    return flags


def _actual(
    meta: Mapping[str, Any], tags: Mapping[str, str] | None, *, parameter: Mapping[str, Any] | None
) -> ActualItem | None:
    """The item for one described parameter, with its value when read; None when its tags could not be read."""
    if tags is None:
        return None
    name = meta["Name"]
    version = (parameter or meta).get("Version")
    return ActualItem(
        address=name,
        owner=owner_of(tags),
        data={leaf(name): Secret(parameter["Value"])} if parameter is not None else None,
        tags=user_tags(tags),
        description=meta.get("Description"),
        flags=_flags(meta),
        version=str(version) if version is not None else None,
    )
