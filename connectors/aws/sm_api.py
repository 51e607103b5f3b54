"""The Secrets Manager calls the sink and the source share. Reads are batched: values through BatchGetSecretValue,
20 ids a call, and metadata through ListSecrets, 100 secrets a page."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from connectors.aws.client import AwsSession, chunks
from connectors.aws.errors import KMS_CODES, TRANSIENT_CODES
from connectors.aws.options import tag_map
from syncd.connector import owner_of
from syncd.errors import PermanentError, TransientError
from syncd.model import Ownership

SERVICE = "secretsmanager"
BATCH_IDS = 20
LIST_PAGE = 100
NOT_FOUND = "ResourceNotFoundException"
# GetSecretValue's answer for a secret scheduled for deletion.
SCHEDULED = "InvalidRequestException"


@dataclass(frozen=True)
class SecretInfo:
    """A secret's metadata, as ListSecrets or DescribeSecret report it (never its value)."""

    name: str
    tags: Mapping[str, str] = field(default_factory=dict)
    description: str | None = None
    kms_key_id: str | None = None
    scheduled_for_deletion: bool = False
    version: str | None = None

    @property
    def owner(self) -> Ownership | None:
        return owner_of(self.tags)

    @classmethod
    def from_answer(cls, answer: Mapping[str, Any]) -> SecretInfo:
        """From a ListSecrets entry or a DescribeSecret answer."""
        stages = answer.get("SecretVersionsToStages") or answer.get("VersionIdsToStages") or {}
        current = next((v for v, labels in stages.items() if "AWSCURRENT" in labels), None)
        return cls(
            name=answer["Name"],
            tags=tag_map(answer.get("Tags")),
            description=answer.get("Description"),
            kms_key_id=answer.get("KmsKeyId"),
            scheduled_for_deletion=answer.get("DeletedDate") is not None,
            version=current,
        )


@dataclass
class BatchAnswer:
    """What BatchGetSecretValue said about each id: its value entry, or its error code."""

    values: dict[str, Mapping[str, Any]] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)

    def update(self, other: BatchAnswer) -> None:
        self.values.update(other.values)
        self.errors.update(other.errors)

    def without(self, names: set[str]) -> BatchAnswer:
        """This answer with nothing said about `names`."""
        return BatchAnswer(
            {name: entry for name, entry in self.values.items() if name not in names},
            {name: code for name, code in self.errors.items() if name not in names},
        )

    def unreadable(self) -> dict[str, str]:
        """Ids that failed for a reason other than being absent or scheduled for deletion."""
        return {name: code for name, code in self.errors.items() if code not in (NOT_FOUND, SCHEDULED)}


class SecretsApi:
    """One target's or source's Secrets Manager reads."""

    def __init__(self, session: AwsSession) -> None:
        self.session = session
        self.target = session.target

    def get_value(self, name: str) -> tuple[dict[str, Any] | None, str | None]:
        """The secret's current value entry, or None and the code when it is absent or scheduled for deletion."""
        return self.session.attempt(
            SERVICE, "GetSecretValue", {"SecretId": name}, address=name, tolerate=(NOT_FOUND, SCHEDULED)
        )

    def describe(self, name: str) -> SecretInfo | None:
        """The secret's metadata, or None when there is no secret by that name."""
        answer = self.session.call(SERVICE, "DescribeSecret", {"SecretId": name}, address=name, tolerate=(NOT_FOUND,))
        return SecretInfo.from_answer(answer) if answer is not None else None

    def batch_get(self, names: Sequence[str]) -> BatchAnswer:
        """The current value of each secret, 20 ids a call, one call after another (the sink runs `batch_chunk`s
        side by side)."""
        answer = BatchAnswer()
        for chunk in chunks(names, BATCH_IDS):
            answer.update(self.batch_chunk(chunk))
        return answer

    def batch_chunk(self, names: Sequence[str]) -> BatchAnswer:
        """The current value of each of at most 20 secrets: one BatchGetSecretValue."""
        answer = BatchAnswer()
        for page in self.session.pages(SERVICE, "BatchGetSecretValue", {"SecretIdList": list(names)}):
            for entry in (page or {}).get("SecretValues") or ():
                answer.values[entry["Name"]] = entry
            for error in (page or {}).get("Errors") or ():
                answer.errors[error["SecretId"]] = error.get("ErrorCode") or "Unknown"
        return answer

    def list_secrets(self, filters: list[dict[str, Any]], *, include_planned_deletion: bool) -> list[SecretInfo]:
        """Every secret matching `filters`, 100 a page."""
        params = {"Filters": filters, "IncludePlannedDeletion": include_planned_deletion, "MaxResults": LIST_PAGE}
        entries = self.session.entries(SERVICE, "ListSecrets", params, "SecretList")
        return [SecretInfo.from_answer(entry) for entry in entries]

    def raise_unreadable(self, failures: Mapping[str, str]) -> None:
        """Raise one error naming every secret BatchGetSecretValue could not read, and why (never a value)."""
        if not failures:
            return
        listed = ", ".join(f"{name!r} ({code})" for name, code in sorted(failures.items()))
        if all(code in TRANSIENT_CODES for code in failures.values()):
            raise TransientError(f"{SERVICE}:BatchGetSecretValue could not read {listed}", target=self.target)
        hint = "grant secretsmanager:GetSecretValue on each"
        if any(code in KMS_CODES for code in failures.values()):
            hint += ", and kms:Decrypt on the KMS key it is encrypted with"
        raise PermanentError(
            f"{SERVICE}:BatchGetSecretValue could not read {listed}; {hint} (syncd iam-policy prints the policy)",
            target=self.target,
        )
