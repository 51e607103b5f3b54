"""The `aws-ssm` connector: SSM Parameter Store as a sink (one parameter per key) and as a source.

Sink layout: a `to` entry's `path` is a prefix such as `/prod/payments/db/`,
and each key becomes the parameter `path + name` (name template `{key}` by
default). Values are SecureStrings encrypted with the target's KMS key
unless `parameter_type: String` says otherwise. The tier follows the size:
Standard up to 4,096 bytes, Advanced up to 8,192 when the target allows it;
a parameter that is Advanced stays Advanced, since AWS cannot downgrade one.

Ownership is two tags, `syncd.io/instance` and `syncd.io/sync`. PutParameter
refuses Tags together with Overwrite, so tags go with the create call and
later through AddTagsToResource, only those that differ. Tags syncd does not
list are left alone. A description-only change needs PutParameter with the
same value (a new version): SSM has no other way to set a description.

Calls per plan of n parameters (see `SsmSink.read` and `_aws_ssm_tags`):
ceil(n/10) GetParameters for the values; then, for the parameters found,
DescribeParameters confirms tags in bulk: per set of expected tags (the
item's tags and the marker, from `prepare`), one call per 50 names with a
`Name` filter and one `tag:KEY` filter per tag (more calls only for a tag
set of over 9 tags). A parameter it returns carries every expected tag; its
metadata comes with it. Only the others (a tag drifted, unowned, another
instance's or sync's, or no `prepare`) cost ceil(m/50) DescribeParameters by
name and one ListTagsForResource each (SSM has no batch tag read; they run on
a few threads). `list_owned` is ceil(owned/50) DescribeParameters on the
instance tag, reusing what `read` saw; owned parameters `read` did not see
(prune candidates) get their sync from one ListTagsForResource per sync plus
one sweep per 50 names by `tag:syncd.io/sync`. A steady-state plan of 200
parameters with one tag set: 20 GetParameters, 8 DescribeParameters (4 + 4,
50 a page), no ListTagsForResource.

Source: a path is a folder; the parameters directly under it are its keys.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from pydantic import field_validator

from connectors import _aws_ssm_policy as policy
from connectors._aws import (
    AwsSession,
    AwsSink,
    AwsTargetOptions,
    marker_tags,
    owner_from_tags,
    tag_problems,
    user_tags,
)
from connectors._aws_ssm_api import SsmApi, in_parallel
from connectors._aws_ssm_rules import (
    KMS_KEY_ID,
    KMS_KEY_ID_RULE,
    MAX_DESCRIPTION,
    SECURE_STRING,
    STANDARD,
    chunks,
    description_problems,
    leaf,
    name_problems,
    path_problems,
    shown,
    tier_for,
    value_problems,
)
from connectors._aws_ssm_source import SsmSource
from connectors._aws_ssm_tags import DESCRIBE_MAX, TagReader, name_filter
from syncd.connector import MARKER_INSTANCE, ConnectorSpec, Options
from syncd.errors import PermanentError, TransientError
from syncd.model import ActualItem, DesiredItem, Granularity
from syncd.secret import Secret

ParameterType = Literal["SecureString", "String"]

GET_PARAMETERS_MAX = 10


class SsmTargetOptions(AwsTargetOptions):
    """An SSM target: the shared AWS options, plus the parameter type and whether Advanced parameters may be made."""

    parameter_type: ParameterType = SECURE_STRING
    allow_advanced_tier: bool = False

    @field_validator("kms_key_id")
    @classmethod
    def _ssm_key_id(cls, key_id: str | None) -> str | None:
        if key_id is not None and not KMS_KEY_ID.fullmatch(key_id):
            raise ValueError(KMS_KEY_ID_RULE)
        return key_id

    @field_validator("description")
    @classmethod
    def _ssm_description(cls, description: str | None) -> str | None:
        if description is not None and len(description) > MAX_DESCRIPTION:
            raise ValueError(f"an SSM parameter description holds at most {MAX_DESCRIPTION} characters")
        return description


class SsmDestination(Options):
    """The `aws-ssm` part of a `to` entry: where the parameters go, and their type if not the target's."""

    path: str = "/"
    parameter_type: ParameterType | None = None

    @field_validator("path")
    @classmethod
    def _path_is_a_folder(cls, path: str) -> str:
        # "/prod/db" and "/prod/db/" mean the same folder.
        path = path if path.endswith("/") else path + "/"
        problems = path_problems(path)
        if problems:
            raise ValueError(problems[0].removeprefix("The ").rstrip("."))
        return path


class SsmSink(AwsSink):
    """Writes each item as one SSM parameter; see the module docstring for layout, tiers, tags and calls."""

    Options = SsmTargetOptions
    Destination = SsmDestination
    granularities = (Granularity.PER_KEY,)
    supports_tags = True
    supports_description = True
    max_concurrency = 8

    def __init__(self, target: str, options: SsmTargetOptions, client: Any = None) -> None:
        super().__init__(target, options, client)
        self.options: SsmTargetOptions = options
        self._api = SsmApi(AwsSession(target, options, client), kms_key_id=options.kms_key_id)
        self._tags = TagReader(self._api)
        self._lock = threading.Lock()
        # The tags each desired parameter should carry (its own and the marker), from the last `prepare`.
        self._expected: dict[str, dict[str, str]] = {}
        # Tags seen by the last `read`, by parameter name: `list_owned` reuses them instead of asking again.
        # For a parameter confirmed in bulk these are the expected tags: the marker and the tags syncd lists.
        self._tags_seen: dict[str, dict[str, str]] = {}

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
        # list_owned looks at every parameter of the region, whatever a `to` entry's path.
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
        problems += [f"{problem[0].upper()}{problem[1:]}." for problem in tag_problems(item.tags, reserved=2)]
        return problems

    def access_policy(self, patterns: Sequence[str]) -> list[dict[str, Any]] | None:
        options = self.options
        return policy.sink_statements(
            patterns,
            partition=options.partition,
            region=options.region,
            account=options.expected_account or "*",
            kms_key_id=options.kms_key_id,
            advanced_allowed=options.allow_advanced_tier,
        )

    # Reads

    def prepare(self, items: Sequence[DesiredItem]) -> None:
        """Remember the tags each item's parameter should carry, so that `read` can confirm them in bulk."""
        expected = {item.address: {**item.tags, **marker_tags(item.owner)} for item in items}
        with self._lock:
            self._expected = expected

    def read(self, addresses: Sequence[str]) -> dict[str, ActualItem]:
        """GetParameters (10 names a call); DescribeParameters confirming the expected tags (50 names a call);
        DescribeParameters by name (50 a call) and ListTagsForResource only for the parameters not confirmed."""
        found, tags = self._read(addresses)
        with self._lock:
            self._tags_seen = tags
        return found

    def list_owned(self, instance: str) -> dict[str, ActualItem]:
        """DescribeParameters filtered on the instance tag (50 a page); the sync of those `read` did not see is
        found by sync in bulk (see `TagReader.owners_of`), and their other tags are not read."""
        marker = {"Key": f"tag:{MARKER_INSTANCE}", "Option": "Equals", "Values": [instance]}
        described = {
            meta["Name"]: meta
            for meta in self._api.pages(
                "DescribeParameters", {"ParameterFilters": [marker], "MaxResults": DESCRIBE_MAX}, "Parameters"
            )
        }
        with self._lock:
            seen = {name: tags for name, tags in self._tags_seen.items() if _instance_of(tags) == instance}
        tags = {**self._tags.owners_of(instance, [name for name in described if name not in seen]), **seen}
        owned = {}
        for name, meta in described.items():
            actual = _actual(meta, tags.get(name), parameter=None)
            if actual is not None and actual.owner is not None and actual.owner.instance == instance:
                owned[name] = actual
        return owned

    def _read(self, addresses: Sequence[str]) -> tuple[dict[str, ActualItem], dict[str, dict[str, str]]]:
        """What `read` returns, and the tags it knows of each parameter found."""
        names = sorted(set(addresses))
        parameters: dict[str, dict[str, Any]] = {}
        for batch in in_parallel(self._get_parameters, chunks(names, GET_PARAMETERS_MAX)):
            parameters.update(batch)
        with self._lock:
            expected = {name: self._expected[name] for name in parameters if name in self._expected}
        # Those carrying every expected tag come back with their metadata: nothing more to ask of them.
        metadata = self._tags.confirm(expected, sorted(parameters))
        tags = {name: dict(expected[name]) for name in metadata}
        rest = sorted(name for name in parameters if name not in metadata)
        described: dict[str, dict[str, Any]] = {}
        for batch in in_parallel(self._describe_named, chunks(rest, DESCRIBE_MAX)):
            described.update(batch)
        metadata.update(described)
        tags.update(self._tags.tags_of(sorted(described)))
        found = {}
        for name, meta in metadata.items():
            actual = _actual(meta, tags.get(name), parameter=parameters[name])
            if actual is not None:
                found[name] = actual
        return found, tags

    def _get_parameters(self, names: list[str]) -> dict[str, dict[str, Any]]:
        # Names that do not exist come back in InvalidParameters: absent, not an error.
        answer = self._api.call("GetParameters", {"Names": names, "WithDecryption": True})
        return {parameter["Name"]: parameter for parameter in answer.get("Parameters", [])}

    def _describe_named(self, names: list[str]) -> dict[str, dict[str, Any]]:
        request = {"ParameterFilters": [name_filter(names)], "MaxResults": DESCRIBE_MAX}
        return {meta["Name"]: meta for meta in self._api.pages("DescribeParameters", request, "Parameters")}

    # Writes

    def write(self, item: DesiredItem, actual: ActualItem | None) -> None:
        """PutParameter with Tags to create; on drift PutParameter with Overwrite and/or AddTagsToResource."""
        problems = self.check(item)
        if problems:
            raise PermanentError(" ".join(problems), target=self.target, address=item.address)
        if actual is None or not self._still_as_planned(actual, also=item):
            # Absent, or deleted since the plan: created with its tags in one call, never overwritten untagged.
            actual = self._create(item)
            if actual is None:
                return
        held = {**actual.tags, **(marker_tags(actual.owner) if actual.owner else {})}
        if _needs_put(item, actual) and self._put(item, actual, overwrite=True) == 1:
            # Version 1: the parameter was deleted after it was read and Overwrite made it anew, without tags.
            held = {}
        wanted = {**marker_tags(item.owner), **item.tags}
        differing = {key: value for key, value in wanted.items() if held.get(key) != value}
        if differing:
            self._api.call(
                "AddTagsToResource",
                {"ResourceType": "Parameter", "ResourceId": item.address, "Tags": _tag_list(differing)},
                address=item.address,
            )

    def _create(self, item: DesiredItem) -> ActualItem | None:
        """Create the parameter with its tags; None when done, or the parameter found there to update instead.

        A parameter already there is ours to update only if it carries this
        instance's marker (a create retried after its answer was lost).
        """
        if self._put(item, None, overwrite=False) is not None:
            return None
        found, _ = self._read([item.address])
        current = found.get(item.address)
        if current is None:
            raise TransientError(
                "the parameter was deleted while syncd created it", target=self.target, address=item.address
            )
        if current.owner is None or current.owner.instance != item.owner.instance:
            raise PermanentError(
                "the parameter appeared after the plan was made and does not carry this instance's marker; "
                "it is left alone (plan again; on_conflict: adopt takes it over)",
                target=self.target,
                address=item.address,
            )
        return current

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
            request["Tags"] = _tag_list({**marker_tags(item.owner), **item.tags})
        answer = self._api.call(
            "PutParameter", request, address=item.address, absent=() if overwrite else ("ParameterAlreadyExists",)
        )
        return None if answer is None else int(answer.get("Version", 0))

    def delete(self, actual: ActualItem) -> None:
        """DeleteParameter, after checking the marker is still the planned one; a parameter already gone is success.

        SSM keeps no deleted parameter, so the marker is read again first (one ListTagsForResource): a parameter
        someone took over since the plan is left alone.
        """
        if not self._still_as_planned(actual):
            return
        self._api.call(
            "DeleteParameter", {"Name": actual.address}, address=actual.address, absent=("ParameterNotFound",)
        )

    def _still_as_planned(self, actual: ActualItem, *, also: DesiredItem | None = None) -> bool:
        """False when the parameter is gone; raises when its ownership marker changed since the plan read it.

        The marker `also` stamps is accepted too: an earlier attempt of that write stamped it, and its answer was
        lost.
        """
        tags = self._tags.list_tags(actual.address)
        if tags is None:
            return False
        now = owner_from_tags(tags)
        if now != actual.owner and (also is None or now != also.owner):
            whose = f"syncd instance {now.instance!r} (sync {now.sync!r})" if now else "nobody syncd knows"
            raise PermanentError(
                f"the parameter's ownership marker changed since the plan (it now belongs to {whose}); "
                "it was left alone (plan again)",
                target=self.target,
                address=actual.address,
            )
        return True

    def close(self) -> None:
        self._api.close()


def _instance_of(tags: Mapping[str, str]) -> str | None:
    return tags.get(MARKER_INSTANCE)


def _tag_list(tags: Mapping[str, str]) -> list[dict[str, str]]:
    return [{"Key": key, "Value": value} for key, value in sorted(tags.items())]


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
        owner=owner_from_tags(tags),
        data={leaf(name): Secret(parameter["Value"])} if parameter is not None else None,
        tags=user_tags(tags),
        description=meta.get("Description"),
        flags=_flags(meta),
        version=str(version) if version is not None else None,
    )


def _needs_put(item: DesiredItem, actual: ActualItem) -> bool:
    """Whether the value, type, KMS key or description differ: what only PutParameter can change."""
    if actual.data is None or list(actual.data.values()) != [item.single_value()]:
        return True
    if any(actual.flags.get(key) != value for key, value in item.flags.items()):
        return True
    return item.description is not None and item.description != (actual.description or "")


spec = ConnectorSpec(
    name="aws-ssm",
    summary="AWS SSM Parameter Store: one SecureString parameter per key under a path; also a source of paths.",
    source=SsmSource,
    sink=SsmSink,
)
