"""GitLab's rules for CI/CD variables, roles and error bodies, as the fake GitLab server (tests/fakes/gitlab.py)
applies them.

Each rule names where it comes from. "api docs" is docs.gitlab.com/api/project_level_variables and
group_level_variables; "ci docs" is docs.gitlab.com/ci/variables; the Ruby names are GitLab's own source
(gitlab-org/gitlab), read where the docs are silent.

PYTEST_DONT_REWRITE: the module has no asserts.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Literal

Kind = Literal["project", "group", "instance"]

# Access levels (docs.gitlab.com/api/members, "Roles").
ROLE_LEVELS = {"guest": 10, "reporter": 20, "developer": 30, "maintainer": 40, "owner": 50}
# ci docs, "For a project": "You must be a project member with the Maintainer role"; "For a group": "You must be a
# group member with the Owner role" (the API checks the same permission, admin_cicd_variables). Instance variables
# need an administrator.
VARIABLES_ROLE = {"project": "maintainer", "group": "owner"}

# api docs: "must have no more than 255 characters; only A-Z, a-z, 0-9, and _ are allowed"; the messages are
# Ci::HasVariable's validations.
KEY_PATTERN = re.compile(r"[A-Za-z0-9_]+")
KEY_MAX = 255
KEY_BLANK = "can't be blank"
KEY_TOO_LONG = "is too long (maximum is 255 characters)"
KEY_CHARACTERS = "can contain only letters, digits and '_'."
KEY_TAKEN = "({key}) has already been taken"

# ci docs, "Mask a CI/CD variable": a single line with no spaces, 8 characters or longer; with variable expansion on
# (raw false) only the Base64 alphabet (RFC 4648) and '@', ':', '.', '~'. Ci::Maskable holds both as regexes, REGEX
# and MASK_AND_RAW_REGEX; a value failing them gets Rails' format message, which names no value.
# The ci docs also ask that a masked value not match a variable's name; the model does not check that, nor does the
# fake.
MASKED_EXPANDED_VALUE = re.compile(r"[a-zA-Z0-9_+=/@:.~-]{8,}")
MASKED_RAW_VALUE = re.compile(r"\S{8,}")
VALUE_INVALID = "is invalid"
# Ci::HidableVariable; `hidden` is set only by `masked_and_hidden` on create, which sets `masked` too.
HIDDEN_VISIBILITY_FIXED = "The visibility setting cannot be changed for masked and hidden variables."
# ci docs, "For an instance": "The value is limited to 10,000 characters" (Ci::InstanceVariable's message). The
# project and group docs say "Value: No limitations", so only instance variables are checked.
INSTANCE_VALUE_MAX = 10_000
INSTANCE_VALUE_TOO_LONG = "The value of the provided variable exceeds the 10000 character limit"
# Ci::Variable and Ci::GroupVariable: `validates :description, length: { maximum: 255 }`.
DESCRIPTION_MAX = 255
DESCRIPTION_TOO_LONG = "is too long (maximum is 255 characters)"
# HasEnvironmentScope with Gitlab::Regex.environment_scope_regex and its message; `*` (all environments) by default.
# Group variables take a scope as on Premium and Ultimate (on Free, EE's filter_variable_parameters drops it: see
# GitLabFake.group_scopes_licensed). The setter `HasEnvironmentScope#environment_scope=` strips the scope.
DEFAULT_SCOPE = "*"
SCOPE_PATTERN = re.compile(r"[a-zA-Z0-9_/${}. *-]+")
SCOPE_BLANK = "can't be blank"
SCOPE_CHARACTERS = "can contain only letters, digits, '-', '_', '/', '$', '{', '}', '.', '*' and spaces"

# ci docs, "For a project" and "For a group": since GitLab 15.9 a project has at most 8000 variables and a group 30000
# (plan limits project_ci_variables and group_ci_variables, which an instance can change; Limitable's message). The
# docs give no default for the instance's own limit, so the fake sets none.
VARIABLE_LIMITS: dict[Kind, int | None] = {"project": 8000, "group": 30000, "instance": None}
LIMIT_NAMES: dict[Kind, str] = {
    "project": "project ci variables",
    "group": "group ci variables",
    "instance": "ci instance level variables",
}
LIMIT_EXCEEDED = "Maximum number of {name} ({count}) exceeded"

VARIABLE_TYPES = ("env_var", "file")
BOOLEAN_FIELDS = ("protected", "masked", "raw")
# The fields a variable has, in the order the API returns them (api docs, "List project variables"). Instance
# variables have neither `hidden` nor `environment_scope` (docs.gitlab.com/api/instance_level_ci_variables).
FIELDS: dict[Kind, tuple[str, ...]] = {
    "project": (
        "variable_type",
        "key",
        "value",
        "hidden",
        "protected",
        "masked",
        "raw",
        "environment_scope",
        "description",
    ),
    "group": (
        "variable_type",
        "key",
        "value",
        "hidden",
        "protected",
        "masked",
        "raw",
        "environment_scope",
        "description",
    ),
    "instance": ("variable_type", "key", "value", "protected", "masked", "raw", "description"),
}

# The 409 of API::Helpers::VariablesHelpers#find_variable; the api docs quote it with a final period the code lacks.
SEVERAL_MATCH = "There are multiple variables with provided parameters. Please use 'filter[environment_scope]'"
# not_found!('Variable') in API::Ci::Variables, not_found!('GroupVariable') in API::GroupVariables,
# not_found!('InstanceVariable') in API::Admin::Ci::Variables.
VARIABLE_NOT_FOUND: dict[Kind, str] = {
    "project": "404 Variable Not Found",
    "group": "404 GroupVariable Not Found",
    "instance": "404 InstanceVariable Not Found",
}
OWNER_NOT_FOUND = {"project": "404 Project Not Found", "group": "404 Group Not Found"}
UNAUTHORIZED = "401 Unauthorized"
FORBIDDEN = "403 Forbidden"
# docs.gitlab.com/api/rest/#pagination: `per_page` defaults to 20 and is at most 100.
DEFAULT_PER_PAGE = 20
MAX_PER_PAGE = 100


def new_variable(kind: Kind, fields: Mapping[str, Any]) -> dict[str, Any]:
    """A variable as stored, from the create request's fields (already coerced), with the API's defaults."""
    variable: dict[str, Any] = {
        "variable_type": fields.get("variable_type", "env_var"),
        "key": str(fields.get("key", "")).strip(),
        "value": fields.get("value", ""),
        "protected": fields.get("protected", False),
        "masked": fields.get("masked", False),
        "raw": fields.get("raw", False),
        "description": fields.get("description"),
    }
    if kind != "instance":
        variable["hidden"] = False
        variable["environment_scope"] = str(fields.get("environment_scope", DEFAULT_SCOPE)).strip()
    # Ci::ChangeVariableService: masked_and_hidden on create sets both; update has no such parameter.
    if kind != "instance" and fields.get("masked_and_hidden"):
        variable["masked"] = True
        variable["hidden"] = True
    return variable


def validation_errors(
    kind: Kind,
    variable: Mapping[str, Any],
    others: list[Mapping[str, Any]],
    before: Mapping[str, Any] | None = None,
    limit: int | None = None,
) -> dict[str, list[str]]:
    """The model's validation errors for `variable` (empty when valid), as the API's 400 body lists them.

    `others` are the owner's other variables (for uniqueness and the plan `limit`, checked on create only); `before`
    is the stored variable an update changes.
    """
    errors: dict[str, list[str]] = {}
    key = variable["key"]
    key_errors = []
    if not key:
        key_errors.append(KEY_BLANK)
    if len(key) > KEY_MAX:
        key_errors.append(KEY_TOO_LONG)
    if not KEY_PATTERN.fullmatch(key):
        key_errors.append(KEY_CHARACTERS)
    if any(_same_identity(kind, variable, other) for other in others):
        key_errors.append(KEY_TAKEN.format(key=key))
    if key_errors:
        errors["key"] = key_errors
    if variable["masked"]:
        pattern = MASKED_RAW_VALUE if variable["raw"] else MASKED_EXPANDED_VALUE
        if not pattern.fullmatch(variable["value"]):
            errors["value"] = [VALUE_INVALID]
    if kind == "instance" and len(variable["value"]) > INSTANCE_VALUE_MAX:
        errors.setdefault("value", []).append(INSTANCE_VALUE_TOO_LONG)
    if variable["description"] and len(variable["description"]) > DESCRIPTION_MAX:
        errors["description"] = [DESCRIPTION_TOO_LONG]
    if kind != "instance":
        scope = variable["environment_scope"]
        scope_errors = []
        if not scope:
            scope_errors.append(SCOPE_BLANK)
        if not SCOPE_PATTERN.fullmatch(scope):
            scope_errors.append(SCOPE_CHARACTERS)
        if scope_errors:
            errors["environment_scope"] = scope_errors
        if before is not None and before["hidden"] and variable["masked"] != before["masked"]:
            errors["base"] = [HIDDEN_VISIBILITY_FIXED]
    if before is None and limit is not None and len(others) >= limit:
        errors.setdefault("base", []).append(LIMIT_EXCEEDED.format(name=LIMIT_NAMES[kind], count=limit))
    return errors


def _same_identity(kind: Kind, variable: Mapping[str, Any], other: Mapping[str, Any]) -> bool:
    """Ci::Variable and Ci::GroupVariable keys are unique per environment scope; instance keys are unique."""
    if variable["key"] != other["key"]:
        return False
    return kind == "instance" or variable["environment_scope"] == other["environment_scope"]


def api_view(kind: Kind, variable: Mapping[str, Any]) -> dict[str, Any]:
    """The variable as the API returns it: a hidden variable's value is null (Ci::VariableValue#evaluate)."""
    view = {name: variable[name] for name in FIELDS[kind]}
    if view.get("hidden"):
        view["value"] = None
    return view
