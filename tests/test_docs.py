"""The docs and the code agree: every manifest field and connector option is documented,
config.example.yaml is valid, and the README names every command and option."""

from __future__ import annotations

import re
import typing
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
    schema.DaemonSpec,
    schema.NotifySpec,
    schema.SourceSpec,
    schema.TargetSpec,
    schema.DestinationSpec,
    schema.SyncSpec,
]


def _fields(model: type[BaseModel]) -> list[str]:
    return [info.alias or name for name, info in model.model_fields.items()]


# Which headings of docs/manifest.md's "Connector options" document a connector's models: the heading names the
# connector in backticks and one of these words ("### `aws-ssm` target", "### `vault` source and sink").
ROLE_WORDS = {"source": ("source",), "sink": ("target", "sink"), "destination": ("destination", "target", "sink")}


def _connector_models() -> list[tuple[str, str, type[BaseModel]]]:
    models = []
    for name in default_registry().names():
        spec = default_registry().get(name)
        if spec.source:
            models.append((name, "source", spec.source.Options))
        if spec.sink:
            models.append((name, "sink", spec.sink.Options))
            models.append((name, "destination", spec.sink.Destination))
    return models


def _slug(heading: str) -> str:
    """The anchor GitHub gives a heading."""
    return re.sub(r"[^a-z0-9 _-]", "", heading.lower()).replace(" ", "-")


def _option_sections() -> dict[str, str]:
    """Heading → text of each `###` section under `## Connector options` in docs/manifest.md."""
    part = MANIFEST_DOC.split("\n## Connector options\n", 1)[1].split("\n## ", 1)[0]
    chunks = re.split(r"^### (.+)$", part, flags=re.MULTILINE)
    return dict(zip(chunks[1::2], chunks[2::2], strict=True))


def _documenting_text(name: str, role: str) -> str:
    """The sections about one connector's role, with the shared sections they link to (the AWS connection options)."""
    sections = _option_sections()
    own = [
        heading for heading in sections if f"`{name}`" in heading and any(word in heading for word in ROLE_WORDS[role])
    ]
    assert own, f"docs/manifest.md has no section under 'Connector options' for the {name} {role}"
    by_slug = {_slug(heading): heading for heading in sections}
    linked = {by_slug[a] for h in own for a in re.findall(r"\]\(#([^)]+)\)", sections[h]) if a in by_slug}
    return "\n".join(sections[heading] for heading in [*own, *sorted(linked - set(own))])


def _option_names(model: type[BaseModel]) -> set[str]:
    """The model's keys, and those of the models nested in its fields (such as vault's `auth` methods)."""
    names = set(_fields(model))
    for info in model.model_fields.values():
        pending = [info.annotation]
        while pending:
            kind = pending.pop()
            if isinstance(kind, type) and issubclass(kind, BaseModel):
                names |= _option_names(kind)
            pending.extend(typing.get_args(kind))
    return names


@pytest.mark.parametrize("model", CORE_MODELS, ids=lambda m: m.__name__)
def test_every_manifest_field_is_documented(model: type[BaseModel]) -> None:
    """docs/manifest.md names each field of the core schema in backticks."""
    missing = [f for f in _fields(model) if f"`{f}`" not in MANIFEST_DOC]
    assert not missing, f"{model.__name__} fields missing from docs/manifest.md: {missing}"


@pytest.mark.parametrize(("name", "role", "model"), _connector_models(), ids=lambda v: getattr(v, "__name__", v))
def test_every_connector_option_is_documented(name: str, role: str, model: type[BaseModel]) -> None:
    """Each option of an installed connector is a row of a table in that connector's own section of docs/manifest.md
    (or of a shared section it links to), not merely a word somewhere in the file."""
    text = _documenting_text(name, role)
    missing = sorted(key for key in _option_names(model) if not re.search(rf"^\| `{re.escape(key)}` \|", text, re.M))
    assert not missing, f"{name} {role} options with no row in their docs/manifest.md section: {missing}"


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
    assert len(re.findall(r"^\s*python -m pytest .*$", README, re.MULTILINE)) == 1


def test_the_docs_stand_alone() -> None:
    """No project document points to a design document or folder outside the repository."""
    documents = [ROOT / "README.md", ROOT / "config.example.yaml", *sorted((ROOT / "docs").glob("*.md"))]
    documents += sorted((ROOT / "bench").glob("*.md")) + sorted((ROOT / "deploy").rglob("*.md"))
    for path in documents:
        text = path.read_text()
        assert "../shared" not in text, path.name
        assert "DESIGN.md" not in text, path.name


@pytest.mark.parametrize("command", ["iam-policy", "vault-policy"])
def test_the_example_policies_need_no_credential(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    """As config.example.yaml says, its policies print with no variable set: not SYNCD_DR_EXTERNAL_ID, not Vault's."""
    assert main([command, "-c", str(ROOT / "config.example.yaml")], env={}) == 0, capsys.readouterr().err


def test_aws_region_and_role_may_be_references(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """As docs/manifest.md says, `region` and `role_arn` may be references: validate accepts them, and iam-policy
    resolves them (the role's account is in the ARN)."""
    manifest = tmp_path / "syncd.yaml"
    manifest.write_text(
        "version: 1\n"
        "instance: docs\n"
        "source: {type: file, path: secrets.yaml}\n"
        "targets:\n"
        "  aws: {type: aws-secrets-manager, region: '${env:REGION}', role_arn: '${env:ROLE}'}\n"
        "syncs:\n"
        "  - {name: db, from: apps/db, to: [{target: aws, name: prod/db}]}\n"
    )
    assert main(["validate", "-c", str(manifest)], env={}) == 0, capsys.readouterr().err
    env = {"REGION": "eu-north-1", "ROLE": "arn:aws:iam::444455556666:role/syncd"}
    assert main(["iam-policy", "-c", str(manifest), "--target", "aws"], env=env) == 0, capsys.readouterr().err
    # The region and the role's account, resolved: both are configuration, never hidden as secrets.
    assert "arn:aws:secretsmanager:eu-north-1:444455556666:secret:prod/db-??????" in capsys.readouterr().out
