"""`syncd run`'s flags that only make sense together are refused alone, in one sentence, before anything starts."""

from __future__ import annotations

from pathlib import Path

import pytest

from syncd.cli import main


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--lease-duration", "5s"], "need --leader-elect"),
        (["--lease-name", "x"], "need --leader-elect"),
        (["--git-ref", "v1"], "go with --git-url"),
        (["--git-poll", "5m"], "go with --git-url"),
        (["--git-url", "https://git.example/r.git"], "needs --git-path"),
        (["--git-url", "https://git.example/r.git", "--git-path", "s.yaml", "-c", "x.yaml"], "either --config or"),
        (["--shutdown-timeout", "soon"], "--shutdown-timeout: 'soon' is not a duration"),
        (["--lock-wait", "a while"], "--lock-wait: 'a while' is not a duration"),
    ],
)
def test_flags_that_go_together_are_refused_alone(
    flags: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Each mistake is one `error:` line naming the flag, and exit code 1."""
    code = main(["run", "--log-format", "console", "--state-dir", str(tmp_path), *flags])
    err = capsys.readouterr().err
    assert code == 1 and err.startswith("error: ") and message in err and err.count("\n") == 1, err
