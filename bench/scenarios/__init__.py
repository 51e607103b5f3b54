"""One module per scenario; each has `CONNECTOR`, `SOURCE` and `run(secrets, workdir) -> Result`."""

from __future__ import annotations

from types import ModuleType

from bench.scenarios import aws_secrets_manager, aws_ssm, dotenv, gitlab, kubernetes, vault

# By the name `--only` takes: the target's connector name.
SCENARIOS: dict[str, ModuleType] = {
    module.CONNECTOR: module for module in (aws_secrets_manager, aws_ssm, vault, dotenv, gitlab, kubernetes)
}
