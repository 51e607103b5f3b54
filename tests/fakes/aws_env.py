"""The `aws_env` fixture: dummy AWS credentials and region, with a developer's own AWS settings hidden.

It imports nothing of botocore or moto, so the root conftest.py offers it to every test: a test that must never reach
a real cloud asks for it without paying for the fake AWS server (tests/fakes/aws.py).
"""

from __future__ import annotations

import pytest

DEFAULT_REGION = "us-east-1"


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Dummy credentials and region; a developer's AWS config, profile, session and MOTO_ACCOUNT_ID are hidden."""
    config_dir = tmp_path_factory.mktemp("aws-config")
    env = {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": DEFAULT_REGION,
        "AWS_CONFIG_FILE": str(config_dir / "config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(config_dir / "credentials"),
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    for path in ("config", "credentials"):
        (config_dir / path).touch()
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    hidden = [
        "AWS_PROFILE",
        "AWS_DEFAULT_PROFILE",
        "AWS_SESSION_TOKEN",
        "AWS_REGION",
        "AWS_ENDPOINT_URL",
        "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS",
    ]
    for name in hidden:
        monkeypatch.delenv(name, raising=False)
    # With it set moto puts every call in that account, even one made with another account's assumed role.
    monkeypatch.delenv("MOTO_ACCOUNT_ID", raising=False)
    return env
