"""The `aws-secrets-manager` sink: one secret per item, read in batches, written only where it drifted.

A plan reads a target in two kinds of call: ListSecrets, filtered on the
`syncd.io/instance` tag key and including secrets scheduled for deletion,
gives the tags, description, KMS key and deletion date of every secret any
syncd instance marked in the region; BatchGetSecretValue gives the values,
20 a call. Only a secret that exists without a marker costs one more call
(DescribeSecret). `list_owned` right after `read` reuses read's listing
instead of listing again; every write and delete drops it.

A write compares the item with what was read and calls only what differs,
in this order: UpdateSecret for the description or the KMS key,
PutSecretValue for the value, TagResource for the tags that differ (the
marker included, so adopting or moving an item to another sync re-stamps
it). The marker comes last, so it never sits on a value syncd did not
write. Tags the manifest does not list are left as they are. A secret
scheduled for deletion is restored first. A delete schedules the deletion
with a recovery window, unless the target says `force_delete: true`.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel, Field

from connectors import _aws_sm_layout as layout
from connectors._aws import AwsSession, AwsSink, AwsTargetOptions, marker_tags
from connectors._aws_sm_api import NOT_FOUND, SCHEDULED, BatchAnswer, SecretInfo, SecretsApi
from connectors._aws_sm_policy import sink_statements
from syncd.connector import MARKER_INSTANCE
from syncd.errors import PermanentError
from syncd.model import ActualItem, DesiredItem, Granularity, Ownership
from syncd.secret import Secret


class SecretsManagerTargetOptions(AwsTargetOptions):
    """An AWS Secrets Manager target: one account and region, and how deletes are done."""

    # AWS allows 7 to 30 days; a secret can be restored until the window ends.
    recovery_window_days: int = Field(30, ge=7, le=30)
    # Delete at once, with no recovery window: a pruned secret cannot be restored.
    force_delete: bool = False


class SecretsManagerSink(AwsSink):
    """Keeps AWS Secrets Manager secrets in one account and region equal to the manifest."""

    Options = SecretsManagerTargetOptions
    granularities = (Granularity.DOCUMENT, Granularity.PER_KEY)
    supports_tags = True
    supports_description = True
    max_concurrency = 8

    def __init__(self, target: str, options: SecretsManagerTargetOptions, client: Any = None) -> None:
        super().__init__(target, options, client)
        self.options: SecretsManagerTargetOptions = options
        self.session = AwsSession(target, options, client)
        self.api = SecretsApi(self.session, target, options.kms_key_id)
        self._lock = threading.Lock()
        self._listing: dict[str, SecretInfo] | None = None
        # Addresses `prepare` or `write` saw holding a per-key item: their value is read raw, never parsed as JSON.
        self._raw: set[str] = set()

    # What the core asks before any call

    def flags(self, destination: BaseModel) -> Mapping[str, Any]:
        wanted = layout.kms_reference(self.options.kms_key_id)
        return {"kms_key_id": wanted} if wanted else {}

    def check(self, item: DesiredItem) -> list[str]:
        return layout.item_problems(item)

    def prepare(self, items: Sequence[DesiredItem]) -> None:
        for item in items:
            self._learn_layout(item)

    def access_policy(self, patterns: Sequence[str]) -> list[dict[str, Any]]:
        return sink_statements(self.options, self.options.kms_key_id, patterns)

    def describe(self) -> str:
        account = self.options.expected_account
        return f"secretsmanager {self.options.region}" + (f" ({account})" if account else "")

    def location(self) -> tuple[str, ...]:
        # list_owned looks at every secret of the region: names have no folder a target could keep to.
        return self.options.location("aws-secretsmanager")

    # Reads

    def read(self, addresses: Sequence[str]) -> dict[str, ActualItem]:
        wanted = list(dict.fromkeys(addresses))
        if not wanted:
            return {}
        listing = self._list_marked()
        with self._lock:
            self._listing = listing
        pending = {a for a in wanted if a in listing and listing[a].scheduled_for_deletion}
        answer = self.api.batch_get([a for a in wanted if a not in pending])
        self._refuse_unreadable(answer)
        found: dict[str, ActualItem] = {}
        for address in wanted:
            actual = self._actual(address, listing.get(address), answer.values.get(address), answer.errors.get(address))
            if actual is not None:
                found[address] = actual
        return found

    def list_owned(self, instance: str) -> dict[str, ActualItem]:
        with self._lock:
            listing, self._listing = self._listing, None
        if listing is None:
            listing = self._list_marked()
        return {
            name: self._from_info(info)
            for name, info in sorted(listing.items())
            if info.owner is not None and info.owner.instance == instance and not info.scheduled_for_deletion
        }

    # Writes

    def write(self, item: DesiredItem, actual: ActualItem | None) -> None:
        problems = self.check(item)
        if problems:
            raise PermanentError(" ".join(problems), target=self.target, address=item.address)
        self._learn_layout(item)
        self._forget_listing()
        if actual is None:
            self._create(item)
            return
        if actual.owner is not None and actual.owner.instance != item.owner.instance:
            # The core never plans this; refusing here keeps another instance's secret safe whatever the plan says.
            raise PermanentError(
                f"the secret belongs to syncd instance {actual.owner.instance!r}; it was left alone",
                target=self.target,
                address=item.address,
            )
        info = self._still_as_planned(actual, item)
        if info.scheduled_for_deletion:
            if info.owner is None or info.owner.instance != item.owner.instance:
                raise PermanentError(
                    "the secret is scheduled for deletion by its owner; it was left alone",
                    target=self.target,
                    address=item.address,
                )
            self._restore(item.address)
        self._update(item, actual)

    def delete(self, actual: ActualItem) -> None:
        self._forget_listing()
        address = actual.address
        info = self.api.describe(address)
        if info is None or info.scheduled_for_deletion:
            return
        self._check_marker(info, actual)
        if self.options.force_delete:
            params: dict[str, Any] = {"ForceDeleteWithoutRecovery": True}
        else:
            params = {"RecoveryWindowInDays": self.options.recovery_window_days}
        if self.api.call("DeleteSecret", address=address, tolerate=(NOT_FOUND, SCHEDULED), SecretId=address, **params):
            return
        # Refused as already deleted: a retry of a DeleteSecret whose answer was lost, or another run's delete.
        now = self.api.describe(address)
        if now is not None and not now.scheduled_for_deletion:
            raise PermanentError(
                "secretsmanager:DeleteSecret failed: InvalidRequestException", target=self.target, address=address
            )

    def close(self) -> None:
        self.session.close()

    # Helpers

    def _learn_layout(self, item: DesiredItem) -> None:
        with self._lock:
            if item.granularity is Granularity.PER_KEY:
                self._raw.add(item.address)
            else:
                self._raw.discard(item.address)

    def _forget_listing(self) -> None:
        with self._lock:
            self._listing = None

    def _list_marked(self) -> dict[str, SecretInfo]:
        """Every secret in the region carrying syncd's instance tag (any instance), scheduled ones included."""
        found = self.api.list_secrets([{"Key": "tag-key", "Values": [MARKER_INSTANCE]}], include_planned_deletion=True)
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
        self, address: str, listed: SecretInfo | None, entry: Mapping[str, Any] | None, error: str | None
    ) -> ActualItem | None:
        if listed is not None and listed.scheduled_for_deletion:
            return self._from_info(listed)
        if entry is not None:
            info = listed or self.api.describe(address)
            if info is None:  # deleted between the two calls
                return None
            with self._lock:
                raw = address in self._raw
            data = layout.decode(address, entry["SecretString"], raw=raw)
            return self._from_info(info, data=data, version=entry.get("VersionId"))
        if error == SCHEDULED:
            info = self.api.describe(address)
            return self._from_info(info) if info is not None else None
        return None

    def _from_info(
        self, info: SecretInfo, *, data: Mapping[str, Secret] | None = None, version: str | None = None
    ) -> ActualItem:
        owner = info.owner
        # Whoever scheduled it: the core restores only this instance's, and makes anyone else's a conflict.
        pending = info.scheduled_for_deletion
        return ActualItem(
            address=info.name,
            owner=owner,
            data=data,
            tags=dict(info.tags),
            description=info.description,
            flags=self._kms_flags(info.kms_key_id),
            version=version or info.version,
            pending_deletion=pending,
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

    def _create(self, item: DesiredItem) -> None:
        address = item.address
        params: dict[str, Any] = {
            "Name": address,
            "SecretString": layout.encode(item),
            "Tags": _tag_list({**item.tags, **marker_tags(item.owner)}),
        }
        if item.description is not None:
            params["Description"] = item.description
        if self.options.kms_key_id:
            params["KmsKeyId"] = self.options.kms_key_id
        # AWS refuses a name in use with ResourceExistsException, or InvalidRequestException when the secret there is
        # scheduled for deletion (moto answers the former for both).
        created, refusal = self.api.attempt(
            "CreateSecret", address=address, tolerate=("ResourceExistsException", SCHEDULED), **params
        )
        if created is not None:
            return
        # It exists after all: an earlier attempt of this write created it, or someone else did since the plan.
        info = self.api.describe(address)
        if info is None and refusal == SCHEDULED:
            raise PermanentError(f"secretsmanager:CreateSecret failed: {refusal}", target=self.target, address=address)
        if info is None or info.owner is None or info.owner.instance != item.owner.instance:
            raise PermanentError(
                "a secret of that name was created by someone else since the plan was made; it was left alone",
                target=self.target,
                address=address,
            )
        if info.scheduled_for_deletion:
            self._restore(address)
        self._update(item, self._from_info(info))

    def _update(self, item: DesiredItem, actual: ActualItem) -> None:
        """UpdateSecret, PutSecretValue, then TagResource: each only if something it sets differs.

        The tags, and with them the marker, come last: a secret adopted by a
        write that stops half-way holds syncd's value (and description)
        without the marker, which the next run adopts again or reports as a
        conflict; it never holds the marker over a value syncd did not write.
        The key is changed before the value, so the new version is encrypted
        with it.
        """
        address = item.address
        settings: dict[str, Any] = {}
        if item.description is not None and item.description != (actual.description or ""):
            settings["Description"] = item.description
        if "kms_key_id" in item.flags and item.flags["kms_key_id"] != actual.flags.get("kms_key_id"):
            settings["KmsKeyId"] = self.options.kms_key_id
        if settings:
            self.api.call("UpdateSecret", address=address, SecretId=address, **settings)
        if not layout.holds(item, actual.data):
            self.api.call("PutSecretValue", address=address, SecretId=address, SecretString=layout.encode(item))
        wanted_tags = {**item.tags, **marker_tags(item.owner)}
        changed_tags = {k: v for k, v in wanted_tags.items() if actual.tags.get(k) != v}
        if changed_tags:
            self.api.call("TagResource", address=address, SecretId=address, Tags=_tag_list(changed_tags))

    def _restore(self, address: str) -> None:
        self.api.call("RestoreSecret", address=address, SecretId=address)

    def _still_as_planned(self, actual: ActualItem, item: DesiredItem) -> SecretInfo:
        """The secret as it is now (one DescribeSecret), refusing one deleted or re-marked since the plan read it.

        The marker `item` stamps is accepted too: an earlier attempt of this
        write stamped it, and its answer was lost.
        """
        info = self.api.describe(actual.address)
        if info is None:
            raise PermanentError(
                "the secret was deleted since the plan was made; nothing was written (plan again)",
                target=self.target,
                address=actual.address,
            )
        self._check_marker(info, actual, also=item.owner)
        return info

    def _check_marker(self, info: SecretInfo, actual: ActualItem, *, also: Ownership | None = None) -> None:
        if info.owner != actual.owner and (also is None or info.owner != also):
            whose = f"syncd instance {info.owner.instance!r}" if info.owner else "nobody syncd knows"
            raise PermanentError(
                f"the secret's ownership marker changed since the plan (it now belongs to {whose}); "
                "it was left alone (plan again)",
                target=self.target,
                address=actual.address,
            )


def _tag_list(tags: Mapping[str, str]) -> list[dict[str, str]]:
    return [{"Key": key, "Value": tags[key]} for key in sorted(tags)]


def _names(names: Sequence[str]) -> str:
    """'secret 'a' holds' or 'secrets 'a', 'b' hold', naming at most five."""
    shown = ", ".join(repr(n) for n in names[:5])
    more = f" and {len(names) - 5} more" if len(names) > 5 else ""
    return f"secrets {shown}{more} hold" if len(names) > 1 else f"secret {shown} holds"
