"""The runner's copy of an API key: keyring when usable, else a 0600 file; never echoed."""

from __future__ import annotations

import stat
from collections.abc import Iterator
from pathlib import Path

import keyring
import pytest
from keyring.backend import KeyringBackend
from keyring.backends import null
from keyring.errors import PasswordDeleteError

from codex_runner.auth.api_key_store import (
    ApiKeyStore,
    ApiKeyStoreError,
    KeyringKeyBackend,
    validate_api_key,
)
from codex_runner.runner_home.secret_files import UnsafeSecretFile

KEY = "sk-canary-0123456789"


class MemoryKeyring(KeyringBackend):
    priority = 1  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.items: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.items.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.items[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        if self.items.pop((service, username), None) is None:
            raise PasswordDeleteError("not found")


@pytest.fixture(autouse=True)
def no_keyring(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Tests choose their keyring; the machine's keyring is never touched."""
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.null.Keyring")
    before = keyring.get_keyring()
    keyring.set_keyring(null.Keyring())
    yield
    keyring.set_keyring(before)


def test_without_a_keyring_the_key_goes_to_a_private_file(tmp_path: Path) -> None:
    store = ApiKeyStore(tmp_path)
    assert "secrets/openai-api-key" in store.describe()
    store.save(f"  {KEY}\n")
    path = tmp_path / "secrets" / "openai-api-key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert store.load() == KEY
    assert store.clear() is True
    assert store.load() is None and store.clear() is False


def test_an_unwritable_key_file_is_a_clear_error_naming_the_path(tmp_path: Path) -> None:
    (tmp_path / "secrets").write_text("a file where the directory should be")
    store = ApiKeyStore(tmp_path)
    with pytest.raises(ApiKeyStoreError, match="secrets/openai-api-key") as caught:
        store.save(KEY)
    assert KEY not in str(caught.value)


def test_a_world_readable_key_file_is_refused_with_the_fix(tmp_path: Path) -> None:
    store = ApiKeyStore(tmp_path)
    store.save(KEY)
    (tmp_path / "secrets" / "openai-api-key").chmod(0o644)
    with pytest.raises(UnsafeSecretFile, match="chmod 600") as caught:
        store.load()
    assert KEY not in str(caught.value)


def test_a_usable_keyring_holds_the_key_and_no_file_is_left(tmp_path: Path) -> None:
    ApiKeyStore(tmp_path).save(KEY)  # file first, as on a machine without a keyring
    ring = MemoryKeyring()
    store = ApiKeyStore(tmp_path, KeyringKeyBackend(ring))
    store.save(KEY)
    assert list(ring.items.values()) == [KEY]
    assert not (tmp_path / "secrets" / "openai-api-key").exists()
    assert store.load() == KEY and "OS keyring" in store.describe()
    assert store.clear() is True and ring.items == {}


def test_the_keyring_backend_is_chosen_when_one_is_configured(tmp_path: Path) -> None:
    keyring.set_keyring(MemoryKeyring())
    assert "OS keyring" in ApiKeyStore(tmp_path).describe()


class BrokenKeyring(MemoryKeyring):
    def set_password(self, service: str, username: str, password: str) -> None:
        from keyring.errors import PasswordSetError

        raise PasswordSetError(f"locked; tried {password}")


def test_keyring_failures_name_the_fix_not_the_key(tmp_path: Path) -> None:
    store = ApiKeyStore(tmp_path, KeyringKeyBackend(BrokenKeyring()))
    with pytest.raises(ApiKeyStoreError, match="PYTHON_KEYRING_BACKEND") as caught:
        store.save(KEY)
    assert KEY not in str(caught.value)


@pytest.mark.parametrize("bad", ["", "   \n", "sk-has space", "sk-\x00nul"])
def test_malformed_keys_are_refused_without_echoing_them(bad: str) -> None:
    with pytest.raises(ApiKeyStoreError) as caught:
        validate_api_key(bad)
    assert bad.strip() == "" or bad not in str(caught.value)
