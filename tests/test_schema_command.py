"""`syncd schema` prints a JSON Schema of the manifest that editors can use: valid, complete and strict."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from syncd.cli import main
from syncd.registry import default_registry

ROOT = Path(__file__).parent.parent
QUICKSTART = ROOT / "examples" / "quickstart" / "syncd.yaml"


@pytest.fixture
def schema(capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    """What `syncd schema` prints, parsed."""
    assert main(["schema"]) == 0
    return json.loads(capsys.readouterr().out)


@pytest.fixture
def validator(schema: dict[str, Any]) -> jsonschema.Draft7Validator:
    return jsonschema.Draft7Validator(schema)


def _errors(validator: jsonschema.Draft7Validator, document: Any) -> list[str]:
    return [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(document)]


def test_the_schema_is_a_valid_draft_7_json_schema(schema: dict[str, Any]) -> None:
    """The printed text is JSON and a valid JSON Schema of the draft it declares (draft 7, as yaml-language-server)."""
    assert schema["$schema"] == "http://json-schema.org/draft-07/schema#"
    jsonschema.Draft7Validator.check_schema(schema)


@pytest.mark.parametrize("path", [QUICKSTART, ROOT / "config.example.yaml"], ids=lambda p: p.name)
def test_the_shipped_manifests_match_the_schema(validator: jsonschema.Draft7Validator, path: Path) -> None:
    """The quickstart manifest and config.example.yaml, which `syncd validate` accepts, match the schema."""
    assert _errors(validator, yaml.safe_load(path.read_text())) == []


def _set(*keys: Any, value: Any = "x") -> Callable[[dict[str, Any]], None]:
    def mutate(document: dict[str, Any]) -> None:
        node = document
        for key in keys[:-1]:
            node = node[key]
        node[keys[-1]] = value

    return mutate


MISTAKES = {
    "top-level key": _set("targest", value={}),
    "defaults key": _set("defaults", "prnue", value=True),
    "source option": _set("source", "fromat"),
    "target option": _set("targets", "api-env", "pth"),
    "sync key": _set("syncs", 0, "kyes", value=[]),
    "to entry key": _set("syncs", 0, "to", 0, "nmae"),
    "connector type": _set("targets", "api-env", "type", value="dotnev"),
    "option value": _set("source", "format", value="toml"),
    "target name": _set("targets", "api env", value={"type": "dotenv", "path": "x.env"}),
    "core value": _set("defaults", "concurrency", value=0),
}


@pytest.mark.parametrize("mistake", MISTAKES.values(), ids=MISTAKES.keys())
def test_a_mistake_in_a_manifest_fails_the_schema(
    validator: jsonschema.Draft7Validator, mistake: Callable[[dict[str, Any]], None]
) -> None:
    """A misspelt key, an unknown connector type or a value out of range anywhere in a manifest fails the schema."""
    document = yaml.safe_load(QUICKSTART.read_text())
    mistake(document)
    assert _errors(validator, document)


def test_any_connector_option_may_be_a_reference(validator: jsonschema.Draft7Validator) -> None:
    """An option of any type holds a ${env:...} or ${file:...} reference, as the manifest allows."""
    document = yaml.safe_load(QUICKSTART.read_text())
    document["source"] = {"type": "vault", "address": "${env:VAULT_ADDR}", "timeout": "${env:TIMEOUT}"}
    document["source"]["auth"] = {"method": "token", "token": "${file:/run/token}"}
    document["targets"]["aws"] = {
        "type": "aws-secrets-manager",
        "region": "${env:R}",
        "recovery_window_days": "${env:D}",
    }
    assert _errors(validator, document) == []
    document["targets"]["aws"]["recovery_window_days"] = "thirty"
    assert _errors(validator, document)


def _branch(alternatives: list[dict[str, Any]], title: str) -> dict[str, Any]:
    return next(branch for branch in alternatives if branch["title"] == title)


def test_every_installed_connector_option_is_in_the_schema(schema: dict[str, Any]) -> None:
    """Each connector's source options, target options and destination options are offered under its `type`."""
    sources = schema["properties"]["source"]["oneOf"]
    targets = next(iter(schema["properties"]["targets"]["patternProperties"].values()))["oneOf"]
    destinations = schema["$defs"]["SyncSpec"]["properties"]["to"]["items"]["anyOf"]
    registry = default_registry()
    for name in registry.names():
        spec = registry.get(name)
        expected = []
        if spec.source is not None:
            expected.append((_branch(sources, f"{name} source"), spec.source.Options))
        if spec.sink is not None:
            expected.append((_branch(targets, f"{name} target"), spec.sink.Options))
            expected.append((_branch(destinations, f"{name} destination"), spec.sink.Destination))
        for branch, model in expected:
            fields = {info.alias or field for field, info in model.model_fields.items()}
            assert fields <= set(branch["properties"]), (branch["title"], fields - set(branch["properties"]))
            if branch["title"].endswith(("source", "target")):
                assert branch["properties"]["type"] == {"const": name, "description": f"The connector: {name}."}
