"""The `aws-secrets-manager` sink: one secret per item, observed in batches, written only where it differs.

docs/connectors.md lists the calls of `observe` and of each write. Secrets Manager has no conditional write, so a
write or a delete re-reads the secret first (DescribeSecret) and stops with ItemMoved if it moved since the plan.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel, Field

from connectors.aws import sm_layout as layout
from connectors.aws.client import AwsSink, chunks, whose
from connectors.aws.options import AwsTargetOptions, tag_list
from connectors.aws.sm_api import BATCH_IDS, NOT_FOUND, SCHEDULED, SERVICE, BatchAnswer, SecretInfo, SecretsApi
from connectors.aws.sm_policy import sink_policy
from syncd.connector import (
    MARKER_INSTANCE,
    AccessPolicy,
    Capabilities,
    Observation,
    Scope,
    in_parallel,
    marker_tags,
)
from syncd.errors import ItemMoved, PermanentError
from syncd.model import ActualItem, DesiredItem, Difference, Granularity
from syncd.secret import Secret

# ListSecrets takes at most 10 values in one filter.
NAME_FILTER_VALUES = 10
_FILTER_VALUE = re.compile(r"^[a-zA-Z0-9 :_@/+=.\-]{1,512}$")


class SecretsManagerTargetOptions(AwsTargetOptions):
    """An AWS Secrets Manager target: one account and region, and how deletes are done."""

    # AWS allows 7 to 30 days; a secret can be restored until the window ends.
    recovery_window_days: int = Field(30, ge=7, le=30)
    # Delete at once, with no recovery window: a pruned secret cannot be restored.
    force_delete: bool = False


class SecretsManagerSink(AwsSink):
    """Keeps AWS Secrets Manager secrets in one account and region equal to the manifest."""

    Options = SecretsManagerTargetOptions
    options: SecretsManagerTargetOptions
    capabilities = Capabilities(
        granularities=(Granularity.DOCUMENT, Granularity.PER_KEY),
        tags=True,
        description=True,
        versions=True,
        max_concurrency=8,
    )

    def __init__(self, target: str, options: SecretsManagerTargetOptions, connection: Any = None) -> None:
        super().__init__(target, options, connection)
        self.api = SecretsApi(self.session)

    # What the core asks before any call

    def flags(self, destination: BaseModel) -> Mapping[str, Any]:
        wanted = layout.kms_reference(self.options.kms_key_id)
        return {"kms_key_id": wanted} if wanted else {}

    def check(self, item: DesiredItem) -> list[str]:
        return layout.item_problems(item)

    def required_access(self, patterns: Sequence[str]) -> AccessPolicy:
        return sink_policy(self.options, patterns)

    def describe(self) -> str:
        account = self.options.expected_account
        return f"secretsmanager {self.options.region}" + (f" ({account})" if account else "")

    def location(self) -> tuple[str, ...]:
        # Secret names have no folder a target could keep to: a target is its whole region.
        return self.options.location("aws-secretsmanager")

    # Reads

    def observe(self, desired: Sequence[DesiredItem], scope: Scope) -> Observation:
        # An address that holds a per-key item is read raw, never parsed as JSON.
        raw = {item.address for item in desired if item.granularity is Granularity.PER_KEY}
        wanted = sorted({item.address for item in desired})
        if not wanted and not scope.prefixes:
            return Observation({}, {})
        listing, answer = self._read(scope, wanted)
        # A secret scheduled for deletion is as the listing shows it, whatever the batch said of it.
        pending = {a for a in wanted if a in listing and listing[a].scheduled_for_deletion}
        answer = answer.without(pending)
        self._refuse_unreadable(answer)
        items: dict[str, ActualItem] = {}
        for address in wanted:
            entry, error = answer.values.get(address), answer.errors.get(address)
            actual = self._actual(address, listing.get(address), entry, error, raw=address in raw)
            if actual is not None:
                items[address] = actual
        owned = {
            name: self._from_info(info)
            for name, info in sorted(listing.items())
            if info.owner is not None
            and info.owner.instance == scope.instance
            and not info.scheduled_for_deletion
            and scope.covers(name)
        }
        return Observation(items, owned)

    def _read(self, scope: Scope, wanted: Sequence[str]) -> tuple[dict[str, SecretInfo], BatchAnswer]:
        """The marked secrets in the scope (ListSecrets, page after page) and the values of `wanted`
        (BatchGetSecretValue, 20 a call), side by side: the listing on one thread, the batches on the others, at
        most the target's `concurrency` calls in flight, never more than `capabilities.max_concurrency` (and the
        target's `rate_limit`, which every request waits for)."""

        def read(names: Sequence[str] | None) -> dict[str, SecretInfo] | BatchAnswer:
            return self._list_marked(scope) if names is None else self.api.batch_chunk(names)

        workers = min(scope.concurrency or self.capabilities.max_concurrency, self.capabilities.max_concurrency)
        listing, *parts = in_parallel(read, [None, *chunks(wanted, BATCH_IDS)], workers)
        assert isinstance(listing, dict)
        answer = BatchAnswer()
        for part in parts:
            assert isinstance(part, BatchAnswer)
            answer.update(part)
        return listing, answer

    def _list_marked(self, scope: Scope) -> dict[str, SecretInfo]:
        """Every secret carrying syncd's instance tag (any instance) in the scope, scheduled ones included."""
        filters: list[dict[str, Any]] = [{"Key": "tag-key", "Values": [MARKER_INSTANCE]}]
        prefixes = scope.prefixes
        if prefixes and len(prefixes) <= NAME_FILTER_VALUES and all(_FILTER_VALUE.match(p) for p in prefixes):
            filters.append({"Key": "name", "Values": list(prefixes)})
        found = self.api.list_secrets(filters, include_planned_deletion=True)
        # The tag-key filter matches prefixes: keep only secrets with the exact key.
        return {info.name: info for info in found if MARKER_INSTANCE in info.tags}

    def _refuse_unreadable(self, answer: BatchAnswer) -> None:
        """Stop the read when a secret could not be read, or holds a binary value syncd must not overwrite."""
        self.api.raise_unreadable(answer.unreadable())
        binary = sorted(a for a, entry in answer.values.items() if "SecretString" not in entry)
        if binary:
            raise PermanentError(
                f"{_names(binary)} a binary value (SecretBinary), which syncd neither reads nor overwrites; "
                "map another name, or convert or delete the secret by hand",
                target=self.target,
            )

    def _actual(
        self, address: str, listed: SecretInfo | None, entry: Mapping[str, Any] | None, error: str | None, *, raw: bool
    ) -> ActualItem | None:
        if listed is not None and listed.scheduled_for_deletion:
            return self._from_info(listed)
        if entry is not None:
            info = listed or self.api.describe(address)
            if info is None:  # deleted between the two calls
                return None
            data = layout.decode(address, entry["SecretString"], raw=raw)
            return self._from_info(info, data=data, version=entry.get("VersionId"))
        if error == SCHEDULED:
            info = self.api.describe(address)
            return self._from_info(info) if info is not None else None
        return None

    def _from_info(
        self, info: SecretInfo, *, data: Mapping[str, Secret] | None = None, version: str | None = None
    ) -> ActualItem:
        # Whoever scheduled it: the core restores only this instance's, and makes anyone else's a conflict.
        return ActualItem(
            address=info.name,
            owner=info.owner,
            data=data,
            tags=dict(info.tags),
            description=info.description,
            flags=self._kms_flags(info.kms_key_id),
            version=version or info.version,
            pending_deletion=info.scheduled_for_deletion,
        )

    def _kms_flags(self, reported: str | None) -> dict[str, str]:
        """The secret's KMS key, in a form comparable with `flags()`; {} when the target names no key."""
        wanted = layout.kms_reference(self.options.kms_key_id)
        if wanted is None:
            return {}
        # AWS leaves KmsKeyId out for the default key.
        actual = layout.kms_reference(reported) or layout.DEFAULT_KEY
        if reported and actual.startswith("alias/") != wanted.startswith("alias/"):
            # An alias and a key id cannot be matched without kms:DescribeKey, which syncd does not call.
            return {"kms_key_id": wanted}
        return {"kms_key_id": actual}

    # Writes

    def write(self, item: DesiredItem, expected: ActualItem | None, difference: Difference) -> None:
        if expected is None:
            self._create(item)
            return
        info = self._unmoved(expected, item=item)
        assert info is not None
        if info.scheduled_for_deletion:
            if info.owner is None or info.owner.instance != item.owner.instance:
                raise ItemMoved(
                    f"the secret is scheduled for deletion by its owner ({whose(info.owner)}); it was left alone",
                    target=self.target,
                    address=item.address,
                )
            self._restore(item.address)
        self._update(item, difference, restamp=difference.marker or info.owner != item.owner)

    def delete(self, expected: ActualItem) -> None:
        address = expected.address
        if self._unmoved(expected) is None:
            return
        if self.options.force_delete:
            params: dict[str, Any] = {"ForceDeleteWithoutRecovery": True}
        else:
            params = {"RecoveryWindowInDays": self.options.recovery_window_days}
        params["SecretId"] = address
        if self.session.call(SERVICE, "DeleteSecret", params, address=address, tolerate=(NOT_FOUND, SCHEDULED)):
            return
        # Refused as already deleted: a retry of a DeleteSecret whose answer was lost, or another run's delete.
        now = self.api.describe(address)
        if now is not None and not now.scheduled_for_deletion:
            raise PermanentError(
                "secretsmanager:DeleteSecret failed: InvalidRequestException", target=self.target, address=address
            )

    def _create(self, item: DesiredItem) -> None:
        address = item.address
        params: dict[str, Any] = {
            "Name": address,
            "SecretString": layout.encode(item),
            "Tags": tag_list({**item.tags, **marker_tags(item.owner)}),
        }
        if item.description is not None:
            params["Description"] = item.description
        if self.options.kms_key_id:
            params["KmsKeyId"] = self.options.kms_key_id
        # AWS refuses a name in use with ResourceExistsException, or InvalidRequestException when the secret there is
        # scheduled for deletion (moto answers the former for both).
        created, refusal = self.session.attempt(
            SERVICE, "CreateSecret", params, address=address, tolerate=("ResourceExistsException", SCHEDULED)
        )
        if created is not None:
            return
        # It exists after all: an earlier attempt of this write created it (its answer lost), or someone else did.
        info = self.api.describe(address)
        if info is None and refusal == SCHEDULED:
            raise PermanentError(f"secretsmanager:CreateSecret failed: {refusal}", target=self.target, address=address)
        if info is None or info.owner != item.owner:
            raise ItemMoved(
                "a secret of that name was created by someone else since the plan", target=self.target, address=address
            )
        if info.scheduled_for_deletion:
            self._restore(address)
        # Finish what the lost attempt may not have: every field, as a create names them all.
        everything = Difference(
            value=True, tags=tuple(item.tags), description=item.description is not None, flags=tuple(item.flags)
        )
        self._update(item, everything, restamp=False)

    def _update(self, item: DesiredItem, difference: Difference, *, restamp: bool) -> None:
        """UpdateSecret, PutSecretValue, then TagResource, each only if `difference` names what it sets.

        The tags, and with them the marker, come last: a secret adopted by a write that stops half-way holds
        syncd's value (and description) without the marker, which the next run adopts again or reports as a
        conflict; it never holds the marker over a value syncd did not write. The key is changed before the
        value, so the new version is encrypted with it.
        """
        address = item.address
        settings: dict[str, Any] = {}
        if difference.description and item.description is not None:
            settings["Description"] = item.description
        if "kms_key_id" in difference.flags and self.options.kms_key_id:
            settings["KmsKeyId"] = self.options.kms_key_id
        if settings:
            self.session.call(SERVICE, "UpdateSecret", {"SecretId": address, **settings}, address=address)
        if difference.value:
            request = {"SecretId": address, "SecretString": layout.encode(item)}
            self.session.call(SERVICE, "PutSecretValue", request, address=address)
        tags = {key: item.tags[key] for key in difference.tags if key in item.tags}
        if restamp:
            tags.update(marker_tags(item.owner))
        if tags:
            self.session.call(SERVICE, "TagResource", {"SecretId": address, "Tags": tag_list(tags)}, address=address)

    def _restore(self, address: str) -> None:
        self.session.call(SERVICE, "RestoreSecret", {"SecretId": address}, address=address)

    def _unmoved(self, expected: ActualItem, *, item: DesiredItem | None = None) -> SecretInfo | None:
        """The secret as it is now (one DescribeSecret), refusing one deleted, re-marked or given a new version
        since the plan read it. For a write (`item`), its own marker and value are accepted too: an earlier attempt
        of this write stamped or stored them, and its answer was lost (one GetSecretValue tells, only when the
        version moved). A delete gets None for a secret already gone or scheduled for deletion."""
        address = expected.address
        info = self.api.describe(address)
        if item is None and (info is None or info.scheduled_for_deletion):
            return None
        if info is None:
            raise ItemMoved(
                "the secret was deleted since the plan; nothing was written", target=self.target, address=address
            )
        self.expect_owner(info.owner, expected, item, "secret")
        self.expect_version(expected, info.version, lambda: item is not None and self._holds(item))
        return info

    def _holds(self, item: DesiredItem) -> bool:
        """Whether the secret's current value is `item`'s."""
        entry, _ = self.api.get_value(item.address)
        text = entry.get("SecretString") if entry is not None else None
        if text is None:
            return False
        return layout.decode(item.address, text, raw=item.granularity is Granularity.PER_KEY) == dict(item.data)


def _names(names: Sequence[str]) -> str:
    """'secret 'a' holds' or 'secrets 'a', 'b' hold', naming at most five."""
    shown = ", ".join(repr(n) for n in names[:5])
    more = f" and {len(names) - 5} more" if len(names) > 5 else ""
    return f"secrets {shown}{more} hold" if len(names) > 1 else f"secret {shown} holds"
