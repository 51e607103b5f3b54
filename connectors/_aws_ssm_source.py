"""The `aws-ssm` source: a path is a folder of parameters, and the parameters directly under it are its keys.

`read("/prod/payments/db")` is GetParametersByPath on that folder, not
recursive, decrypted, 10 parameters a page: `/prod/payments/db/DB_USER`
gives the key `DB_USER`. A folder with no parameter directly under it is an
error, never an empty secret. The version is the sorted `KEY:VERSION` list of
its parameters, so it moves when any of them is changed, added or removed.

`list(prefix)` is DescribeParameters with a recursive Path filter (50 names
a page, no values read): every folder strictly below the prefix that directly
holds a parameter, sorted, in the prefix's own style (with or without the
leading '/').
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import field_validator

from connectors import _aws_ssm_policy as policy
from connectors._aws import AwsConnection, AwsSession
from connectors._aws_ssm_api import SsmApi
from connectors._aws_ssm_rules import KMS_KEY_ID, KMS_KEY_ID_RULE, folder, leaf
from syncd.connector import Source, path_parts
from syncd.errors import ConnectorError, SourceError, TransientError
from syncd.model import SourceSecret
from syncd.secret import Secret

PATH_PAGE = 10
DESCRIBE_PAGE = 50
# Parallel reads within one `read_many` chunk; the core runs several chunks at once too.


class SsmSourceOptions(AwsConnection):
    """Where to read: one account and region; `kms_key_id` only narrows the policy `syncd iam-policy` prints."""

    kms_key_id: str | None = None

    @field_validator("kms_key_id")
    @classmethod
    def _ssm_key_id(cls, key_id: str | None) -> str | None:
        if key_id is not None and not KMS_KEY_ID.fullmatch(key_id):
            raise ValueError(KMS_KEY_ID_RULE)
        return key_id


class SsmSource(Source):
    """Reads folders of SSM parameters; see the module docstring."""

    Options = SsmSourceOptions
    max_concurrency = 4

    def __init__(self, options: SsmSourceOptions, client: Any = None) -> None:
        super().__init__(options, client)
        self.options: SsmSourceOptions = options
        self._api = SsmApi(AwsSession("source", options, client))

    def read(self, path: str) -> SourceSecret:
        where = folder(path)
        request = {"Path": where, "Recursive": False, "WithDecryption": True, "MaxResults": PATH_PAGE}
        data: dict[str, Secret] = {}
        versions: list[str] = []
        for parameter in self._all(path, "GetParametersByPath", request):
            key = leaf(parameter["Name"])
            data[key] = Secret(parameter["Value"])
            versions.append(f"{key}:{parameter['Version']}")
        if not data:
            raise SourceError(
                f"no parameter directly under {where!r} in {self.options.region} "
                "(a path names the folder that holds the parameters, not a parameter)"
            )
        return SourceSecret(path=path, data=data, version=",".join(sorted(versions)))

    def list(self, prefix: str) -> list[str]:
        base = prefix.strip("/")
        path_filter = {"Key": "Path", "Option": "Recursive", "Values": [folder(prefix)]}
        request = {"ParameterFilters": [path_filter], "MaxResults": DESCRIBE_PAGE}
        names = [meta["Name"] for meta in self._all(prefix, "DescribeParameters", request)]
        folders = {name.strip("/").rpartition("/")[0] for name in names if name.startswith("/")}
        below = sorted(f for f in folders if (f.startswith(base + "/") if base else f))
        style = "/" if prefix.startswith("/") else ""
        return [style + f for f in below]

    def access_policy(self, patterns: Sequence[str]) -> list[dict[str, Any]] | None:
        options = self.options
        return policy.source_statements(
            patterns,
            partition=options.partition,
            region=options.region,
            account=options.expected_account or "*",
            kms_key_id=options.kms_key_id,
        )

    def location(self, path: str) -> tuple[str, ...]:
        return self.options.location("aws-ssm", *path_parts(path))

    def close(self) -> None:
        self._api.close()

    def _all(self, path: str, operation: str, request: dict[str, Any]) -> list[dict[str, Any]]:
        """Every parameter of every page of `operation` for `path`.

        A permanent failure becomes a SourceError naming `path`; a transient one stays transient, for the core to retry.
        """
        try:
            return list(self._api.pages(operation, request, "Parameters"))
        except TransientError as exc:
            raise TransientError(f"cannot read {path!r}: {exc.message}") from None
        except ConnectorError as exc:
            raise SourceError(f"cannot read {path!r}: {exc.message}") from None
