"""GitLab's own rules for CI/CD variables, checked before any call. Pure. A problem is one sentence naming the
variable, never its value (nor anything derived from it, such as its length).

Sources, as GitLab states them:
- Keys: at most 255 characters, only `A-Z a-z 0-9 _` (docs.gitlab.com/api/project_level_variables, "Create a
  variable"; the `Ci::HasVariable` model validates the same).
- Descriptions: at most 255 characters (same page; the `Ci::Variable` model validates the same).
- Masked values (docs.gitlab.com/ci/variables/#mask-a-cicd-variable): one line with no spaces, at least 8
  characters. With variable expansion on (`raw: false`) only the Base64 alphabet (RFC 4648) plus `@ : . ~`; with
  expansion off (`raw: true`) any character but whitespace. The page's prose words the raw case loosely; the
  server's own check is the `Ci::Maskable` model (`REGEX` and `MASK_AND_RAW_REGEX`), followed here.
  A masked value also may not equal the name of an existing CI/CD variable: that needs a call, so GitLab's 400
  reports it at write time.
- Environment scopes: letters, digits, spaces and `- _ / $ { } . *` (`Gitlab::Regex.environment_scope_regex`),
  at most 255 characters.
- Value size: GitLab documents 10,000 characters for instance variables (ci docs, "For an instance") and "No
  limitations" for project and group variables ("For a project", "For a group"), so `check` holds an instance
  value to 10,000 characters and no project or group value back for its size: a limit GitLab does not state would
  hold back values it takes (a kubeconfig in a file variable).
"""

from __future__ import annotations

import re

MAX_KEY = 255
MAX_DESCRIPTION = 255
MAX_SCOPE = 255
MIN_MASKED = 8
INSTANCE_VALUE_MAX = 10_000

KEY = re.compile(r"[A-Za-z0-9_]{1,255}")
ENVIRONMENT_SCOPE = re.compile(r"[A-Za-z0-9_/${}. *-]{1,255}")
# Ruby's \s (the whitespace GitLab's rule means) is ASCII whitespace only: [ \t\r\n\f\v].
_MASKED_EXPANDED = re.compile(rf"[A-Za-z0-9_+=/@:.~-]{{{MIN_MASKED},}}")
_MASKED_RAW = re.compile(rf"[^ \t\r\n\f\v]{{{MIN_MASKED},}}")

MASKED_RULE_EXPANDED = (
    f"a masked value with variable expansion on (raw: false) must be one line of at least {MIN_MASKED} characters, "
    "using only letters, digits and the characters + / = _ - @ : . ~"
)
MASKED_RULE_RAW = f"a masked value must be one line of at least {MIN_MASKED} characters with no whitespace"


def key_problems(key: str, where: str) -> list[str]:
    """Problems with a variable key; `where` names the item in the message."""
    if KEY.fullmatch(key):
        return []
    shown = key if len(key) <= 80 else key[:77] + "..."
    return [f"The variable key {shown!r} ({where}) must be 1 to {MAX_KEY} characters, only letters, digits and '_'."]


def scope_problems(scope: str) -> list[str]:
    if ENVIRONMENT_SCOPE.fullmatch(scope):
        return []
    return [
        f"The environment scope {scope[:80]!r} must be 1 to {MAX_SCOPE} characters: letters, digits, spaces and "
        "- _ / $ { } . *"
    ]


def maskable(value: str, *, raw: bool) -> bool:
    """Whether GitLab accepts `value` for a masked variable (see the module docstring)."""
    return (_MASKED_RAW if raw else _MASKED_EXPANDED).fullmatch(value) is not None


def value_problems(key: str, where: str, value: str, *, masked: bool, raw: bool, instance: bool = False) -> list[str]:
    """Problems with the value of variable `key`; they name the key and the rule, never the value or its size."""
    problems = []
    if instance and len(value) > INSTANCE_VALUE_MAX:
        problems.append(
            f"The value of variable {key} ({where}) is longer than the {INSTANCE_VALUE_MAX:,} characters GitLab "
            "allows an instance variable."
        )
    if masked and not maskable(value, raw=raw):
        rule = MASKED_RULE_RAW if raw else MASKED_RULE_EXPANDED
        problems.append(
            f"The value of variable {key} ({where}) cannot be masked: {rule}. Set masked: false on its `to` entry "
            "to store it unmasked" + ("." if raw else ", or raw: true to allow more characters.")
        )
    return problems


def description_problems(key: str, where: str, description: str, *, kept: bool = False) -> list[str]:
    """Problems with the whole description GitLab would store (the user's text and syncd's marker); `kept`: the text
    is the one already in GitLab, kept because the `to` entry gives none."""
    if len(description) <= MAX_DESCRIPTION:
        return []
    fix = (
        "Give its `to` entry a shorter `description`, or shorten the variable's description in GitLab."
        if kept
        else "Shorten the `description` of its `to` entry."
    )
    return [
        f"The description of variable {key} ({where}) with syncd's ownership marker is {len(description)} "
        f"characters long; GitLab allows {MAX_DESCRIPTION}. {fix}"
    ]
