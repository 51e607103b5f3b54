"""The `aws-ssm` source: a path is a folder of parameters, and the parameters directly under it are its keys.

The version is the sorted `KEY:VERSION` list of the folder's parameters, so it moves when any is changed, added or
removed; `list` reads names only (DescribeParameters), never values.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from connectors.aws.client import AwsSource
from connectors.aws.ssm_options import SsmSourceOptions
from connectors.aws.ssm_policy import source_policy
from connectors.aws.ssm_rules import folder, leaf
from syncd.connector import AccessPolicy, Capabilities, path_parts
from syncd.errors import ConnectorError, SourceError, TransientError
from syncd.model import SourceSecret
from syncd.secret import Secret

PATH_PAGE = 10
DESCRIBE_PAGE = 50


class SsmSource(AwsSource):
    """Reads folders of SSM parameters; see the module docstring."""

    Options = SsmSourceOptions
    options: SsmSourceOptions
    capabilities = Capabilities(max_concurrency=4)

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

    def required_access(self, patterns: Sequence[str]) -> AccessPolicy:
        return source_policy(self.options, patterns)

    def location(self, path: str) -> tuple[str, ...]:
        return self.options.location("aws-ssm", *path_parts(path))

    def _all(self, path: str, operation: str, request: dict[str, Any]) -> list[dict[str, Any]]:
        """Every parameter of every page of `operation` for `path`.

        A permanent failure becomes a SourceError naming `path`; a transient one stays transient, for the core to retry.
        """
        try:
            return list(self.session.entries("ssm", operation, request, "Parameters"))
        except TransientError as exc:
            raise TransientError(f"cannot read {path!r}: {exc.message}", retry_after=exc.retry_after) from None
        except ConnectorError as exc:
            raise SourceError(f"cannot read {path!r}: {exc.message}") from None
