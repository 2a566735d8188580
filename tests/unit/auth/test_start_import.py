"""An auth.json named at start (CODEX_AUTH_JSON_PATH or [auth] import_from) becomes a
profile once: into the default profile while it has no auth.json, else "imported"; the
same file again imports nothing (Codex's refreshed copy is kept); a new one replaces it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from codex_runner.auth.profile_store import ProfileError, ProfileStore
from codex_runner.auth.start_import import ENV, import_at_start
from codex_runner.config import load_config

API_KEY_AUTH = {"auth_mode": "apikey", "OPENAI_API_KEY": "sk-test-start"}
CHATGPT_AUTH = {"tokens": {"id_token": "x", "access_token": "y", "refresh_token": "z"}}


def _write(path: Path, content: dict[str, object]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(content))
    return path


def test_the_start_file_is_imported_once_into_the_default_profile(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    monkeypatch.setenv(ENV, str(_write(tmp_path / "given" / "auth.json", CHATGPT_AUTH)))
    first = import_at_start(load_config(home))
    assert first is not None and (first.profile, first.imported) == ("default", True)
    stored = ProfileStore(home).codex_home("default") / "auth.json"
    assert json.loads(stored.read_text()) == CHATGPT_AUTH
    stored.write_text(json.dumps({**CHATGPT_AUTH, "refreshed": True}))  # Codex refreshed it
    again = import_at_start(load_config(home))
    assert again is not None and not again.imported
    assert json.loads(stored.read_text())["refreshed"] is True  # not undone
    _write(tmp_path / "given" / "auth.json", API_KEY_AUTH)  # a new file: imported again
    newer = import_at_start(load_config(home))
    assert newer is not None and (newer.profile, newer.imported) == ("default", True)
    assert json.loads(stored.read_text()) == API_KEY_AUTH


def test_a_default_profile_with_its_own_login_is_left_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    monkeypatch.delenv(ENV, raising=False)
    ProfileStore(home).import_auth("default", _write(tmp_path / "mine.json", API_KEY_AUTH))
    given = _write(home / "team-auth.json", CHATGPT_AUTH)
    (home / "config.toml").write_text('[auth]\nimport_from = "team-auth.json"\n')
    done = import_at_start(load_config(home))
    assert done is not None and (done.profile, done.source) == ("imported", given)
    store = ProfileStore(home)
    assert store.info("default").auth_mode == "apikey"
    assert store.info("imported").auth_mode == "chatgpt"


def test_nothing_is_imported_without_a_file_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(ENV, raising=False)
    assert import_at_start(load_config(tmp_path)) is None


def test_a_missing_or_bad_file_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENV, str(tmp_path / "nowhere.json"))
    with pytest.raises(ProfileError, match=r"CODEX_AUTH_JSON_PATH names .*nowhere\.json"):
        import_at_start(load_config(tmp_path / "home"))
    monkeypatch.setenv(ENV, str(_write(tmp_path / "bad.json", {"hello": 1})))
    with pytest.raises(ProfileError):
        import_at_start(load_config(tmp_path / "home"))
    assert not (tmp_path / "home" / "auth-import.json").exists()
