"""The runner's copy of an OpenAI API key: the OS keyring when one works, else a 0600 file.

The key leaves this module only towards Codex (its own login call or a child's environment);
messages name where the key is kept, never the key.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import keyring
import keyring.errors
from keyring.backend import KeyringBackend
from keyring.backends import chainer, fail, null

from codex_runner.runner_home.secret_files import check_private, write_private

KEYRING_SERVICE = "codex-runner"
KEYRING_USER = "openai-api-key"
KEY_FILE = Path("secrets") / "openai-api-key"


class ApiKeyStoreError(Exception):
    """The key cannot be stored or read; the message names the place and the fix."""


class KeyBackend(Protocol):
    """Where the key is kept."""

    def describe(self) -> str: ...

    def load(self) -> str | None: ...

    def save(self, key: str) -> None: ...

    def delete(self) -> bool:
        """Remove the key; False when there was none."""


@dataclass
class KeyringKeyBackend:
    backend: KeyringBackend

    def describe(self) -> str:
        return f"OS keyring ({type(self.backend).__module__}.{type(self.backend).__name__})"

    def load(self) -> str | None:
        try:
            return self.backend.get_password(KEYRING_SERVICE, KEYRING_USER)
        except keyring.errors.KeyringError as exc:
            raise ApiKeyStoreError(f"cannot read the API key from the {self._fix(exc)}") from None

    def save(self, key: str) -> None:
        try:
            self.backend.set_password(KEYRING_SERVICE, KEYRING_USER, key)
        except keyring.errors.KeyringError as exc:
            raise ApiKeyStoreError(f"cannot store the API key in the {self._fix(exc)}") from None

    def delete(self) -> bool:
        try:
            self.backend.delete_password(KEYRING_SERVICE, KEYRING_USER)
        except keyring.errors.PasswordDeleteError:
            return False
        except keyring.errors.KeyringError as exc:
            raise ApiKeyStoreError(f"cannot delete the API key from the {self._fix(exc)}") from None
        return True

    def _fix(self, exc: Exception) -> str:
        return (
            f"{self.describe()} ({type(exc).__name__}); unlock the keyring, or set "
            "PYTHON_KEYRING_BACKEND=keyring.backends.null.Keyring to keep the key in a 0600 file"
        )


@dataclass
class FileKeyBackend:
    path: Path

    def describe(self) -> str:
        return f"file {self.path} (mode 0600)"

    def load(self) -> str | None:
        if not self.path.exists():
            return None
        check_private(self.path)  # UnsafeSecretFile names the chmod fix
        try:
            return self.path.read_text(encoding="utf-8").strip() or None
        except (OSError, UnicodeDecodeError) as exc:
            raise ApiKeyStoreError(f"cannot read the API key from {self._fix(exc)}") from None

    def save(self, key: str) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            write_private(self.path, key + "\n")
        except OSError as exc:
            raise ApiKeyStoreError(f"cannot store the API key in {self._fix(exc)}") from None

    def delete(self) -> bool:
        try:
            self.path.unlink()
        except FileNotFoundError:
            return False
        except OSError as exc:
            raise ApiKeyStoreError(f"cannot delete the API key file {self._fix(exc)}") from None
        return True

    def _fix(self, exc: Exception) -> str:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__
        return f"{self.path} ({reason}); check that the directory is writable by this user"


def usable_keyring() -> KeyringBackend | None:
    """The configured keyring backend, or None when it is the fail/null backend (none here)."""
    backend = keyring.get_keyring()
    if isinstance(backend, fail.Keyring | null.Keyring):
        return None
    if isinstance(backend, chainer.ChainerBackend) and not backend.backends:
        return None
    return backend


class ApiKeyStore:
    """The API key in the keyring when one works, else in ``secrets/openai-api-key``."""

    def __init__(self, home: Path, backend: KeyBackend | None = None) -> None:
        self.file = FileKeyBackend(home / KEY_FILE)
        if backend is None:
            found = usable_keyring()
            backend = KeyringKeyBackend(found) if found is not None else self.file
        self.backend = backend

    def describe(self) -> str:
        return self.backend.describe()

    def save(self, key: str) -> None:
        key = validate_api_key(key)
        self.backend.save(key)
        if self.backend is not self.file:
            # A key moved to the keyring must not linger in an old file.
            with contextlib.suppress(OSError):
                self.file.delete()

    def load(self) -> str | None:
        key = self.backend.load()
        if key is None and self.backend is not self.file:
            key = self.file.load()
        return key

    def clear(self) -> bool:
        """Forget the key wherever it is kept; False when there was none."""
        removed = self.backend.delete()
        if self.backend is not self.file:
            removed = self.file.delete() or removed
        return removed


def validate_api_key(key: str) -> str:
    """A plausible key, stripped; the error never echoes the value."""
    key = key.strip()
    if not key:
        raise ApiKeyStoreError("the API key is empty; pass a key on stdin or in the named variable")
    if any(c.isspace() for c in key) or not key.isprintable():
        raise ApiKeyStoreError(
            "the API key contains spaces or control characters; pass exactly the key"
        )
    return key
