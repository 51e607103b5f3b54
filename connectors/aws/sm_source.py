"""The `aws-secrets-manager` source: secrets in one account and region as the source of truth.

A missing, empty, binary or deleted secret, or one whose JSON is nested too deep or holds a key twice, is a
SourceError naming its path, never an empty secret, and fails only that path.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from connectors.aws import sm_layout as layout
from connectors.aws.client import AwsSource
from connectors.aws.errors import TRANSIENT_CODES
from connectors.aws.options import AwsConnection
from connectors.aws.sm_api import NOT_FOUND, SCHEDULED, SecretsApi
from connectors.aws.sm_policy import source_policy
from syncd.connector import AccessPolicy
from syncd.errors import SourceError, SyncdError, TransientError
from syncd.model import SourceSecret

_WHY = {
    NOT_FOUND: "does not exist",
    SCHEDULED: "cannot be read (InvalidRequestException, the answer for a secret scheduled for deletion)",
    "AccessDeniedException": "cannot be read: access denied (grant secretsmanager:GetSecretValue on it)",
    "DecryptionFailure": "cannot be decrypted (grant kms:Decrypt on its KMS key)",
}


class SecretsManagerSourceOptions(AwsConnection):
    """Where the source's secrets live: one account and region (`kms_key_id`: the key they are encrypted with)."""


class SecretsManagerSource(AwsSource):
    """Reads secrets from AWS Secrets Manager; never writes."""

    Options = SecretsManagerSourceOptions
    options: SecretsManagerSourceOptions

    def __init__(self, options: SecretsManagerSourceOptions, connection: Any = None) -> None:
        super().__init__(options, connection)
        self.api = SecretsApi(self.session)

    def read(self, path: str) -> SourceSecret:
        answer, code = self.api.get_value(path)
        if answer is None:
            raise SourceError(f"secret {path!r} {_WHY[code or NOT_FOUND]} in {self._where()}")
        return self._secret(path, answer)

    def read_many(self, paths: Sequence[str]) -> dict[str, SourceSecret | SyncdError]:
        unique = list(dict.fromkeys(paths))
        answer = self.api.batch_get(unique)
        found: dict[str, SourceSecret | SyncdError] = {}
        for path in unique:
            entry = answer.values.get(path)
            if entry is not None:
                try:
                    found[path] = self._secret(path, entry)
                except SourceError as exc:
                    found[path] = exc
                continue
            code = answer.errors.get(path, "no answer")
            why = _WHY.get(code, f"cannot be read ({code})")
            # Throttling or an AWS fault on one secret: the core reads that path again.
            kind = TransientError if code in TRANSIENT_CODES else SourceError
            found[path] = kind(f"secret {path!r} {why} in {self._where()}")
        return found

    def list(self, prefix: str) -> list[str]:
        # A prefix is a folder: "apps" lists what is below "apps/", not "apps-old/x".
        folder = prefix.rstrip("/") + "/" if prefix.strip("/") else ""
        filters = [{"Key": "name", "Values": [folder]}] if folder else []
        found = self.api.list_secrets(filters, include_planned_deletion=False)
        # The name filter is a prefix match; checking it again guards against a looser match.
        return sorted(info.name for info in found if info.name.startswith(folder))

    def required_access(self, patterns: Sequence[str]) -> AccessPolicy:
        return source_policy(self.options, patterns)

    def location(self, path: str) -> tuple[str, ...]:
        return self.options.location("aws-secretsmanager")

    def _secret(self, path: str, answer: Mapping[str, Any]) -> SourceSecret:
        text = answer.get("SecretString")
        if text is None:
            raise SourceError(f"secret {path!r} holds a binary value, which syncd does not read, in {self._where()}")
        data = layout.decode_source(path, text, f" in {self._where()}")
        if not data:
            raise SourceError(f"secret {path!r} is empty in {self._where()}")
        return SourceSecret(path=path, data=data, version=answer.get("VersionId"))

    def _where(self) -> str:
        account = self.options.expected_account
        return f"{self.options.region}" + (f" (account {account})" if account else "")
