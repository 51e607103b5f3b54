"""The fake GitLab server: python-gitlab's calls for project and group variables, auth and roles, errors, pagination."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import gitlab
import pytest
import requests
from gitlab.exceptions import GitlabAuthenticationError, GitlabError

from tests.fakes.gitlab import ADMIN_TOKEN, MAINTAINER_TOKEN, GitLabFake, gitlab_client

APP = "platform/app"
OWNER_TOKEN = "owner-token"


def error_of(call: Callable[[], Any]) -> tuple[int, Any]:
    """Run a python-gitlab call that must fail; return its HTTP status and parsed body."""
    with pytest.raises(GitlabError) as info:
        call()
    body = info.value.response_body
    return info.value.response_code or 0, json.loads(body) if body else None


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
