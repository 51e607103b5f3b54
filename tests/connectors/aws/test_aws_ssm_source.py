"""The `aws-ssm` source against moto's server over HTTP: folders of parameters as secrets, listing, versions, errors."""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import pytest

from connectors.aws import SsmSource, SsmSourceOptions
from syncd.errors import SourceError, TransientError
from syncd.model import SourceSecret
from syncd.secret import Secret
from syncd.testing.contract import Plant, SourceContract
from tests.fakes.aws import AwsFake

REGION = "us-east-1"
PLANTED = "PLANTED-ssm-source-0d5a"


@pytest.fixture
def source(aws_fake: AwsFake) -> Iterator[SsmSource]:
    made = SsmSource(SsmSourceOptions(region=REGION, endpoint_url=aws_fake.endpoint))
    yield made
    made.close()


class TestSsmSourceContract(SourceContract):
    """Each path is a folder; its keys are the parameters directly under it."""

    folder = "/contract/app"
    paths = ("/contract/app/alpha", "/contract/app/beta", "/contract/app/nested/gamma")
    outside = ("/contract/apparel/delta", "/contract/other/epsilon")
    missing = "/contract/app/missing"

    @pytest.fixture
    def source(self, aws_fake: AwsFake) -> Iterator[SsmSource]:
        made = SsmSource(SsmSourceOptions(region=REGION, endpoint_url=aws_fake.endpoint))
        yield made
        made.close()

    @pytest.fixture
    def plant(self, aws_fake: AwsFake) -> Plant:
        client = aws_fake.client("ssm", REGION)

        def put(path: str, data: dict[str, str]) -> None:
            for key, value in data.items():
                client.put_parameter(Name=f"{path}/{key}", Value=value, Type="SecureString", Overwrite=True)

        return put


@pytest.fixture
def ssm(aws_fake: AwsFake) -> Any:
    """A backdoor client: planting parameters is not counted."""
    client = aws_fake.client("ssm", REGION)
    for name, value in {
        "/prod/payments/db/DB_USER": "payments_app",
        "/prod/payments/db/DB_PASSWORD": PLANTED,
        "/prod/payments/db/replica/HOST": "replica.internal",
        "/prod/payments/api/TOKEN": "tok",
        "/prod/ROOT_FLAG": "on",
        "/staging/payments/db/DB_USER": "staging_app",
        "/prodx/other/KEY": "not below /prod/",
        "legacyName": "no hierarchy",
    }.items():
        client.put_parameter(Name=name, Value=value, Type="SecureString" if "db" in name else "String")
    return client


def plain(secret: SourceSecret) -> dict[str, str]:
    return {key: value.reveal() for key, value in secret.data.items()}


@pytest.mark.usefixtures("ssm")
def test_read_gives_the_parameters_directly_under_a_folder_as_keys(source: SsmSource) -> None:
    """Keys are the last level of each name; parameters in sub-folders are not keys; values are decrypted Secrets."""
    secret = source.read("/prod/payments/db")
    assert plain(secret) == {"DB_USER": "payments_app", "DB_PASSWORD": PLANTED}
    assert all(isinstance(value, Secret) for value in secret.data.values())
    assert secret.path == "/prod/payments/db"
    assert secret.version == "DB_PASSWORD:1,DB_USER:1"


@pytest.mark.usefixtures("ssm")
@pytest.mark.parametrize("path", ["prod/payments/db", "/prod/payments/db/"])
def test_read_takes_a_path_with_or_without_its_slashes(source: SsmSource, path: str) -> None:
    """The secret keeps the path it was asked for, which the core maps results by."""
    secret = source.read(path)
    assert secret.path == path
    assert set(secret.data) == {"DB_USER", "DB_PASSWORD"}


def test_version_moves_when_a_parameter_changes_is_added_or_removed(source: SsmSource, ssm: Any) -> None:
    before = source.read("/prod/payments/db").version
    ssm.put_parameter(Name="/prod/payments/db/DB_USER", Value="new_app", Type="SecureString", Overwrite=True)
    changed = source.read("/prod/payments/db").version
    ssm.put_parameter(Name="/prod/payments/db/PORT", Value="5432", Type="String")
    added = source.read("/prod/payments/db").version
    ssm.delete_parameter(Name="/prod/payments/db/PORT")
    removed = source.read("/prod/payments/db").version
    assert len({before, changed, added}) == 3
    assert removed == changed
    assert PLANTED not in f"{before}{changed}{added}"


@pytest.mark.usefixtures("ssm")
@pytest.mark.parametrize("path", ["/prod/missing", "/prod/payments", "/prod/payments/db/DB_USER"])
def test_a_folder_without_parameters_directly_under_it_is_an_error(source: SsmSource, path: str) -> None:
    """A missing folder, one holding only sub-folders, or a parameter's own name: a SourceError naming the path."""
    with pytest.raises(SourceError, match=f"no parameter directly under '{path}'"):
        source.read(path)


def test_a_large_folder_is_read_in_pages_of_ten(source: SsmSource, aws_fake: AwsFake) -> None:
    client = aws_fake.client("ssm", REGION)
    for index in range(25):
        client.put_parameter(Name=f"/big/KEY_{index:02}", Value=f"v{index}", Type="String")
    assert len(source.read("/big").data) == 25
    assert aws_fake.count("GetParametersByPath") == math.ceil(25 / 10)


@pytest.mark.usefixtures("ssm")
def test_list_gives_every_folder_strictly_below_the_prefix_that_holds_parameters(source: SsmSource) -> None:
    """Recursively, sorted, without the prefix itself, a look-alike sibling, or folders holding only folders."""
    assert source.list("/prod/") == ["/prod/payments/api", "/prod/payments/db", "/prod/payments/db/replica"]
    assert source.list("/prod/payments/db/") == ["/prod/payments/db/replica"]
    assert source.list("/nothing/") == []


@pytest.mark.usefixtures("ssm")
def test_list_keeps_the_prefixs_style(source: SsmSource) -> None:
    """A prefix without its leading '/' gives paths without it, as the core's relative paths expect."""
    assert source.list("prod/payments/") == ["prod/payments/api", "prod/payments/db", "prod/payments/db/replica"]


@pytest.mark.usefixtures("ssm")
def test_list_of_the_root_gives_every_folder_but_the_root(source: SsmSource, aws_fake: AwsFake) -> None:
    """The root prefix lists hierarchical names only, reading no value."""
    assert source.list("/") == [
        "/prod",
        "/prod/payments/api",
        "/prod/payments/db",
        "/prod/payments/db/replica",
        "/prodx/other",
        "/staging/payments/db",
    ]
    assert set(aws_fake.counts()) == {"DescribeParameters"}


@pytest.mark.usefixtures("ssm")
def test_read_many_gives_each_path_its_secret_or_its_error(source: SsmSource) -> None:
    found = source.read_many(["/prod/payments/db", "/prod/missing", "/prod/payments/api"])
    assert list(found) == ["/prod/payments/db", "/prod/missing", "/prod/payments/api"]
    assert isinstance(found["/prod/missing"], SourceError)
    api = found["/prod/payments/api"]
    assert isinstance(api, SourceSecret) and plain(api) == {"TOKEN": "tok"}


@pytest.mark.usefixtures("ssm")
def test_access_denied_is_a_source_error_naming_path_and_action(source: SsmSource, aws_fake: AwsFake) -> None:
    aws_fake.fail("GetParametersByPath", "AccessDeniedException")
    with pytest.raises(SourceError) as info:
        source.read("/prod/payments/db")
    text = str(info.value)
    assert "cannot read '/prod/payments/db'" in text and "grant the IAM action ssm:GetParametersByPath" in text


@pytest.mark.usefixtures("ssm")
def test_throttling_is_transient_after_one_attempt(source: SsmSource, aws_fake: AwsFake) -> None:
    """A throttle is a TransientError at once (botocore does not retry: the core does), and the next read works."""
    aws_fake.fail("GetParametersByPath", "ThrottlingException")
    with pytest.raises(TransientError, match="cannot read '/prod/payments/db'"):
        source.read("/prod/payments/db")
    assert len(source.read("/prod/payments/db").data) == 2
    assert aws_fake.count("GetParametersByPath", faulted=True) == 1
    aws_fake.fail("DescribeParameters", "ThrottlingException", times=None)
    with pytest.raises(TransientError, match="cannot read '/prod/'"):
        source.list("/prod/")


@pytest.mark.usefixtures("ssm")
def test_a_kms_failure_names_the_key_the_source_names(aws_fake: AwsFake) -> None:
    """A source's `kms_key_id` is the key its KMS errors name, as a target's is, not the AWS managed key."""
    options = SsmSourceOptions(region=REGION, endpoint_url=aws_fake.endpoint, kms_key_id="alias/prod-params")
    source = SsmSource(options)
    aws_fake.fail("GetParametersByPath", "KMSAccessDeniedException")
    with pytest.raises(SourceError) as info:
        source.read("/prod/payments/db")
    source.close()
    assert "cannot read '/prod/payments/db'" in str(info.value)
    assert "the KMS key alias/prod-params cannot be used" in str(info.value)


def test_a_throttled_read_keeps_the_servers_retry_after(source: SsmSource, monkeypatch: pytest.MonkeyPatch) -> None:
    """A transient error of the SSM API reaches the core's retry layer with the wait the server asked for."""

    def throttled(*args: Any, **kwargs: Any) -> Iterator[dict[str, Any]]:
        raise TransientError("ssm:GetParametersByPath failed: ThrottlingException", retry_after=7.0)

    monkeypatch.setattr(source.session, "entries", throttled)
    with pytest.raises(TransientError) as raised:
        source.read("/prod/db")
    assert raised.value.retry_after == 7.0
