"""The API key's rules apart from any interface (the CLI's end-to-end runs are acceptance tests
against the real codex binary)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from codex_runner.auth.api_key_store import ApiKeyStore
from codex_runner.config import load_config
from codex_runner.runner_home.api_token import ensure_token
from codex_runner.runner_home.daemon_info import DaemonInfo, write_info
from codex_runner.service.api_key_login import (
    KeyLoginError,
    forget_key,
    log_in_with_stored_key,
    reload_daemon,
    store_key,
)
from codex_runner.service.daemon_link import DaemonRefused, FakeDaemonLink

KEY = "sk-service-canary-0123456789"


@pytest.fixture(autouse=True)
def no_keyring(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.null.Keyring")


def test_a_malformed_key_is_refused_before_anything_is_stored(tmp_path: Path) -> None:
    config = load_config(tmp_path)
    with pytest.raises(KeyLoginError) as caught:
        store_key(config, "not a key\nwith lines")
    assert "not a key" not in str(caught.value)
    assert ApiKeyStore(config.home).load() is None


async def test_logging_in_without_a_stored_key_names_the_command(tmp_path: Path) -> None:
    with pytest.raises(KeyLoginError, match="config set-openai-key"):
        await log_in_with_stored_key(load_config(tmp_path))


async def test_forgetting_the_key_keeps_a_chatgpt_login(tmp_path: Path) -> None:
    config = load_config(tmp_path)
    store_key(config, KEY)
    auth = config.codex_home / "auth.json"
    auth.parent.mkdir(parents=True)
    auth.write_text(json.dumps({"auth_mode": "chatgpt", "tokens": {"id_token": "x"}}))
    forgotten = await forget_key(config)
    assert forgotten.removed and forgotten.logged_out is None
    assert auth.exists()  # someone's ChatGPT login: not ours to log out
    assert ApiKeyStore(config.home).load() is None
    assert not (await forget_key(config)).removed


def test_no_daemon_nothing_to_reload_and_a_pinned_home_says_to_restart(tmp_path: Path) -> None:
    link = FakeDaemonLink()
    assert reload_daemon(load_config(tmp_path), link) is None
    write_info(tmp_path, DaemonInfo("http://127.0.0.1:1", os.getpid(), "2026-11-22T00:00:00Z"))
    (tmp_path / "config.toml").write_text(f'[codex]\nhome = "{tmp_path / "pinned"}"\n')
    reload = reload_daemon(load_config(tmp_path), link)
    assert reload is not None and reload.message is None
    assert reload.warning is not None and "restart the daemon" in reload.warning
    assert link.asked == []


def test_a_running_daemon_is_asked_to_switch_once_idle_and_a_refusal_is_a_warning(
    tmp_path: Path,
) -> None:
    token = ensure_token(tmp_path)
    write_info(tmp_path, DaemonInfo("http://daemon.test", os.getpid(), "2026-11-22T00:00:00Z"))
    link = FakeDaemonLink(switch_message="switching once idle")
    reload = reload_daemon(load_config(tmp_path), link)
    assert reload is not None and reload.warning is None
    assert reload.message == "daemon at http://daemon.test: switching once idle"
    assert link.asked == [("switch_profile", "http://daemon.test", token, "default", "when_idle")]
    link.refusal = DaemonRefused("the Codex runtime did not restart", status=503)
    reload = reload_daemon(load_config(tmp_path), link)
    assert reload is not None and reload.message is None
    assert reload.warning is not None
    assert "did not restart" in reload.warning and "restart the daemon" in reload.warning
