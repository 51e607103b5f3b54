"""Targets that resolve to one place, and targets where the source reads, are refused before anything is read or
written, with one message naming both sides."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest

from syncd.cli import main
from syncd.connector import file_location, path_parts, url_location
from syncd.locations import overlap

SECRETS = "apps:\n  db:\n    user: overlap-user-1\n    pass: overlap-pass-1\n"


def write(folder: Path, targets: dict[str, str], source_path: str = "secrets.yaml", from_: str = "apps/db") -> Path:
    """A manifest in `folder` with a file source and one dotenv target per entry of `targets` (name → path)."""
    (folder / "secrets.yaml").write_text(SECRETS)
    lines = "\n".join(f"  {name}: {{type: dotenv, path: '{path}'}}" for name, path in targets.items())
    to = ", ".join(f"{{target: {name}}}" for name in targets)
    manifest = folder / "syncd.yaml"
    manifest.write_text(
        textwrap.dedent(
            """\
            version: 1
            instance: overlap
            defaults: {{prune: true}}
            source: {{type: file, path: '{source}'}}
            targets:
            {lines}
            syncs:
              - {{name: db, from: {from_}, to: [{to}]}}
            """
        ).format(source=source_path, lines=lines, to=to, from_=from_)
    )
    return manifest


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def files_below(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*")}


@pytest.mark.parametrize(
    "second",
    ["out/app.env", "./out/../out/app.env", "out//app.env", "{folder}/out/app.env"],
    ids=["same", "dot-dot", "double-slash", "absolute"],
)
def test_two_dotenv_targets_on_one_file_are_refused(tmp_path: Path, capsys, second: str) -> None:
    """Two targets writing one file, however its path is spelled, make apply refuse before any write."""
    manifest = write(tmp_path, {"first": "out/app.env", "second": second.format(folder=tmp_path)})
    before = files_below(tmp_path)
    for command in (("plan",), ("apply", "--yes")):
        code, out, err = run(capsys, *command, "-c", str(manifest))
        assert code == 1
        assert "targets 'first'" in err and "and 'second'" in err and "write to the same place" in err
        assert len(err.splitlines()) == 1 and "overlap-" not in out + err
    assert files_below(tmp_path) == before


def test_a_dotenv_target_through_a_symbolic_link_is_refused(tmp_path: Path, capsys) -> None:
    """A target whose path is a symbolic link to another target's file is the same file."""
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "app.env").write_text("KEEP=1\n")
    os.symlink(tmp_path / "out" / "app.env", tmp_path / "link.env")
    manifest = write(tmp_path, {"first": "out/app.env", "second": "link.env"})
    code, _, err = run(capsys, "apply", "--yes", "-c", str(manifest))
    assert code == 1 and "targets 'first'" in err and "'second'" in err
    assert (tmp_path / "out" / "app.env").read_text() == "KEEP=1\n"


def test_two_dotenv_targets_on_different_files_apply(tmp_path: Path, capsys) -> None:
    """Targets on two files in one folder are not refused."""
    manifest = write(tmp_path, {"first": "out/app.env", "second": "out/worker.env"})
    code, out, err = run(capsys, "apply", "--yes", "-c", str(manifest))
    assert code == 0, err
    assert "4 applied, 0 failed" in out


def test_a_target_that_writes_the_source_file_is_refused(tmp_path: Path, capsys) -> None:
    """A dotenv target writing the file the file source reads would copy its own output on every run."""
    (tmp_path / "secrets.env").write_text("APP_USER=overlap-user-1\n")
    manifest = write(tmp_path, {"self": "secrets.env"}, source_path="secrets.env", from_=".")
    code, _, err = run(capsys, "apply", "--yes", "-c", str(manifest))
    assert code == 1
    assert "target 'self'" in err and "where sync 'db' reads from" in err
    assert (tmp_path / "secrets.env").read_text() == "APP_USER=overlap-user-1\n"


def test_a_target_inside_the_source_folder_is_refused(tmp_path: Path, capsys) -> None:
    """A dotenv target writing into the folder a file source reads is refused as well."""
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "apps.yaml").write_text("db:\n  user: overlap-user-1\n")
    manifest = write(tmp_path, {"copy": "src/copy.env"}, source_path="src", from_="apps/db")
    code, _, err = run(capsys, "plan", "-c", str(manifest))
    assert code == 1 and "target 'copy'" in err and "where sync 'db' reads from" in err
    assert not (tmp_path / "src" / "copy.env").exists()


def test_locations_overlap_when_one_is_a_prefix_of_the_other(tmp_path: Path) -> None:
    """Equal and nested locations overlap; siblings and unrelated ones do not."""
    vault = ("vault", "https://v:8200")
    assert overlap((*vault, "secret", "team"), (*vault, "secret", "team", "app"))
    assert overlap((*vault, "secret"), (*vault, "secret"))
    assert not overlap((*vault, "secret", "team"), (*vault, "secret", "teams"))
    assert not overlap((*vault, "secret", "a"), (*vault, "kv", "a"))
    assert path_parts("/team//app/", ".", None) == ("team", "app")
    assert file_location(str(tmp_path / "a" / ".." / "b.env")) == file_location(str(tmp_path / "b.env"))


def test_a_run_of_one_target_is_refused_when_another_target_shares_its_place(tmp_path: Path, capsys) -> None:
    """`--target` does not hide the overlap: pruning the selected target would delete what the other one wrote."""
    manifest = write(tmp_path, {"first": "out/app.env", "second": "./out/app.env", "third": "out/other.env"})
    code, _, err = run(capsys, "apply", "--yes", "-c", str(manifest), "--target", "second")
    assert code == 1
    assert err == (
        f"error: targets 'second' ({tmp_path}/out/app.env) and 'first' ({tmp_path}/out/app.env) write to the same "
        "place: they would overwrite, take over and prune each other's items; give each its own file, account and "
        "region, or prefix\n"
    )
    code, out, err = run(capsys, "apply", "--yes", "-c", str(manifest), "--target", "third")
    assert code == 0, err
    assert "2 applied, 0 failed" in out
    assert not (tmp_path / "out" / "app.env").exists()


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("http://127.0.0.1:8200", "http://localhost:8200/"),
        ("https://Vault.Example.com", "https://vault.example.com:443"),
        ("http://vault.example.com", "HTTP://vault.example.com:80"),
        ("http://[::1]:8200", "http://127.0.0.2:8200"),
    ],
)
def test_one_server_spelt_two_ways_is_one_location(first: str, second: str) -> None:
    """Server URLs are compared with case, default ports, trailing slashes and loopback names made alike."""
    assert url_location(first) == url_location(second)


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("http://127.0.0.1:8200", "http://127.0.0.1:8201"),
        ("http://vault.example.com", "https://vault.example.com"),
        ("https://vault-a.example.com", "https://vault-b.example.com"),
    ],
)
def test_other_servers_stay_apart(first: str, second: str) -> None:
    """Another port, scheme or host is another server."""
    assert url_location(first) != url_location(second)
