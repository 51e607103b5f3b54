"""The `aws-ssm` rules checked before any call, its options models, and its IAM statements. No server."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import ValidationError

from connectors.aws import SsmDestination, SsmSink, SsmSource, SsmSourceOptions, SsmTargetOptions, ssm_spec
from connectors.aws.ssm_rules import ADVANCED, STANDARD, tier_for
from syncd.model import DesiredItem, Granularity, Ownership
from syncd.secret import Secret

TARGET = "params-dr"


def statements_of(part: SsmSink | SsmSource, patterns: list[str]) -> list[dict[str, Any]]:
    """The IAM statements of `part`'s required access."""
    policy = part.required_access(patterns)
    assert policy is not None and policy.kind == "iam"
    return json.loads(policy.text)["Statement"]


OWNER = Ownership("prod-eu", "payments-db")
PLANTED = "PLANTED-ssm-rules-91c2"
ACCOUNT = "222222222222"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/syncd"


def make_sink(**options: Any) -> SsmSink:
    return SsmSink(TARGET, SsmTargetOptions(**{"region": "eu-central-1", **options}))


def item(
    address: str, value: str = PLANTED, *, tags: dict[str, str] | None = None, description: str | None = None
) -> DesiredItem:
    return DesiredItem(
        target=TARGET,
        address=address,
        owner=OWNER,
        data={address.rsplit("/", 1)[-1]: Secret(value)},
        granularity=Granularity.PER_KEY,
        tags=tags or {},
        description=description,
    )


def problems(sink: SsmSink, desired: DesiredItem) -> list[str]:
    """The sink's problems with `desired`, after checking none of them shows the value."""
    found = sink.check(desired)
    value = desired.single_value().reveal()
    assert not any(value in problem for problem in found if len(value) > 3)
    return found


def test_spec_names_the_connector_and_its_roles() -> None:
    """The module exports 'aws-ssm' as both a per-key sink with tags and descriptions, and a source."""
    assert ssm_spec.name == "aws-ssm"
    assert ssm_spec.sink is SsmSink and ssm_spec.source is SsmSource
    assert SsmSink.capabilities.granularities == (Granularity.PER_KEY,)
    assert SsmSink.capabilities.tags and SsmSink.capabilities.description
    assert SsmSink.capabilities.max_concurrency == 8


# Names


def test_a_valid_hierarchical_name_has_no_problem() -> None:
    """A name of letters, digits and _.- in levels below '/' passes."""
    assert problems(make_sink(), item("/prod/payments/db-1/DB_USER.v2")) == []


def test_fifteen_levels_pass_and_sixteen_are_refused() -> None:
    """SSM allows a hierarchy of at most 15 levels, the last one included."""
    fifteen = "/" + "/".join(f"l{i}" for i in range(15))
    assert problems(make_sink(), item(fifteen)) == []
    found = problems(make_sink(), item(fifteen + "/l15"))
    assert found == [f"The parameter name {fifteen + '/l15'!r} has 16 levels; SSM allows at most 15."]


@pytest.mark.parametrize("name", ["/aws/x", "/AWS/x", "/awsome/x", "/ssm/x", "/SSM-x/y", "awsParam", "ssm.x"])
def test_names_beginning_with_aws_or_ssm_are_refused(name: str) -> None:
    """'aws' and 'ssm' in any case are reserved at the start of a name, with or without its leading '/'."""
    assert any("begins with 'aws' or 'ssm'" in p for p in problems(make_sink(), item(name)))


@pytest.mark.parametrize("name", ["/prod/db user", "/prod/db*", "/prod/ünïcode", "/prod/a:b"])
def test_names_with_other_characters_are_refused(name: str) -> None:
    """Only letters, digits, '/' and _.- are allowed; a space is refused, not trimmed."""
    assert any("has a character SSM does not allow" in p for p in problems(make_sink(), item(name)))


@pytest.mark.parametrize("name", ["/prod//db", "/prod/db/", "prod/db"])
def test_malformed_hierarchies_are_refused(name: str) -> None:
    """An empty level, a trailing '/', or a hierarchy without its leading '/' is refused."""
    assert problems(make_sink(), item(name))


def test_name_length_counts_the_arn_prefix_of_the_region() -> None:
    """The 1011-character limit includes 'arn:aws:ssm:REGION:ACCOUNT:parameter/', so it depends on the region."""
    prefix = len("arn:aws:ssm:eu-central-1:123456789012:parameter/")
    fits = "/" + "a" * (1011 - prefix)
    assert problems(make_sink(), item(fits)) == []
    found = problems(make_sink(), item(fits + "b"))
    assert len(found) == 1 and f"SSM allows {1011 - prefix} characters" in found[0]
    assert problems(make_sink(region="ap-southeast-1"), item(fits))


# Values, tiers, descriptions, tags


def test_empty_value_is_refused() -> None:
    """SSM requires a value of at least one character."""
    assert problems(make_sink(), item("/prod/x", "")) == [
        "The value of '/prod/x' is empty; SSM requires at least one character."
    ]


def test_a_value_of_4096_bytes_fits_the_standard_tier() -> None:
    """4,096 bytes is still a Standard parameter."""
    assert problems(make_sink(), item("/prod/x", "x" * 4096)) == []
    assert tier_for("x" * 4096, None) == STANDARD


def test_a_larger_value_needs_allow_advanced_tier_and_says_so() -> None:
    """A 5 KB value is refused unless the target allows Advanced parameters; the problem names the option and target."""
    big = item("/prod/cert", "c" * 5000)
    found = problems(make_sink(), big)
    assert len(found) == 1
    assert "'/prod/cert'" in found[0] and "allow_advanced_tier: true" in found[0] and repr(TARGET) in found[0]
    assert "5000" not in found[0] and "5,000" not in found[0]
    assert problems(make_sink(allow_advanced_tier=True), big) == []
    assert tier_for("c" * 5000, None) == ADVANCED


def test_size_is_counted_in_utf8_bytes() -> None:
    """2,049 two-byte characters are 4,098 bytes: too large for Standard."""
    assert problems(make_sink(), item("/prod/x", "é" * 2049))
    assert problems(make_sink(), item("/prod/x", "é" * 2048)) == []


def test_a_value_over_8192_bytes_is_refused_even_when_advanced_is_allowed() -> None:
    found = problems(make_sink(allow_advanced_tier=True), item("/prod/x", "x" * 8193))
    assert found == ["The value of '/prod/x' is larger than 8,192 bytes, the most an Advanced parameter holds."]


def test_an_advanced_parameter_stays_advanced_for_a_small_value() -> None:
    """AWS cannot downgrade a parameter, so the tier of an Advanced one is kept."""
    assert tier_for("small", ADVANCED) == ADVANCED
    assert tier_for("small", STANDARD) == STANDARD


def test_a_value_holding_a_nested_reference_is_refused() -> None:
    """SSM refuses '{{...}}' in a value; a lone brace or '${...}' is fine."""
    assert any("'{{...}}'" in p for p in problems(make_sink(), item("/prod/x", f"{PLANTED} {{{{ssm:/other}}}}")))
    assert problems(make_sink(), item("/prod/x", "${HOME} {not} }} {{")) == []


def test_a_lone_surrogate_is_refused_without_raising() -> None:
    assert problems(make_sink(), item("/prod/x", "bad \ud800 value")) == [
        "The value of '/prod/x' holds a lone surrogate, which UTF-8 cannot encode."
    ]


def test_description_longer_than_1024_is_refused() -> None:
    assert problems(make_sink(), item("/prod/x", description="d" * 1024)) == []
    assert problems(make_sink(), item("/prod/x", description="d" * 1025)) == [
        "The description of '/prod/x' is longer than the 1024 characters SSM allows."
    ]


def test_tags_follow_aws_rules_with_room_for_the_marker() -> None:
    """49 tags plus syncd's two exceed the limit of 50; a reserved 'aws:' key is refused."""
    many = {f"k{i}": "v" for i in range(49)}
    assert any("exceed the AWS limit of 50" in p for p in problems(make_sink(), item("/prod/x", tags=many)))
    assert any("'aws:'" in p for p in problems(make_sink(), item("/prod/x", tags={"aws:x": "v"})))
    assert problems(make_sink(), item("/prod/x", tags={f"k{i}": "v" for i in range(48)})) == []


def test_an_item_with_several_keys_is_refused() -> None:
    desired = DesiredItem(
        target=TARGET,
        address="/prod/x",
        owner=OWNER,
        data={"a": Secret("1"), "b": Secret("2")},
        granularity=Granularity.DOCUMENT,
    )
    assert make_sink().check(desired) == ["Item '/prod/x' holds 2 keys; a parameter holds one."]


# Options and destinations


def test_destination_path_gets_its_trailing_slash_and_makes_the_address() -> None:
    """`path` is a folder: '/prod/db' and '/prod/db/' are the same, and the parameter name is path + name."""
    sink = make_sink()
    assert SsmDestination(path="/prod/db").path == "/prod/db/"
    assert sink.address(SsmDestination(path="/prod/db/"), "DB_USER") == "/prod/db/DB_USER"
    assert sink.address(SsmDestination(), "DB_USER") == "/DB_USER"


@pytest.mark.parametrize(
    ("path", "words"),
    [("prod/db/", "must begin and end with '/'"), ("/prod//db/", "empty level"), ("/aws/db/", "SSM reserves")],
)
def test_bad_destination_paths_are_manifest_errors(path: str, words: str) -> None:
    with pytest.raises(ValidationError, match=words):
        SsmDestination(path=path)


def test_flags_carry_the_type_and_the_targets_kms_key_for_secure_strings() -> None:
    """Type is compared on every run; the KMS key only when the target names one and the type is SecureString."""
    assert make_sink().flags(SsmDestination()) == {"type": "SecureString"}
    keyed = make_sink(kms_key_id="alias/payments")
    assert keyed.flags(SsmDestination()) == {"type": "SecureString", "key_id": "alias/payments"}
    assert keyed.flags(SsmDestination(parameter_type="String")) == {"type": "String"}
    assert make_sink(parameter_type="String").flags(SsmDestination()) == {"type": "String"}


def test_target_tags_and_description_are_the_defaults() -> None:
    sink = make_sink(tags={"team": "payments"}, description="Managed by syncd.")
    assert sink.item_defaults().tags == {"team": "payments"}
    assert sink.item_defaults().description == "Managed by syncd."
    assert make_sink().item_defaults().description is None


@pytest.mark.parametrize(
    ("field", "value", "words"),
    [
        ("kms_key_id", "alias/has space", "at most 256"),
        ("kms_key_id", "k" * 257, "at most 256"),
        ("description", "d" * 1025, "1024"),
        ("parameter_type", "StringList", "SecureString"),
    ],
)
def test_target_options_refuse_what_ssm_refuses(field: str, value: str, words: str) -> None:
    with pytest.raises(ValidationError, match=words):
        SsmTargetOptions(region="eu-central-1", **{field: value})


def test_source_options_have_no_sink_only_fields() -> None:
    """The source takes the connection (and a KMS key for its policy): what only a sink writes is unknown there."""
    for field in ("tags", "description", "parameter_type", "allow_advanced_tier"):
        assert field not in SsmSourceOptions.model_fields
    with pytest.raises(ValidationError, match="Extra inputs"):
        SsmSourceOptions(region="eu-central-1", tags={"a": "b"})


def test_describe_names_region_and_account() -> None:
    assert make_sink().describe() == "eu-central-1"
    assert make_sink(role_arn=ROLE).describe() == f"eu-central-1, account {ACCOUNT}"


# IAM


def test_sink_policy_scopes_parameters_by_arn_and_describe_to_star() -> None:
    """Parameter actions go on each pattern's ARN (no doubled '/'), DescribeParameters on '*', tag reads on every
    parameter of the region (list_owned must learn the sync of owned parameters outside the patterns); no KMS."""
    statements = statements_of(make_sink(role_arn=ROLE), ["/prod/payments/*", "/prod/api/TOKEN"])
    assert statements == [
        {"Sid": "SyncdSsmDescribe", "Effect": "Allow", "Action": ["ssm:DescribeParameters"], "Resource": ["*"]},
        {
            "Sid": "SyncdSsmReadTags",
            "Effect": "Allow",
            "Action": ["ssm:ListTagsForResource"],
            "Resource": [f"arn:aws:ssm:eu-central-1:{ACCOUNT}:parameter/*"],
        },
        {
            "Sid": "SyncdSsmParameters",
            "Effect": "Allow",
            "Action": [
                "ssm:AddTagsToResource",
                "ssm:DeleteParameter",
                "ssm:GetParameters",
                "ssm:PutParameter",
            ],
            "Resource": [
                f"arn:aws:ssm:eu-central-1:{ACCOUNT}:parameter/prod/api/TOKEN",
                f"arn:aws:ssm:eu-central-1:{ACCOUNT}:parameter/prod/payments/*",
            ],
        },
    ]


def test_sink_policy_is_deterministic_and_uses_star_without_an_account() -> None:
    sink = make_sink()
    first = statements_of(sink, ["/b/*", "/a/*", "/b/*"])
    assert first == statements_of(sink, ["/a/*", "/b/*"])
    assert first is not None
    assert first[2]["Resource"] == [
        "arn:aws:ssm:eu-central-1:*:parameter/a/*",
        "arn:aws:ssm:eu-central-1:*:parameter/b/*",
    ]


@pytest.mark.parametrize(
    ("key", "resource", "alias"),
    [
        (
            "1234abcd-12ab-34cd-56ef-1234567890ab",
            f"arn:aws:kms:eu-central-1:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab",
            None,
        ),
        (
            "arn:aws:kms:eu-central-1:333333333333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
            "arn:aws:kms:eu-central-1:333333333333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
            None,
        ),
        ("alias/payments", f"arn:aws:kms:eu-central-1:{ACCOUNT}:key/*", "alias/payments"),
        (
            "arn:aws:kms:eu-central-1:333333333333:alias/payments",
            "arn:aws:kms:eu-central-1:333333333333:key/*",
            "alias/payments",
        ),
    ],
)
def test_sink_policy_lets_the_target_key_be_used_through_ssm_only(key: str, resource: str, alias: str | None) -> None:
    """With kms_key_id: Encrypt and Decrypt on that key (an alias: kms:ResourceAliases), via SSM in the region."""
    statements = statements_of(make_sink(role_arn=ROLE, kms_key_id=key), ["/prod/*"])
    assert statements is not None
    kms = statements[-1]
    assert kms["Action"] == ["kms:Decrypt", "kms:Encrypt"]
    assert kms["Resource"] == [resource]
    assert kms["Condition"]["StringEquals"] == {"kms:ViaService": "ssm.eu-central-1.amazonaws.com"}
    assert kms["Condition"].get("ForAnyValue:StringEquals") == ({"kms:ResourceAliases": alias} if alias else None)


def test_sink_policy_adds_generate_data_key_for_advanced_parameters() -> None:
    """Advanced parameters are encrypted through a data key, so allowing them adds kms:GenerateDataKey."""
    statements = statements_of(make_sink(kms_key_id="alias/p", allow_advanced_tier=True), ["/prod/*"])
    assert statements is not None
    assert statements[-1]["Action"] == ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"]


def test_source_policy_is_read_only() -> None:
    """The source reads by path, lists with DescribeParameters and decrypts through SSM; it writes nothing."""
    source = SsmSource(SsmSourceOptions(region="us-east-1", account_id="111111111111"))
    statements = statements_of(source, ["/prod/payments/*"])
    assert statements is not None
    actions = sorted(action for statement in statements for action in statement["Action"])
    assert actions == ["kms:Decrypt", "ssm:DescribeParameters", "ssm:GetParametersByPath"]
    assert statements[1]["Resource"] == ["arn:aws:ssm:us-east-1:111111111111:parameter/prod/payments/*"]
    assert statements[2]["Resource"] == ["arn:aws:kms:us-east-1:111111111111:key/*"]
    assert statements[2]["Condition"] == {"StringEquals": {"kms:ViaService": "ssm.us-east-1.amazonaws.com"}}


def test_source_policy_decrypts_with_the_named_key_only() -> None:
    source = SsmSource(SsmSourceOptions(region="us-east-1", account_id="111111111111", kms_key_id="alias/params"))
    statements = statements_of(source, ["/prod/*"])
    assert statements is not None
    assert statements[2]["Condition"]["ForAnyValue:StringEquals"] == {"kms:ResourceAliases": "alias/params"}
    with pytest.raises(ValidationError, match="at most 256"):
        SsmSourceOptions(region="us-east-1", kms_key_id="not a key")


def test_kms_via_service_uses_the_china_domain_in_china_regions() -> None:
    sink = make_sink(region="cn-north-1", kms_key_id="alias/params")
    statements = statements_of(sink, ["/prod/*"])
    assert statements is not None
    assert statements[-1]["Condition"]["StringEquals"] == {"kms:ViaService": "ssm.cn-north-1.amazonaws.com.cn"}
