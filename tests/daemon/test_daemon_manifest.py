"""The manifest's `daemon:` section and schedules, given bad values: one clear line naming the field, nothing run."""

from __future__ import annotations

from pathlib import Path

import pytest

from syncd.cli import main

MANIFEST = """\
version: 1
instance: bad-input
source: {{type: file, path: secrets.yaml}}
targets: {{env: {{type: dotenv, path: out/app.env}}}}
syncs: [{{name: app, from: apps/app, to: [{{target: env}}]}}]
{extra}
"""


def _write(tmp_path: Path, extra: str) -> Path:
    (tmp_path / "secrets.yaml").write_text("apps:\n  app:\n    password: planted-bad-input-1\n")
    path = tmp_path / "syncd.yaml"
    path.write_text(MANIFEST.format(extra=extra))
    return path


@pytest.mark.parametrize(
    ("extra", "field", "words"),
    [
        ('daemon: {listen: "nowhere"}', "daemon.listen", "is not HOST:PORT"),
        ('daemon: {listen: "127.0.0.1:70000"}', "daemon.listen", "is not HOST:PORT"),
        ("daemon: {notify: {webhook: x, min_interval: soon}}", "daemon.notify.min_interval", "is not a duration"),
        ("daemon: {notify: {min_interval: 5m}}", "daemon.notify.webhook", "required"),
        ("daemon: {tigger_token: x}", "tigger_token", "unknown key"),
        ('daemon: {trigger_token: "${env:}"}', "daemon.trigger_token", "env"),
        ("defaults: {jitter: -5s}", "defaults.jitter", "duration"),
    ],
)
def test_validate_names_the_bad_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: str, field: str, words: str
) -> None:
    """`syncd validate` refuses the manifest with the field's place and what is wrong."""
    code = main(["validate", "-c", str(_write(tmp_path, extra))])
    err = capsys.readouterr().err
    assert code == 1 and field in err and words in err, err


@pytest.mark.parametrize(
    ("extra", "words"),
    [
        ("daemon: {trigger_token: '${env:SYNCD_TEST_UNSET_TOKEN}'}", "daemon.trigger_token"),
        ("daemon: {notify: {webhook: 'ftp://hooks.example/x'}}", "daemon.notify.webhook must resolve to an http"),
    ],
)
def test_run_refuses_what_only_resolves_badly_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: str, words: str
) -> None:
    """What only shows once resolved (an unset variable, a webhook that is not HTTP) stops `syncd run` before it
    takes the lock or writes a sink, with one line naming the field."""
    manifest = _write(tmp_path, extra)
    state = tmp_path / "state"
    code = main(["run", "-c", str(manifest), "--log-format", "console", "--state-dir", str(state), "--listen", ":0"])
    err = capsys.readouterr().err
    assert code == 1 and words in err and err.count("\n") == 1, err
    assert not (tmp_path / "out").exists() and not state.exists()
