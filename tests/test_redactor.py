"""The redactor replaces a known value only where it stands as a whole token, never inside JSON syntax, a word
or a name syncd prints on purpose, and ignores values that hiding would give away."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from syncd.manifest import is_secret_option
from syncd.secret import REDACTED, Redactor, is_candidate


@pytest.fixture
def redactor() -> Redactor:
    redactor = Redactor()
    for value in ("Xq9-Lk2vR7m", "actual_version", "s3cr3t-admin", "line-one-xx\nline-two-yy", "db-admin-77"):
        redactor.add(value)
    return redactor


def test_a_value_is_replaced_as_a_whole_token_only(redactor: Redactor) -> None:
    """Between spaces, quotes, `=`, `:` or `@`, or before a full stop, the value goes; inside a longer token,
    joined by letters, digits, `-`, `_`, `.` or `/`, it stays."""
    assert redactor.redact("got Xq9-Lk2vR7m.") == f"got {REDACTED}."
    assert redactor.redact("token='Xq9-Lk2vR7m' x=Xq9-Lk2vR7m") == f"token='{REDACTED}' x={REDACTED}"
    assert redactor.redact("https://u:Xq9-Lk2vR7m@host") == f"https://u:{REDACTED}@host"
    for text in ("my-s3cr3t-admin", "s3cr3t-admin_2", "apps/s3cr3t-admin/db", "s3cr3t-admin.env", "Xq9-Lk2vR7mZ"):
        assert redactor.redact(text) == text
    assert redactor.redact("saw line-two-yy only") == f"saw {REDACTED} only"


def test_json_is_redacted_on_its_string_values_only(redactor: Redactor) -> None:
    """Keys, null, numbers and booleans are never touched; a string value holding a value is."""
    document = {"actual_version": None, "n": 3, "ok": True, "note": "was actual_version", "list": ["Xq9-Lk2vR7m"]}
    redacted = redactor.redact_tree(document)
    assert redacted == {"actual_version": None, "n": 3, "ok": True, "note": f"was {REDACTED}", "list": [REDACTED]}
    assert json.loads(json.dumps(redacted)) == redacted


@pytest.mark.parametrize(
    "value",
    ["null", "on", "12345", "1234567890123", "create", "applied", "conflicts", "Password", "changeme",
     "-----BEGIN PRIVATE KEY-----"],
)  # fmt: skip
def test_short_numeric_word_and_armour_values_are_not_candidates(value: str) -> None:
    """Hiding these would garble output and tell the reader the value."""
    assert not is_candidate(value)
    redactor = Redactor()
    redactor.add(value)
    text = f"4 to {value}, {value}: {value}"
    assert redactor.redact(text) == text


def test_names_syncd_prints_on_purpose_are_never_replaced(redactor: Redactor) -> None:
    """A value equal to an allowed name (a sync, a target, an address) stays; other values still go."""
    redactor.allow(["db-admin-77", None])
    assert redactor.redact("sync db-admin-77 and Xq9-Lk2vR7m") == f"sync db-admin-77 and {REDACTED}"


def test_a_disabled_redactor_replaces_nothing(redactor: Redactor) -> None:
    """The switch tests use to prove values stay out of output by themselves."""
    redactor.enabled = False
    assert redactor.redact("got Xq9-Lk2vR7m") == "got Xq9-Lk2vR7m"
    assert redactor.redact_tree(["Xq9-Lk2vR7m"]) == ["Xq9-Lk2vR7m"]


def test_credentials_are_secret_and_configuration_is_not() -> None:
    """Fields typed SecretStr or declared with secret_field() are secret, at any depth; a region, an address, a
    role ARN or a path is not; an option the model does not describe is."""
    from connectors.aws import SecretsManagerTargetOptions as Aws
    from connectors.local.options import DotenvSinkOptions as Dotenv
    from connectors.vault.options import VaultSinkOptions as Vault

    secret = [(Vault, ("auth", "token")), (Vault, ("auth", "secret_id")), (Aws, ("external_id",)), (Vault, ("x",))]
    plain = [(Vault, ("address",)), (Vault, ("auth", "role")), (Vault, ("auth", "method")), (Aws, ("region",))]
    plain += [(Aws, ("role_arn",)), (Aws, ("endpoint_url",)), (Aws, ("tags", "team")), (Dotenv, ("path",))]
    assert [is_secret_option(model, path) for model, path in secret] == [True] * len(secret)
    assert [is_secret_option(model, path) for model, path in plain] == [False] * len(plain)


def test_opening_a_target_registers_only_its_secret_options(tmp_path: Path) -> None:
    """The token resolved from the environment is hidden; the address resolved the same way is printed."""
    from syncd.manifest import load_manifest
    from syncd.registry import default_registry
    from syncd.secret import REDACTOR

    (tmp_path / "syncd.yaml").write_text(
        """
version: 1
instance: prod
source: {type: file, path: s.yaml}
targets:
  vault:
    type: vault
    address: ${env:SYNCD_TEST_ADDRESS}
    auth: {method: token, token: "${env:SYNCD_TEST_TOKEN}"}
    prefix: ${env:SYNCD_TEST_PREFIX}
syncs: [{name: db, from: apps/db, to: [{target: vault, name: db}]}]
"""
    )
    manifest = load_manifest(tmp_path / "syncd.yaml", default_registry())
    env = {
        "SYNCD_TEST_ADDRESS": "http://vault-7q.example:8200",
        "SYNCD_TEST_TOKEN": "hvs.PLANTED-token-51c9",
        "SYNCD_TEST_PREFIX": "team-7q/apps",
    }
    manifest.open_sink("vault", env).close()
    text = " ".join(env.values())
    assert REDACTOR.redact(text) == f"http://vault-7q.example:8200 {REDACTED} team-7q/apps"


def test_a_value_already_known_is_not_examined_again(monkeypatch) -> None:
    """Registering a value the redactor already holds costs one set lookup: a run meets each value several times (the
    source, each sink), and a daemon every tick, so the candidate rules run once per value, not once per meeting."""
    from syncd import secret

    examined = []
    real = secret.is_candidate
    monkeypatch.setattr(secret, "is_candidate", lambda value: examined.append(value) or real(value))
    redactor = secret.Redactor()
    redactor.add("s3cr3t-value-1\ns3cr3t-line-2")
    assert sorted(examined) == ["s3cr3t-line-2", "s3cr3t-value-1", "s3cr3t-value-1\ns3cr3t-line-2"]
    examined.clear()
    for value in ("s3cr3t-value-1\ns3cr3t-line-2", "s3cr3t-value-1", "s3cr3t-line-2"):
        redactor.add(value)
    assert examined == []
    assert redactor.redact("x s3cr3t-line-2 y") == "x [REDACTED] y"
