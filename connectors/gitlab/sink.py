"""The `gitlab` sink: one CI/CD variable per key, in a project or a group, in one environment scope.

Reads: `observe` lists each project and group of the scope once (`http_list(get_all=True, per_page=100)` on the
variables manager's path, which follows GitLab's `Link: rel="next"` pages, read as the pages' JSON), never one call
per key. The owner is the marker at the end of the description (see `marker`).

Writes: a create is a POST; an update a PUT and a delete a DELETE, both always with `filter[environment_scope]`
(never `obj.save()`, which sends none). GitLab variables have no version and the API no conditional write, so
before an update or a delete syncd reads the variable again by key and scope (one GET with the filter) and goes on
only if it is still as the plan saw it: the same marker and, when GitLab shows the value, the same value (else
ItemMoved). What remains unprotected is the moment between that GET and the PUT or DELETE: a write landing there
is overwritten, or deleted; and a group variable deleted there sends the PUT to the key's variable in another scope
(GitLab's fallback when the filter matches nothing); syncd sends no scope in the body, so the PUT's answer shows it,
and the change fails naming both scopes with the marker taken off that variable again. A create needs no read:
GitLab refuses a second variable
of the same key and scope ("has already been taken"), and syncd then reads it to tell its own earlier write (a
retry after a lost answer: success) from someone else's (ItemMoved). On ItemMoved the core looks at that one
variable again and decides.

Fixed settings: GitLab sets `masked_and_hidden` only at creation and keeps a hidden variable's masking, so every
variable reports `hidden` (and a hidden one `masked`) in `ActualItem.fixed`; the core plans such a change as a
recreate (`recreate: true` on the `to` entry) or a conflict. A recreate deletes the variable as a delete does (only
if still as the plan saw it) and creates it whole; a retry finding it already made anew deletes nothing.

Hidden variables (`masked_and_hidden`): GitLab never returns their value, and syncd stores nothing derived from a
value (no hash, no length). Their marker records a digest of the origin the value was read at
(`DesiredItem.source_version`: source path, source keys, version; see `marker`): the same origin reads as the value
syncd wants (a steady state writes nothing), another as unknown (the value is written, with the new record). From a
source without versions the value is taken to be the one wanted. An edit made in GitLab to a hidden value is never
seen (docs/connectors.md, `gitlab`, Hidden variables).
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from typing import Any

from connectors.gitlab import marker
from connectors.gitlab.address import Owner, VariableAddress, owners_reached, parse_address, variable_address
from connectors.gitlab.client import NO_RETRY, GitLabClient
from connectors.gitlab.errors import Operation, already_taken, variable_missing
from connectors.gitlab.options import GitLabDestination, GitLabTargetOptions
from connectors.gitlab.policy import token_policy
from connectors.gitlab.rules import description_problems, key_problems, value_problems
from syncd.connector import (
    UNLIMITED,
    AccessPolicy,
    Capabilities,
    Observation,
    RateLimiter,
    Scope,
    Sink,
    expect_unmoved,
    in_parallel,
)
from syncd.errors import ConnectorError, ItemMoved, PermanentError, SyncdError
from syncd.model import ActualItem, DesiredItem, Difference, Granularity
from syncd.secret import Secret

MAX_CONCURRENCY = 8
PER_PAGE = 100
HIDDEN_FIXED = "masked_and_hidden can only be set when a variable is created"
# In a hidden variable's ActualItem.flags, never compared by the core (no desired item has it): the digest of the
# origin its marker records.
SOURCE = "source_version"
MASKED_FIXED = "a masked and hidden variable's masking cannot change"


class GitLabSink(Sink):
    """Writes each item as one CI/CD variable; see the module docstring for reads, writes and hidden variables."""

    Options = GitLabTargetOptions
    Destination = GitLabDestination
    capabilities = Capabilities(
        granularities=(Granularity.PER_KEY,), description=True, versions=False, max_concurrency=MAX_CONCURRENCY
    )

    def __init__(self, target: str, options: GitLabTargetOptions, connection: GitLabClient | None = None) -> None:
        super().__init__(target, options, connection)
        self.options: GitLabTargetOptions = options
        self.connection: GitLabClient = connection or self.connect(target, options)

    @classmethod
    def connect(
        cls, target: str, options: GitLabTargetOptions, client: Any = None, limiter: RateLimiter = UNLIMITED
    ) -> GitLabClient:
        return GitLabClient(target, options, client, limiter)

    # Conventions (no call)

    def address(self, destination: GitLabDestination, name: str) -> str:
        return variable_address(destination.owner, name, destination.environment_scope)

    def flags(self, destination: GitLabDestination) -> Mapping[str, Any]:
        return {
            "variable_type": destination.variable_type,
            # masked_and_hidden needs masked (the destination refuses it without).
            "masked": destination.masked,
            "hidden": destination.masked_and_hidden,
            "protected": destination.protected,
            "raw": destination.raw,
        }

    def describe(self) -> str:
        return f"GitLab at {self.options.url}"

    def location(self) -> tuple[str, ...]:
        return self.options.location()

    def required_access(self, patterns: Sequence[str]) -> AccessPolicy:
        return token_policy(self.target, self.options, patterns)

    def check(self, item: DesiredItem) -> list[str]:
        where = parse_address(item.address)
        if where is None:
            return [
                f"The address {item.address[:120]!r} names no GitLab variable (project/<path>/<KEY> or "
                "group/<path>/<KEY>, with @<environment scope> when not '*')."
            ]
        destination = item.destination
        if isinstance(destination, GitLabDestination) and where.owner != destination.owner:
            # A name holding '/': the address would put the variable in another project or group.
            name = item.address.removeprefix(destination.owner.prefix).partition("@")[0]
            return key_problems(name, str(destination.owner)) or [f"Item {item.address!r} leaves its project."]
        problems = key_problems(where.key, str(where.owner))
        if len(item.data) != 1:
            problems.append(f"Item {item.address!r} holds {len(item.data)} keys; a variable holds one.")
        else:
            value = item.single_value().reveal()
            masked, raw = bool(item.flags.get("masked")), bool(item.flags.get("raw"))
            problems += value_problems(
                where.key, str(where.owner), value, masked=masked, raw=raw, instance=where.owner.kind == "instance"
            )
        problems += description_problems(where.key, str(where.owner), _description(item, item.description))
        return problems

    # Reads

    def observe(self, desired: Sequence[DesiredItem], scope: Scope) -> Observation:
        wanted = {item.address: item for item in desired if parse_address(item.address) is not None}
        owners = {parse_address(a).owner for a in wanted}  # type: ignore[union-attr]
        owners.update(owners_reached(scope.prefixes, self.options.listed_owners()))
        listed = sorted(owners)
        listings = dict(zip(listed, in_parallel(self._list, listed, MAX_CONCURRENCY), strict=True))
        items: dict[str, ActualItem] = {}
        owned: dict[str, ActualItem] = {}
        for owner, variables in listings.items():
            for attributes in variables:
                address = variable_address(owner, attributes["key"], attributes.get("environment_scope") or "*")
                actual = _actual(address, attributes, wanted.get(address))
                if address in wanted:
                    items[address] = actual
                if actual.owner is not None and actual.owner.instance == scope.instance and scope.covers(address):
                    owned[address] = actual
        return Observation(items, owned)

    def _list(self, owner: Owner) -> list[dict[str, Any]]:
        op = Operation("list", owner)
        path = self.connection.variables(owner).path
        # The pages' JSON as it came, through the manager's own path: its objects would deep-copy their attributes
        # each time they are read (`.attributes`), which was most of a steady plan's CPU.
        found = self.connection.call(lambda gl: gl.http_list(path, get_all=True, per_page=PER_PAGE, **NO_RETRY), op)
        if not isinstance(found, list) or not all(isinstance(entry, dict) and "key" in entry for entry in found):
            # What python-gitlab's objects refused before: a wrong answer must not read as "no such variable".
            raise PermanentError(
                f"GitLab answered the variables listing of {owner} with something other than variables",
                target=self.target,
            )
        return found

    def _read(self, where: VariableAddress, address: str) -> ActualItem | None:
        """The variable at `where` now (one GET with the scope filter); None when there is none."""
        op = Operation("read", where.owner, address, where.key)
        manager = self.connection.variables(where.owner)
        variable = self.connection.call(
            lambda gl: manager.get(where.key, **_scoped(where), **NO_RETRY), op, variable_missing
        )
        return None if variable is None else _actual(address, dict(variable.attributes), None)

    # Writes

    def write(self, item: DesiredItem, expected: ActualItem | None, difference: Difference) -> None:
        where = self._where(item.address)
        if difference.recreate and expected is not None:
            # A field GitLab cannot change in place: delete the variable (only if still as the plan saw it) and
            # create it whole. After a crash in between, the next plan finds it absent and creates it.
            self._delete(where, expected, item=item)
            self._create(item, where)
            return
        if expected is None:
            self._create(item, where)
            return
        current = self._read(where, item.address)
        if current is None:
            raise ItemMoved(
                "the variable was deleted since the plan; nothing was written", target=self.target, address=item.address
            )
        if _holds(current, item):
            return  # this very write, made by an attempt whose answer was lost
        expect_unmoved(self.target, expected, current)
        if current.flags.get("hidden") != item.flags.get("hidden"):
            raise PermanentError(
                f"{HIDDEN_FIXED}: set recreate: true on its `to` entry to let syncd delete and create it",
                target=self.target,
                address=item.address,
            )
        self._update(item, where, current)

    def _create(self, item: DesiredItem, where: VariableAddress) -> None:
        payload = {
            "key": where.key,
            "value": item.single_value().reveal(),
            **_scope_field(where),
            "description": _description(item, item.description),
            **_settings(item, ("variable_type", "masked", "protected", "raw")),
        }
        if item.flags.get("hidden"):
            payload["masked_and_hidden"] = True
        op = Operation("create", where.owner, item.address, where.key)
        manager = self.connection.variables(where.owner)
        created = self.connection.call(lambda gl: manager.create(payload, **NO_RETRY), op, already_taken)
        if created is not None:
            self._check_created_scope(item, where, _scope_of(created))
            return
        current = self._read(where, item.address)
        if current is not None and _holds(current, item):
            return
        raise ItemMoved(
            "a variable with this key and environment scope was created by someone else since the plan (it does not "
            "carry this sync's marker and value); it is left alone (plan again; on_conflict: adopt takes it over)",
            target=self.target,
            address=item.address,
        )

    def _check_created_scope(self, item: DesiredItem, where: VariableAddress, landed: str) -> None:
        """Undo a create GitLab stored in another environment scope than the one sent (GitLab Free drops a group
        variable's scope: it lands at `*`), and fail it."""
        if where.owner.kind == "instance" or landed == where.scope:
            return
        manager = self.connection.variables(where.owner)
        op = Operation("delete", where.owner, item.address, where.key)
        undone = "syncd deleted it again"
        try:
            self.connection.call(
                lambda gl: manager.delete(where.key, filter={"environment_scope": landed}, **NO_RETRY), op
            )
        except ConnectorError as exc:
            undone = f"syncd could not delete it again ({exc.message}): delete it in GitLab"
        why = (
            "environment scopes of group variables need GitLab Premium or Ultimate"
            if where.owner.kind == "group"
            else "GitLab did not take the environment scope"
        )
        raise PermanentError(
            f"GitLab created variable {where.key} of {where.owner} in environment scope {landed!r}, not "
            f"{where.scope!r} ({why}); {undone}",
            target=self.target,
            address=item.address,
        )

    def _update(self, item: DesiredItem, where: VariableAddress, current: ActualItem) -> None:
        kept = item.description is None
        description = _description(item, current.description if kept else item.description)
        # `check` saw the `to` entry's text; a text kept from GitLab (an adopted variable's note) meets the marker
        # only here. GitLab would refuse it (400) on every run.
        too_long = description_problems(where.key, str(where.owner), description, kept=kept)
        if too_long:
            raise PermanentError(too_long[0], target=self.target, address=item.address)
        # No `environment_scope` in the body: the filter names the variable, and a scope in the body would move the
        # variable GitLab's fallback reached (below) into this scope, where its answer could not tell.
        payload: dict[str, Any] = {
            "value": item.single_value().reveal(),
            "description": description,
            **_settings(item, ("variable_type", "protected", "raw")),
        }
        if not current.flags.get("hidden") and "masked" in item.flags:
            payload["masked"] = item.flags["masked"]
        op = Operation("update", where.owner, item.address, where.key)
        manager = self.connection.variables(where.owner)
        answer = self.connection.call(
            lambda gl: manager.update(where.key, payload, **_scoped(where), **NO_RETRY), op, variable_missing
        )
        if answer is None:
            raise ItemMoved(
                "the variable was deleted since it was read; nothing was written",
                target=self.target,
                address=item.address,
            )
        landed = _scope_of(answer)
        if where.owner.kind != "instance" and landed != where.scope:
            # GitLab's group PUT falls back to the key in any scope when the filter matches nothing (the variable was
            # deleted since syncd read it; before GitLab 16.9 it ignores the filter): the write reached another
            # scope's variable. Only its answer tells. That variable is not syncd's: take the marker off again, so
            # no later run takes it for syncd's own and prunes it.
            unmarked = {"value": payload["value"], "description": item.description or ""}
            where_landed = VariableAddress(where.owner, where.key, landed)
            unmark = Operation("update", where.owner, item.address, where.key)
            with contextlib.suppress(SyncdError):
                self.connection.call(
                    lambda gl: manager.update(where.key, unmarked, **_scoped(where_landed), **NO_RETRY), unmark
                )
            raise PermanentError(
                f"GitLab applied the update of variable {where.key} of {where.owner} to its variable in environment "
                f"scope {landed!r}, not {where.scope!r} (the one in {where.scope!r} was deleted since syncd read it, "
                "or this GitLab ignores the scope filter): that variable now holds syncd's value, without syncd's "
                "marker; check it",
                target=self.target,
                address=item.address,
            )

    def delete(self, expected: ActualItem) -> None:
        self._delete(self._where(expected.address), expected)

    def _delete(self, where: VariableAddress, expected: ActualItem, item: DesiredItem | None = None) -> None:
        """Delete the variable if it is still `expected` (else ItemMoved); gone already is success."""
        current = self._read(where, expected.address)
        if current is None or (item is not None and _holds(current, item)):
            # Gone already, or (a recreate) already made anew by an attempt whose answer was lost.
            return
        if current.owner != expected.owner:
            raise ItemMoved(
                "the variable no longer carries the ownership marker the plan saw; left alone",
                target=self.target,
                address=expected.address,
            )
        if expected.data is not None and current.data is not None and current.data != expected.data:
            raise ItemMoved(
                "the variable's value changed since the plan; left alone", target=self.target, address=expected.address
            )
        op = Operation("delete", where.owner, expected.address, where.key)
        manager = self.connection.variables(where.owner)
        # Gone already (a 404 for the variable) is success.
        self.connection.call(lambda gl: manager.delete(where.key, **_scoped(where), **NO_RETRY), op, variable_missing)

    def _where(self, address: str) -> VariableAddress:
        where = parse_address(address)
        problems = ["The address names no GitLab variable."] if where is None else key_problems(where.key, address)
        if where is None or problems:
            # Not the core's check again: a key GitLab's URL handling would read as another path never reaches it.
            raise PermanentError(" ".join(problems), target=self.target, address=address)
        return where


def _scoped(where: VariableAddress) -> dict[str, Any]:
    """The scope filter of a read, update or delete: always for a project or group variable (never none, which
    GitLab answers 409 once a key has two scopes); an instance variable has no scope."""
    return {} if where.owner.kind == "instance" else {"filter": {"environment_scope": where.scope}}


def _scope_field(where: VariableAddress) -> dict[str, Any]:
    return {} if where.owner.kind == "instance" else {"environment_scope": where.scope}


def _scope_of(answer: Any) -> str:
    """The environment scope of the variable a create or update answered with (`*` when it names none)."""
    attributes = answer.attributes if hasattr(answer, "attributes") else answer
    return str((attributes or {}).get("environment_scope") or "*")


def _settings(item: DesiredItem, names: Sequence[str]) -> dict[str, Any]:
    return {name: item.flags[name] for name in names if name in item.flags}


def _flags(attributes: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "variable_type": attributes.get("variable_type") or "env_var",
        "masked": bool(attributes.get("masked")),
        "hidden": bool(attributes.get("hidden")),
        "protected": bool(attributes.get("protected")),
        "raw": bool(attributes.get("raw")),
    }


def _actual(address: str, attributes: Mapping[str, Any], desired: DesiredItem | None) -> ActualItem:
    """The item for one variable as GitLab returned it. A hidden variable's value is never returned: it is taken
    to be the desired one (see the module docstring), or unknown (None) when nothing is desired there."""
    key = attributes["key"]
    text, stamp = marker.parse_stamp(attributes.get("description"))
    flags = _flags(attributes)
    value = attributes.get("value")
    if flags["hidden"]:
        # Only the origin the value was written from tells; unknown (None) when it moved or is not known.
        flags[SOURCE] = stamp.source if stamp else None
        unmoved = desired is not None and len(desired.data) == 1 and _written_from(flags, desired)
        data = {key: desired.single_value()} if unmoved else None  # type: ignore[union-attr]
    elif value is None:
        data = None
    else:
        data = {key: Secret(value)}
    owner = stamp.owner if stamp else None
    fixed = {"hidden": HIDDEN_FIXED}
    if flags["hidden"]:
        fixed["masked"] = MASKED_FIXED
    return ActualItem(address=address, owner=owner, data=data, description=text, flags=flags, fixed=fixed)


def _holds(current: ActualItem, item: DesiredItem) -> bool:
    """Whether `current` already is `item` as syncd would write it: its marker, its settings, its description and
    (when GitLab shows it) its value."""
    if current.owner != item.owner:
        return False
    if any(current.flags.get(name) != value for name, value in item.flags.items()):
        return False
    if item.description is not None and (current.description or "") != item.description:
        return False
    if current.flags.get("hidden"):
        return _written_from(current.flags, item)
    if current.data is None:
        return True
    return list(current.data.values()) == [item.single_value()]


def _hidden_source(item: DesiredItem) -> str | None:
    """The digest of the origin a hidden variable's marker records (None for other variables)."""
    return marker.source_digest(item.source_version) if item.flags.get("hidden") else None


def _description(item: DesiredItem, text: str | None) -> str:
    """The description syncd stores for `item`: the text, and its marker (with the origin when hidden)."""
    return marker.stamped(text, item.owner, _hidden_source(item))


def _written_from(flags: Mapping[str, Any], item: DesiredItem) -> bool:
    """Whether a hidden variable holds `item`'s value, as far as anyone can tell: its marker records the origin `item`
    was read at (always, when the source reports no version: nothing can tell then)."""
    wanted = marker.source_digest(item.source_version)
    return wanted is None or flags.get(SOURCE) == wanted
