"""doctor's link check: the token, and the running daemon's link state."""

from __future__ import annotations

from pathlib import Path

import pytest

from codex_runner.config import RunnerConfig, load_config
from codex_runner.runner_home.link_token import TOKEN_ENV
from codex_runner.service.doctor_checks import Level
from codex_runner.service.link_check import check_link

LINK = '[link]\nurl = "wss://chat.example/socket"\nrunner_id = "r1"\n'


def _config(tmp_path: Path, extra: str = "") -> RunnerConfig:
    (tmp_path / "config.toml").write_text(LINK + extra)
    return load_config(tmp_path)


def test_a_link_without_a_token_is_an_error_that_says_where_to_put_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(TOKEN_ENV, raising=False)
    check = check_link(_config(tmp_path), None)
    assert check.level is Level.ERROR and TOKEN_ENV in check.message


def test_a_token_file_others_can_read_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(TOKEN_ENV, raising=False)
    secret = tmp_path / "link-token"
    secret.write_text("s3cret-value\n")
    secret.chmod(0o644)
    config = _config(tmp_path, f'token_file = "{secret}"\n')
    check = check_link(config, None)
    assert check.level is Level.ERROR and "chmod 600" in check.message
    assert "s3cret-value" not in check.message
    secret.chmod(0o600)
    assert check_link(config, None).level is Level.OK


@pytest.mark.parametrize(
    ("state", "level"),
    [("connected", Level.OK), ("rejected", Level.ERROR), ("disconnected", Level.WARNING)],
)
def test_the_daemons_link_state_is_reported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, state: str, level: Level
) -> None:
    monkeypatch.setenv(TOKEN_ENV, "t")
    seen = {
        "state": state,
        "connected_since": "2026-12-03T10:00:00Z",
        "last_heartbeat_at": "2026-12-03T10:00:15Z",
        "last_acked_seq": 7,
        "last_error": "refused" if state != "connected" else None,
        "attempts": 2,
    }
    check = check_link(_config(tmp_path), seen)
    assert check.level is level and "r1" in check.message
