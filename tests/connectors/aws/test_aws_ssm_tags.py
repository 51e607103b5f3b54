"""The `aws-ssm` sink's tag reads against moto's server: tags confirmed in bulk by DescribeParameters filters
from the desired items `observe` is given, ListTagsForResource only for what the filters leave out, and owners of
prune candidates found by sync.

What moto does here as AWS documents it (checked by these tests): filters are AND-ed, a `Name` filter takes up to
50 names (51 is refused), a `tag:KEY` filter matches the tag's value exactly. Where it differs: moto takes any
number of filters (AWS's bound is not documented; the sink sends at most 10), and a `tag:KEY` filter without
Values makes moto return every parameter whatever the other filters say (the sink never sends one). Whether AWS
matches tag values case-sensitively, as moto does, is not verified.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import pytest

from connectors.aws import SsmDestination, SsmSink, SsmTargetOptions
from connectors.aws.ssm_tags import IDLE_SWEEPS
from syncd.connector import Scope
from syncd.diff import Policy, compare, diff_item
from syncd.model import Action, ActualItem, DesiredItem, Granularity, Ownership
from syncd.secret import Secret
from tests.connectors.aws.support import owned, write
from tests.fakes.aws import AwsFake

TARGET = "params"
REGION = "eu-west-1"
OWNER = Ownership("prod-eu", "payments-db")
DB = SsmDestination(path="/prod/db/")
TEAM = {"team": "payments"}

Requests = list[tuple[str, dict[str, Any]]]


@pytest.fixture(scope="module")
def clients(aws_fake_server: AwsFake) -> dict[str, Any]:
    """A recorded client for the sink (counted like code under test) and a backdoor (neither counted nor faulted)."""
    return {
        "sink": aws_fake_server.client("ssm", REGION, record=True, max_attempts=4),
        "backdoor": aws_fake_server.client("ssm", REGION),
    }


@pytest.fixture
def ssm(aws_fake: AwsFake, clients: dict[str, Any]) -> Any:
    return clients["backdoor"]


@pytest.fixture
def sent(clients: dict[str, Any]) -> Iterator[Requests]:
    """Every request the sink's client sends (operation, parameters)."""
    requests: Requests = []
    events = clients["sink"].meta.events
    events.register(
        "before-parameter-build.ssm.*",
        lambda params, model, **_: requests.append((model.name, dict(params))),
        unique_id="ssm-tag-requests",
    )
    yield requests
    events.unregister("before-parameter-build.ssm.*", unique_id="ssm-tag-requests")


@pytest.fixture
def sink(aws_fake: AwsFake, clients: dict[str, Any]) -> Iterator[SsmSink]:
    made = SsmSink(TARGET, SsmTargetOptions(region=REGION, endpoint_url=aws_fake.endpoint), clients["sink"])
    yield made
    made.close()


def desired(
    key: str, value: str = "v", *, owner: Ownership = OWNER, tags: Mapping[str, str] = TEAM, path: str = "/prod/db/"
) -> DesiredItem:
    destination = SsmDestination(path=path)
    return DesiredItem(
        target=TARGET,
        address=path + key,
        owner=owner,
        data={key: Secret(value)},
        granularity=Granularity.PER_KEY,
        tags=dict(tags),
        flags={"type": "SecureString"},
        destination=destination,
    )


def plant(ssm: Any, name: str, tags: Mapping[str, str], value: str = "v") -> None:
    """A parameter put there through the backdoor (not counted), with exactly `tags`."""
    tag_list = [{"Key": key, "Value": tag} for key, tag in tags.items()]
    ssm.put_parameter(Name=name, Value=value, Type="SecureString", **({"Tags": tag_list} if tag_list else {}))


def marker(owner: Ownership = OWNER) -> dict[str, str]:
    return {"syncd.io/instance": owner.instance, "syncd.io/sync": owner.sync}


def plan_read(sink: SsmSink, items: list[DesiredItem]) -> dict[str, ActualItem]:
    """What a plan finds of `items` (with a scope owning nothing, so no owned listing)."""
    return dict(sink.observe(items, Scope(OWNER.instance)).items)


def tag_requests(sent: Requests) -> list[dict[str, Any]]:
    return [request for operation, request in sent if operation == "ListTagsForResource"]


# Drift and ownership still show


def test_a_tag_edited_out_of_band_is_drift_read_with_one_tag_call(
    sink: SsmSink, ssm: Any, aws_fake: AwsFake, sent: Requests
) -> None:
    """The bulk confirmation leaves the edited parameter out; ListTagsForResource for it alone shows the drift.
    Once repaired, the next plan confirms all 12 without a tag call."""
    items = [desired(f"KEY_{index:02}") for index in range(12)]
    for item in items:
        plant(ssm, item.address, {**TEAM, **marker()})
    ssm.add_tags_to_resource(
        ResourceType="Parameter", ResourceId="/prod/db/KEY_07", Tags=[{"Key": "team", "Value": "other"}]
    )
    actual = plan_read(sink, items)
    reasons = {item.address: compare(item, actual[item.address]) for item in items}
    assert {address: why for address, why in reasons.items() if why} == {"/prod/db/KEY_07": ("tags (team)",)}
    assert [request["ResourceId"] for request in tag_requests(sent)] == ["/prod/db/KEY_07"]
    assert actual["/prod/db/KEY_07"].owner == OWNER
    assert aws_fake.writes() == []
    write(sink, items[7], actual[items[7].address])
    assert [call.operation for call in aws_fake.writes()] == ["AddTagsToResource"]
    sent.clear()
    actual = plan_read(sink, items)
    assert all(compare(item, actual[item.address]) == () for item in items)
    assert tag_requests(sent) == []


def test_a_tag_removed_out_of_band_is_drift(sink: SsmSink, ssm: Any, aws_fake: AwsFake) -> None:
    """A parameter lacking one expected tag is not returned by the AND-ed filters."""
    items = [desired("A"), desired("B")]
    for item in items:
        plant(ssm, item.address, {**TEAM, **marker()})
    ssm.remove_tags_from_resource(ResourceType="Parameter", ResourceId="/prod/db/B", TagKeys=["team"])
    actual = plan_read(sink, items)
    assert compare(items[0], actual["/prod/db/A"]) == ()
    assert compare(items[1], actual["/prod/db/B"]) == ("tags (team)",)
    assert aws_fake.count("ListTagsForResource") == 1


def test_a_tag_value_differing_only_in_case_is_drift_on_moto(sink: SsmSink, ssm: Any, aws_fake: AwsFake) -> None:
    """moto matches a tag filter's value exactly; that AWS does too is not verified (see the module docstring)."""
    item = desired("A")
    plant(ssm, item.address, {"team": "Payments", **marker()})
    assert compare(item, plan_read(sink, [item])[item.address]) == ("tags (team)",)
    assert aws_fake.count("ListTagsForResource") == 1


@pytest.mark.parametrize(
    ("planted", "owner", "action", "reason"),
    [
        pytest.param(TEAM, None, Action.CONFLICT, "exists without syncd's marker", id="unowned"),
        pytest.param(
            {**TEAM, "syncd.io/instance": "prod-eu"}, None, Action.CONFLICT, "without syncd's marker", id="half-marker"
        ),
        pytest.param(
            {**TEAM, **marker(Ownership("staging", "payments-db"))},
            Ownership("staging", "payments-db"),
            Action.CONFLICT,
            "owned by syncd instance 'staging'",
            id="another-instance",
        ),
        pytest.param(
            {**TEAM, **marker(Ownership("prod-eu", "old-sync"))},
            Ownership("prod-eu", "old-sync"),
            Action.UPDATE,
            "owner (was sync 'old-sync')",
            id="another-sync",
        ),
    ],
)
def test_a_parameter_not_carrying_the_expected_marker_reads_with_its_real_owner(
    sink: SsmSink,
    ssm: Any,
    aws_fake: AwsFake,
    planted: dict[str, str],
    owner: Ownership | None,
    action: Action,
    reason: str,
) -> None:
    """Unowned, another instance's or another sync's: the filters miss it, so its own tags are read and the diff
    decides as before (conflict, or a marker move)."""
    item = desired("A")
    plant(ssm, item.address, planted)
    actual = plan_read(sink, [item])[item.address]
    assert actual.owner == owner
    assert actual.tags == TEAM
    change = diff_item(OWNER.instance, item, actual, Policy())
    assert change.action is action
    assert reason in change.reasons[0]
    assert aws_fake.count("ListTagsForResource") == 1


def test_tags_syncd_does_not_list_do_not_stop_a_confirmation(sink: SsmSink, ssm: Any, aws_fake: AwsFake) -> None:
    """A confirmed parameter reports the expected tags only: the others are not read (the core never compares
    them, and write adds only tags that differ from the expected ones)."""
    item = desired("A")
    plant(ssm, item.address, {**TEAM, **marker(), "cost-centre": "42"})
    actual = plan_read(sink, [item])[item.address]
    assert (actual.owner, actual.tags, compare(item, actual)) == (OWNER, TEAM, ())
    assert aws_fake.count("ListTagsForResource") == 0


# What a filter cannot say


def test_more_tags_than_one_request_holds_are_confirmed_in_parts(
    sink: SsmSink, ssm: Any, aws_fake: AwsFake, sent: Requests
) -> None:
    """14 expected tags (12 + the marker) make two requests of at most 10 filters, the second on the names the
    first kept; drift in either part shows."""
    tags = {f"tag{index:02}": f"value-{index}" for index in range(12)}
    items = [desired(key, tags=tags) for key in ("A", "B", "C")]
    for item in items:
        plant(ssm, item.address, {**tags, **marker()})
    for name, key in (("/prod/db/B", "tag00"), ("/prod/db/C", "tag11")):
        ssm.add_tags_to_resource(ResourceType="Parameter", ResourceId=name, Tags=[{"Key": key, "Value": "drift"}])
    actual = plan_read(sink, items)
    assert [compare(item, actual[item.address]) for item in items] == [(), ("tags (tag00)",), ("tags (tag11)",)]
    confirmations = [
        request["ParameterFilters"]
        for operation, request in sent
        if operation == "DescribeParameters" and len(request["ParameterFilters"]) > 1
    ]
    assert [len(filters) for filters in confirmations] == [10, 6]
    assert confirmations[0][0]["Values"] == ["/prod/db/A", "/prod/db/B", "/prod/db/C"]
    assert confirmations[1][0]["Values"] == ["/prod/db/A", "/prod/db/C"]
    assert [request["ResourceId"] for request in tag_requests(sent)] == ["/prod/db/B", "/prod/db/C"]


def test_a_tag_with_an_empty_value_is_read_with_list_tags(sink: SsmSink, ssm: Any, aws_fake: AwsFake) -> None:
    """A filter value needs at least one character, so such a tag set is never sent as a filter."""
    item = desired("A", tags={"note": "", **TEAM})
    plant(ssm, item.address, {"note": "", **TEAM, **marker()})
    assert compare(item, plan_read(sink, [item])[item.address]) == ()
    assert aws_fake.count("ListTagsForResource") == 1


def test_filters_aws_refuses_fall_back_to_reading_each_parameters_tags(
    sink: SsmSink, ssm: Any, aws_fake: AwsFake
) -> None:
    """Were AWS to refuse a confirmation (say, too many filters), the read goes on with each parameter's tags."""
    items = [desired("A"), desired("B")]
    for item in items:
        plant(ssm, item.address, {**TEAM, **marker()})
    aws_fake.fail("DescribeParameters", "ValidationException", message="too many filters")
    actual = plan_read(sink, items)
    assert [compare(item, actual[item.address]) for item in items] == [(), ()]
    assert aws_fake.count("DescribeParameters", faulted=True) == 1
    assert aws_fake.count("ListTagsForResource") == 2


def test_an_observation_confirms_each_name_by_its_own_desired_tags(sink: SsmSink, ssm: Any, aws_fake: AwsFake) -> None:
    """A parameter desired by another sync than its marker names is read with ListTagsForResource (and shows the
    sync to move from); the others are still confirmed in bulk."""
    items = [desired("A"), desired("B")]
    for item in items:
        plant(ssm, item.address, {**TEAM, **marker()})
    moved = desired("B", owner=Ownership("prod-eu", "another-sync"))
    actual = plan_read(sink, [items[0], moved])
    assert compare(items[0], actual[items[0].address]) == ()
    assert actual[moved.address].owner == OWNER
    assert aws_fake.count("ListTagsForResource") == 1


# Owned parameters read did not see


def test_owned_parameters_no_longer_desired_get_their_sync_in_bulk(
    sink: SsmSink, ssm: Any, aws_fake: AwsFake, sent: Requests
) -> None:
    """Prune candidates of two syncs (60 and 3 parameters): one ListTagsForResource per sync learns it, sweeps by
    `tag:syncd.io/sync` find the rest; the desired parameters reuse what the same observation confirmed."""
    kept = [desired(f"KEEP_{index}") for index in range(5)]
    for item in kept:
        plant(ssm, item.address, {**TEAM, **marker()})
    old_a, old_b = Ownership("prod-eu", "old-a"), Ownership("prod-eu", "old-b")
    for index in range(60):
        plant(ssm, f"/old/a/KEY_{index:02}", {**TEAM, **marker(old_a)})
    for index in range(3):
        plant(ssm, f"/old/b/KEY_{index}", marker(old_b))
    plant(ssm, "/old/c/THEIRS", marker(Ownership("staging", "old-a")))
    mine = sink.observe(kept, Scope(OWNER.instance, ("*",))).owned
    assert {name: item.owner for name, item in mine.items()} == {
        **{item.address: OWNER for item in kept},
        **{f"/old/a/KEY_{index:02}": old_a for index in range(60)},
        **{f"/old/b/KEY_{index}": old_b for index in range(3)},
    }
    assert [request["ResourceId"] for request in tag_requests(sent)] == ["/old/a/KEY_00", "/old/b/KEY_0"]
    sweeps = [
        request["ParameterFilters"][0]["Values"]
        for operation, request in sent
        if operation == "DescribeParameters"
        and any(f["Key"] == "tag:syncd.io/sync" for f in request["ParameterFilters"])
        and "NextToken" not in request
        and len(request["ParameterFilters"]) == 3
    ]
    # old-a: 62 names left after the probe, in 2 requests; old-b: the 2 left after its probe, in 1.
    assert sorted(len(names) for names in sweeps) == [2, 12, 50]
    assert aws_fake.writes() == []


def test_owned_parameters_of_many_small_syncs_stop_being_swept(
    sink: SsmSink, ssm: Any, aws_fake: AwsFake, sent: Requests
) -> None:
    """Sweeps that save nothing stop after IDLE_SWEEPS: the rest cost one ListTagsForResource each, as before."""
    for index in range(10):
        plant(ssm, f"/old/KEY_{index}", marker(Ownership("prod-eu", f"sync-{index}")))
    mine = owned(sink, OWNER.instance)
    assert {name: item.owner for name, item in mine.items()} == {
        f"/old/KEY_{index}": Ownership("prod-eu", f"sync-{index}") for index in range(10)
    }
    assert aws_fake.count("ListTagsForResource") == 10
    sweeps = [
        request
        for operation, request in sent
        if operation == "DescribeParameters" and len(request.get("ParameterFilters", [])) == 3
    ]
    assert len(sweeps) == IDLE_SWEEPS
