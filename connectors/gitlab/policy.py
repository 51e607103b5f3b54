"""What a `gitlab` target's token needs, as `syncd policy` prints it: the token scope, and the role on each project
and group the patterns name.

GitLab has no policy document to load: access is a token's scope plus its user's role where it acts. Managing CI/CD
variables takes the Maintainer role on a project and the Owner role on a group (docs.gitlab.com/ci/variables, "For
a project", "For a group"), and the `api` scope (`read_api` reads only).
"""

from __future__ import annotations

from collections.abc import Sequence

from connectors.gitlab.address import Owner, owner_of_prefix
from connectors.gitlab.errors import ROLE
from connectors.gitlab.options import GitLabTargetOptions
from syncd.connector import AccessPolicy


def _owners(patterns: Sequence[str], options: GitLabTargetOptions) -> list[Owner]:
    """Each project and group the patterns reach: the one a pattern names, or for a pattern wider than one
    (the whole target), those of the target's `projects` and `groups` inside it."""
    owners: set[Owner] = set()
    for pattern in patterns:
        literal = pattern.split("*", 1)[0]
        owner = owner_of_prefix(literal)
        owners.update([owner] if owner else [o for o in options.listed_owners() if o.prefix.startswith(literal)])
    return sorted(owners)


def token_policy(target: str, options: GitLabTargetOptions, patterns: Sequence[str]) -> AccessPolicy:
    lines = [
        f"# syncd target {target!r}: GitLab at {options.url}",
        "# Token: a personal, group or project access token with the scope `api` (read_api cannot write variables).",
        "# Its user (for a group or project access token, its bot user) needs at least these roles:",
    ]
    owners = _owners(patterns, options)
    lines += [
        "instance: Administrator (instance variables)" if owner.kind == "instance" else f"{owner}: {ROLE[owner.kind]}"
        for owner in owners
    ]
    if not owners:
        lines.append("# (no project or group is mapped to this target)")
    return AccessPolicy("gitlab", "\n".join(lines) + "\n")
