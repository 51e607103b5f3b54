"""The fake GitLab server: python-gitlab's calls for project and group variables, auth and roles, errors, pagination."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import gitlab
import pytest
import requests
from gitlab.exceptions import GitlabAuthenticationError, GitlabError

from tests.fakes import gitlab_api
from tests.fakes.gitlab import ADMIN_TOKEN, MAINTAINER_TOKEN, GitLabFake, gitlab_client

APP = "platform/app"
OWNER_TOKEN = "owner-token"


def error_of(call: Callable[[], Any]) -> tuple[int, Any]:
    """Run a python-gitlab call that must fail; return its HTTP status and body (parsed when it is JSON)."""
    with pytest.raises(GitlabError) as info:
        call()
    body = info.value.response_body
    try:
        return info.value.response_code or 0, json.loads(body)
    except (TypeError, ValueError):
        return info.value.response_code or 0, body.decode() if isinstance(body, bytes) else body


def project_variables(fake: GitLabFake, token: str = MAINTAINER_TOKEN, project: str | int = APP) -> Any:
    return gitlab_client(fake, token).projects.get(project, lazy=True).variables


def group_variables(fake: GitLabFake, token: str = OWNER_TOKEN, group: str | int = "platform") -> Any:
    return gitlab_client(fake, token).groups.get(group, lazy=True).variables


def raw_get(fake: GitLabFake, path: str, token: str | None = MAINTAINER_TOKEN, **params: Any) -> requests.Response:
    headers = {"PRIVATE-TOKEN": token} if token else {}
    return requests.get(fake.url + "/api/v4/" + path, headers=headers, params=params, timeout=5)


def raw_send(
    fake: GitLabFake, method: str, path: str, body: dict[str, Any], token: str = MAINTAINER_TOKEN
) -> requests.Response:
    headers = {"PRIVATE-TOKEN": token}
    return requests.request(method, fake.url + "/api/v4/" + path, headers=headers, json=body, timeout=5)


@pytest.fixture
def owner_token(gitlab_fake: GitLabFake) -> str:
    gitlab_fake.add_token(OWNER_TOKEN, "owner", {("group", "platform"): "owner"})
    return OWNER_TOKEN


# The server and its fixture


def test_the_fixture_serves_its_project_and_group_by_path_and_id(gitlab_fake: GitLabFake) -> None:
    """platform/app answers by full path (sent URL-encoded) and by id; the group platform too, for its members."""
    admin = gitlab_client(gitlab_fake, ADMIN_TOKEN)
    project = admin.projects.get(APP)
    assert project.path_with_namespace == APP
    assert admin.projects.get(project.id).path_with_namespace == APP
    group = admin.groups.get("platform")
    assert (group.full_path, admin.groups.get(group.id).full_path) == ("platform", "platform")
    assert gitlab_fake.requests[0].path == "/api/v4/projects/platform%2Fapp"


def test_a_project_in_a_subgroup_answers_by_its_encoded_full_path(gitlab_fake: GitLabFake) -> None:
    """A path id `g/sub/app` arrives as g%2Fsub%2Fapp and is decoded; an id given to add_project is kept."""
    assert gitlab_fake.add_project("g/sub/app", id=77) == 77
    variables = project_variables(gitlab_fake, ADMIN_TOKEN, "g/sub/app")
    variables.create({"key": "K", "value": "v"})
    assert project_variables(gitlab_fake, ADMIN_TOKEN, 77).get("K").value == "v"
    assert gitlab_fake.requests[0].path == "/api/v4/projects/g%2Fsub%2Fapp/variables"


def test_each_fixture_server_is_fresh(gitlab_fake: GitLabFake) -> None:
    """A new server holds no variables and has seen no requests."""
    assert gitlab_fake.variables("project", APP) == []
    assert gitlab_fake.variables("group", "platform") == []
    assert gitlab_fake.requests == []


# Project and group variables through python-gitlab


def test_a_project_variable_is_created_read_updated_and_deleted(gitlab_fake: GitLabFake) -> None:
    """Create answers the variable with the API's fields and defaults; get, update and delete act on it."""
    variables = project_variables(gitlab_fake)
    created = variables.create({"key": "DB_URL", "value": "postgres://db", "description": "ours"})
    assert created.attributes | {"project_id": None} == {
        "project_id": None,
        "variable_type": "env_var",
        "key": "DB_URL",
        "value": "postgres://db",
        "hidden": False,
        "protected": False,
        "masked": False,
        "raw": False,
        "environment_scope": "*",
        "description": "ours",
    }
    variables.update("DB_URL", {"value": "postgres://db2", "protected": True}, filter={"environment_scope": "*"})
    fetched = variables.get("DB_URL", filter={"environment_scope": "*"})
    assert (fetched.value, fetched.protected, fetched.description) == ("postgres://db2", True, "ours")
    assert gitlab_fake.variables("project", APP)[0]["value"] == "postgres://db2"

    variables.delete("DB_URL", filter={"environment_scope": "*"})
    assert gitlab_fake.variables("project", APP) == []
    assert [request.method for request in gitlab_fake.requests] == ["POST", "PUT", "GET", "DELETE"]


def test_create_takes_every_documented_field(gitlab_fake: GitLabFake) -> None:
    """variable_type, protected, masked, raw, environment_scope and description are stored as sent."""
    fields = {
        "key": "CERT",
        "value": "-----BEGIN-----",
        "variable_type": "file",
        "protected": True,
        "masked": False,
        "raw": True,
        "environment_scope": "review/*",
        "description": "the cert",
    }
    project_variables(gitlab_fake).create(fields)
    (stored,) = gitlab_fake.variables("project", APP)
    assert stored == fields | {"hidden": False}


def test_group_variables_have_the_same_endpoints(gitlab_fake: GitLabFake, owner_token: str) -> None:
    """/groups/:id/variables lists, creates, reads, updates and deletes as the project endpoints do."""
    variables = group_variables(gitlab_fake)
    variables.create({"key": "SHARED", "value": "one", "environment_scope": "prod"})
    assert [v.key for v in variables.list(get_all=True)] == ["SHARED"]
    variables.update("SHARED", {"value": "two"}, filter={"environment_scope": "prod"})
    assert variables.get("SHARED", filter={"environment_scope": "prod"}).value == "two"
    variables.delete("SHARED", filter={"environment_scope": "prod"})
    assert gitlab_fake.variables("group", "platform") == []
    assert gitlab_fake.requests[0].path == "/api/v4/groups/platform/variables"


def test_a_group_without_licensed_scopes_drops_the_scope_parameter(gitlab_fake: GitLabFake, owner_token: str) -> None:
    """With group_scopes_licensed off (GitLab Free), a group create lands at `*` and an update keeps the variable's
    scope, as EE's filter_variable_parameters drops `environment_scope`; project variables keep their scopes."""
    gitlab_fake.group_scopes_licensed = False
    variables = group_variables(gitlab_fake)
    created = variables.create({"key": "SHARED", "value": "one", "environment_scope": "prod"})
    assert created.environment_scope == "*"
    answer = variables.update(
        "SHARED", {"value": "two", "environment_scope": "prod"}, filter={"environment_scope": "*"}
    )
    assert answer["environment_scope"] == "*"
    project = project_variables(gitlab_fake, ADMIN_TOKEN)
    assert project.create({"key": "SHARED", "value": "one", "environment_scope": "prod"}).environment_scope == "prod"


def test_a_group_update_whose_filter_matches_nothing_falls_back_to_the_key(
    gitlab_fake: GitLabFake, owner_token: str
) -> None:
    """API::GroupVariables#put: a filter matching no variable falls back to the key in any scope (here `*`), and
    the scope in the body moves that variable."""
    gitlab_fake.put_variable("group", "platform", key="SHARED", value="one")
    variables = group_variables(gitlab_fake)
    answer = variables.update(
        "SHARED", {"value": "two", "environment_scope": "prod"}, filter={"environment_scope": "prod"}
    )
    assert (answer["environment_scope"], answer["value"]) == ("prod", "two")
    assert [v["environment_scope"] for v in gitlab_fake.variables("group", "platform")] == ["prod"]


def test_variables_planted_out_of_band_are_served(gitlab_fake: GitLabFake) -> None:
    """put_variable stores a variable as a person would, replacing the one with the same key and scope in place."""
    gitlab_fake.put_variable("project", APP, key="A", value="1")
    gitlab_fake.put_variable("project", APP, key="B", value="2", environment_scope="prod")
    gitlab_fake.put_variable("project", APP, key="A", value="3")
    listed = project_variables(gitlab_fake).list(get_all=True)
    assert [(v.key, v.value, v.environment_scope) for v in listed] == [("A", "3", "*"), ("B", "2", "prod")]
    gitlab_fake.delete_variable("project", APP, "B", "prod")
    assert [v["key"] for v in gitlab_fake.variables("project", APP)] == ["A"]


# Auth and roles


def test_a_missing_or_unknown_token_answers_401(gitlab_fake: GitLabFake) -> None:
    """No token and an unknown one both get GitLab's 401 body."""
    answer = raw_get(gitlab_fake, "projects/1001/variables", token=None)
    assert (answer.status_code, answer.json()) == (401, {"message": "401 Unauthorized"})
    with pytest.raises(GitlabAuthenticationError) as info:
        project_variables(gitlab_fake, "no-such-token").list(get_all=True)
    assert info.value.response_code == 401


def test_a_bearer_token_is_accepted_as_the_private_token_is(gitlab_fake: GitLabFake) -> None:
    """`Authorization: Bearer` carries a token as well as PRIVATE-TOKEN."""
    headers = {"Authorization": f"Bearer {MAINTAINER_TOKEN}"}
    answer = requests.get(gitlab_fake.url + "/api/v4/projects/1001/variables", headers=headers, timeout=5)
    assert (answer.status_code, answer.json()) == (200, [])


def test_project_variables_need_the_maintainer_role(gitlab_fake: GitLabFake) -> None:
    """A developer of the project gets 403; a maintainer inherited from the group gets through."""
    gitlab_fake.add_token("dev", "dev", {("project", APP): "developer"})
    gitlab_fake.add_token("group-maintainer", "gm", {("group", "platform"): "maintainer"})
    assert error_of(lambda: project_variables(gitlab_fake, "dev").list(get_all=True)) == (
        403,
        {"message": "403 Forbidden"},
    )
    assert project_variables(gitlab_fake, "group-maintainer").list(get_all=True) == []


def test_group_variables_need_the_owner_role(gitlab_fake: GitLabFake, owner_token: str) -> None:
    """A maintainer of the group gets 403; its owner and an owner of a parent group get through."""
    gitlab_fake.add_group("platform/team")
    gitlab_fake.add_token("group-maintainer", "gm", {("group", "platform"): "maintainer"})
    assert error_of(lambda: group_variables(gitlab_fake, "group-maintainer").list(get_all=True))[0] == 403
    assert group_variables(gitlab_fake, owner_token, "platform/team").list(get_all=True) == []


def test_what_a_token_cannot_see_answers_404(gitlab_fake: GitLabFake) -> None:
    """An unknown project or group, or one the token has no role on, answers 404 with GitLab's message."""
    gitlab_fake.add_project("other/app")
    gitlab_fake.add_group("other")
    assert error_of(lambda: project_variables(gitlab_fake, project="nope/app").list(get_all=True)) == (
        404,
        {"message": "404 Project Not Found"},
    )
    assert error_of(lambda: project_variables(gitlab_fake, project="other/app").list(get_all=True))[0] == 404
    assert error_of(lambda: group_variables(gitlab_fake, MAINTAINER_TOKEN, "other").list(get_all=True)) == (
        404,
        {"message": "404 Group Not Found"},
    )


def test_a_project_member_sees_its_group_but_not_its_variables(gitlab_fake: GitLabFake) -> None:
    """A maintainer of platform/app can read the group platform (403 on its variables, not 404)."""
    client = gitlab_client(gitlab_fake, MAINTAINER_TOKEN)
    assert client.groups.get("platform").full_path == "platform"
    assert error_of(lambda: group_variables(gitlab_fake, MAINTAINER_TOKEN).list(get_all=True))[0] == 403


def test_head_answers_as_get_without_a_body(gitlab_fake: GitLabFake) -> None:
    """HEAD on a list gives GET's status and pagination headers and no body."""
    plant(gitlab_fake, 3)
    answer = requests.head(
        gitlab_fake.url + "/api/v4/projects/1001/variables", headers={"PRIVATE-TOKEN": MAINTAINER_TOKEN}, timeout=5
    )
    assert (answer.status_code, answer.headers["X-Total"], answer.content) == (200, "3", b"")


def test_an_unknown_route_answers_404_before_auth(gitlab_fake: GitLabFake) -> None:
    """A path GitLab has no route for (an unencoded project path, say) answers Grape's 404, even without a token."""
    answer = raw_get(gitlab_fake, "projects/platform/app/variables", token=None)
    assert (answer.status_code, answer.json()) == (404, {"error": "404 Not Found"})


# Errors


def test_a_key_taken_in_the_same_scope_answers_400(gitlab_fake: GitLabFake) -> None:
    """A second variable with the same key and scope is refused; the same key in another scope is a new variable."""
    variables = project_variables(gitlab_fake)
    variables.create({"key": "TOKEN", "value": "a"})
    variables.create({"key": "TOKEN", "value": "b", "environment_scope": "prod"})
    assert error_of(lambda: variables.create({"key": "TOKEN", "value": "c"})) == (
        400,
        {"message": {"key": ["(TOKEN) has already been taken"]}},
    )
    assert len(gitlab_fake.variables("project", APP)) == 2


def test_a_key_in_several_scopes_needs_the_scope_filter(gitlab_fake: GitLabFake) -> None:
    """Get, update and delete without filter[environment_scope] answer 409 when the key has several scopes."""
    gitlab_fake.put_variable("project", APP, key="TOKEN", value="a")
    gitlab_fake.put_variable("project", APP, key="TOKEN", value="b", environment_scope="prod")
    variables = project_variables(gitlab_fake)
    several = (
        409,
        {"message": "There are multiple variables with provided parameters. Please use 'filter[environment_scope]'"},
    )
    assert error_of(lambda: variables.get("TOKEN")) == several
    assert error_of(lambda: variables.update("TOKEN", {"value": "x"})) == several
    assert error_of(lambda: variables.delete("TOKEN")) == several
    assert variables.get("TOKEN", filter={"environment_scope": "prod"}).value == "b"
    assert [v["value"] for v in gitlab_fake.variables("project", APP)] == ["a", "b"]


def test_save_sends_no_filter_so_a_key_in_several_scopes_answers_409(gitlab_fake: GitLabFake) -> None:
    """python-gitlab's obj.save() PUTs without filter[environment_scope]: ambiguous once the key has two scopes."""
    gitlab_fake.put_variable("project", APP, key="TOKEN", value="a")
    variable = project_variables(gitlab_fake).get("TOKEN")
    gitlab_fake.put_variable("project", APP, key="TOKEN", value="b", environment_scope="prod")
    variable.value = "c"
    assert error_of(variable.save)[0] == 409
    assert gitlab_fake.requests[-1].query == {}


def test_a_missing_variable_answers_404(gitlab_fake: GitLabFake, owner_token: str) -> None:
    """Get, update and delete of an absent key (or scope) answer GitLab's 404 body for projects and groups."""
    gitlab_fake.put_variable("project", APP, key="TOKEN", value="a")
    variables = project_variables(gitlab_fake)
    missing = (404, {"message": "404 Variable Not Found"})
    assert error_of(lambda: variables.get("NOPE")) == missing
    assert error_of(lambda: variables.update("TOKEN", {"value": "x"}, filter={"environment_scope": "prod"})) == missing
    assert error_of(lambda: variables.delete("TOKEN", filter={"environment_scope": "prod"})) == missing
    assert error_of(lambda: group_variables(gitlab_fake).get("NOPE")) == (
        404,
        {"message": "404 GroupVariable Not Found"},
    )


@pytest.mark.parametrize(
    ("key", "messages"),
    [
        ("has-dash", ["can contain only letters, digits and '_'."]),
        ("K" * 256, ["is too long (maximum is 255 characters)"]),
        ("", ["can't be blank", "can contain only letters, digits and '_'."]),
    ],
)
def test_a_bad_key_answers_400_naming_the_rule(gitlab_fake: GitLabFake, key: str, messages: list[str]) -> None:
    """Keys are 1 to 255 of A-Z a-z 0-9 _; anything else is refused with the model's messages."""
    assert error_of(lambda: project_variables(gitlab_fake).create({"key": key, "value": "v"})) == (
        400,
        {"message": {"key": messages}},
    )
    assert gitlab_fake.variables("project", APP) == []


def test_a_key_of_255_characters_is_accepted(gitlab_fake: GitLabFake) -> None:
    """The longest key GitLab allows is stored."""
    project_variables(gitlab_fake).create({"key": "K" * 255, "value": "v"})
    assert gitlab_fake.variables("project", APP)[0]["key"] == "K" * 255


def test_missing_or_ill_typed_parameters_answer_grapes_400(gitlab_fake: GitLabFake) -> None:
    """A create without key and value, or with an unknown variable_type, is refused before any model check."""
    answer = raw_send(gitlab_fake, "POST", "projects/1001/variables", {})
    assert (answer.status_code, answer.json()) == (400, {"error": "key is missing, value is missing"})
    variables = project_variables(gitlab_fake)
    assert error_of(lambda: variables.create({"key": "K", "value": "v", "variable_type": "yaml"})) == (
        400,
        {"error": "variable_type does not have a valid value"},
    )


# Pagination


def plant(fake: GitLabFake, count: int) -> None:
    for number in range(count):
        fake.put_variable("project", APP, key=f"VAR_{number:03d}", value=str(number))


def test_a_page_carries_gitlabs_headers_and_absolute_links(gitlab_fake: GitLabFake) -> None:
    """Page 2 of 45 variables by 20 names its neighbours in Link (absolute URLs) and the X- headers."""
    plant(gitlab_fake, 45)
    answer = raw_get(gitlab_fake, "projects/platform%2Fapp/variables", page=2, per_page=20)
    assert [item["key"] for item in answer.json()] == [f"VAR_{n:03d}" for n in range(20, 40)]
    headers = answer.headers
    assert {name: headers[name] for name in ("X-Page", "X-Per-Page", "X-Next-Page", "X-Prev-Page")} == {
        "X-Page": "2",
        "X-Per-Page": "20",
        "X-Next-Page": "3",
        "X-Prev-Page": "1",
    }
    assert (headers["X-Total"], headers["X-Total-Pages"]) == ("45", "3")
    base = gitlab_fake.url + "/api/v4/projects/platform%2Fapp/variables?id=platform%2Fapp"
    assert answer.links["next"]["url"] == f"{base}&page=3&per_page=20"
    assert answer.links["prev"]["url"] == f"{base}&page=1&per_page=20"
    assert answer.links["first"]["url"] == f"{base}&page=1&per_page=20"
    assert answer.links["last"]["url"] == f"{base}&page=3&per_page=20"


def test_the_last_page_has_no_next(gitlab_fake: GitLabFake) -> None:
    """On the last page X-Next-Page is empty and Link has no rel=next; past it the list is empty."""
    plant(gitlab_fake, 45)
    last = raw_get(gitlab_fake, "projects/1001/variables", page=3, per_page=20)
    assert (len(last.json()), last.headers["X-Next-Page"], "next" in last.links) == (5, "", False)
    beyond = raw_get(gitlab_fake, "projects/1001/variables", page=4, per_page=20)
    assert (beyond.json(), beyond.headers["X-Prev-Page"]) == ([], "")


def test_per_page_defaults_to_20_and_stops_at_100(gitlab_fake: GitLabFake) -> None:
    """Without per_page a page holds 20 variables; per_page above 100 is served as 100."""
    plant(gitlab_fake, 120)
    assert len(raw_get(gitlab_fake, "projects/1001/variables").json()) == 20
    capped = raw_get(gitlab_fake, "projects/1001/variables", per_page=500)
    assert (len(capped.json()), capped.headers["X-Per-Page"], capped.headers["X-Total-Pages"]) == (100, "100", "2")


def test_an_empty_list_has_one_page(gitlab_fake: GitLabFake) -> None:
    """No variables: one page, X-Total 0, and first and last links to page 1."""
    answer = raw_get(gitlab_fake, "projects/1001/variables")
    assert (answer.json(), answer.headers["X-Total"], answer.headers["X-Total-Pages"]) == ([], "0", "1")
    assert answer.links["last"]["url"].endswith("page=1&per_page=20")


def test_get_all_follows_the_links_through_250_variables_in_a_stable_order(gitlab_fake: GitLabFake) -> None:
    """python-gitlab's list(get_all=True, per_page=100) reads 3 pages, every variable once, in creation order."""
    plant(gitlab_fake, 250)
    listed = project_variables(gitlab_fake).list(get_all=True, per_page=100)
    assert [v.key for v in listed] == [f"VAR_{n:03d}" for n in range(250)]
    pages = [(request.method, request.query.get("page")) for request in gitlab_fake.requests]
    assert pages == [("GET", None), ("GET", "2"), ("GET", "3")]


def test_a_paged_listing_makes_the_view_of_each_variable_once(
    gitlab_fake: GitLabFake, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Listing 250 variables in pages of 100 makes what the API shows of each variable once, for its page: the fake's
    cost stays linear in the variables, so the bench's plans of 20,000 variables measure syncd, not the fake."""
    plant(gitlab_fake, 250)
    views = []
    real = gitlab_api.api_view
    monkeypatch.setattr(gitlab_api, "api_view", lambda kind, variable: views.append(variable) or real(kind, variable))
    assert len(project_variables(gitlab_fake).list(get_all=True, per_page=100)) == 250
    assert len(views) == 250


def test_a_list_without_get_all_reads_one_page(gitlab_fake: GitLabFake) -> None:
    """list() reads the first page only (python-gitlab warns); an iterator reads X-Total and X-Total-Pages."""
    plant(gitlab_fake, 30)
    with pytest.warns(UserWarning, match="returned 20 of 30 items"):
        assert len(project_variables(gitlab_fake).list()) == 20
    listing = project_variables(gitlab_fake).list(iterator=True)
    assert (listing.total, listing.total_pages, listing.per_page, len(list(listing))) == (30, 2, 20, 30)


def test_gitlab_client_matches_the_brief(gitlab_fake: GitLabFake) -> None:
    """gitlab_client leaves retries of 5xx to its caller and keeps the fake's URL when following links."""
    client = gitlab_client(gitlab_fake, MAINTAINER_TOKEN)
    assert isinstance(client, gitlab.Gitlab)
    assert (client.retry_transient_errors, client.keep_base_url, client.url) == (False, True, gitlab_fake.url)


# Masked, hidden and the other fields' rules


@pytest.mark.parametrize(
    ("value", "raw"),
    [
        ("seven77", False),
        ("has a space", False),
        ("two\nlines1", False),
        ("pipe|chars", False),
        ("seven77", True),
        ("tab\tinside", True),
    ],
)
def test_a_value_that_cannot_be_masked_is_refused_without_echoing_it(
    gitlab_fake: GitLabFake, value: str, raw: bool
) -> None:
    """Masked values need 8+ characters on one line without spaces, from Base64 and @:.~ unless raw; the 400 names
    the field, never the value."""
    answer = raw_send(
        gitlab_fake, "POST", "projects/1001/variables", {"key": "K", "value": value, "masked": True, "raw": raw}
    )
    assert (answer.status_code, answer.json()) == (400, {"message": {"value": ["is invalid"]}})
    assert value not in answer.text
    assert gitlab_fake.variables("project", APP) == []


@pytest.mark.parametrize(
    ("value", "raw"), [("Aa0+/=_-@:.~", False), ("abcdefgh", False), ("pipe|chars$and%more", True)]
)
def test_a_maskable_value_is_stored_masked(gitlab_fake: GitLabFake, value: str, raw: bool) -> None:
    """Base64's alphabet with @ : . ~ masks when expanded; any 8+ non-space characters mask when raw."""
    created = project_variables(gitlab_fake).create({"key": "K", "value": value, "masked": True, "raw": raw})
    assert (created.masked, created.value) == (True, value)


def test_masking_rules_hold_on_update_too(gitlab_fake: GitLabFake) -> None:
    """Masking a short value, or giving a masked variable a short value, is refused and changes nothing."""
    gitlab_fake.put_variable("project", APP, key="PLAIN", value="short")
    gitlab_fake.put_variable("project", APP, key="MASKED", value="longenough", masked=True)
    variables = project_variables(gitlab_fake)
    invalid = (400, {"message": {"value": ["is invalid"]}})
    assert error_of(lambda: variables.update("PLAIN", {"masked": True}, filter={"environment_scope": "*"})) == invalid
    assert (
        error_of(lambda: variables.update("MASKED", {"value": "short"}, filter={"environment_scope": "*"})) == invalid
    )
    assert [(v["value"], v["masked"]) for v in gitlab_fake.variables("project", APP)] == [
        ("short", False),
        ("longenough", True),
    ]


def test_masked_and_hidden_on_create_hides_the_value_from_every_read(gitlab_fake: GitLabFake) -> None:
    """masked_and_hidden sets masked and hidden; create, get and list answer value null; the fake keeps the value."""
    variables = project_variables(gitlab_fake)
    created = variables.create({"key": "HIDDEN", "value": "hiddenvalue", "masked_and_hidden": True})
    assert (created.masked, created.hidden, created.value) == (True, True, None)
    assert variables.get("HIDDEN").value is None
    assert [v.value for v in variables.list(get_all=True)] == [None]
    assert gitlab_fake.variables("project", APP)[0]["value"] == "hiddenvalue"


def test_a_hidden_variable_stays_masked_and_hidden(gitlab_fake: GitLabFake) -> None:
    """Unmasking a hidden variable is refused with GitLab's message; its value can change; update has no
    masked_and_hidden, so a visible variable cannot become hidden."""
    gitlab_fake.put_variable("project", APP, key="HIDDEN", value="hiddenvalue", masked=True, hidden=True)
    gitlab_fake.put_variable("project", APP, key="PLAIN", value="plainvalue")
    variables = project_variables(gitlab_fake)
    assert error_of(lambda: variables.update("HIDDEN", {"masked": False})) == (
        400,
        {"message": {"base": ["The visibility setting cannot be changed for masked and hidden variables."]}},
    )
    assert variables.update("HIDDEN", {"value": "othervalue"})["value"] is None
    answer = raw_send(gitlab_fake, "PUT", "projects/1001/variables/PLAIN", {"masked_and_hidden": True})
    assert (answer.status_code, answer.json()["hidden"], answer.json()["masked"]) == (200, False, False)
    assert [(v["value"], v["hidden"]) for v in gitlab_fake.variables("project", APP)] == [
        ("othervalue", True),
        ("plainvalue", False),
    ]


def test_a_description_over_255_characters_is_refused(gitlab_fake: GitLabFake) -> None:
    """The description holds at most 255 characters."""
    variables = project_variables(gitlab_fake)
    assert error_of(lambda: variables.create({"key": "K", "value": "v", "description": "d" * 256})) == (
        400,
        {"message": {"description": ["is too long (maximum is 255 characters)"]}},
    )
    assert variables.create({"key": "K", "value": "v", "description": "d" * 255}).description == "d" * 255


def test_an_environment_scope_with_other_characters_is_refused(gitlab_fake: GitLabFake) -> None:
    """Scopes are letters, digits, - _ / $ { } . * and spaces; `review/*` is one, `prod!` is not."""
    variables = project_variables(gitlab_fake)
    assert error_of(lambda: variables.create({"key": "K", "value": "v", "environment_scope": "prod!"})) == (
        400,
        {
            "message": {
                "environment_scope": [
                    "can contain only letters, digits, '-', '_', '/', '$', '{', '}', '.', '*' and spaces"
                ]
            }
        },
    )
    assert variables.create({"key": "K", "value": "v", "environment_scope": "review/*"}).environment_scope == "review/*"


def test_an_update_can_move_a_variable_to_a_free_scope_only(gitlab_fake: GitLabFake) -> None:
    """environment_scope in an update's body moves the variable, unless the key is taken there."""
    gitlab_fake.put_variable("project", APP, key="K", value="a")
    gitlab_fake.put_variable("project", APP, key="K", value="b", environment_scope="prod")
    variables = project_variables(gitlab_fake)
    assert error_of(
        lambda: variables.update("K", {"environment_scope": "prod"}, filter={"environment_scope": "*"})
    ) == (400, {"message": {"key": ["(K) has already been taken"]}})
    variables.update("K", {"environment_scope": "staging"}, filter={"environment_scope": "*"})
    assert [v["environment_scope"] for v in gitlab_fake.variables("project", APP)] == ["staging", "prod"]


def test_form_encoded_parameters_and_string_booleans_are_read(gitlab_fake: GitLabFake) -> None:
    """Parameters sent as a form (curl --form) with "true"/"false" are coerced; a non-boolean is refused."""
    headers = {"PRIVATE-TOKEN": MAINTAINER_TOKEN}
    url = gitlab_fake.url + "/api/v4/projects/1001/variables"
    answer = requests.post(url, headers=headers, data={"key": "K", "value": "v", "protected": "true"}, timeout=5)
    assert (answer.status_code, answer.json()["protected"]) == (201, True)
    refused = requests.post(url, headers=headers, data={"key": "L", "value": "v", "protected": "maybe"}, timeout=5)
    assert (refused.status_code, refused.json()) == (400, {"error": "protected is invalid"})


# Faults, hooks and the request log


def test_a_429_on_demand_carries_retry_after_and_changes_nothing(gitlab_fake: GitLabFake) -> None:
    """fail_next answers the matching request with GitLab's rate-limit reply and does not act on it; the next passes."""
    gitlab_fake.fail_next("POST", r"/variables$", 429, retry_after=7)
    answer = raw_send(gitlab_fake, "POST", "projects/1001/variables", {"key": "K", "value": "v"})
    assert (answer.status_code, answer.headers["Retry-After"], answer.text) == (429, "7", "Retry later\n")
    assert gitlab_fake.variables("project", APP) == []
    assert raw_send(gitlab_fake, "POST", "projects/1001/variables", {"key": "K", "value": "v"}).status_code == 201


def test_python_gitlab_raises_a_429_only_when_told_not_to_obey_it(gitlab_fake: GitLabFake) -> None:
    """With obey_rate_limit=False a 429 reaches the caller; by default python-gitlab sleeps Retry-After, retries."""
    variables = project_variables(gitlab_fake)
    gitlab_fake.fail_next("POST", r"/variables$", 429, retry_after=0)
    assert error_of(lambda: variables.create({"key": "K", "value": "v"}, obey_rate_limit=False))[0] == 429
    gitlab_fake.fail_next("POST", r"/variables$", 429, retry_after=0)
    variables.create({"key": "K", "value": "v"})
    assert [request.method for request in gitlab_fake.requests] == ["POST", "POST", "POST"]
    assert len(gitlab_fake.variables("project", APP)) == 1


def test_a_502_and_a_500_on_demand(gitlab_fake: GitLabFake) -> None:
    """A 502 comes as the proxy's HTML page, a 500 as GitLab's JSON message; `times` counts the faulted requests."""
    variables = project_variables(gitlab_fake)
    gitlab_fake.fail_next("GET", r"/variables", 502, times=2)
    assert error_of(lambda: variables.list(get_all=True))[0] == 502
    answer = raw_get(gitlab_fake, "projects/1001/variables")
    assert (answer.status_code, answer.headers["Content-Type"]) == (502, "text/html")
    assert variables.list(get_all=True) == []
    gitlab_fake.fail_next("*", r"/variables", 500)
    answer = raw_send(gitlab_fake, "DELETE", "projects/1001/variables/K", {})
    assert (answer.status_code, answer.json()) == (500, {"message": "500 Internal Server Error"})


def test_a_fault_for_every_request_until_the_test_ends(gitlab_fake: GitLabFake) -> None:
    """times=None faults every matching request; other paths and methods pass."""
    gitlab_fake.fail_next("PUT", r"/variables/K$", 503, times=None, retry_after=1)
    for _ in range(3):
        assert raw_send(gitlab_fake, "PUT", "projects/1001/variables/K", {"value": "x"}).status_code == 503
    assert raw_send(gitlab_fake, "PUT", "projects/1001/variables/KEY", {"value": "x"}).status_code == 404
    assert raw_get(gitlab_fake, "projects/1001/variables/K").status_code == 404


def test_a_hook_runs_before_the_request_it_matches(gitlab_fake: GitLabFake) -> None:
    """before() stages another writer's change just ahead of the request, once by default."""
    gitlab_fake.put_variable("project", APP, key="K", value="ours")
    seen = []

    def someone_deletes_it(request: Any) -> None:
        seen.append(request)
        gitlab_fake.delete_variable("project", APP, "K")

    gitlab_fake.before("PUT", r"/variables/K$", someone_deletes_it)
    variables = project_variables(gitlab_fake)
    assert error_of(lambda: variables.update("K", {"value": "new"}, filter={"environment_scope": "*"}))[0] == 404
    variables.create({"key": "K", "value": "again"})
    variables.update("K", {"value": "new"}, filter={"environment_scope": "*"})
    assert [(r.method, r.path, r.query) for r in seen] == [
        ("PUT", "/api/v4/projects/platform%2Fapp/variables/K", {"filter[environment_scope]": "*"})
    ]
    assert gitlab_fake.variables("project", APP)[0]["value"] == "new"


def test_the_request_log_holds_method_path_and_query(gitlab_fake: GitLabFake) -> None:
    """Every request is logged in order with its path as sent and its query, faulted ones included."""
    gitlab_fake.fail_next("GET", r"/variables", 429)
    raw_get(gitlab_fake, "projects/platform%2Fapp/variables", per_page=100)
    raw_get(gitlab_fake, "projects/platform%2Fapp/variables", page=2, per_page=100)
    method, path, query = gitlab_fake.requests[1]
    assert (method, path, query) == (
        "GET",
        "/api/v4/projects/platform%2Fapp/variables",
        {"page": "2", "per_page": "100"},
    )
    assert len(gitlab_fake.requests) == 2


# Group quirks, the filter's place, instance variables


def test_a_group_update_without_a_matching_filter_changes_the_first_variable_with_the_key(
    gitlab_fake: GitLabFake, owner_token: str
) -> None:
    """API::GroupVariables#put keeps its old lookup: no filter, or a filter matching nothing, updates the first
    variable with the key in any scope (no 409); GET and DELETE answer 409 and 404 as for projects."""
    gitlab_fake.put_variable("group", "platform", key="K", value="all")
    gitlab_fake.put_variable("group", "platform", key="K", value="prod", environment_scope="prod")
    variables = group_variables(gitlab_fake)
    assert variables.update("K", {"value": "changed"})["environment_scope"] == "*"
    assert variables.update("K", {"value": "again"}, filter={"environment_scope": "gone"})["environment_scope"] == "*"
    assert (
        variables.update("K", {"value": "exact"}, filter={"environment_scope": "prod"})["environment_scope"] == "prod"
    )
    assert [v["value"] for v in gitlab_fake.variables("group", "platform")] == ["again", "exact"]
    assert error_of(lambda: variables.get("K"))[0] == 409
    assert error_of(lambda: variables.delete("K", filter={"environment_scope": "gone"}))[0] == 404
    assert error_of(lambda: variables.update("NOPE", {"value": "x"})) == (
        404,
        {"message": "404 GroupVariable Not Found"},
    )


def test_a_filter_in_the_body_filters_as_grape_merges_body_and_query(gitlab_fake: GitLabFake) -> None:
    """A filter placed in the update's data dict (sent in the JSON body) selects the scope as the query's does."""
    gitlab_fake.put_variable("project", APP, key="K", value="a")
    gitlab_fake.put_variable("project", APP, key="K", value="b", environment_scope="prod")
    project_variables(gitlab_fake).update("K", {"value": "c", "filter": {"environment_scope": "prod"}})
    assert gitlab_fake.requests[-1].query == {}
    assert [v["value"] for v in gitlab_fake.variables("project", APP)] == ["a", "c"]


def test_instance_variables_are_for_administrators(gitlab_fake: GitLabFake) -> None:
    """/admin/ci/variables serves an administrator, keys are unique without scopes, values stop at 10,000
    characters; others get 403."""
    admin = gitlab_client(gitlab_fake, ADMIN_TOKEN)
    created = admin.variables.create({"key": "GLOBAL", "value": "v", "protected": True})
    assert created.attributes == {
        "variable_type": "env_var",
        "key": "GLOBAL",
        "value": "v",
        "protected": True,
        "masked": False,
        "raw": False,
        "description": None,
    }
    assert error_of(lambda: admin.variables.create({"key": "GLOBAL", "value": "w"}))[1] == {
        "message": {"key": ["(GLOBAL) has already been taken"]}
    }
    assert error_of(lambda: admin.variables.create({"key": "BIG", "value": "x" * 10_001}))[1] == {
        "message": {"value": ["The value of the provided variable exceeds the 10000 character limit"]}
    }
    admin.variables.update("GLOBAL", {"value": "w"})
    assert admin.variables.get("GLOBAL").value == "w"
    assert gitlab_fake.variables("instance")[0]["value"] == "w"
    assert error_of(lambda: gitlab_client(gitlab_fake, MAINTAINER_TOKEN).variables.list(get_all=True)) == (
        403,
        {"message": "403 Forbidden"},
    )
    admin.variables.delete("GLOBAL")
    assert error_of(lambda: admin.variables.get("GLOBAL")) == (404, {"message": "404 InstanceVariable Not Found"})


def test_a_create_beyond_the_plan_limit_is_refused(gitlab_fake: GitLabFake, owner_token: str) -> None:
    """A project holds 8000 variables and a group 30000 by default; at the limit a create answers 400, an update
    still passes."""
    assert gitlab_fake.variable_limits == {"project": 8000, "group": 30000, "instance": None}
    gitlab_fake.variable_limits["project"] = 2
    variables = project_variables(gitlab_fake)
    variables.create({"key": "A", "value": "v"})
    variables.create({"key": "B", "value": "v"})
    assert error_of(lambda: variables.create({"key": "C", "value": "v"})) == (
        400,
        {"message": {"base": ["Maximum number of project ci variables (2) exceeded"]}},
    )
    variables.update("A", {"value": "w"})
    gitlab_fake.variable_limits["group"] = 0
    assert error_of(lambda: group_variables(gitlab_fake).create({"key": "C", "value": "v"}))[1] == {
        "message": {"base": ["Maximum number of group ci variables (0) exceeded"]}
    }


def test_project_and_group_values_have_no_length_limit(gitlab_fake: GitLabFake) -> None:
    """The 10,000-character limit is the instance's; a project variable takes a longer value."""
    assert len(project_variables(gitlab_fake).create({"key": "BIG", "value": "x" * 20_000}).value) == 20_000


# Tokens: the user, the token's scopes


def test_auth_and_the_token_self_check_answer_for_the_token(gitlab_fake: GitLabFake) -> None:
    """auth() reads /user; /personal_access_tokens/self names the token's scopes."""
    client = gitlab_client(gitlab_fake, MAINTAINER_TOKEN)
    client.auth()
    assert client.user is not None
    assert client.user.username == "maintainer"
    assert client.personal_access_tokens.get("self").scopes == ["api"]
    assert "is_admin" not in client.user.attributes
    admin = gitlab_client(gitlab_fake, ADMIN_TOKEN)
    admin.auth()
    assert admin.user is not None
    assert admin.user.is_admin is True


def test_a_read_api_token_reads_but_cannot_write(gitlab_fake: GitLabFake) -> None:
    """A token with scope read_api lists variables; a write answers 403 insufficient_scope."""
    gitlab_fake.add_token("reader", "reader", {("project", APP): "maintainer"}, scopes=("read_api",))
    variables = project_variables(gitlab_fake, "reader")
    assert variables.list(get_all=True) == []
    status, body = error_of(lambda: variables.create({"key": "K", "value": "v"}))
    assert (status, body["error"]) == (403, "insufficient_scope")
    assert gitlab_fake.variables("project", APP) == []


# The server's life


def test_a_stopped_server_refuses_even_a_kept_alive_connection(gitlab_fake: GitLabFake) -> None:
    """After stop(), a client whose connection was kept alive fails to connect, as with a server that is down."""
    variables = project_variables(gitlab_fake)
    assert variables.list(get_all=True) == []
    gitlab_fake.stop()
    with pytest.raises(requests.ConnectionError):
        variables.list(get_all=True)


def test_an_error_in_a_hook_answers_500_and_is_kept_for_the_test(gitlab_fake: GitLabFake) -> None:
    """A hook that raises makes its request answer 500; the error is kept so the fixture can raise it."""

    def broken(request: Any) -> None:
        raise RuntimeError("the hook failed")

    gitlab_fake.before("GET", r"/variables$", broken)
    assert raw_get(gitlab_fake, "projects/1001/variables").status_code == 500
    assert [str(error) for error in gitlab_fake.errors] == ["the hook failed"]
    gitlab_fake.errors.clear()


def test_a_retry_after_can_be_an_http_date(gitlab_fake: GitLabFake) -> None:
    """retry_after is sent as given, so a test can send the HTTP-date form a proxy may use."""
    gitlab_fake.fail_next("GET", r"/variables$", 503, retry_after="Wed, 21 Oct 2026 07:28:00 GMT")
    answer = raw_get(gitlab_fake, "projects/1001/variables")
    assert (answer.status_code, answer.headers["Retry-After"]) == (503, "Wed, 21 Oct 2026 07:28:00 GMT")
