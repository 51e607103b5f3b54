"""Loading a manifest stays linear in its size: checked by structure (what is computed how often), never by time.
The figures are in bench/README.md (bench/manifest.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from syncd import manifest_checks
from syncd.manifest import load_manifest
from syncd.registry import Registry

HEADER = """version: 1
instance: scale
source: {type: file, path: secrets}
targets:
  env: {type: dotenv, path: out/app.env}
  aws: {type: aws-secrets-manager, region: eu-west-1}
syncs:
"""


def write_manifest(tmp_path: Path, syncs: int) -> Path:
    lines = [
        f"  - {{name: app{i:04d}, from: apps/app{i:04d}, to: " + '[{target: aws, name: "prod/{sync}"}, {target: env}]}'
        for i in range(syncs)
    ]
    path = tmp_path / "syncd.yaml"
    path.write_text(HEADER + "\n".join(lines) + "\n")
    return path


def test_each_name_template_is_compiled_once_per_load(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """300 syncs sharing two name templates compile two templates, not 600."""
    compiled: list[str] = []
    real = manifest_checks.compile_template

    def counting(text: str):  # type: ignore[no-untyped-def]
        compiled.append(text)
        return real(text)

    monkeypatch.setattr(manifest_checks, "compile_template", counting)
    loaded = load_manifest(write_manifest(tmp_path, 300), Registry())
    assert len(loaded.syncs) == 300
    assert sorted(compiled) == ["prod/{sync}", "{key}"]


def test_a_valid_manifest_keeps_no_positions(tmp_path: Path) -> None:
    """Loading a valid manifest records no position: they are found by parsing again only when a message needs
    one, so a large manifest costs one parse and no per-node position."""
    loaded = load_manifest(write_manifest(tmp_path, 50), Registry())
    assert loaded.located._values is None and loaded.located._keys is None
    assert loaded.located.where(("syncs", 49, "to", 1, "target")) == f"{tmp_path / 'syncd.yaml'}:57:83"
