"""Auth profiles on disk: import, import from the host, the active profile, removal."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from codex_runner.auth.profile_store import ProfileError, ProfileStore, auth_mode_of
from codex_runner.config import ConfigError, load_config

API_KEY_AUTH = {"auth_mode": "apikey", "OPENAI_API_KEY": "sk-test-profile"}
CHATGPT_AUTH = {"tokens": {"id_token": "x", "access_token": "y", "refresh_token": "z"}}


def _auth_file(path: Path, content: dict[str, object]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(content))
    return path


def test_without_profiles_the_default_profile_is_the_old_codex_home(tmp_path: Path) -> None:
    store = ProfileStore(tmp_path)
    assert store.names() == ["default"]
    assert store.active() == "default"
    assert load_config(tmp_path).codex_home == tmp_path / "codex-home"


def test_import_copies_the_auth_file_privately_and_leaves_the_source(tmp_path: Path) -> None:
    source = _auth_file(tmp_path / "elsewhere" / "auth.json", CHATGPT_AUTH)
    source.chmod(0o644)
    home = tmp_path / "home"
    info = ProfileStore(home).import_auth("work", source)
    target = home / "profiles" / "work" / "codex-home" / "auth.json"
    assert info.codex_home == target.parent and info.auth_mode == "chatgpt"
    assert json.loads(target.read_text()) == CHATGPT_AUTH
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert source.exists() and stat.S_IMODE(source.stat().st_mode) == 0o644


def test_import_refuses_to_overwrite_unless_asked(tmp_path: Path) -> None:
    store = ProfileStore(tmp_path / "home")
    store.import_auth("work", _auth_file(tmp_path / "a.json", CHATGPT_AUTH))
    with pytest.raises(ProfileError, match="--replace"):
        store.import_auth("work", _auth_file(tmp_path / "b.json", API_KEY_AUTH))
    assert store.import_auth("work", tmp_path / "b.json", replace=True).auth_mode == "apikey"


@pytest.mark.parametrize(
    ("content", "problem"),
    [("not json", "not valid JSON"), ("{}", "no Codex credentials"), ("[1]", "no Codex")],
)
def test_import_rejects_files_that_are_not_codex_credentials(
    tmp_path: Path, content: str, problem: str
) -> None:
    source = tmp_path / "auth.json"
    source.write_text(content)
    with pytest.raises(ProfileError, match=problem):
        ProfileStore(tmp_path / "home").import_auth("work", source)
    assert not (tmp_path / "home" / "profiles" / "work").exists()


def test_import_refuses_a_binary_file_with_a_clear_error(tmp_path: Path) -> None:
    source = tmp_path / "auth.json.gz"
    source.write_bytes(b"\x1f\x8b\x08\x00\xff\xfe")
    with pytest.raises(ProfileError, match="not a text file"):
        ProfileStore(tmp_path / "home").import_auth("work", source)
    assert not (tmp_path / "home" / "profiles" / "work").exists()


def test_import_error_names_the_file_but_never_its_secrets(tmp_path: Path) -> None:
    source = tmp_path / "auth.json"
    source.write_text('{"OPENAI_API_KEY": "sk-secret-value"')  # truncated JSON
    with pytest.raises(ProfileError) as caught:
        ProfileStore(tmp_path / "home").import_auth("work", source)
    assert str(source) in str(caught.value) and "sk-secret-value" not in str(caught.value)


@pytest.mark.parametrize("name", ["../evil", ".hidden", "a/b", "", "active", "-x", "x" * 65])
def test_profile_names_cannot_escape_the_profiles_directory(tmp_path: Path, name: str) -> None:
    source = _auth_file(tmp_path / "auth.json", CHATGPT_AUTH)
    with pytest.raises(ProfileError, match="not a valid profile name"):
        ProfileStore(tmp_path / "home").import_auth(name, source)


def test_import_host_copies_the_users_codex_auth(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    host = tmp_path / "dot-codex"
    source = _auth_file(host / "auth.json", CHATGPT_AUTH)
    monkeypatch.setenv("CODEX_HOME", str(host))
    info = ProfileStore(tmp_path / "home").import_host("mine")
    assert info.auth_mode == "chatgpt"
    assert source.exists()  # copied, never moved


def test_import_host_without_a_host_login_says_how_to_get_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CODEX_HOME", str(tmp_path / "nothing"))
    with pytest.raises(ProfileError, match="codex login"):
        ProfileStore(tmp_path / "home").import_host("mine")


def test_the_active_profile_decides_the_codex_home(tmp_path: Path) -> None:
    store = ProfileStore(tmp_path)
    store.import_auth("work", _auth_file(tmp_path / "a.json", API_KEY_AUTH))
    store.set_active("work")
    assert load_config(tmp_path).codex_home == tmp_path / "profiles" / "work" / "codex-home"
    assert [(p.name, p.active) for p in store.profiles()] == [("default", False), ("work", True)]
    store.set_active("default")
    assert load_config(tmp_path).codex_home == tmp_path / "codex-home"


def test_an_explicit_codex_home_wins_over_profiles(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text(f'[codex]\nhome = "{tmp_path / "pinned"}"\n')
    store = ProfileStore(tmp_path)
    store.create("work")
    store.set_active("work")
    assert load_config(tmp_path).codex_home == tmp_path / "pinned"


def test_using_an_unknown_profile_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ProfileError, match="auth profiles list"):
        ProfileStore(tmp_path).set_active("nope")


def test_a_tampered_active_file_is_a_config_error(tmp_path: Path) -> None:
    (tmp_path / "profiles").mkdir()
    (tmp_path / "profiles" / "active").write_text("../../etc\n")
    with pytest.raises(ConfigError, match="auth profiles use"):
        _ = load_config(tmp_path).codex_home


def test_remove_deletes_the_profile_but_not_the_active_or_default_one(tmp_path: Path) -> None:
    store = ProfileStore(tmp_path)
    store.create("a")
    store.create("b")
    store.set_active("a")
    with pytest.raises(ProfileError, match="is active"):
        store.remove("a")
    with pytest.raises(ProfileError, match="cannot be removed"):
        store.remove("default")
    with pytest.raises(ProfileError, match="no auth profile"):
        store.remove("zzz")
    store.remove("b")
    assert store.names() == ["default", "a"]


def test_auth_mode_is_read_without_exposing_secrets(tmp_path: Path) -> None:
    assert auth_mode_of(tmp_path / "missing.json") == "none"
    assert auth_mode_of(_auth_file(tmp_path / "k.json", {"OPENAI_API_KEY": "sk"})) == "apikey"
    assert auth_mode_of(_auth_file(tmp_path / "c.json", CHATGPT_AUTH)) == "chatgpt"
    (tmp_path / "bad.json").write_text("{")
    assert auth_mode_of(tmp_path / "bad.json") == "unreadable"
