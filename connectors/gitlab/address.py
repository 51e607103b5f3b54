"""Addresses of GitLab variables: `project/<path-or-id>/<KEY>` for the environment scope `*` (GitLab's default, all
environments) and `project/<path-or-id>/<KEY>@<scope>` for any other scope; `group/...` alike; `instance/<KEY>` for
an instance variable, which has no environment scope. Pure.

The core reads `*` in a pattern as a wildcard, so an address never holds a literal one: in the scope part `*` is
written `%2A` and `%` is written `%25`. Neither a project or group path nor a key can hold `@`, so the first `@`
starts the scope, and the last `/` before it ends the owner.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

Kind = Literal["project", "group", "instance"]
KINDS: tuple[Kind, ...] = ("project", "group", "instance")
ALL_ENVIRONMENTS = "*"


@dataclass(frozen=True, order=True)
class Owner:
    """A project or a group, by the path or id a `to` entry names it with; or the instance (path "")."""

    kind: Kind
    path: str = ""

    @property
    def prefix(self) -> str:
        """The start of the address of every variable it holds."""
        return "instance/" if self.kind == "instance" else f"{self.kind}/{self.path}/"

    def __str__(self) -> str:
        return "the instance" if self.kind == "instance" else f"{self.kind} {self.path}"


INSTANCE = Owner("instance")


@dataclass(frozen=True)
class VariableAddress:
    owner: Owner
    key: str
    scope: str = ALL_ENVIRONMENTS

    def __str__(self) -> str:
        return variable_address(self.owner, self.key, self.scope)


def encode_scope(scope: str) -> str:
    return scope.replace("%", "%25").replace("*", "%2A")


def decode_scope(text: str) -> str:
    return text.replace("%2A", "*").replace("%25", "%")


def variable_address(owner: Owner, key: str, scope: str) -> str:
    base = f"{owner.prefix}{key}"
    return base if scope == ALL_ENVIRONMENTS else f"{base}@{encode_scope(scope)}"


def parse_address(address: str) -> VariableAddress | None:
    """The variable an address names; None when it is not one (no kind, no owner, or no key)."""
    head, at, scope = address.partition("@")
    kind, slash, rest = head.partition("/")
    if kind not in KINDS or not slash:
        return None
    if kind == "instance":
        return VariableAddress(INSTANCE, rest) if rest and "/" not in rest and not at else None
    path, slash, key = rest.rpartition("/")
    if not path or not slash or not key or (at and not scope):
        return None
    return VariableAddress(Owner(kind, path), key, decode_scope(scope) if at else ALL_ENVIRONMENTS)  # type: ignore[arg-type]


def owner_of_prefix(prefix: str) -> Owner | None:
    """The one project, group or instance whose variables all start with `prefix` (a scope's literal start), if
    it names one whole: `project/platform/app/`, `project/platform/app/DB_` and `instance/` do; `project/plat` and
    `` do not."""
    kind, slash, rest = prefix.partition("@")[0].partition("/")
    if kind not in KINDS or not slash:
        return None
    if kind == "instance":
        return INSTANCE
    path, slash, _ = rest.rpartition("/")
    return Owner(kind, path) if path and slash else None  # type: ignore[arg-type]


def owners_reached(patterns: Sequence[str], listed: Iterable[Owner]) -> list[Owner]:
    """The projects, groups and instance the patterns (a scope's prefixes, or `syncd policy`'s patterns) reach: the
    one a pattern's literal start names whole, or for a start wider than one (the whole target), the `listed` ones
    (a target's `projects` and `groups`) inside it."""
    listed = tuple(listed)
    owners: set[Owner] = set()
    for pattern in patterns:
        literal = pattern.split("*", 1)[0]
        owner = owner_of_prefix(literal)
        owners.update([owner] if owner else [o for o in listed if o.prefix.startswith(literal)])
    return sorted(owners)
