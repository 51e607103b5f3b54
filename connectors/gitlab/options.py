"""Options of the `gitlab` sink: a target's (one GitLab instance) and a `to` entry's (one project or group, an
environment scope, the variable's settings). Pure: no call."""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import Field, SecretStr, field_validator, model_validator

from connectors.gitlab.address import ALL_ENVIRONMENTS, INSTANCE, Owner
from connectors.gitlab.rules import scope_problems
from syncd.connector import Options, path_field, url_location

_URL = re.compile(r"https?://[^/\s?#]+(/[^\s?#]*)?")
# A namespace path as GitLab forms them (letters, digits, `_ . -`, segments joined by `/`), or a numeric id.
_PATH = re.compile(r"[A-Za-z0-9_.][A-Za-z0-9_.-]*(/[A-Za-z0-9_.][A-Za-z0-9_.-]*)*")


def _unresolved(value: str) -> bool:
    """Whether `value` still holds a ${env:..}/${file:..} reference: checked again once the core resolved it."""
    return "${" in value


def owner_path(value: Any, what: str) -> str:
    """A project or group path without outer slashes, or a numeric id as text."""
    if isinstance(value, bool):
        raise ValueError(f"{what} must be a path such as 'platform/app' or a numeric id")
    if isinstance(value, int):
        if value < 1:
            raise ValueError(f"{what} id must be a positive number")
        return str(value)
    if not isinstance(value, str):
        raise ValueError(f"{what} must be a path such as 'platform/app' or a numeric id")
    path = value.strip("/")
    if not _PATH.fullmatch(path) or any(segment in (".", "..") for segment in path.split("/")):
        raise ValueError(
            f"{what} {value!r} must be a full path such as 'platform/app' (letters, digits, '_', '.', '-', "
            "segments joined by '/') or a numeric id"
        )
    return path


class GitLabTargetOptions(Options):
    """One GitLab instance: GitLab's rate limit is per user and instance, so a target per instance, not per project."""

    url: str
    # A personal, project or group access token with the `api` scope (docs/connectors.md, `gitlab`).
    token: SecretStr
    ca_file: str | None = path_field(default=None)
    timeout: float = Field(30.0, gt=0, le=300)
    # Projects and groups that `observe` also lists when a scope reaches beyond those the `to` entries name (a
    # scope of the whole target): where syncd looks for its own variables to prune.
    projects: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        if not _URL.fullmatch(value) and not _unresolved(value):
            raise ValueError("url must be an http:// or https:// URL, such as https://gitlab.example.com")
        return value.rstrip("/")

    @field_validator("projects", "groups", mode="before")
    @classmethod
    def _owners(cls, value: Any) -> Any:
        if isinstance(value, list | tuple):
            return tuple(owner_path(item, "a project or group") for item in value)
        return value

    def listed_owners(self) -> tuple[Owner, ...]:
        return tuple(Owner("project", p) for p in self.projects) + tuple(Owner("group", g) for g in self.groups)

    def location(self) -> tuple[str, ...]:
        return ("gitlab", url_location(self.url))


class GitLabDestination(Options):
    """The `gitlab` part of a `to` entry: exactly one project, group or the instance, the environment scope, and the
    settings of every variable it writes. The variable's description is the core's `description` field of the
    entry."""

    project: str | None = None
    group: str | None = None
    # Instance-level variables (an administrator's token): no environment scope, never hidden.
    instance: bool = False
    environment_scope: str = ALL_ENVIRONMENTS
    # A secret is masked in job logs unless its `to` entry says otherwise; a value that cannot be masked is a
    # problem for its key alone.
    masked: bool = True
    # Masked, and never shown again in GitLab's settings (or by its API): can only be set when a variable is created.
    masked_and_hidden: bool = False
    protected: bool = False
    # GitLab expands `$NAME` in a value unless it is raw; a secret is data, so raw unless the entry says otherwise.
    raw: bool = True
    variable_type: Literal["env_var", "file"] = "env_var"

    @field_validator("project", "group", mode="before")
    @classmethod
    def _path(cls, value: Any) -> Any:
        return None if value is None else owner_path(value, "project or group")

    @field_validator("environment_scope")
    @classmethod
    def _scope(cls, value: str) -> str:
        if value != value.strip():
            # GitLab strips them (HasEnvironmentScope#environment_scope=): the variable would live at another address
            # than the one syncd plans, and be created again and pruned on every run.
            raise ValueError(
                f"environment_scope {value[:80]!r} starts or ends with whitespace, which GitLab strips; remove it"
            )
        problems = scope_problems(value)
        if problems:
            raise ValueError(problems[0].removeprefix("The ").rstrip("."))
        return value

    @model_validator(mode="after")
    def _one_owner(self) -> GitLabDestination:
        if (self.project is not None) + (self.group is not None) + self.instance != 1:
            raise ValueError("name exactly one of project, group or instance: true")
        if self.instance and self.environment_scope != ALL_ENVIRONMENTS:
            raise ValueError("an instance variable has no environment scope; leave environment_scope out")
        if self.instance and self.masked_and_hidden:
            raise ValueError("an instance variable cannot be masked_and_hidden (GitLab hides project and group ones)")
        if self.masked_and_hidden and not self.masked:
            raise ValueError("masked_and_hidden needs masked (a hidden variable is always masked)")
        return self

    @property
    def owner(self) -> Owner:
        if self.instance:
            return INSTANCE
        return Owner("project", self.project) if self.project is not None else Owner("group", self.group or "")
