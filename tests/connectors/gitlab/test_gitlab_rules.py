"""The `gitlab` sink's pure parts: options, addresses, the marker, the rules `check` applies before any call, and
the token policy. No server."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from connectors.gitlab import GitLabDestination, GitLabSink, GitLabTargetOptions
from connectors.gitlab import marker as markers
from connectors.gitlab.address import Owner, VariableAddress, owner_of_prefix, parse_address, variable_address
from connectors.gitlab.rules import maskable
from syncd.model import DesiredItem, Granularity, Ownership
from syncd.secret import Secret
from syncd.testing.leaks import redactor_off

TARGET = "gitlab-main"
OWNER = Ownership("prod-eu", "payments")
PLANTED = "PLANTED-gitlab-rules-7c1f0e"


def make_sink(**options: Any) -> GitLabSink:
    return GitLabSink(TARGET, GitLabTargetOptions(**{"url": "https://gitlab.example.com", "token": "t", **options}))


def item(
    sink: GitLabSink, key: str, value: str = PLANTED, *, description: str | None = None, **destination: Any
) -> DesiredItem:
    dest = GitLabDestination(**{"project": "platform/app", **destination})
    return DesiredItem(
        target=TARGET,
        address=sink.address(dest, key),
        owner=OWNER,
        data={key: Secret(value)},
        granularity=Granularity.PER_KEY,
        description=description,
        flags=sink.flags(dest),
        destination=dest,
    )


# Addresses


@pytest.mark.parametrize(
    ("owner", "key", "scope", "address"),
    [
        (Owner("project", "platform/app"), "DB_PASS", "*", "project/platform/app/DB_PASS"),
        (Owner("project", "42"), "DB_PASS", "production", "project/42/DB_PASS@production"),
        (Owner("group", "platform"), "TOKEN", "review/*", "group/platform/TOKEN@review/%2A"),
        (Owner("group", "g/sub"), "K", "100%-{x} y", "group/g/sub/K@100%25-{x} y"),
    ],
)
def test_an_address_names_owner_key_and_scope_and_parses_back(owner: Owner, key: str, scope: str, address: str) -> None:
    """An address is kind/path/KEY, with @scope unless the scope is '*'; '*' and '%' are escaped, and it parses back."""
    assert variable_address(owner, key, scope) == address
    assert "*" not in address
    assert parse_address(address) == VariableAddress(owner, key, scope)


@pytest.mark.parametrize("address", ["", "project", "project/KEY", "pipeline/a/KEY", "project/a/", "project/a/K@"])
def test_a_malformed_address_parses_to_nothing(address: str) -> None:
    """An address without a kind, an owner, a key, or with an empty scope names no variable."""
    assert parse_address(address) is None


def test_a_scope_prefix_names_its_owner_only_when_whole() -> None:
    """A scope prefix names a project or group only when it holds its whole path and the '/' after it."""
    assert owner_of_prefix("project/platform/app/") == Owner("project", "platform/app")
    assert owner_of_prefix("project/platform/app/DB_") == Owner("project", "platform/app")
    assert owner_of_prefix("group/platform/K@prod") == Owner("group", "platform")
    assert owner_of_prefix("project/plat") is None
    assert owner_of_prefix("") is None


# Marker


@pytest.mark.parametrize("text", [None, "Database password", "ends with a space ", "[syncd instance=x sync=y] first"])
def test_the_marker_parses_back_with_the_users_text_unchanged(text: str | None) -> None:
    """A stamped description parses back to the same user text and owner, so a steady state writes nothing."""
    stored = markers.stamped(text, OWNER)
    assert stored.endswith("[syncd instance=prod-eu sync=payments]")
    assert markers.parse(stored) == (text, OWNER)


@pytest.mark.parametrize(
    "description",
    [
        None,
        "",
        "a person's note",
        "[syncd instance=prod-eu sync=payments] then more",
        "glued[syncd instance=prod-eu sync=payments]",
        "[syncd instance=prod-eu]",
        "[syncd instance= sync=payments]",
    ],
)
def test_a_description_without_a_whole_marker_at_its_end_is_unowned(description: str | None) -> None:
    """Only a whole marker at the very end, alone or after one space, makes a variable syncd's."""
    text, owner = markers.parse(description)
    assert owner is None
    assert text == description


# Options


def test_a_destination_names_exactly_one_project_or_group() -> None:
    """A `to` entry with neither or both of project and group is refused."""
    with pytest.raises(ValidationError, match="exactly one of project, group or instance"):
        GitLabDestination()
    with pytest.raises(ValidationError, match="exactly one of project, group or instance"):
        GitLabDestination(project="a/b", group="a")
    with pytest.raises(ValidationError, match="exactly one of project, group or instance"):
        GitLabDestination(group="a", instance=True)
    assert GitLabDestination(project=42).owner == Owner("project", "42")
    assert GitLabDestination(group="/platform/").owner == Owner("group", "platform")


@pytest.mark.parametrize("path", ["a//b", "a/../b", "a b", "a?b", ""])
def test_a_destination_refuses_a_path_that_is_not_a_namespace_path(path: str) -> None:
    """A project path with an empty, '..' segment or characters GitLab paths never hold is refused."""
    with pytest.raises(ValidationError):
        GitLabDestination(project=path)


def test_a_destination_refuses_an_environment_scope_gitlab_refuses() -> None:
    """An environment scope outside GitLab's characters is refused; review/* and spaces are fine."""
    with pytest.raises(ValidationError, match="environment scope"):
        GitLabDestination(project="a/b", environment_scope="prod#1")
    assert GitLabDestination(project="a/b", environment_scope="review/* x").environment_scope == "review/* x"


@pytest.mark.parametrize("scope", [" prod", "prod ", " review/* "])
def test_a_destination_refuses_an_environment_scope_with_outer_spaces(scope: str) -> None:
    """GitLab strips a scope's outer spaces, so the variable would never be at the address syncd plans: refused,
    saying so; inner spaces are fine."""
    with pytest.raises(ValidationError, match="starts or ends with whitespace, which GitLab strips"):
        GitLabDestination(project="a/b", environment_scope=scope)


def test_masked_and_hidden_with_masked_off_is_refused() -> None:
    """masked_and_hidden with masked: false contradicts itself and is refused."""
    with pytest.raises(ValidationError, match="masked_and_hidden needs masked"):
        GitLabDestination(project="a/b", masked=False, masked_and_hidden=True)


def test_the_target_url_must_be_http_and_the_token_is_never_shown() -> None:
    """A url that is no http(s) URL is refused; the options' repr never shows the token."""
    with pytest.raises(ValidationError, match="http:// or https://"):
        GitLabTargetOptions(url="gitlab.example.com", token="t")
    options = GitLabTargetOptions(url="https://gitlab.example.com/", token=PLANTED)
    assert options.url == "https://gitlab.example.com"
    assert PLANTED not in repr(options) + str(options)


def test_flags_carry_every_setting_and_hidden_implies_masked() -> None:
    """The flags compared on every run are the type, masked, hidden, protected and raw; hidden is masked."""
    sink = make_sink()
    assert sink.flags(GitLabDestination(project="a/b")) == {
        "variable_type": "env_var",
        "masked": True,
        "hidden": False,
        "protected": False,
        "raw": True,
    }
    hidden = sink.flags(GitLabDestination(group="g", masked_and_hidden=True, variable_type="file", protected=True))
    assert hidden == {"variable_type": "file", "masked": True, "hidden": True, "protected": True, "raw": True}


# Rules


@pytest.mark.parametrize(
    ("value", "raw", "ok"),
    [
        ("abcdefgh", False, True),
        ("abc+/=_-@:.~XYZ09", False, True),
        ("abcdefg", False, False),  # 7 characters
        ("abcd efgh", True, False),  # a space
        ("abcd\nefgh", True, False),  # two lines
        ("abcd\tefgh", True, False),
        ("abcd#efgh!", False, False),  # '#' and '!' need raw
        ("abcd#efgh!", True, True),
        ("pässwörd✓", True, True),  # non-ASCII, no whitespace
        ("pässwörd✓", False, False),
    ],
)
def test_masking_follows_gitlabs_rules_for_expanded_and_raw_values(value: str, raw: bool, ok: bool) -> None:
    """A masked value needs 8+ characters on one line without whitespace; expanded values only Base64 and @:.~."""
    assert maskable(value, raw=raw) is ok


def test_check_accepts_a_valid_variable() -> None:
    """A valid key, a maskable value and a short description pass check."""
    sink = make_sink()
    assert sink.check(item(sink, "DB_PASSWORD", description="The database password")) == []


@pytest.mark.parametrize("key", ["db-pass", "DB PASS", "ü", "K" * 256, "a/b"])
def test_check_refuses_a_key_gitlab_refuses(key: str) -> None:
    """A key with characters other than letters, digits and '_', or longer than 255, is a problem naming it."""
    sink = make_sink()
    problems = sink.check(item(sink, key))
    assert problems
    assert any("variable key" in p for p in problems)


def test_an_unmaskable_value_is_a_problem_naming_the_key_and_rule_never_the_value() -> None:
    """A value that cannot be masked is refused by key and rule; the value appears nowhere in the problem."""
    sink = make_sink()
    value = PLANTED + " with a space"
    with redactor_off():
        problems = sink.check(item(sink, "API_TOKEN", value))
    assert len(problems) == 1
    assert "API_TOKEN" in problems[0]
    assert "no whitespace" in problems[0]
    assert PLANTED not in problems[0]
    assert sink.check(item(sink, "API_TOKEN", value, masked=False)) == []


def test_a_multiline_file_variable_is_fine_unless_masked() -> None:
    """A multi-line value is fine for an unmasked file variable and a problem for a masked one."""
    sink = make_sink()
    pem = "-----BEGIN KEY-----\nAAAA\n-----END KEY-----\n"
    assert sink.check(item(sink, "KEY_PEM", pem, variable_type="file", masked=False)) == []
    assert sink.check(item(sink, "KEY_PEM", pem, variable_type="file"))


def test_a_large_value_is_no_problem() -> None:
    """GitLab states no size limit for project and group values, so a 64 KiB file variable passes check."""
    sink = make_sink()
    assert sink.check(item(sink, "KUBECONFIG", "x" * 65536, masked=False, variable_type="file")) == []


def test_a_description_too_long_with_the_marker_is_a_problem() -> None:
    """A description that with syncd's marker exceeds GitLab's 255 characters is reported before any call."""
    sink = make_sink()
    marker_length = len(markers.marker(OWNER)) + 1
    assert sink.check(item(sink, "K_OK", description="d" * (255 - marker_length))) == []
    problems = sink.check(item(sink, "K_LONG", description="d" * (256 - marker_length)))
    assert len(problems) == 1
    assert "255" in problems[0] and "K_LONG" in problems[0]


# Policy


def test_the_policy_names_the_api_scope_and_each_owners_role() -> None:
    """`syncd policy` names the `api` scope, Maintainer on each project and Owner on each group mapped."""
    sink = make_sink(projects=["platform/other"])
    policy = sink.required_access(["project/platform/app/*", "group/platform/DB_*", "project/42/K@prod"])
    assert policy.kind == "gitlab"
    assert "`api`" in policy.text
    lines = policy.text.splitlines()
    assert "project platform/app: Maintainer" in lines
    assert "project 42: Maintainer" in lines
    assert "group platform: Owner" in lines
    assert "project platform/other: Maintainer" not in lines
    everything = sink.required_access(["*"]).text.splitlines()
    assert "project platform/other: Maintainer" in everything


# Instance variables


def test_an_instance_destination_has_no_scope_and_is_never_hidden() -> None:
    """`instance: true` names the instance; an environment scope or masked_and_hidden with it is refused."""
    assert GitLabDestination(instance=True).owner == Owner("instance")
    with pytest.raises(ValidationError, match="no environment scope"):
        GitLabDestination(instance=True, environment_scope="production")
    with pytest.raises(ValidationError, match="cannot be masked_and_hidden"):
        GitLabDestination(instance=True, masked_and_hidden=True)


def test_an_instance_address_is_instance_slash_key() -> None:
    """An instance variable's address is instance/KEY; a path or a scope after it names nothing."""
    assert make_sink().address(GitLabDestination(instance=True), "GLOBAL_TOKEN") == "instance/GLOBAL_TOKEN"
    assert parse_address("instance/GLOBAL_TOKEN") == VariableAddress(Owner("instance"), "GLOBAL_TOKEN")
    assert parse_address("instance/a/B") is None
    assert parse_address("instance/K@production") is None
    assert owner_of_prefix("instance/") == Owner("instance")


def test_an_instance_value_is_held_to_gitlabs_10000_characters() -> None:
    """A value over 10,000 characters is a problem for an instance variable, naming the limit, not the size."""
    sink = make_sink()
    problems = sink.check(item(sink, "BIG", "x" * 10_001, instance=True, project=None, masked=False))
    assert problems == [
        "The value of variable BIG (the instance) is longer than the 10,000 characters GitLab allows an instance "
        "variable."
    ]
    assert sink.check(item(sink, "BIG", "x" * 10_000, instance=True, project=None, masked=False)) == []


def test_the_policy_names_an_administrator_for_instance_variables() -> None:
    """An instance variable needs an administrator's token, and the policy says so."""
    policy = make_sink().required_access(["instance/*"])
    assert "instance: Administrator (instance variables)" in policy.text.splitlines()


def test_a_hidden_variables_marker_records_a_digest_of_the_source_version() -> None:
    """The marker of a hidden variable carries `source=` and 16 hex digits of the source version's SHA-256, never
    the version itself, and parses back; a malformed record leaves the variable unowned."""
    digest = markers.source_digest("1733011234567890123-2048")
    assert digest is not None and len(digest) == 16 and "2048" not in digest
    stored_text = markers.stamped("Deploy key", OWNER, digest)
    assert stored_text == f"Deploy key [syncd instance=prod-eu sync=payments source={digest}]"
    assert markers.parse_stamp(stored_text) == ("Deploy key", markers.Stamp(OWNER, digest))
    assert markers.source_digest(None) is None
    assert markers.parse("[syncd instance=prod-eu sync=payments source=2048]") == (
        "[syncd instance=prod-eu sync=payments source=2048]",
        None,
    )
