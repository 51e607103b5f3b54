"""A manifest's digest: what audit records, metrics and the status endpoint name it by."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

from syncd.manifest import load_manifest
from syncd.registry import default_registry


def test_a_manifests_digest_is_the_sha256_of_its_bytes(tmp_path: Path) -> None:
    """The digest is what `sha256sum` prints for the file, with CRLF line ends too."""
    quickstart = Path(__file__).parent.parent / "examples" / "quickstart"
    shutil.copytree(quickstart, tmp_path / "q", ignore=shutil.ignore_patterns("out"))
    path = tmp_path / "q" / "syncd.yaml"
    path.write_bytes(path.read_bytes().replace(b"\n", b"\r\n"))
    assert load_manifest(path, default_registry()).digest == hashlib.sha256(path.read_bytes()).hexdigest()
