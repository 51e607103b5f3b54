"""What a `gitlab` target's token needs, as `syncd policy` prints it: the token scope, and the role on each project
and group the patterns name.

GitLab has no policy document to load: access is a token's scope plus its user's role where it acts. Managing CI/CD
variables takes the Maintainer role on a project and the Owner role on a group (docs.gitlab.com/ci/variables, "For
a project", "For a group"), and the `api` scope (`read_api` reads only).
"""

from __future__ import annotations

from collections.abc import Sequence

from connectors.gitlab.address import owners_reached
from connectors.gitlab.errors import ROLE
from connectors.gitlab.options import GitLabTargetOptions
from syncd.connector import AccessPolicy


def token_policy(target: str, options: GitLabTargetOptions, patterns: Sequence[str]) -> AccessPolicy:
    lines = [
        f"# syncd target {target!r}: GitLab at {options.url}",
        "# Token: a personal, group or project access token with the scope `api` (read_api cannot write variables).",
        "# Its user (for a group or project access token, its bot user) needs at least these roles:",
    ]
    owners = owners_reached(patterns, options.listed_owners())
    lines += [
        "instance: Administrator (instance variables)" if owner.kind == "instance" else f"{owner}: {ROLE[owner.kind]}"
        for owner in owners
    ]
    if not owners:
        lines.append("# (no project or group is mapped to this target)")
    return AccessPolicy("gitlab", "\n".join(lines) + "\n")
