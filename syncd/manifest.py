"""Load a manifest: YAML with positions, the core schema, each connector's own schema,
the cross-references between them, and the name templates. No network call.

Every problem is reported as 'file:line:column: field.path: sentence', all of
them at once, and nothing is run when there is one (`syncd.manifest_issues`).
The checks that span more than one field are in `syncd.manifest_checks`; the
value they build, `Manifest`, is in `syncd.manifest_value`. Every public name
is exported here.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from pydantic import ValidationError

from syncd import collector, yamlpos
from syncd.errors import ConfigError
from syncd.manifest_checks import PER_KEY_VARIABLES, TEMPLATE_VARIABLES, Checker, Parts
from syncd.manifest_issues import Issue, Loc, ManifestError, validation_issues
from syncd.manifest_value import Destination, Manifest, Sync
from syncd.registry import Registry
from syncd.schema import ManifestSpec
from syncd.secret import REDACTOR
from syncd.secret_options import is_secret_option

__all__ = [
    "PER_KEY_VARIABLES",
    "TEMPLATE_VARIABLES",
    "Destination",
    "Issue",
    "Loc",
    "Manifest",
    "ManifestError",
    "Sync",
    "allow_manifest_names",
    "is_secret_option",
    "load_manifest",
]


def allow_manifest_names(manifest: Manifest) -> None:
    """Names every command may print (the instance, the path, targets, syncs, source paths), allowed before anything
    is logged or written (see Redactor.allow)."""
    REDACTOR.allow([manifest.instance, str(manifest.path), *manifest.spec.targets, *(s.name for s in manifest.syncs)])
    REDACTOR.allow(sync.spec.from_ for sync in manifest.syncs)


def _read(path: Path) -> tuple[str, bytes]:
    """The manifest's text, and the bytes it was decoded from (what its digest is taken of, as `sha256sum` does)."""
    try:
        data = path.read_bytes()
        # Universal newlines, as read_text gives: positions in messages count lines the same way on every system.
        return data.decode("utf-8").replace("\r\n", "\n").replace("\r", "\n"), data
    except FileNotFoundError:
        raise ConfigError(f"manifest {str(path)!r} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise ConfigError(f"cannot read manifest {str(path)!r}: {reason}") from None


def load_manifest(path: str | Path, registry: Registry) -> Manifest:
    """Read and validate a manifest completely; raises ConfigError/ManifestError."""
    path = Path(path)
    text, data = _read(path)
    with collector.paused():
        located = yamlpos.load(text, str(path))
        if not isinstance(located.data, dict):
            raise ManifestError(
                [
                    Issue(
                        located.where(()),
                        "",
                        "a manifest must be a YAML mapping with version, instance, source, targets and syncs",
                    )
                ]
            )
        issues: list[Issue] = []
        try:
            spec: ManifestSpec | None = ManifestSpec.model_validate(located.data)
        except ValidationError as exc:
            # Report the schema's problems and go on checking every part that is valid on its own,
            # so that one run shows every mistake.
            issues += validation_issues(exc, located, (), ManifestSpec)
            spec = None
        parts = Parts.of(spec) if spec is not None else Parts.valid_in(located.data)
        checker = Checker(parts, located, registry)
        manifest = checker.run(path, hashlib.sha256(data).hexdigest(), spec)
        issues += checker.issues
    if issues:
        raise ManifestError(issues)
    assert manifest is not None
    return manifest
