"""The `gitlab` connector: a sink for GitLab CI/CD variables of projects and groups, through python-gitlab.
docs/connectors.md (`gitlab`) says what each module holds.
"""

from __future__ import annotations

from connectors.gitlab.options import GitLabDestination, GitLabTargetOptions
from connectors.gitlab.sink import GitLabSink
from syncd.connector import ConnectorSpec

__all__ = ["GitLabDestination", "GitLabSink", "GitLabTargetOptions", "spec"]

spec = ConnectorSpec(
    name="gitlab",
    summary="GitLab CI/CD variables of projects and groups: one variable per key, per environment scope.",
    sink=GitLabSink,
)
