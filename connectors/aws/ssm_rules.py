"""SSM Parameter Store's own rules (PutParameter in the SSM API reference): names, values, tiers and paths,
checked before any call. Pure. A problem is one sentence naming the parameter, never its value (nor its size: a
size is derived from a value).
"""

from __future__ import annotations

import re

STANDARD = "Standard"
ADVANCED = "Advanced"
SECURE_STRING = "SecureString"
STRING = "String"

STANDARD_MAX_BYTES = 4096
ADVANCED_MAX_BYTES = 8192
MAX_NAME_WITH_ARN = 1011
MAX_LEVELS = 15
MAX_DESCRIPTION = 1024
RESERVED_PREFIXES = ("aws", "ssm")
# The account of an ARN is always 12 digits, so its length is known without knowing the account.
_ACCOUNT_PLACEHOLDER = "0" * 12

_NAME_CHARACTERS = re.compile(r"[a-zA-Z0-9_.\-/]+")
_NESTED_REFERENCE = re.compile(r"\{\{.*?\}\}", re.DOTALL)


def shown(name: str) -> str:
    """A name as messages quote it: cut short when it is very long."""
    return repr(name if len(name) <= 120 else name[:100] + "...")


def parameter_arn(name: str, *, partition: str, region: str, account: str) -> str:
    """The ARN of parameter `name`: `/prod/db` is `...:parameter/prod/db`, without a doubled slash."""
    return f"arn:{partition}:ssm:{region}:{account}:parameter/{name.lstrip('/')}"


def leaf(name: str) -> str:
    """The last level of a parameter name, which is the key it holds."""
    return name.rsplit("/", 1)[-1]


def folder(path: str) -> str:
    """A source path as SSM's Path parameter takes it: one leading '/', no trailing one ('/' is the root)."""
    return "/" + path.strip("/")


def path_problems(path: str) -> list[str]:
    """Problems with a `to` entry's `path` prefix, which must begin and end with '/'."""
    problems = []
    if not path.startswith("/") or not path.endswith("/"):
        problems.append(f"The path {shown(path)} must begin and end with '/', such as /prod/payments/db/.")
    if "//" in path:
        problems.append(f"The path {shown(path)} has an empty level ('//').")
    if not _NAME_CHARACTERS.fullmatch(path):
        problems.append(f"The path {shown(path)} may hold only letters, digits, '/' and the symbols _ . -.")
    if path.lstrip("/").lower().startswith(RESERVED_PREFIXES):
        problems.append(f"The path {shown(path)} begins with 'aws' or 'ssm', which SSM reserves.")
    return problems


def name_problems(name: str, *, partition: str, region: str) -> list[str]:
    """Problems with a parameter name in `region`; empty when SSM would take it."""
    if not name:
        return ["A parameter name may not be empty."]
    problems = []
    if not _NAME_CHARACTERS.fullmatch(name):
        problems.append(
            f"The parameter name {shown(name)} has a character SSM does not allow: "
            "use letters, digits, '/' and the symbols _ . - (no spaces)."
        )
    if "/" in name and not name.startswith("/"):
        problems.append(f"The parameter name {shown(name)} is a hierarchy, so it must begin with '/'.")
    if "//" in name or name.endswith("/"):
        problems.append(f"The parameter name {shown(name)} has an empty level ('//' or a trailing '/').")
    if name.lstrip("/").lower().startswith(RESERVED_PREFIXES):
        problems.append(f"The parameter name {shown(name)} begins with 'aws' or 'ssm', which SSM reserves.")
    levels = len(name.strip("/").split("/"))
    if levels > MAX_LEVELS:
        problems.append(f"The parameter name {shown(name)} has {levels} levels; SSM allows at most {MAX_LEVELS}.")
    arn = parameter_arn(name, partition=partition, region=region, account=_ACCOUNT_PLACEHOLDER)
    if len(arn) > MAX_NAME_WITH_ARN:
        room = MAX_NAME_WITH_ARN - (len(arn) - len(name.lstrip("/")))
        problems.append(
            f"The parameter name {shown(name)} is too long: in {region} SSM allows {room} characters "
            f"after the leading '/' ({MAX_NAME_WITH_ARN} with the ARN prefix)."
        )
    return problems


def value_problems(name: str, value: str, *, target: str, advanced_allowed: bool) -> list[str]:
    """Problems with the value of parameter `name`; they name the parameter, never the value or its size."""
    if not value:
        return [f"The value of {shown(name)} is empty; SSM requires at least one character."]
    try:
        size = len(value.encode("utf-8"))
    except UnicodeEncodeError:
        return [f"The value of {shown(name)} holds a lone surrogate, which UTF-8 cannot encode."]
    problems = []
    if size > ADVANCED_MAX_BYTES:
        problems.append(
            f"The value of {shown(name)} is larger than {ADVANCED_MAX_BYTES:,} bytes, "
            "the most an Advanced parameter holds."
        )
    elif size > STANDARD_MAX_BYTES and not advanced_allowed:
        problems.append(
            f"The value of {shown(name)} is larger than the {STANDARD_MAX_BYTES:,} bytes of a Standard parameter; "
            f"set allow_advanced_tier: true on target {target!r} to store it as an Advanced parameter "
            f"(up to {ADVANCED_MAX_BYTES:,} bytes, charged by AWS)."
        )
    if _NESTED_REFERENCE.search(value):
        problems.append(
            f"The value of {shown(name)} holds '{{{{...}}}}', which SSM refuses "
            "(it reads it as a reference to another parameter)."
        )
    return problems


def description_problems(name: str, description: str | None) -> list[str]:
    if description is not None and len(description) > MAX_DESCRIPTION:
        return [f"The description of {shown(name)} is longer than the {MAX_DESCRIPTION} characters SSM allows."]
    return []


def tier_for(value: str, current_tier: str | None) -> str:
    """The tier to write `value` in: Advanced when it needs it or already is (AWS cannot downgrade), else Standard."""
    if current_tier == ADVANCED or len(value.encode("utf-8")) > STANDARD_MAX_BYTES:
        return ADVANCED
    return STANDARD
