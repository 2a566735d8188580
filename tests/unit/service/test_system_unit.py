"""The service unit: what a systemd unit and a launchd plist say, and the rules for
writing over and removing one (a tmp folder stands for the system's)."""

from __future__ import annotations

import plistlib
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from codex_runner.service.system_unit import (
    DIR_ENV,
    MARKER,
    Manager,
    UnitConflict,
    install,
    plan_unit,
    uninstall,
    unit_dir,
)

PYTHON = "/opt/venv/bin/python"


def systemd(tmp_path: Path, *, user: bool = True, home: str = "home") -> str:
    plan = plan_unit(
        Manager.SYSTEMD,
        user=user,
        home=tmp_path / home,
        directory=tmp_path / "units",
        python=PYTHON,
        path_env="/usr/bin:/bin",
        run_as="alice",
    )
    return plan.text


def test_a_user_systemd_unit_serves_this_home_and_restarts_on_failure(tmp_path: Path) -> None:
    lines = systemd(tmp_path).splitlines()
    assert MARKER in lines[0]
    assert f'ExecStart="{PYTHON}" "-m" "codex_runner" "serve"' in lines
    assert f'Environment="CODEX_RUNNER_HOME={tmp_path / "home"}"' in lines
    assert 'Environment="PATH=/usr/bin:/bin"' in lines
    assert f"EnvironmentFile=-{tmp_path / 'home' / 'service.env'}" in lines
    assert f"WorkingDirectory={tmp_path / 'home'}" in lines
    assert "Restart=on-failure" in lines and "WantedBy=default.target" in lines
    assert not any(line.startswith("User=") for line in lines)  # a user unit runs as its user


def test_a_system_unit_runs_as_the_user_who_installed_it(tmp_path: Path) -> None:
    lines = systemd(tmp_path, user=False).splitlines()
    assert "User=alice" in lines and "WantedBy=multi-user.target" in lines


def test_a_home_with_spaces_quotes_and_percent_signs_is_quoted_for_systemd(
    tmp_path: Path,
) -> None:
    text = systemd(tmp_path, home='my "runner" 100%')
    assert f'Environment="CODEX_RUNNER_HOME={tmp_path}/my \\"runner\\" 100%%"' in text
    assert f'WorkingDirectory={tmp_path}/my "runner" 100%%\n' in text


def test_a_launchd_plist_keeps_serve_alive_only_after_a_failure(tmp_path: Path) -> None:
    plan = plan_unit(
        Manager.LAUNCHD,
        user=True,
        home=tmp_path / "home",
        directory=tmp_path,
        python=PYTHON,
        path_env="/usr/bin",
        run_as="alice",
    )
    plist = plistlib.loads(plan.text.encode())
    assert plist["ProgramArguments"] == [PYTHON, "-m", "codex_runner", "serve"]
    assert plist["EnvironmentVariables"]["CODEX_RUNNER_HOME"] == str(tmp_path / "home")
    assert plist["KeepAlive"] == {"SuccessfulExit": False} and plist["RunAtLoad"] is True
    assert "UserName" not in plist and MARKER in plan.text
    assert plan.path.suffix == ".plist" and "launchctl bootstrap gui/" in plan.enable[0]


def test_the_unit_goes_where_the_manager_looks_unless_a_folder_is_named(tmp_path: Path) -> None:
    env = {"XDG_CONFIG_HOME": str(tmp_path / "xdg")}
    assert unit_dir(Manager.SYSTEMD, user=True, env=env) == tmp_path / "xdg/systemd/user"
    assert unit_dir(Manager.SYSTEMD, user=False, env=env) == Path("/etc/systemd/system")
    assert unit_dir(Manager.LAUNCHD, user=False, env={}) == Path("/Library/LaunchDaemons")
    named = {**env, DIR_ENV: str(tmp_path / "units")}
    assert unit_dir(Manager.SYSTEMD, user=True, env=named) == tmp_path / "units"


def test_installing_writes_once_and_a_different_unit_needs_force(tmp_path: Path) -> None:
    first = plan_unit(Manager.SYSTEMD, user=True, home=tmp_path / "a", directory=tmp_path)
    other = plan_unit(Manager.SYSTEMD, user=True, home=tmp_path / "b", directory=tmp_path)

    assert install(first) is True
    assert first.path.read_text() == first.text
    assert first.path.stat().st_mode & 0o777 == 0o644
    assert install(first) is False  # the same unit: nothing to do
    with pytest.raises(UnitConflict, match="--force"):
        install(other)
    assert first.path.read_text() == first.text
    assert install(other, force=True) is True
    assert other.path.read_text() == other.text
    assert [p.name for p in tmp_path.iterdir()] == [first.path.name]  # no temporary left


def test_uninstalling_removes_our_unit_and_its_enable_link_but_not_a_stranger(
    tmp_path: Path,
) -> None:
    plan = plan_unit(Manager.SYSTEMD, user=True, home=tmp_path / "h", directory=tmp_path)
    assert uninstall(plan) is False
    install(plan)
    assert plan.enabled_link is not None
    plan.enabled_link.parent.mkdir()
    plan.enabled_link.symlink_to(plan.path)

    assert uninstall(plan) is True
    assert not plan.path.exists() and not plan.enabled_link.is_symlink()

    plan.path.write_text("[Service]\nExecStart=/usr/bin/something-else\n")
    with pytest.raises(UnitConflict, match="not written by"):
        uninstall(plan)
    assert plan.path.exists()
    assert uninstall(plan, force=True) is True


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="no systemd-analyze here")
def test_systemd_itself_finds_nothing_wrong_with_the_unit(tmp_path: Path) -> None:
    home = tmp_path / 'my "home" 100%'
    home.mkdir()
    plan = plan_unit(
        Manager.SYSTEMD,
        user=False,
        home=home,
        directory=tmp_path,
        python=sys.executable,
        path_env="/usr/bin:/bin",
        run_as="root",
    )
    install(plan)
    checked = subprocess.run(
        ["systemd-analyze", "verify", str(plan.path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert checked.returncode == 0 and checked.stderr == "", checked.stderr
