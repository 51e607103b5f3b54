"""The `aws-secrets-manager` sink against moto over HTTP: the contract, batched reads, writes only where it drifted,
deletes with a recovery window, restores, unowned and binary secrets, and errors that name no value."""

from __future__ import annotations

import dataclasses
import functools
import json
import traceback
from collections.abc import Iterator, Mapping
from typing import Any

import pytest
from pydantic import BaseModel

from connectors.aws import SecretsManagerSink, SecretsManagerTargetOptions
from syncd.connector import ItemDefaults, NoOptions, Scope
from syncd.diff import Policy, diff_item
from syncd.errors import ItemMoved, PermanentError, TransientError
from syncd.model import Action, ActualItem, ConflictPolicy, DesiredItem, Granularity, Ownership
from syncd.ratelimit import RateLimiter
from syncd.secret import Secret
from syncd.testing.contract import PlantUnowned, SinkContract
from tests.connectors.aws.support import InFlight, owned, read, write
from tests.fakes.aws import AwsFake


@functools.cache
def backdoor(fake: AwsFake, service: str = "secretsmanager", region: str = "us-east-1", **creds: str) -> Any:
    """A backdoor client on the fake, built once per worker: each new one parses botocore's models again."""
    return fake.client(service, region, **creds)


TARGET = "aws-test"
OWNER = Ownership("prod-eu", "payments-db")
PLANTED = "PLANTED-sm-sink-4b9e"


def make_sink(fake: AwsFake, region: str = "us-east-1", **options: Any) -> SecretsManagerSink:
    return SecretsManagerSink(TARGET, SecretsManagerTargetOptions(region=region, endpoint_url=fake.endpoint, **options))


def item(
    sink: SecretsManagerSink,
    address: str,
    data: Mapping[str, str],
    *,
    granularity: Granularity = Granularity.DOCUMENT,
    owner: Ownership = OWNER,
    tags: Mapping[str, str] | None = None,
    description: str | None = None,
) -> DesiredItem:
    return DesiredItem(
        target=TARGET,
        address=address,
        owner=owner,
        data={key: Secret(value) for key, value in data.items()},
        granularity=granularity,
        tags=dict(tags or {}),
        description=description,
        flags=sink.flags(NoOptions()),
    )


def plain(actual: ActualItem) -> dict[str, str]:
    return {key: value.reveal() for key, value in (actual.data or {}).items()}


def tags_of(fake: AwsFake, name: str, region: str = "us-east-1") -> dict[str, str]:
    answer = backdoor(fake, "secretsmanager", region).describe_secret(SecretId=name)
    return {tag["Key"]: tag["Value"] for tag in answer.get("Tags", [])}


def stored(fake: AwsFake, name: str, region: str = "us-east-1") -> str:
    return backdoor(fake, "secretsmanager", region).get_secret_value(SecretId=name)["SecretString"]


def shows_no_planted_value(exc: BaseException) -> None:
    assert PLANTED not in "".join(traceback.format_exception(exc)) + repr(exc.args)


@pytest.fixture
def sink(aws_fake: AwsFake) -> Iterator[SecretsManagerSink]:
    made = make_sink(aws_fake)
    yield made
    made.close()


# The contract, for both layouts. Deletes are forced here: the contract reads a deleted item as absent, while with
# a recovery window it reads as scheduled for deletion (tested below).


def _plant(fake: AwsFake, granularity: Granularity) -> PlantUnowned:
    """Creates an unmarked secret, or replaces a secret's value and takes its marker off, as another writer would."""

    def plant(address: str, data: Mapping[str, str]) -> None:
        text = next(iter(data.values())) if granularity is Granularity.PER_KEY else json.dumps(dict(data))
        client = backdoor(fake, "secretsmanager")
        try:
            client.create_secret(Name=address, SecretString=text)
        except client.exceptions.ResourceExistsException:
            client.put_secret_value(SecretId=address, SecretString=text)
            client.untag_resource(SecretId=address, TagKeys=["syncd.io/instance", "syncd.io/sync"])

    return plant


class TestDocumentContract(SinkContract):
    """With the default recovery window: a deleted secret reads as scheduled for deletion."""

    granularity = Granularity.DOCUMENT

    @pytest.fixture
    def sink(self, aws_fake: AwsFake) -> Iterator[SecretsManagerSink]:
        made = make_sink(aws_fake)
        yield made
        made.close()

    @pytest.fixture
    def plant_unowned(self, aws_fake: AwsFake) -> PlantUnowned:
        return _plant(aws_fake, Granularity.DOCUMENT)


class TestForcedDeleteContract(TestDocumentContract):
    """With `force_delete: true`: a deleted secret is gone at once."""

    @pytest.fixture
    def sink(self, aws_fake: AwsFake) -> Iterator[SecretsManagerSink]:
        made = make_sink(aws_fake, force_delete=True)
        yield made
        made.close()


class TestPerKeyContract(TestDocumentContract):
    granularity = Granularity.PER_KEY

    @pytest.fixture
    def plant_unowned(self, aws_fake: AwsFake) -> PlantUnowned:
        return _plant(aws_fake, Granularity.PER_KEY)


# Layout


def test_document_is_a_json_object_and_per_key_a_raw_string(aws_fake: AwsFake, sink: SecretsManagerSink) -> None:
    """A document is stored as a JSON object of strings; a per-key item as its raw value."""
    document = item(sink, "prod/db", {"USER": "alice", "PASSWORD": "pw"})
    per_key = item(sink, "prod/token", {"TOKEN": "t0k"}, granularity=Granularity.PER_KEY)
    write(sink, document, None)
    write(sink, per_key, None)
    assert json.loads(stored(aws_fake, "prod/db")) == {"USER": "alice", "PASSWORD": "pw"}
    assert stored(aws_fake, "prod/token") == "t0k"
    found = read(sink, [document, per_key])
    assert plain(found["prod/db"]) == {"USER": "alice", "PASSWORD": "pw"}
    assert plain(found["prod/token"]) == {"token": "t0k"}


def test_a_raw_value_reads_under_the_last_name_segment(aws_fake: AwsFake, sink: SecretsManagerSink) -> None:
    """Text that is not a JSON object of strings reads as one value keyed by the name's last segment."""
    client = backdoor(aws_fake, "secretsmanager")
    client.create_secret(Name="prod/app/API_KEY", SecretString="plain text")
    client.create_secret(Name="prod/app/rds", SecretString='{"host": "db", "port": 5432}')
    found = read(sink, ["prod/app/API_KEY", "prod/app/rds"])
    assert plain(found["prod/app/API_KEY"]) == {"API_KEY": "plain text"}
    assert plain(found["prod/app/rds"]) == {"rds": '{"host": "db", "port": 5432}'}


def test_a_per_key_json_value_reads_raw_when_desired_per_key(aws_fake: AwsFake, sink: SecretsManagerSink) -> None:
    """A per-key value that is itself a JSON object of strings compares as the string it is: no endless drift.

    `observe` learns the layout from the desired items of the same call; nothing is remembered between calls."""
    key_file = json.dumps({"type": "service_account", "private_key": "k"})
    desired = item(sink, "prod/gcp-key", {"KEY": key_file}, granularity=Granularity.PER_KEY)
    write(sink, desired, None)
    as_document = item(sink, "prod/gcp-key", {"KEY": key_file})
    assert sorted(plain(read(sink, [as_document])["prod/gcp-key"])) == ["private_key", "type"]
    found = read(sink, [desired])["prod/gcp-key"]
    assert list(plain(found).values()) == [key_file]
    assert sorted(plain(read(sink, [as_document])["prod/gcp-key"])) == ["private_key", "type"]


# Reads


def test_observe_batches_values_and_lists_metadata_once(aws_fake: AwsFake, sink: SecretsManagerSink) -> None:
    """45 owned secrets are observed in 3 BatchGetSecretValue calls and 1 ListSecrets, with no GetSecretValue or
    Describe: one listing answers both the desired items' metadata and what the instance owns."""
    for index in range(45):
        write(sink, item(sink, f"prod/s{index:02}", {"K": f"v{index}"}, tags={"team": "a"}), None)
    aws_fake.reset_counts()
    wanted = [item(sink, f"prod/s{index:02}", {"K": "x"}) for index in range(45)] + [item(sink, "prod/absent", {})]
    observation = sink.observe(wanted, Scope(OWNER.instance, ("prod/*",)))
    found, owned = observation.items, observation.owned
    assert len(found) == 45 and len(owned) == 45
    assert found["prod/s07"].owner == OWNER and found["prod/s07"].tags["team"] == "a"
    assert found["prod/s07"].version and owned["prod/s07"].data is None
    assert aws_fake.counts() == {"BatchGetSecretValue": 3, "ListSecrets": 1}


def _plant_owned(fake: AwsFake, count: int) -> None:
    client = backdoor(fake, "secretsmanager")
    marker = [{"Key": "syncd.io/instance", "Value": OWNER.instance}, {"Key": "syncd.io/sync", "Value": OWNER.sync}]
    for index in range(count):
        client.create_secret(Name=f"prod/p{index:03}", SecretString=json.dumps({"K": f"v{index}"}), Tags=marker)


def test_observe_reads_batches_and_the_listing_side_by_side_bounded(
    aws_fake: AwsFake, sink: SecretsManagerSink
) -> None:
    """The BatchGetSecretValue chunks run side by side with each other and with the ListSecrets paging, at most
    the sink's `max_concurrency` (8) calls in flight, each call once."""
    _plant_owned(aws_fake, 170)
    probe = InFlight(expected=10)
    sink.session.client("secretsmanager").meta.events.register("before-send.secretsmanager", probe)
    aws_fake.reset_counts()
    wanted = [item(sink, f"prod/p{index:03}", {"K": "x"}) for index in range(170)]
    observation = sink.observe(wanted, Scope(OWNER.instance, ("prod/*",)))
    assert len(observation.items) == 170 and len(observation.owned) == 170
    # 9 batches and 1 listing (2 pages, one after the other) could run at once: the bound holds them to 8.
    assert probe.peak == SecretsManagerSink.capabilities.max_concurrency == 8
    assert aws_fake.counts() == {"BatchGetSecretValue": 9, "ListSecrets": 2}


def test_observe_keeps_to_the_targets_concurrency(aws_fake: AwsFake, sink: SecretsManagerSink) -> None:
    """A target whose `concurrency` is 3 has at most 3 of the observation's calls in flight at once, and still
    makes each call once."""
    _plant_owned(aws_fake, 170)
    probe = InFlight(expected=4, patience=0.5)
    sink.session.client("secretsmanager").meta.events.register("before-send.secretsmanager", probe)
    aws_fake.reset_counts()
    wanted = [item(sink, f"prod/p{index:03}", {"K": "x"}) for index in range(170)]
    observation = sink.observe(wanted, Scope(OWNER.instance, ("prod/*",), concurrency=3))
    assert len(observation.items) == 170
    assert probe.peak == 3
    assert aws_fake.counts() == {"BatchGetSecretValue": 9, "ListSecrets": 2}


def test_calls_side_by_side_keep_to_the_rate_limit(aws_fake: AwsFake) -> None:
    """Side by side, the observation's 11 calls still take one token each from the target's limiter: with a burst
    of 1 at 2 calls a second, on a clock that stands still, the calls after the first are told to wait 0.5 s, 1 s,
    ... 5 s, as one after another would be."""
    _plant_owned(aws_fake, 170)
    waits: list[float] = []
    limiter = RateLimiter(2.0, burst=1, clock=lambda: 0.0, sleep=waits.append)
    options = SecretsManagerTargetOptions(region="us-east-1", endpoint_url=aws_fake.endpoint)
    sink = SecretsManagerSink(TARGET, options, SecretsManagerSink.connect(TARGET, options, limiter=limiter))
    aws_fake.reset_counts()
    try:
        sink.observe([item(sink, f"prod/p{index:03}", {"K": "x"}) for index in range(170)], Scope(OWNER.instance))
    finally:
        sink.close()
    assert sum(aws_fake.counts().values()) == 11
    assert sorted(waits) == [step / 2 for step in range(1, 11)]


def test_calls_side_by_side_check_the_account_once(aws_fake: AwsFake) -> None:
    """With `account_id` set, the first observation's parallel calls check the account with one GetCallerIdentity,
    not one per thread."""
    _plant_owned(aws_fake, 170)
    sink = make_sink(aws_fake, account_id="123456789012")
    aws_fake.reset_counts()
    try:
        observation = sink.observe([item(sink, f"prod/p{index:03}", {"K": "x"}) for index in range(170)], Scope("i"))
    finally:
        sink.close()
    assert len(observation.items) == 170
    assert aws_fake.count("GetCallerIdentity") == 1


def test_observing_side_by_side_finds_what_one_call_at_a_time_finds(
    aws_fake: AwsFake, sink: SecretsManagerSink
) -> None:
    """The parallel observation equals one made a call at a time: values, metadata, owned items, a secret
    scheduled for deletion, an unmarked one and an absent one."""
    _plant_owned(aws_fake, 45)
    client = backdoor(aws_fake, "secretsmanager")
    client.create_secret(Name="prod/unmarked", SecretString="plain")
    client.delete_secret(SecretId="prod/p003", RecoveryWindowInDays=7)

    class OneAtATime(SecretsManagerSink):
        capabilities = dataclasses.replace(SecretsManagerSink.capabilities, max_concurrency=1)

    sequential = OneAtATime(TARGET, sink.options)
    names = [f"prod/p{index:03}" for index in range(45)] + ["prod/unmarked", "prod/absent"]
    scope = Scope(OWNER.instance, ("prod/*",))
    try:
        expected = sequential.observe([item(sink, name, {"K": "x"}) for name in names], scope)
    finally:
        sequential.close()
    observation = sink.observe([item(sink, name, {"K": "x"}) for name in names], scope)
    assert observation == expected
    assert observation.items["prod/p003"].pending_deletion and "prod/absent" not in observation.items
    assert observation.items["prod/unmarked"].owner is None and len(observation.owned) == 44


def test_each_observation_lists_afresh(aws_fake: AwsFake, sink: SecretsManagerSink) -> None:
    """A sink object keeps nothing between runs: every observe lists again and sees what changed since."""
    write(sink, item(sink, "prod/a", {"K": "v"}), None)
    assert set(owned(sink, OWNER.instance)) == {"prod/a"}
    write(sink, item(sink, "prod/b", {"K": "v"}), None)
    backdoor(aws_fake, "secretsmanager").put_secret_value(SecretId="prod/a", SecretString=json.dumps({"K": "moved"}))
    aws_fake.reset_counts()
    assert set(owned(sink, OWNER.instance)) == {"prod/a", "prod/b"}
    assert plain(read(sink, ["prod/a"])["prod/a"]) == {"K": "moved"}
    assert aws_fake.count("ListSecrets") == 2


def test_observe_lists_only_the_scopes_name_prefixes(aws_fake: AwsFake, sink: SecretsManagerSink) -> None:
    """ListSecrets carries the scope's name prefixes as a `name` filter beside the marker's tag-key filter, and an
    owned secret outside the scope is not reported: prune never sees it."""
    for name in ("prod/a", "prod/b", "staging/c", "other/d"):
        write(sink, item(sink, name, {"K": "v"}), None)
    sent: list[dict[str, Any]] = []
    sink.session.client("secretsmanager").meta.events.register(
        "before-parameter-build.secrets-manager.ListSecrets", lambda params, **_: sent.append(dict(params))
    )
    assert set(owned(sink, OWNER.instance, ["prod/*", "staging/c"])) == {"prod/a", "prod/b", "staging/c"}
    assert sent[0]["Filters"] == [
        {"Key": "tag-key", "Values": ["syncd.io/instance"]},
        {"Key": "name", "Values": ["prod/", "staging/c"]},
    ]
    assert set(owned(sink, OWNER.instance, ["prod/a"])) == {"prod/a"}


def test_more_than_ten_prefixes_fall_back_to_the_tag_filter_alone(aws_fake: AwsFake, sink: SecretsManagerSink) -> None:
    """ListSecrets takes at most 10 values a filter: past that the listing goes by the marker's tag and the scope
    is applied to what comes back."""
    for name in ("app00/a", "app11/b", "else/c"):
        write(sink, item(sink, name, {"K": "v"}), None)
    patterns = [f"app{index:02}/*" for index in range(12)]
    aws_fake.reset_counts()
    assert set(owned(sink, OWNER.instance, patterns)) == {"app00/a", "app11/b"}
    assert aws_fake.counts() == {"ListSecrets": 1}


def test_an_unowned_secret_costs_one_describe(aws_fake: AwsFake, sink: SecretsManagerSink) -> None:
    """A secret without the marker is described for its tags and description; absent ones cost nothing more."""
    backdoor(aws_fake, "secretsmanager").create_secret(
        Name="prod/theirs", SecretString="x", Description="by hand", Tags=[{"Key": "team", "Value": "b"}]
    )
    found = read(sink, ["prod/theirs", "prod/absent"])
    assert set(found) == {"prod/theirs"}
    theirs = found["prod/theirs"]
    assert theirs.owner is None and theirs.description == "by hand" and theirs.tags == {"team": "b"}
    assert aws_fake.count("DescribeSecret") == 1


def test_another_instances_secret_reads_with_its_owner(aws_fake: AwsFake, sink: SecretsManagerSink) -> None:
    """A secret marked by another instance reads with that owner (the core makes it a conflict)."""
    other = Ownership("staging", "payments-db")
    write(sink, item(sink, "prod/shared", {"K": "v"}, owner=other), None)
    assert read(sink, ["prod/shared"])["prod/shared"].owner == other
    assert owned(sink, OWNER.instance) == {}


def test_a_binary_secret_is_a_read_error_and_never_written(aws_fake: AwsFake, sink: SecretsManagerSink) -> None:
    """A SecretBinary secret at a managed name stops the read with a message naming it; nothing is written."""
    backdoor(aws_fake, "secretsmanager").create_secret(Name="prod/cert", SecretBinary=b"\x00\x01")
    with pytest.raises(PermanentError) as info:
        read(sink, ["prod/cert", "prod/other"])
    assert "'prod/cert'" in str(info.value) and "binary" in str(info.value)
    assert aws_fake.writes() == []


def test_access_denied_on_the_batch_names_the_action(aws_fake: AwsFake, sink: SecretsManagerSink) -> None:
    """A refused BatchGetSecretValue is a permanent error naming target, operation and IAM action."""
    aws_fake.fail("BatchGetSecretValue", error="AccessDeniedException", times=None)
    with pytest.raises(PermanentError) as info:
        read(sink, ["prod/a"])
    text = str(info.value)
    assert text.startswith(f"target {TARGET!r}")
    assert "grant the IAM action secretsmanager:BatchGetSecretValue" in text


def test_a_server_error_on_the_listing_is_transient(aws_fake: AwsFake) -> None:
    """A 500 is a TransientError, which the core retries."""
    sink = make_sink(aws_fake)
    aws_fake.fail("ListSecrets", error=500, times=None)
    with pytest.raises(TransientError):
        read(sink, ["prod/a"])


# Writes: only what drifted


def test_a_tag_change_calls_only_tag_resource(aws_fake: AwsFake, sink: SecretsManagerSink) -> None:
    """Changing one tag sends TagResource with that tag only: no PutSecretValue, no UpdateSecret, no untag."""
    write(sink, item(sink, "prod/db", {"K": "v"}, tags={"team": "a", "env": "prod"}, description="d"), None)
    backdoor(aws_fake, "secretsmanager").tag_resource(SecretId="prod/db", Tags=[{"Key": "by-hand", "Value": "kept"}])
    actual = read(sink, ["prod/db"])["prod/db"]
    aws_fake.reset_counts()
    write(sink, item(sink, "prod/db", {"K": "v"}, tags={"team": "b", "env": "prod"}, description="d"), actual)
    # One DescribeSecret reads the marker again before anything is written.
    assert aws_fake.counts() == {"DescribeSecret": 1, "TagResource": 1}
    assert tags_of(aws_fake, "prod/db") == {
        "team": "b",
        "env": "prod",
        "by-hand": "kept",
        "syncd.io/instance": "prod-eu",
        "syncd.io/sync": "payments-db",
    }


def test_a_value_change_calls_only_put_secret_value(aws_fake: AwsFake, sink: SecretsManagerSink) -> None:
    """A new value is one PutSecretValue; the version moves."""
    write(sink, item(sink, "prod/db", {"K": "v1"}, tags={"team": "a"}), None)
    actual = read(sink, ["prod/db"])["prod/db"]
    aws_fake.reset_counts()
    write(sink, item(sink, "prod/db", {"K": "v2"}, tags={"team": "a"}), actual)
    assert aws_fake.counts() == {"DescribeSecret": 1, "PutSecretValue": 1}
    assert json.loads(stored(aws_fake, "prod/db")) == {"K": "v2"}
    assert read(sink, ["prod/db"])["prod/db"].version != actual.version


def test_a_description_change_calls_only_update_secret(aws_fake: AwsFake, sink: SecretsManagerSink) -> None:
    """A new description is one UpdateSecret; no description in the manifest leaves the secret's alone."""
    write(sink, item(sink, "prod/db", {"K": "v"}, description="old"), None)
    actual = read(sink, ["prod/db"])["prod/db"]
    aws_fake.reset_counts()
    write(sink, item(sink, "prod/db", {"K": "v"}, description="new"), actual)
    write(sink, item(sink, "prod/db", {"K": "v"}, description=None), read(sink, ["prod/db"])["prod/db"])
    assert aws_fake.count("UpdateSecret") == 1 and aws_fake.count("PutSecretValue") == 0
    assert read(sink, ["prod/db"])["prod/db"].description == "new"


def test_moving_an_item_to_another_sync_restamps_the_marker(aws_fake: AwsFake, sink: SecretsManagerSink) -> None:
    """A new owner sync is written with TagResource on the marker alone."""
    write(sink, item(sink, "prod/db", {"K": "v"}), None)
    actual = read(sink, ["prod/db"])["prod/db"]
    aws_fake.reset_counts()
    write(sink, item(sink, "prod/db", {"K": "v"}, owner=Ownership("prod-eu", "db-v2")), actual)
    assert aws_fake.counts() == {"DescribeSecret": 1, "TagResource": 1}
    assert tags_of(aws_fake, "prod/db")["syncd.io/sync"] == "db-v2"


def test_adopting_writes_the_value_before_the_marker(aws_fake: AwsFake, sink: SecretsManagerSink) -> None:
    """An adoption calls UpdateSecret, PutSecretValue and TagResource in that order: until the last call the secret
    holds no marker, so a write stopped half-way never leaves the marker on a value syncd did not write."""
    backdoor(aws_fake, "secretsmanager").create_secret(Name="prod/db", SecretString=json.dumps({"K": "theirs"}))
    actual = read(sink, ["prod/db"])["prod/db"]
    aws_fake.reset_counts()
    write(sink, item(sink, "prod/db", {"K": "ours"}, description="adopted"), actual)
    assert [call.operation for call in aws_fake.writes()] == ["UpdateSecret", "PutSecretValue", "TagResource"]
    assert tags_of(aws_fake, "prod/db") == {"syncd.io/instance": "prod-eu", "syncd.io/sync": "payments-db"}


def test_a_retried_adoption_accepts_the_marker_its_lost_answer_stamped(aws_fake: AwsFake) -> None:
    """When the answer to the adopting TagResource is lost, the retried write finds this item's own marker where the
    plan saw none, and finishes instead of calling it someone else's change."""
    sink = make_sink(aws_fake)
    backdoor(aws_fake, "secretsmanager").create_secret(Name="prod/db", SecretString=json.dumps({"K": "theirs"}))
    actual = read(sink, ["prod/db"])["prod/db"]
    wanted = item(sink, "prod/db", {"K": "ours"})
    aws_fake.fail_at(2, "lose", service="secretsmanager", writes_only=True)
    with pytest.raises(TransientError):
        write(sink, wanted, actual)
    assert tags_of(aws_fake, "prod/db")["syncd.io/instance"] == "prod-eu"
    write(sink, wanted, actual)
    assert json.loads(stored(aws_fake, "prod/db")) == {"K": "ours"}


def test_a_delete_retried_after_its_lost_answer_counts_as_done(aws_fake: AwsFake) -> None:
    """A DeleteSecret whose answer was lost is sent again by the core's retry; finding the secret already scheduled
    for deletion, that retry is the delete done, not a failure."""
    sink = make_sink(aws_fake)
    write(sink, item(sink, "prod/db", {"K": "v"}), None)
    actual = read(sink, ["prod/db"])["prod/db"]
    aws_fake.fail_at(1, "lose", service="secretsmanager", writes_only=True)
    with pytest.raises(TransientError):
        sink.delete(actual)
    sink.delete(actual)
    assert aws_fake.count("DeleteSecret") == 1
    assert read(sink, ["prod/db"])["prod/db"].pending_deletion


def test_a_delete_refused_for_another_reason_still_fails(aws_fake: AwsFake, sink: SecretsManagerSink) -> None:
    """An InvalidRequestException on a secret that is not scheduled for deletion is reported, not taken as done."""
    write(sink, item(sink, "prod/db", {"K": "v"}), None)
    actual = read(sink, ["prod/db"])["prod/db"]
    aws_fake.fail("DeleteSecret", error="InvalidRequestException")
    with pytest.raises(PermanentError, match="DeleteSecret failed: InvalidRequestException"):
        sink.delete(actual)
    assert not read(sink, ["prod/db"])["prod/db"].pending_deletion


def test_a_create_that_finds_its_own_earlier_attempt_finishes_it(aws_fake: AwsFake, sink: SecretsManagerSink) -> None:
    """A retried create whose first attempt landed updates the secret instead of failing."""
    write(sink, item(sink, "prod/db", {"K": "v1"}), None)
    write(sink, item(sink, "prod/db", {"K": "v2"}), None)
    assert json.loads(stored(aws_fake, "prod/db")) == {"K": "v2"}


def test_a_create_that_finds_its_own_secret_scheduled_for_deletion_restores_it(
    aws_fake: AwsFake, sink: SecretsManagerSink
) -> None:
    """AWS refuses a create over a name scheduled for deletion with InvalidRequestException (moto says
    ResourceExistsException): when that secret is this instance's own, the create restores and updates it."""
    write(sink, item(sink, "prod/db", {"K": "v1"}), None)
    sink.delete(read(sink, ["prod/db"])["prod/db"])
    aws_fake.fail("CreateSecret", error="InvalidRequestException")
    write(sink, item(sink, "prod/db", {"K": "v2"}), None)
    restored = read(sink, ["prod/db"])["prod/db"]
    assert not restored.pending_deletion and plain(restored) == {"K": "v2"}


def test_a_create_refused_for_another_reason_names_the_error(aws_fake: AwsFake, sink: SecretsManagerSink) -> None:
    """An InvalidRequestException on a create where no secret exists is reported as it is, not as a taken name."""
    aws_fake.fail("CreateSecret", error="InvalidRequestException")
    with pytest.raises(PermanentError, match="CreateSecret failed: InvalidRequestException"):
        write(sink, item(sink, "prod/db", {"K": "v"}), None)


def test_a_create_that_finds_someone_elses_secret_leaves_it(aws_fake: AwsFake, sink: SecretsManagerSink) -> None:
    """A secret someone else created after the plan is never overwritten by the planned create."""
    backdoor(aws_fake, "secretsmanager").create_secret(Name="prod/db", SecretString="theirs")
    with pytest.raises(PermanentError) as info:
        write(sink, item(sink, "prod/db", {"K": PLANTED}), None)
    assert "created by someone else" in str(info.value)
    shows_no_planted_value(info.value)
    assert stored(aws_fake, "prod/db") == "theirs"


def test_check_refuses_a_bad_name_without_a_call_or_a_value(aws_fake: AwsFake, sink: SecretsManagerSink) -> None:
    """check (which the core runs once, before any write) refuses a bad name, naming no value and calling nothing."""
    problems = sink.check(item(sink, "prod/bad name", {"K": PLANTED}))
    assert problems and "'prod/bad name'" in problems[0]
    assert not any(PLANTED in problem for problem in problems)
    assert aws_fake.calls == []


# Deletes, recovery window, restore


def test_delete_schedules_the_deletion_with_the_recovery_window(aws_fake: AwsFake) -> None:
    """A delete keeps the secret restorable: DeletedDate is set and the secret reads as pending deletion."""
    sink = make_sink(aws_fake, recovery_window_days=7)
    write(sink, item(sink, "prod/db", {"K": "v"}), None)
    sink.delete(read(sink, ["prod/db"])["prod/db"])
    answer = backdoor(aws_fake, "secretsmanager").describe_secret(SecretId="prod/db")
    window = answer["DeletedDate"] - answer["LastChangedDate"]
    assert 6 <= window.days <= 7
    pending = read(sink, ["prod/db"])["prod/db"]
    assert pending.pending_deletion and pending.owner == OWNER and pending.data is None
    assert owned(sink, OWNER.instance) == {}
    aws_fake.reset_counts()
    sink.delete(pending)
    assert aws_fake.writes() == []


def test_writing_a_pending_item_restores_it(aws_fake: AwsFake, sink: SecretsManagerSink) -> None:
    """Creating an item again that is scheduled for deletion restores it, then writes the value."""
    write(sink, item(sink, "prod/db", {"K": "v1"}), None)
    sink.delete(read(sink, ["prod/db"])["prod/db"])
    pending = read(sink, ["prod/db"])["prod/db"]
    aws_fake.reset_counts()
    write(sink, item(sink, "prod/db", {"K": "v2"}), pending)
    assert [call.operation for call in aws_fake.writes()] == ["RestoreSecret", "PutSecretValue"]
    found = read(sink, ["prod/db"])["prod/db"]
    assert not found.pending_deletion and plain(found) == {"K": "v2"}


def test_an_unmarked_secret_scheduled_for_deletion_is_a_conflict(aws_fake: AwsFake, sink: SecretsManagerSink) -> None:
    """Someone else's secret in its recovery window reads as pending with no owner: the diff makes it a conflict,
    even under on_conflict: adopt, since its owner meant to delete it."""
    client = backdoor(aws_fake, "secretsmanager")
    client.create_secret(Name="prod/theirs", SecretString="x")
    client.delete_secret(SecretId="prod/theirs", RecoveryWindowInDays=7)
    found = read(sink, ["prod/theirs"])["prod/theirs"]
    assert (found.owner, found.data, found.pending_deletion) == (None, None, True)
    desired = item(sink, "prod/theirs", {"K": "mine"})
    change = diff_item("prod-eu", desired, found, Policy(on_conflict=ConflictPolicy.ADOPT))
    assert change.action is Action.CONFLICT


def test_writing_over_an_unmarked_scheduled_secret_is_refused(aws_fake: AwsFake, sink: SecretsManagerSink) -> None:
    """Whatever a plan says, the sink never restores a secret someone else scheduled for deletion."""
    client = backdoor(aws_fake, "secretsmanager")
    client.create_secret(Name="prod/theirs", SecretString="x")
    client.delete_secret(SecretId="prod/theirs", RecoveryWindowInDays=7)
    with pytest.raises(ItemMoved, match=r"scheduled for deletion by its owner .nobody syncd knows.; it was left alone"):
        write(sink, item(sink, "prod/theirs", {"K": "mine"}), read(sink, ["prod/theirs"])["prod/theirs"])
    assert "DeletedDate" in client.describe_secret(SecretId="prod/theirs")
    assert aws_fake.writes() == []


def test_a_secret_whose_marker_changed_since_the_plan_is_not_overwritten(
    aws_fake: AwsFake, sink: SecretsManagerSink
) -> None:
    """Between plan and apply another instance took the secret over: the update refuses and writes nothing."""
    write(sink, item(sink, "prod/db", {"K": "v1"}), None)
    planned = read(sink, ["prod/db"])["prod/db"]
    backdoor(aws_fake, "secretsmanager").tag_resource(
        SecretId="prod/db", Tags=[{"Key": "syncd.io/instance", "Value": "someone-else"}]
    )
    aws_fake.reset_counts()
    with pytest.raises(ItemMoved, match=r"marker changed since the plan .*instance 'someone-else'"):
        write(sink, item(sink, "prod/db", {"K": "v2"}), planned)
    assert aws_fake.writes() == []
    assert json.loads(stored(aws_fake, "prod/db")) == {"K": "v1"}


def test_another_instances_pending_secret_is_never_restored(aws_fake: AwsFake, sink: SecretsManagerSink) -> None:
    """Another instance's secret in its recovery window reads as pending with that owner, and a write refuses it."""
    other = Ownership("staging", "payments-db")
    write(sink, item(sink, "prod/db", {"K": "v"}, owner=other), None)
    sink.delete(read(sink, ["prod/db"])["prod/db"])
    pending = read(sink, ["prod/db"])["prod/db"]
    assert pending.pending_deletion and pending.owner == other
    aws_fake.reset_counts()
    with pytest.raises(ItemMoved, match=r"scheduled for deletion by its owner .syncd instance 'staging'."):
        write(sink, item(sink, "prod/db", {"K": PLANTED}), pending)
    assert aws_fake.writes() == []


def test_delete_leaves_a_secret_whose_marker_changed(aws_fake: AwsFake, sink: SecretsManagerSink) -> None:
    """A secret taken over by someone else since the plan is not deleted."""
    write(sink, item(sink, "prod/db", {"K": "v"}), None)
    actual = read(sink, ["prod/db"])["prod/db"]
    backdoor(aws_fake, "secretsmanager").tag_resource(
        SecretId="prod/db", Tags=[{"Key": "syncd.io/instance", "Value": "someone-else"}]
    )
    with pytest.raises(ItemMoved, match="ownership marker changed since the plan"):
        sink.delete(actual)
    assert aws_fake.count("DeleteSecret") == 0


def test_delete_leaves_a_secret_given_a_new_value_since_the_plan(aws_fake: AwsFake, sink: SecretsManagerSink) -> None:
    """A secret that still carries the marker but holds a version someone wrote since the plan is not deleted."""
    write(sink, item(sink, "prod/db", {"K": "v"}), None)
    planned = read(sink, ["prod/db"])["prod/db"]
    backdoor(aws_fake, "secretsmanager").put_secret_value(SecretId="prod/db", SecretString=json.dumps({"K": "new"}))
    with pytest.raises(ItemMoved, match="version moved from"):
        sink.delete(planned)
    assert aws_fake.count("DeleteSecret") == 0


def test_delete_of_an_absent_secret_succeeds(aws_fake: AwsFake, sink: SecretsManagerSink) -> None:
    """Deleting a secret that is not there is success, with no DeleteSecret call."""
    sink.delete(ActualItem(address="prod/gone", owner=OWNER))
    assert aws_fake.count("DeleteSecret") == 0


# KMS


def _kms_key(fake: AwsFake, alias: str) -> dict[str, str]:
    kms = backdoor(fake, "kms")
    key = kms.create_key(Description="syncd test")["KeyMetadata"]
    kms.create_alias(AliasName=alias, TargetKeyId=key["KeyId"])
    return key


def test_the_targets_kms_key_encrypts_new_secrets(aws_fake: AwsFake) -> None:
    """A secret created under a target with kms_key_id carries that key, and reads with no KMS drift."""
    key = _kms_key(aws_fake, "alias/payments")
    sink = make_sink(aws_fake, kms_key_id=key["Arn"])
    desired = item(sink, "prod/db", {"K": "v"})
    write(sink, desired, None)
    answer = backdoor(aws_fake, "secretsmanager").describe_secret(SecretId="prod/db")
    assert key["KeyId"] in answer["KmsKeyId"]
    assert read(sink, ["prod/db"])["prod/db"].flags == desired.flags == {"kms_key_id": key["KeyId"]}


def test_a_new_kms_key_is_one_update_secret(aws_fake: AwsFake) -> None:
    """Pointing the target at another key re-keys existing secrets with UpdateSecret alone."""
    old, new = _kms_key(aws_fake, "alias/old"), _kms_key(aws_fake, "alias/new")
    first = make_sink(aws_fake, kms_key_id=old["Arn"])
    write(first, item(first, "prod/db", {"K": "v"}), None)
    second = make_sink(aws_fake, kms_key_id=new["Arn"])
    desired = item(second, "prod/db", {"K": "v"})
    actual = read(second, ["prod/db"])["prod/db"]
    assert actual.flags != desired.flags
    aws_fake.reset_counts()
    write(second, desired, actual)
    assert aws_fake.counts() == {"DescribeSecret": 1, "UpdateSecret": 1}
    assert read(second, ["prod/db"])["prod/db"].flags == desired.flags


def test_an_alias_is_not_compared_with_a_key_id(aws_fake: AwsFake) -> None:
    """An alias in the manifest and a key id reported by AWS cannot be matched offline: no drift is invented."""
    key = _kms_key(aws_fake, "alias/payments")
    backdoor(aws_fake, "secretsmanager").create_secret(Name="prod/db", SecretString="x", KmsKeyId=key["Arn"])
    sink = make_sink(aws_fake, kms_key_id="alias/payments")
    assert read(sink, ["prod/db"])["prod/db"].flags == {"kms_key_id": "alias/payments"}


def test_a_secret_on_the_default_key_drifts_to_the_targets_key(aws_fake: AwsFake) -> None:
    """A secret encrypted with aws/secretsmanager reads as a different key when the target names one."""
    backdoor(aws_fake, "secretsmanager").create_secret(Name="prod/db", SecretString="x")
    assert read(make_sink(aws_fake, kms_key_id="alias/payments"), ["prod/db"])["prod/db"].flags == {
        "kms_key_id": "alias/aws/secretsmanager"
    }
    assert read(make_sink(aws_fake), ["prod/db"])["prod/db"].flags == {}


def test_kms_failures_explain_the_key_and_its_permissions(aws_fake: AwsFake) -> None:
    """EncryptionFailure, and an AccessDenied about KMS, name the key and the KMS actions the caller needs."""
    sink = make_sink(aws_fake, kms_key_id="alias/payments")
    aws_fake.fail("CreateSecret", error="EncryptionFailure", message="KMS key is disabled")
    with pytest.raises(PermanentError) as info:
        write(sink, item(sink, "prod/db", {"K": PLANTED}), None)
    assert "the KMS key alias/payments cannot be used" in str(info.value) and "kms:GenerateDataKey" in str(info.value)
    assert str(info.value).startswith(f"target {TARGET!r}, item 'prod/db'")
    shows_no_planted_value(info.value)
    write(sink, item(sink, "prod/db", {"K": "v1"}), None)
    aws_fake.fail("PutSecretValue", error="AccessDeniedException", message="Access to KMS is not allowed")
    with pytest.raises(PermanentError, match="the KMS key alias/payments cannot be used"):
        write(sink, item(sink, "prod/db", {"K": "v2"}), read(sink, ["prod/db"])["prod/db"])


# Small things


def test_describe_defaults_and_options(aws_fake: AwsFake) -> None:
    """describe names the service, region and account; the target's tags and description are the defaults."""
    sink = make_sink(aws_fake, role_arn="arn:aws:iam::222222222222:role/syncd", tags={"team": "a"}, description="d")
    assert sink.describe() == "secretsmanager us-east-1 (222222222222)"
    assert make_sink(aws_fake).describe() == "secretsmanager us-east-1"
    assert sink.item_defaults() == ItemDefaults({"team": "a"}, "d")
    assert sink.flags(NoOptions()) == {}
    assert aws_fake.calls == []


@pytest.mark.parametrize("days", [6, 31])
def test_the_recovery_window_must_be_7_to_30_days(days: int) -> None:
    with pytest.raises(ValueError, match="recovery_window_days"):
        SecretsManagerTargetOptions(region="us-east-1", recovery_window_days=days)


def test_the_sink_takes_no_destination_options() -> None:
    """A `to` entry has only the core's fields (name, granularity, tags, description)."""
    assert issubclass(SecretsManagerSink.Destination, BaseModel)
    assert SecretsManagerSink.Destination.model_fields == {}
    assert SecretsManagerSink.capabilities.granularities == (Granularity.DOCUMENT, Granularity.PER_KEY)
