"""The Secrets Manager calls the sink and the source share, each mapped to syncd's errors in one place.

`SecretsApi.call` runs one operation and turns any failure into a
TransientError or PermanentError through `_aws.translate`; the codes
Secrets Manager uses for a KMS key it cannot use (EncryptionFailure,
DecryptionFailure) are explained here. Reads are batched: values through
BatchGetSecretValue, 20 ids a call, and metadata through ListSecrets, 100
secrets a page.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NoReturn

from connectors._aws import TRANSIENT_CODES, AwsSession, error_code, owner_from_tags, translate
from syncd.errors import PermanentError, TransientError
from syncd.model import Ownership

SERVICE = "secretsmanager"
BATCH_IDS = 20
LIST_PAGE = 100
NOT_FOUND = "ResourceNotFoundException"
# GetSecretValue's answer for a secret scheduled for deletion.
SCHEDULED = "InvalidRequestException"
KMS_FAILURES = frozenset({"EncryptionFailure", "DecryptionFailure"})
_CAMEL = re.compile(r"(?<!^)(?=[A-Z])")


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
        return owner_from_tags(self.tags)

    @classmethod
    def from_answer(cls, answer: Mapping[str, Any]) -> SecretInfo:
        """From a ListSecrets entry or a DescribeSecret answer."""
        stages = answer.get("SecretVersionsToStages") or answer.get("VersionIdsToStages") or {}
        current = next((v for v, labels in stages.items() if "AWSCURRENT" in labels), None)
        return cls(
            name=answer["Name"],
            tags={tag["Key"]: tag.get("Value", "") for tag in answer.get("Tags") or ()},
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

    def unreadable(self) -> dict[str, str]:
        """Ids that failed for a reason other than being absent or scheduled for deletion."""
        return {name: code for name, code in self.errors.items() if code not in (NOT_FOUND, SCHEDULED)}


class SecretsApi:
    """One target's Secrets Manager client, with errors translated; `kms_key_id` only words KMS errors."""

    def __init__(self, session: AwsSession, target: str, kms_key_id: str | None = None) -> None:
        self.session = session
        self.target = target
        self.kms_key_id = kms_key_id

    def call(
        self, operation: str, *, address: str | None = None, tolerate: tuple[str, ...] = (), **params: Any
    ) -> dict[str, Any] | None:
        """Run `operation` (e.g. 'PutSecretValue'); an error whose code is in `tolerate` gives None."""
        return self.attempt(operation, address=address, tolerate=tolerate, **params)[0]

    def attempt(
        self, operation: str, *, address: str | None = None, tolerate: tuple[str, ...] = (), **params: Any
    ) -> tuple[dict[str, Any] | None, str | None]:
        """Like `call`, with the code of a tolerated error: (answer, None) or (None, code)."""
        try:
            return self._invoke(operation, **params), None
        except Exception as exc:
            code = error_code(exc)
            if code in tolerate:
                return None, code
            self._raise(exc, operation, address)

    def get_value(self, name: str) -> tuple[dict[str, Any] | None, str | None]:
        """The secret's current value entry, or None and the code when it is absent or scheduled for deletion."""
        try:
            return self._invoke("GetSecretValue", SecretId=name), None
        except Exception as exc:
            code = error_code(exc)
            if code in (NOT_FOUND, SCHEDULED):
                return None, code
            self._raise(exc, "GetSecretValue", name)

    def describe(self, name: str) -> SecretInfo | None:
        """The secret's metadata, or None when there is no secret by that name."""
        answer = self.call("DescribeSecret", address=name, tolerate=(NOT_FOUND,), SecretId=name)
        return SecretInfo.from_answer(answer) if answer is not None else None

    def batch_get(self, names: Sequence[str]) -> BatchAnswer:
        """The current value of each secret, 20 ids a call."""
        answer = BatchAnswer()
        for start in range(0, len(names), BATCH_IDS):
            chunk = list(names[start : start + BATCH_IDS])
            for page in self._pages("BatchGetSecretValue", SecretIdList=chunk):
                for entry in page.get("SecretValues") or ():
                    answer.values[entry["Name"]] = entry
                for error in page.get("Errors") or ():
                    answer.errors[error["SecretId"]] = error.get("ErrorCode") or "Unknown"
        return answer

    def list_secrets(self, filters: list[dict[str, Any]], *, include_planned_deletion: bool) -> list[SecretInfo]:
        """Every secret matching `filters`, 100 a page."""
        return [
            SecretInfo.from_answer(entry)
            for page in self._pages(
                "ListSecrets",
                Filters=filters,
                IncludePlannedDeletion=include_planned_deletion,
                MaxResults=LIST_PAGE,
            )
            for entry in page.get("SecretList") or ()
        ]

    def raise_unreadable(self, failures: Mapping[str, str]) -> None:
        """Raise one error naming every secret BatchGetSecretValue could not read, and why (never a value)."""
        if not failures:
            return
        listed = ", ".join(f"{name!r} ({code})" for name, code in sorted(failures.items()))
        if all(code in TRANSIENT_CODES for code in failures.values()):
            raise TransientError(f"{SERVICE}:BatchGetSecretValue could not read {listed}", target=self.target)
        hint = "grant secretsmanager:GetSecretValue on each"
        if any(code in KMS_FAILURES for code in failures.values()):
            hint += ", and kms:Decrypt on the KMS key it is encrypted with"
        raise PermanentError(
            f"{SERVICE}:BatchGetSecretValue could not read {listed}; {hint} (syncd iam-policy prints the policy)",
            target=self.target,
        )

    def _invoke(self, operation: str, **params: Any) -> dict[str, Any]:
        client = self.session.client(SERVICE)
        return getattr(client, _CAMEL.sub("_", operation).lower())(**params)

    def _raise(self, exc: Exception, operation: str, address: str | None) -> NoReturn:
        """Raise syncd's error for `exc`, raised by `operation` on `address`."""
        qualified = f"{SERVICE}:{operation}"
        code = error_code(exc)
        if code in KMS_FAILURES:
            raise PermanentError(kms_failure(qualified, code, self.kms_key_id), target=self.target, address=address)
        translate(exc, self.target, operation=qualified, address=address, resource=address, kms_key_id=self.kms_key_id)

    def _pages(self, operation: str, **params: Any) -> Iterator[dict[str, Any]]:
        token = None
        while True:
            page = self.call(operation, **params, **({"NextToken": token} if token else {}))
            assert page is not None
            yield page
            token = page.get("NextToken")
            if not token:
                return


def kms_failure(operation: str, code: str, kms_key_id: str | None) -> str:
    key = kms_key_id or "aws/secretsmanager (the default key)"
    return (
        f"{operation} failed: {code}: the KMS key {key} cannot be used; the caller needs kms:GenerateDataKey and "
        "kms:Decrypt on it, and the key must be enabled, symmetric and in this region"
    )
