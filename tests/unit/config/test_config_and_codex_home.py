"""Runner configuration and the Codex home it writes."""

from __future__ import annotations

import socket
import subprocess
import tomllib
from pathlib import Path

import pytest

from codex_runner.codex.home import child_environment, codex_config, prepare_codex_home
from codex_runner.config import ConfigError, load_config


def _write(home: Path, text: str) -> None:
    home.mkdir(parents=True, exist_ok=True)
    (home / "config.toml").write_text(text)


def test_defaults_need_no_file(tmp_path: Path) -> None:
    config = load_config(tmp_path)
    assert config.codex.runtime == "app-server"
    assert config.codex_home == tmp_path.resolve() / "codex-home"


def test_user_codex_keys_merge_over_headless_defaults(tmp_path: Path) -> None:
    _write(
        tmp_path,
        '[codex.config]\nmodel = "m"\n[codex.config.features]\nshell_snapshot = true\n'
        '[codex.config.model_providers.p]\nname = "p"\nenv_key = "P_KEY"\n',
    )
    merged = codex_config(load_config(tmp_path))
    assert merged["model"] == "m"
    assert merged["features"]["shell_snapshot"] is True  # the user's choice wins
    assert merged["features"]["plugins"] is False  # the default stays
    assert merged["analytics"] == {"enabled": False}


def test_headless_defaults_can_be_turned_off(tmp_path: Path) -> None:
    _write(tmp_path, "[codex]\nheadless_defaults = false\n")
    assert codex_config(load_config(tmp_path)) == {}


def test_the_codex_home_config_is_written_as_toml(tmp_path: Path) -> None:
    _write(tmp_path, '[codex.config]\nmodel = "m"\n')
    home = prepare_codex_home(load_config(tmp_path))
    written = tomllib.loads((home / "config.toml").read_text())
    assert written["model"] == "m" and written["features"]["apps"] is False


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("[codex]\nruntim = 'exec'\n", "codex.runtim"),
        ("[codex]\nruntime = 'docker'\n", "codex.runtime"),
        ("[codex]\nturn_idle_timeout_s = -1\n", "codex.turn_idle_timeout_s"),
        ("[codex]\neffort = 'ultra'\n", "codex.effort"),
        ("[service]\nhome_check_interval_s = 0\n", "service.home_check_interval_s"),
        ("[codex\n", "not valid TOML"),
    ],
)
def test_bad_configuration_names_the_key(tmp_path: Path, text: str, named: str) -> None:
    _write(tmp_path, text)
    with pytest.raises(ConfigError, match=named):
        load_config(tmp_path)


def test_the_binary_can_be_overridden_by_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CODEX_RUNNER_CODEX_BIN", "/opt/codex")
    assert load_config(tmp_path).codex.bin == "/opt/codex"


def test_codex_sees_only_allowed_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _write(
        tmp_path,
        '[codex]\nenv_allowlist = ["EXTRA"]\n'
        '[codex.config.model_providers.p]\nname = "p"\nenv_key = "P_KEY"\n',
    )
    monkeypatch.setenv("P_KEY", "k")
    monkeypatch.setenv("EXTRA", "e")
    monkeypatch.setenv("SLACK_BOT_TOKEN", "secret")
    env = child_environment(load_config(tmp_path))
    assert env["P_KEY"] == "k" and env["EXTRA"] == "e"
    assert "SLACK_BOT_TOKEN" not in env
    assert env["CODEX_HOME"].endswith("codex-home")


def test_commands_with_a_socket_for_stdin_do_not_source_bashrc(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Codex gives commands a socket for stdin; bash then takes itself for a remote shell and
    # sources ~/.bashrc unless it is nested (SHLVL), costing every command its start-up files.
    home = tmp_path / "home"
    home.mkdir()
    sourced = tmp_path / "sourced"
    (home / ".bashrc").write_text(f"touch {sourced}\n")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("SHLVL", raising=False)
    env = child_environment(load_config(tmp_path / "runner"))

    def run_bash(environment: dict[str, str]) -> bool:
        sourced.unlink(missing_ok=True)
        ours, theirs = socket.socketpair()
        with ours, theirs:
            subprocess.run(["bash", "-c", "true"], stdin=theirs, env=environment, timeout=30)
        return sourced.exists()

    if not run_bash({k: v for k, v in env.items() if k != "SHLVL"}):
        pytest.skip("this bash does not source ~/.bashrc for a socket stdin")
    assert not run_bash(env)
