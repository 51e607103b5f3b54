"""The docs and the code agree: every manifest field and connector option is documented,
config.example.yaml is valid, and the README names every command and option."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import typer
from pydantic import BaseModel

from syncd import schema
from syncd.cli import app, main
from syncd.registry import default_registry

ROOT = Path(__file__).parent.parent
MANIFEST_DOC = (ROOT / "docs" / "manifest.md").read_text()
README = (ROOT / "README.md").read_text()

CORE_MODELS = [
    schema.ManifestSpec,
    schema.Defaults,
    schema.DeleteGuard,
    schema.SourceSpec,
    schema.TargetSpec,
    schema.DestinationSpec,
    schema.SyncSpec,
]


def _fields(model: type[BaseModel]) -> list[str]:
    return [info.alias or name for name, info in model.model_fields.items()]


def _connector_models() -> list[tuple[str, type[BaseModel]]]:
    models = []
    for name in default_registry().names():
        spec = default_registry().get(name)
        if spec.source:
            models.append((f"{name} source options", spec.source.Options))
        if spec.sink:
            models.append((f"{name} sink options", spec.sink.Options))
            models.append((f"{name} destination options", spec.sink.Destination))
    return models


@pytest.mark.parametrize("model", CORE_MODELS, ids=lambda m: m.__name__)
def test_every_manifest_field_is_documented(model: type[BaseModel]) -> None:
    """docs/manifest.md names each field of the core schema in backticks."""
    missing = [f for f in _fields(model) if f"`{f}`" not in MANIFEST_DOC]
    assert not missing, f"{model.__name__} fields missing from docs/manifest.md: {missing}"


def test_every_connector_option_is_documented() -> None:
    """docs/manifest.md names each option of every installed connector in backticks."""
    missing = [
        (where, f) for where, model in _connector_models() for f in _fields(model) if f"`{f}`" not in MANIFEST_DOC
    ]
    assert not missing, f"connector options missing from docs/manifest.md: {missing}"


def test_every_connector_is_in_the_readme_and_example() -> None:
    """Each installed connector is in the README's table and in config.example.yaml."""
    example = (ROOT / "config.example.yaml").read_text()
    for name in default_registry().names():
        assert f"`{name}`" in README
        assert re.search(rf"type:\s*{re.escape(name)}\b", example), name


def test_config_example_is_valid(capsys: pytest.CaptureFixture[str]) -> None:
    """config.example.yaml passes `syncd validate`."""
    assert main(["validate", "-c", str(ROOT / "config.example.yaml")]) == 0, capsys.readouterr().err


def test_readme_names_every_command_and_option() -> None:
    """Each command of the CLI and each of its long options appears in the README."""
    command = typer.main.get_command(app)
    for name, sub in command.commands.items():
        assert f"syncd {name}" in README, name
        for param in sub.params:
            for opt in param.opts:
                if opt.startswith("--"):
                    assert opt in README, f"{name} {opt}"


def test_readme_gives_the_quickstart_and_test_commands() -> None:
    """The README shows the quickstart commands and exactly one pytest command for CI."""
    assert "pip install -e . && syncd plan -c examples/quickstart/syncd.yaml" in README
    assert "syncd apply -c examples/quickstart/syncd.yaml --yes" in README
    assert len(re.findall(r"^\s*python -m pytest .*$", README, re.MULTILINE)) >= 1
