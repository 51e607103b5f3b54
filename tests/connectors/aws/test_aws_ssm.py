"""The `aws-ssm` sink against moto's server over HTTP: the sink contract, tiers, KMS, tags, drift, ownership,
accounts, faults, call counts, and values that never show."""

from __future__ import annotations

import math
import traceback
from collections.abc import Callable, Iterator, Mapping
from dataclasses import replace
from typing import Any

import pytest

from connectors.aws import SsmDestination, SsmSink, SsmTargetOptions
from syncd.connector import Scope
from syncd.diff import compare
from syncd.errors import ItemMoved, PermanentError, TransientError
from syncd.model import DesiredItem, Granularity, Ownership
from syncd.secret import REDACTOR, Secret
from syncd.testing.contract import PlantUnowned, SinkContract
from tests.connectors.aws.support import owned, read, write
from tests.fakes.aws import AwsFake

TARGET = "params"
REGION = "eu-west-1"
OWNER = Ownership("prod-eu", "payments-db")
OTHER_ACCOUNT = "222222222222"
ROLE = f"arn:aws:iam::{OTHER_ACCOUNT}:role/syncd"
PLANTED = "PLANTED-ssm-sink-4b7e"
DB = SsmDestination(path="/prod/db/")

MakeSink = Callable[..., SsmSink]
Requests = list[tuple[str, dict[str, Any]]]


@pytest.fixture(scope="module")
def clients(aws_fake_server: AwsFake) -> dict[str, Any]:
    """Clients on the worker's fake, built once (a boto3 client costs tens of milliseconds): one to hand a sink
    whose requests a test inspects, recorded like any code under test, and a backdoor that is neither counted nor
    faulted."""
    return {
        "sink": aws_fake_server.client("ssm", REGION, record=True, max_attempts=4),
        "backdoor": aws_fake_server.client("ssm", REGION),
    }


@pytest.fixture
def make_sink(aws_fake: AwsFake, clients: dict[str, Any]) -> Iterator[MakeSink]:
    """Builds sinks in REGION on the fake's endpoint with the given target options; each builds its own client, as
    in production, unless `shared_client` hands it the shared one."""
    made: list[SsmSink] = []

    def make(shared_client: bool = False, **options: Any) -> SsmSink:
        settings = {"region": REGION, "endpoint_url": aws_fake.endpoint, **options}
        sink = SsmSink(TARGET, SsmTargetOptions(**settings), clients["sink"] if shared_client else None)
        made.append(sink)
        return sink

    yield make
    for sink in made:
        sink.close()


@pytest.fixture
def ssm(aws_fake: AwsFake, clients: dict[str, Any]) -> Any:
    """The backdoor client in REGION, on a wiped fake: for planting and inspecting state."""
    return clients["backdoor"]


@pytest.fixture
def recorded(make_sink: MakeSink, clients: dict[str, Any]) -> Iterator[tuple[SsmSink, Requests]]:
    """A sink, and every request its client sends (operation, parameters)."""
    sent: Requests = []
    events = clients["sink"].meta.events
    events.register(
        "before-parameter-build.ssm.*",
        lambda params, model, **_: sent.append((model.name, dict(params))),
        unique_id="ssm-requests",
    )
    yield make_sink(shared_client=True), sent
    events.unregister("before-parameter-build.ssm.*", unique_id="ssm-requests")


def desired(
    sink: SsmSink,
    key: str,
    value: str,
    *,
    destination: SsmDestination = DB,
    owner: Ownership = OWNER,
    tags: Mapping[str, str] | None = None,
    description: str | None = None,
) -> DesiredItem:
    """The item the core would make for `key` under `destination`, with the target's default tags."""
    return DesiredItem(
        target=TARGET,
        address=sink.address(destination, key),
        owner=owner,
        data={key: Secret(value)},
        granularity=Granularity.PER_KEY,
        tags={**sink.item_defaults().tags, **(tags or {})},
        description=description if description is not None else sink.item_defaults().description,
        flags=sink.flags(destination),
        destination=destination,
    )


def value_of(ssm: Any, name: str) -> str:
    return ssm.get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"]


def metadata_of(ssm: Any, name: str) -> dict[str, Any]:
    filters = [{"Key": "Name", "Option": "Equals", "Values": [name]}]
    (meta,) = ssm.describe_parameters(ParameterFilters=filters)["Parameters"]
    return meta


def tags_of(ssm: Any, name: str) -> dict[str, str]:
    answer = ssm.list_tags_for_resource(ResourceType="Parameter", ResourceId=name)
    return {tag["Key"]: tag["Value"] for tag in answer["TagList"]}


def shown(exc: BaseException) -> str:
    return "".join(traceback.format_exception(exc)) + repr(exc.args)


class TestSsmSinkContract(SinkContract):
    addresses = ("/contract/alpha", "/contract/beta", "/contract/gamma")
    destination = SsmDestination(path="/contract/")

    @pytest.fixture
    def sink(self, make_sink: MakeSink) -> SsmSink:
        return make_sink()

    @pytest.fixture
    def plant_unowned(self, ssm: Any) -> PlantUnowned:
        def plant(address: str, data: Mapping[str, str]) -> None:
            """Creates an unmarked parameter, or overwrites one and takes its marker off, as another writer would."""
            ssm.put_parameter(Name=address, Value=next(iter(data.values())), Type="SecureString", Overwrite=True)
            ssm.remove_tags_from_resource(
                ResourceType="Parameter", ResourceId=address, TagKeys=["syncd.io/instance", "syncd.io/sync"]
            )

        return plant


# Creating


def test_create_is_one_put_parameter_with_tags_and_no_overwrite(
    recorded: tuple[SsmSink, Requests], ssm: Any, aws_fake: AwsFake
) -> None:
    """A new parameter is one PutParameter carrying the marker and user tags; a SecureString, Standard tier."""
    sink, sent = recorded
    write(sink, desired(sink, "DB_USER", "alice", tags={"team": "payments"}, description="The db user."), None)
    assert [operation for operation, _ in sent] == ["PutParameter"]
    request = sent[0][1]
    assert "Overwrite" not in request
    assert request["Tags"] == [
        {"Key": "syncd.io/instance", "Value": "prod-eu"},
        {"Key": "syncd.io/sync", "Value": "payments-db"},
        {"Key": "team", "Value": "payments"},
    ]
    meta = metadata_of(ssm, "/prod/db/DB_USER")
    assert (meta["Type"], meta["Tier"], meta["Description"]) == ("SecureString", "Standard", "The db user.")
    assert value_of(ssm, "/prod/db/DB_USER") == "alice"
    assert [call.operation for call in aws_fake.writes()] == ["PutParameter"]


def test_read_returns_value_owner_tags_description_flags_and_version(make_sink: MakeSink) -> None:
    sink = make_sink(tags={"env": "prod"}, description="From the target.")
    write(sink, desired(sink, "DB_USER", "alice", tags={"team": "payments"}), None)
    actual = read(sink, ["/prod/db/DB_USER"])["/prod/db/DB_USER"]
    assert actual.owner == OWNER
    assert {k: v.reveal() for k, v in (actual.data or {}).items()} == {"DB_USER": "alice"}
    assert actual.tags == {"env": "prod", "team": "payments"}
    assert actual.description == "From the target."
    assert actual.flags == {"type": "SecureString", "tier": "Standard", "key_id": "alias/aws/ssm"}
    assert actual.version == "1"


def test_string_type_on_a_to_entry_writes_a_plain_string(make_sink: MakeSink, ssm: Any) -> None:
    """`parameter_type: String` on a `to` entry overrides the target's SecureString."""
    sink = make_sink()
    plain = SsmDestination(path="/prod/config/", parameter_type="String")
    write(sink, desired(sink, "HOST", "db.internal", destination=plain), None)
    assert metadata_of(ssm, "/prod/config/HOST")["Type"] == "String"
    assert (
        compare(
            desired(sink, "HOST", "db.internal", destination=plain),
            read(sink, ["/prod/config/HOST"])["/prod/config/HOST"],
        )
        == ()
    )


# Tiers


def test_a_5kb_value_is_a_check_problem_without_allow_advanced_tier(make_sink: MakeSink, aws_fake: AwsFake) -> None:
    """Without the option the item is refused by check (which the core runs before any call), naming the option."""
    sink = make_sink()
    big = desired(sink, "CERT", "c" * 5000)
    assert [p for p in sink.check(big) if "allow_advanced_tier: true" in p]
    assert aws_fake.calls == []


def test_a_5kb_value_becomes_an_advanced_parameter_when_allowed(make_sink: MakeSink, ssm: Any) -> None:
    sink = make_sink(allow_advanced_tier=True)
    big = desired(sink, "CERT", "c" * 5000)
    assert sink.check(big) == []
    write(sink, big, None)
    assert metadata_of(ssm, "/prod/db/CERT")["Tier"] == "Advanced"
    assert value_of(ssm, "/prod/db/CERT") == "c" * 5000


def test_an_advanced_parameter_is_never_downgraded(make_sink: MakeSink, ssm: Any) -> None:
    """A small value written over an Advanced parameter keeps it Advanced, even on a target without the option."""
    ssm.put_parameter(Name="/prod/db/CERT", Value="c" * 5000, Type="SecureString", Tier="Advanced")
    sink = make_sink()
    small = desired(sink, "CERT", "small now")
    write(sink, small, read(sink, [small.address])[small.address])
    assert metadata_of(ssm, "/prod/db/CERT")["Tier"] == "Advanced"
    assert value_of(ssm, "/prod/db/CERT") == "small now"


def test_a_standard_parameter_grows_into_advanced(make_sink: MakeSink, ssm: Any) -> None:
    sink = make_sink(allow_advanced_tier=True)
    write(sink, desired(sink, "CERT", "small"), None)
    grown = desired(sink, "CERT", "g" * 6000)
    write(sink, grown, read(sink, [grown.address])[grown.address])
    assert metadata_of(ssm, "/prod/db/CERT")["Tier"] == "Advanced"


# KMS


def test_secure_string_uses_the_targets_kms_key(aws_fake: AwsFake, make_sink: MakeSink, ssm: Any) -> None:
    """KeyId goes with the write, DescribeParameters shows it, and the key is compared: no drift once written."""
    key = aws_fake.client("kms", REGION).create_key()["KeyMetadata"]["KeyId"]
    sink = make_sink(kms_key_id=key)
    item = desired(sink, "DB_PASSWORD", "s3cret")
    write(sink, item, None)
    assert metadata_of(ssm, "/prod/db/DB_PASSWORD")["KeyId"] == key
    actual = read(sink, [item.address])[item.address]
    assert actual.flags["key_id"] == key
    assert compare(item, actual) == ()


def test_a_parameter_under_another_key_is_drift_and_is_re_encrypted(make_sink: MakeSink, ssm: Any) -> None:
    """A SecureString under the default key, on a target with its own key, shows flag drift; a write moves it."""
    sink = make_sink()
    write(sink, desired(sink, "DB_PASSWORD", "s3cret"), None)
    keyed = make_sink(kms_key_id="alias/payments")
    item = desired(keyed, "DB_PASSWORD", "s3cret")
    actual = read(keyed, [item.address])[item.address]
    assert compare(item, actual) == ("flags (key_id)",)
    write(keyed, item, actual)
    assert metadata_of(ssm, item.address)["KeyId"] == "alias/payments"
    assert compare(item, read(keyed, [item.address])[item.address]) == ()


def test_writing_over_an_adopted_key_keeps_it_when_the_target_names_none(make_sink: MakeSink, ssm: Any) -> None:
    ssm.put_parameter(Name="/prod/db/TOKEN", Value="old", Type="SecureString", KeyId="alias/theirs")
    sink = make_sink()
    item = desired(sink, "TOKEN", "new")
    write(sink, item, read(sink, [item.address])[item.address])
    assert metadata_of(ssm, item.address)["KeyId"] == "alias/theirs"


# Drift


def test_tag_drift_is_repaired_with_add_tags_only(recorded: tuple[SsmSink, Requests], ssm: Any) -> None:
    """A tag changed out of band shows as tag drift and is put back by one AddTagsToResource of that tag alone.

    Tags syncd does not list are left alone.
    """
    sink, sent = recorded
    item = desired(sink, "DB_USER", "alice", tags={"team": "payments", "env": "prod"})
    write(sink, item, None)
    ssm.add_tags_to_resource(
        ResourceType="Parameter",
        ResourceId=item.address,
        Tags=[{"Key": "team", "Value": "other"}, {"Key": "x", "Value": "y"}],
    )
    actual = read(sink, [item.address])[item.address]
    assert compare(item, actual) == ("tags (team)",)
    sent.clear()
    write(sink, item, actual)
    assert [(operation, request.get("Tags")) for operation, request in sent] == [
        ("ListTagsForResource", None),  # the marker is read again before anything is written
        ("AddTagsToResource", [{"Key": "team", "Value": "payments"}]),
    ]
    assert tags_of(ssm, item.address)["x"] == "y"
    assert compare(item, read(sink, [item.address])[item.address]) == ()


def test_a_value_edited_out_of_band_is_detected_and_repaired(recorded: tuple[SsmSink, Requests], ssm: Any) -> None:
    """The new value reads as value drift; the repair is one PutParameter with Overwrite and without Tags."""
    sink, sent = recorded
    item = desired(sink, "DB_PASSWORD", "s3cret")
    write(sink, item, None)
    ssm.put_parameter(Name=item.address, Value="changed-by-hand", Type="SecureString", Overwrite=True)
    actual = read(sink, [item.address])[item.address]
    assert compare(item, actual) == ("value",)
    assert actual.version == "2"
    sent.clear()
    write(sink, item, actual)
    # The marker and the version are read again before anything is written.
    assert [operation for operation, _ in sent] == ["ListTagsForResource", "GetParameters", "PutParameter"]
    assert sent[2][1]["Overwrite"] is True and "Tags" not in sent[2][1]
    assert value_of(ssm, item.address) == "s3cret"
    assert read(sink, [item.address])[item.address].version == "3"


def test_a_description_change_rewrites_the_same_value(recorded: tuple[SsmSink, Requests], ssm: Any) -> None:
    """SSM sets a description only through PutParameter, so the same value is written again as a new version."""
    sink, sent = recorded
    write(sink, desired(sink, "DB_USER", "alice", description="old words"), None)
    item = desired(sink, "DB_USER", "alice", description="new words")
    actual = read(sink, [item.address])[item.address]
    assert compare(item, actual) == ("description",)
    sent.clear()
    write(sink, item, actual)
    assert [operation for operation, _ in sent] == ["ListTagsForResource", "GetParameters", "PutParameter"]
    assert metadata_of(ssm, item.address)["Description"] == "new words"
    assert value_of(ssm, item.address) == "alice"


def test_type_drift_is_repaired(make_sink: MakeSink, ssm: Any) -> None:
    ssm.put_parameter(Name="/prod/db/DB_USER", Value="alice", Type="String")
    sink = make_sink()
    item = desired(sink, "DB_USER", "alice")
    actual = read(sink, [item.address])[item.address]
    assert compare(item, actual) == ("flags (type)",)
    write(sink, item, actual)
    assert metadata_of(ssm, item.address)["Type"] == "SecureString"


# Ownership


def test_an_unowned_parameter_reads_without_owner_and_adopting_adds_tags_only(
    recorded: tuple[SsmSink, Requests], ssm: Any
) -> None:
    """Adopting a parameter that already holds the value is one AddTagsToResource with the marker (no Overwrite),
    once its marker and version are read again as the plan saw them."""
    sink, sent = recorded
    ssm.put_parameter(Name="/prod/db/DB_USER", Value="alice", Type="SecureString", Tags=[{"Key": "own", "Value": "1"}])
    actual = read(sink, ["/prod/db/DB_USER"])["/prod/db/DB_USER"]
    assert actual.owner is None and actual.tags == {"own": "1"}
    assert owned(sink, OWNER.instance) == {}
    sent.clear()
    write(sink, desired(sink, "DB_USER", "alice"), actual)
    assert [operation for operation, _ in sent] == ["ListTagsForResource", "GetParameters", "AddTagsToResource"]
    assert tags_of(ssm, "/prod/db/DB_USER") == {
        "own": "1",
        "syncd.io/instance": "prod-eu",
        "syncd.io/sync": "payments-db",
    }
    assert list(owned(sink, OWNER.instance)) == ["/prod/db/DB_USER"]


def test_an_adoption_is_refused_when_someone_wrote_the_value_since_the_plan(make_sink: MakeSink, ssm: Any) -> None:
    """An adoption planned on a parameter that held syncd's value raises ItemMoved when someone wrote another value
    since the plan, and stamps no marker on their value."""
    sink = make_sink()
    ssm.put_parameter(Name="/prod/db/DB_USER", Value="alice", Type="SecureString")
    actual = read(sink, ["/prod/db/DB_USER"])["/prod/db/DB_USER"]
    ssm.put_parameter(Name="/prod/db/DB_USER", Value="someone-else", Type="SecureString", Overwrite=True)
    with pytest.raises(ItemMoved, match="version moved"):
        write(sink, desired(sink, "DB_USER", "alice"), actual)
    assert "syncd.io/instance" not in tags_of(ssm, "/prod/db/DB_USER")


def test_a_parameter_that_appeared_since_the_plan_is_not_taken_over(make_sink: MakeSink, ssm: Any) -> None:
    """A create that finds an unowned parameter in its place fails as a conflict and leaves it as it is."""
    sink = make_sink()
    ssm.put_parameter(Name="/prod/db/DB_USER", Value="theirs", Type="SecureString")
    with pytest.raises(ItemMoved, match="created by someone else since the plan"):
        write(sink, desired(sink, "DB_USER", "ours"), None)
    assert value_of(ssm, "/prod/db/DB_USER") == "theirs"
    assert tags_of(ssm, "/prod/db/DB_USER") == {}


def test_a_retried_create_updates_its_own_parameter(make_sink: MakeSink, ssm: Any) -> None:
    """A create whose parameter is already there with this instance's marker carries on as an update."""
    sink = make_sink()
    write(sink, desired(sink, "DB_USER", "first"), None)
    write(sink, desired(sink, "DB_USER", "second"), None)
    assert value_of(ssm, "/prod/db/DB_USER") == "second"


def test_a_parameter_deleted_since_the_plan_is_not_written(recorded: tuple[SsmSink, Requests], ssm: Any) -> None:
    """An update planned on a parameter deleted since raises ItemMoved after one ListTagsForResource and writes
    nothing: the next run plans a create, which carries the tags and the marker in its one PutParameter."""
    sink, sent = recorded
    write(sink, desired(sink, "DB_USER", "alice", tags={"team": "payments"}), None)
    actual = read(sink, ["/prod/db/DB_USER"])["/prod/db/DB_USER"]
    ssm.delete_parameter(Name="/prod/db/DB_USER")
    sent.clear()
    with pytest.raises(ItemMoved, match="deleted since the plan"):
        write(sink, desired(sink, "DB_USER", "bob", tags={"team": "payments"}), actual)
    assert [operation for operation, _ in sent] == ["ListTagsForResource"]
    assert ssm.get_parameters(Names=["/prod/db/DB_USER"])["InvalidParameters"] == ["/prod/db/DB_USER"]


def test_a_value_written_by_another_writer_since_the_plan_is_not_overwritten(
    recorded: tuple[SsmSink, Requests], ssm: Any
) -> None:
    """An update planned on version 1 raises ItemMoved when the parameter, still carrying the marker, holds a newer
    version someone else wrote; a delete refuses it too."""
    sink, sent = recorded
    item = desired(sink, "DB_USER", "alice")
    write(sink, item, None)
    planned = read(sink, [item.address])[item.address]
    ssm.put_parameter(Name=item.address, Value="written-meanwhile", Type="SecureString", Overwrite=True)
    sent.clear()
    with pytest.raises(ItemMoved, match="version moved from 1 to 2"):
        write(sink, desired(sink, "DB_USER", "bob"), planned)
    with pytest.raises(ItemMoved, match="version moved from 1 to 2"):
        sink.delete(planned)
    assert [operation for operation, _ in sent] == ["ListTagsForResource", "GetParameters"] * 2
    assert value_of(ssm, item.address) == "written-meanwhile"


def test_a_retried_adoption_accepts_the_marker_its_lost_answer_stamped(
    make_sink: MakeSink, ssm: Any, aws_fake: AwsFake
) -> None:
    """When the answer to the adopting AddTagsToResource is lost, the retried write finds this item's own marker
    where the plan saw none, and finishes instead of calling it someone else's change."""
    sink = make_sink()
    ssm.put_parameter(Name="/prod/db/DB_USER", Value="theirs", Type="SecureString")
    actual = read(sink, ["/prod/db/DB_USER"])["/prod/db/DB_USER"]
    item = desired(sink, "DB_USER", "ours")
    aws_fake.fail_at(2, "lose", service="ssm", writes_only=True)
    with pytest.raises(TransientError):
        write(sink, item, actual)
    assert tags_of(ssm, item.address)["syncd.io/instance"] == "prod-eu"
    write(sink, item, actual)
    assert value_of(ssm, item.address) == "ours"


def test_a_sync_rename_moves_the_marker(make_sink: MakeSink, ssm: Any) -> None:
    sink = make_sink()
    write(sink, desired(sink, "DB_USER", "alice"), None)
    renamed = desired(sink, "DB_USER", "alice", owner=Ownership("prod-eu", "payments"))
    actual = read(sink, [renamed.address])[renamed.address]
    write(sink, renamed, actual)
    assert tags_of(ssm, renamed.address)["syncd.io/sync"] == "payments"


def test_owned_finds_only_this_instances_parameters_anywhere(make_sink: MakeSink, ssm: Any) -> None:
    sink = make_sink()
    write(sink, desired(sink, "A", "1"), None)
    write(sink, desired(sink, "B", "2", destination=SsmDestination(path="/other/deep/folder/")), None)
    write(sink, desired(sink, "C", "3", owner=Ownership("staging", "payments-db")), None)
    ssm.put_parameter(Name="/prod/db/D", Value="4", Type="String")
    mine = owned(sink, "prod-eu")
    assert sorted(mine) == ["/other/deep/folder/B", "/prod/db/A"]
    assert all(item.owner == OWNER and item.data is None and item.version == "1" for item in mine.values())
    assert list(owned(sink, "staging")) == ["/prod/db/C"]


def test_owned_lists_by_path_under_the_scopes_folder(recorded: tuple[SsmSink, Requests], ssm: Any) -> None:
    """The owned listing filters on the instance tag and a recursive Path on the deepest folder holding the whole
    scope (one listing, never more calls than one of the whole region), and reports only what the scope covers:
    prune never sees an owned parameter outside it."""
    sink, sent = recorded
    for key, path in (("A", "/prod/db/"), ("B", "/prod/dbx/"), ("C", "/prod/web/"), ("D", "/other/")):
        write(sink, desired(sink, key, "1", destination=SsmDestination(path=path)), None)

    def paths() -> list[Any]:
        filters = [r["ParameterFilters"] for op, r in sent if op == "DescribeParameters" and "NextToken" not in r]
        found = [f[1]["Values"] for f in filters if len(f) > 1 and f[1]["Key"] == "Path"]
        sent.clear()
        return found

    sent.clear()
    assert sorted(owned(sink, "prod-eu", ["/prod/db/*", "/prod/web/C"])) == ["/prod/db/A", "/prod/web/C"]
    assert paths() == [["/prod"]]
    assert sorted(owned(sink, "prod-eu", ["/prod/db/*"])) == ["/prod/db/A"]
    assert paths() == [["/prod/db"]]
    assert sorted(owned(sink, "prod-eu", ["/prod/d*"])) == ["/prod/db/A", "/prod/dbx/B"]
    assert paths() == [["/prod"]]
    assert sorted(owned(sink, "prod-eu", ["/prod/db/*", "/other/*"])) == ["/other/D", "/prod/db/A"]
    assert paths() == []


def test_two_observations_of_one_sink_see_an_owner_changed_between_them(make_sink: MakeSink, ssm: Any) -> None:
    """A sink keeps no tags from one observe to the next: an owner changed between them shows."""
    sink = make_sink()
    item = desired(sink, "A", "1")
    write(sink, item, None)
    assert owned(sink, "prod-eu")[item.address].owner == OWNER
    ssm.add_tags_to_resource(
        ResourceType="Parameter", ResourceId=item.address, Tags=[{"Key": "syncd.io/sync", "Value": "moved"}]
    )
    assert owned(sink, "prod-eu")[item.address].owner == Ownership("prod-eu", "moved")
    assert read(sink, [item])[item.address].owner == Ownership("prod-eu", "moved")


# Deleting


def test_delete_removes_and_a_second_delete_succeeds(make_sink: MakeSink, ssm: Any, aws_fake: AwsFake) -> None:
    sink = make_sink()
    item = desired(sink, "A", "1")
    write(sink, item, None)
    actual = read(sink, [item.address])[item.address]
    sink.delete(actual)
    sink.delete(actual)
    assert ssm.get_parameters(Names=[item.address])["InvalidParameters"] == [item.address]
    assert aws_fake.count("DeleteParameter") == 1  # the second finds it gone when it reads the marker again


# Accounts and faults


def test_a_role_in_another_account_writes_there(make_sink: MakeSink, aws_fake: AwsFake) -> None:
    """With role_arn the parameter lands in the role's account, and the default account has none."""
    sink = make_sink(role_arn=ROLE, account_id=OTHER_ACCOUNT)
    write(sink, desired(sink, "DB_USER", "alice"), None)
    there = aws_fake.client("ssm", REGION, **aws_fake.assume_role_credentials(ROLE))
    assert value_of(there, "/prod/db/DB_USER") == "alice"
    assert aws_fake.client("ssm", REGION).describe_parameters()["Parameters"] == []
    assert aws_fake.count("PutParameter", account=OTHER_ACCOUNT) == 1
    assert aws_fake.count("AssumeRole") == 1
    assert read(sink, ["/prod/db/DB_USER"])["/prod/db/DB_USER"].owner == OWNER


def test_throttling_and_server_errors_are_transient_after_one_attempt(make_sink: MakeSink, aws_fake: AwsFake) -> None:
    """A 500 on PutParameter and a throttle on GetParameters are TransientErrors after one attempt each (botocore does
    not retry: the core does); the message names the target and the operation."""
    sink = make_sink()
    aws_fake.fail("PutParameter", 500)
    with pytest.raises(TransientError, match="ssm:PutParameter"):
        write(sink, desired(sink, "A", "1"), None)
    write(sink, desired(sink, "A", "1"), None)
    aws_fake.fail("GetParameters", "ThrottlingException")
    with pytest.raises(TransientError) as info:
        read(sink, ["/prod/db/A"])
    assert "target 'params'" in str(info.value) and "ssm:GetParameters" in str(info.value)
    assert list(read(sink, ["/prod/db/A"])) == ["/prod/db/A"]
    assert aws_fake.count("PutParameter") == 2 and aws_fake.count("GetParameters", faulted=True) == 1


def test_access_denied_names_target_operation_and_action(make_sink: MakeSink, aws_fake: AwsFake) -> None:
    sink = make_sink()
    aws_fake.fail("PutParameter", "AccessDeniedException")
    with pytest.raises(PermanentError) as info:
        write(sink, desired(sink, "DB_PASSWORD", PLANTED), None)
    text = str(info.value)
    assert text.startswith("target 'params', item '/prod/db/DB_PASSWORD': access denied")
    assert "grant the IAM action ssm:PutParameter" in text
    assert PLANTED not in shown(info.value)


def test_kms_refusal_names_the_key_and_the_permissions(make_sink: MakeSink, aws_fake: AwsFake) -> None:
    sink = make_sink(kms_key_id="alias/payments")
    aws_fake.fail("PutParameter", "KMSAccessDeniedException")
    with pytest.raises(PermanentError, match="KMS key alias/payments cannot be used"):
        write(sink, desired(sink, "DB_PASSWORD", PLANTED), None)


# Counting and leaks


def test_a_steady_state_plan_of_200_confirms_tags_in_bulk(
    recorded: tuple[SsmSink, Requests], aws_fake: AwsFake
) -> None:
    """One observation of 200 parameters in sync, as the engine plans: values in batches of 10, tags confirmed by
    DescribeParameters filters 50 names at a time, the owned listing by path, no ListTagsForResource, no write."""
    sink, sent = recorded
    items = [desired(sink, f"KEY_{index:03}", f"value-{index}", tags={"team": "payments"}) for index in range(200)]
    for item in items:
        write(sink, item, None)
    aws_fake.reset_counts()
    sent.clear()
    observation = sink.observe(items, Scope(OWNER.instance, ("/prod/db/*",)))
    actual, mine = observation.items, observation.owned
    assert all(compare(item, actual[item.address]) == () for item in items)
    assert all(found.owner == OWNER and found.tags == {"team": "payments"} for found in actual.values())
    assert set(mine) == set(actual)
    assert aws_fake.writes() == []
    # 4 confirmations of 50 names (Name + 3 tag filters), one page each: all 50 came back, so the NextToken after a
    # full page is not followed. The owned listing, 50 a page: 4 pages, and the empty one moto answers after a full
    # last page (AWS may too).
    assert aws_fake.counts() == {"GetParameters": 200 // 10, "DescribeParameters": 4 + (200 // 50 + 1)}
    first_pages = [r for op, r in sent if op == "DescribeParameters" and "NextToken" not in r]
    assert len(first_pages) == 4 + 1
    assert all(len(r["ParameterFilters"]) <= 10 and r["MaxResults"] == 50 for r in first_pages)
    # The owned listing runs beside the reads, so its first page may come before or after the confirmations'.
    by_name = [r for r in first_pages if r["ParameterFilters"][0]["Key"] == "Name"]
    assert sorted(len(r["ParameterFilters"][0]["Values"]) for r in by_name) == [50, 50, 50, 50]


def test_parameters_whose_tags_differ_from_the_desired_cost_one_tag_read_each(
    make_sink: MakeSink, aws_fake: AwsFake
) -> None:
    """Parameters that do not carry the tags their desired items expect (here another sync's marker) are not
    confirmed in bulk: one ListTagsForResource each, DescribeParameters by name for the metadata, and the owned
    listing reusing the tags read."""
    sink = make_sink()
    items = [desired(sink, f"KEY_{index:02}", f"value-{index}", tags={"team": "payments"}) for index in range(25)]
    for item in items:
        write(sink, item, None)
    aws_fake.reset_counts()
    moved = [replace(item, owner=Ownership(OWNER.instance, "another-sync")) for item in items]
    observation = sink.observe(moved, Scope(OWNER.instance, ("/prod/db/*",)))
    actual, mine = observation.items, observation.owned
    assert all(
        found.owner == OWNER and compare(item, found) == () for item, found in zip(items, actual.values(), strict=True)
    )
    assert set(mine) == set(actual)
    assert aws_fake.writes() == []
    assert aws_fake.count("GetParameters") <= math.ceil(25 / 10)
    assert aws_fake.count("ListTagsForResource") == 25
    # One confirmation that keeps none, the metadata by name, the owned listing: 50 a page, each one page.
    assert aws_fake.count("DescribeParameters") == 1 + 1 + 1
    assert set(aws_fake.counts()) == {"GetParameters", "DescribeParameters", "ListTagsForResource"}


def test_reads_of_absent_parameters_need_no_metadata_or_tags(make_sink: MakeSink, aws_fake: AwsFake) -> None:
    sink = make_sink()
    assert read(sink, [f"/prod/db/MISSING_{index}" for index in range(11)]) == {}
    assert aws_fake.counts() == {"GetParameters": 2}


def test_an_ssm_validation_message_quoting_the_value_never_shows_it(make_sink: MakeSink, aws_fake: AwsFake) -> None:
    """AWS may quote a refused value ("Value '...' at 'value'"): the error keeps the rest of the message only,
    even when the redactor does not know the value."""
    sink = make_sink()
    item = desired(sink, "DB_PASSWORD", PLANTED)
    REDACTOR.clear()
    aws_fake.fail(
        "PutParameter",
        "ValidationException",
        message=f"1 validation error detected: Value '{PLANTED}' at 'value' failed to satisfy constraint: Member "
        "must satisfy regular expression pattern: ^[a-z]+$",
    )
    with pytest.raises(PermanentError) as info:
        write(sink, item, None)
    assert PLANTED not in shown(info.value)
    assert "ssm:PutParameter failed: ValidationException" in str(info.value)
    assert "failed to satisfy constraint" in str(info.value)


def test_any_other_message_naming_the_value_is_scrubbed(make_sink: MakeSink, aws_fake: AwsFake, ssm: Any) -> None:
    """A message that names a value in some other form is scrubbed by the redactor, the second line of defence."""
    sink = make_sink()
    item = desired(sink, "DB_PASSWORD", PLANTED)
    aws_fake.fail("PutParameter", "ParameterMaxVersionLimitExceeded", message=f"no room for {PLANTED} here")
    with pytest.raises(PermanentError) as info:
        write(sink, item, None)
    assert PLANTED not in shown(info.value)
    assert "ParameterMaxVersionLimitExceeded: no room for [REDACTED] here" in str(info.value)
    assert ssm.get_parameters(Names=[item.address])["InvalidParameters"] == [item.address]


def test_a_parameter_whose_marker_changed_since_the_plan_is_neither_overwritten_nor_deleted(
    make_sink: MakeSink, ssm: Any, aws_fake: AwsFake
) -> None:
    """Between plan and apply another instance took the parameter over: the update and the delete both refuse."""
    sink = make_sink()
    item = desired(sink, "A", "ours")
    write(sink, item, None)
    planned = read(sink, [item.address])[item.address]
    ssm.put_parameter(Name=item.address, Value="theirs", Type="SecureString", Overwrite=True)
    ssm.add_tags_to_resource(
        ResourceType="Parameter", ResourceId=item.address, Tags=[{"Key": "syncd.io/instance", "Value": "other"}]
    )
    aws_fake.reset_counts()
    for attempt in (lambda: write(sink, item, planned), lambda: sink.delete(planned)):
        with pytest.raises(ItemMoved, match=r"ownership marker changed since the plan .*instance 'other'"):
            attempt()
    assert value_of(ssm, item.address) == "theirs"
    assert aws_fake.writes() == []
