"""``codex-runner codex`` without a daemon: versions and install act on the home, a switch
says it needs the daemon, a bad version is bad input."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner, Result

from codex_runner.cli.codex_cmd import codex_app
from codex_runner.service.codex_releases import Pointers, ReleasesHome, pinned_version


def run(home: Path, *args: str) -> Result:
    return CliRunner().invoke(
        codex_app,
        list(args),
        env={"CODEX_RUNNER_HOME": str(home), "CODEX_RUNNER_URL": None},
    )


def test_versions_lists_the_pinned_wheel_as_current_and_says_switching_needs_a_daemon(
    tmp_path: Path,
) -> None:
    listed = run(tmp_path, "versions", "--json")
    assert listed.exit_code == 0, listed.output
    data = json.loads(listed.stdout)
    assert [(r["name"], r["version"], r["current"]) for r in data["releases"]] == [
        ("pinned", pinned_version(), True)
    ]
    assert "no daemon runs" in data["not_switchable"]
    shown = run(tmp_path, "versions")
    assert "pinned" in shown.stdout and "switching is off" in shown.stdout


def test_a_current_pointer_to_a_removed_release_falls_back_to_the_pinned_wheel(
    tmp_path: Path,
) -> None:
    ReleasesHome(tmp_path).write_pointers(Pointers(current="0.1.0", previous="pinned"))
    data = json.loads(run(tmp_path, "versions", "--json").stdout)
    assert data["current"] == "pinned" and data["previous"] == "pinned"


def test_use_and_rollback_need_the_daemon(tmp_path: Path) -> None:
    for args in (("use", "0.1.0"), ("rollback",)):
        result = run(tmp_path, *args)
        assert result.exit_code == 1
        assert "no daemon runs on this home" in result.stderr


def test_a_bad_version_is_bad_input(tmp_path: Path) -> None:
    for args in (("install", "../0.1.0"), ("use", "latest")):
        result = run(tmp_path, *args)
        assert result.exit_code == 2, result.output
        assert "not a Codex release version" in result.stderr
