"""``codex-runner service install|uninstall`` against a tmp folder standing for systemd's."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner, Result

from codex_runner.cli.service_cmd import service_app


def run(home: Path, units: Path, *args: str, **env: str) -> Result:
    return CliRunner().invoke(
        service_app,
        [*args, "--manager", "systemd"],
        env={
            "CODEX_RUNNER_HOME": str(home),
            "CODEX_RUNNER_SERVICE_DIR": str(units),
            "CODEX_RUNNER_DATABASE_URL": None,
            **env,
        },
    )


def test_install_writes_the_unit_and_says_how_to_enable_it(tmp_path: Path) -> None:
    home, units = tmp_path / "home", tmp_path / "units"

    shown = run(home, units, "install", "--user", "--print")
    assert shown.exit_code == 0, shown.output
    assert "Restart=on-failure" in shown.stdout and not units.exists()

    done = run(home, units, "install", "--user", CODEX_RUNNER_SLACK_BOT_TOKEN="xoxb-canary")
    assert done.exit_code == 0, done.output
    unit = units / "codex-runner.service"
    assert unit.read_text() == shown.stdout
    assert f"CODEX_RUNNER_HOME={home.resolve()}" in unit.read_text()
    assert "systemctl --user enable --now codex-runner.service" in done.stdout
    # A variable of the environment is named, never written into the unit.
    assert "CODEX_RUNNER_SLACK_BOT_TOKEN" in done.stdout
    assert "xoxb-canary" not in unit.read_text() + done.stdout

    again = run(home, units, "install", "--user")
    assert again.exit_code == 0 and "already installed" in again.stdout


def test_a_different_unit_is_replaced_only_with_force(tmp_path: Path) -> None:
    units = tmp_path / "units"
    assert run(tmp_path / "one", units, "install", "--user").exit_code == 0

    refused = run(tmp_path / "two", units, "install", "--user")

    assert refused.exit_code == 1
    assert "--force" in refused.stderr and "differs" in refused.stderr
    assert str(tmp_path / "one") in (units / "codex-runner.service").read_text()
    assert run(tmp_path / "two", units, "install", "--user", "--force").exit_code == 0
    assert str(tmp_path / "two") in (units / "codex-runner.service").read_text()


def test_uninstall_removes_it_and_says_how_to_stop_a_running_one(tmp_path: Path) -> None:
    home, units = tmp_path / "home", tmp_path / "units"
    run(home, units, "install", "--user")

    removed = run(home, units, "uninstall", "--user")

    assert removed.exit_code == 0, removed.output
    assert not (units / "codex-runner.service").exists()
    assert "systemctl --user stop codex-runner.service" in removed.stdout
    nothing = run(home, units, "uninstall", "--user")
    assert nothing.exit_code == 0 and "nothing to remove" in nothing.stdout


def test_a_config_that_does_not_load_installs_nothing(tmp_path: Path) -> None:
    home, units = tmp_path / "home", tmp_path / "units"
    home.mkdir()
    (home / "config.toml").write_text("[store]\nevent_retention_s = -1\n")

    failed = run(home, units, "install", "--user")

    assert failed.exit_code == 2 and "event_retention_s" in failed.stderr
    assert not units.exists()
