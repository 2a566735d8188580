"""The OpenAI API key's life cycle: store it and log Codex in with it; forget it and log out.

The rules, whichever interface asks:

- the key is validated, then stored (keyring, else a 0600 file), then the active profile's
  Codex home is logged in with it. A failed login keeps the stored key: the same command
  retries it;
- forgetting the key logs Codex out only when the Codex home's credentials are an API key.
  A ChatGPT login there belongs to someone else and stays;
- after either change, a running daemon's Codex still holds the old credentials: it is
  asked to restart on the active profile once idle (a pinned ``codex.home`` has no
  profiles, so that daemon must be restarted by hand). The CLI asks it, through the
  :class:`~codex_runner.service.daemon_link.DaemonLink` it hands in.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from codex_runner.auth.api_key_store import ApiKeyStore, ApiKeyStoreError
from codex_runner.auth.login import LoginFailed, login_with_api_key, logout
from codex_runner.auth.profile_store import AUTH_FILE, auth_mode_of
from codex_runner.codex.errors import CodexError
from codex_runner.config import ConfigError, RunnerConfig, active_profile
from codex_runner.runner_home.api_token import TokenMissing, read_token
from codex_runner.runner_home.daemon_info import running_daemon
from codex_runner.runner_home.secret_files import UnsafeSecretFile
from codex_runner.service.daemon_link import DaemonLink, DaemonRefused, DaemonUnanswered


class KeyLoginError(Exception):
    """The key could not be stored, or Codex could not be logged in or out; says the fix."""


@dataclass(frozen=True)
class KeyLogin:
    stored_in: str  # where the key is kept, e.g. "file ... (mode 0600)"
    profile: str
    codex_home: Path


@dataclass(frozen=True)
class KeyForgotten:
    removed: bool  # False when no key was stored
    stored_in: str
    logged_out: Path | None  # the Codex home logged out, when its credentials were the key


@dataclass(frozen=True)
class DaemonReload:
    message: str | None = None  # what the daemon said
    warning: str | None = None  # why it could not be asked; the fix is to restart it


def store_key(config: RunnerConfig, raw_key: str, store: ApiKeyStore | None = None) -> str:
    """Validate and store the key; where it went. Raises KeyLoginError."""
    store = store or ApiKeyStore(config.home)
    try:
        store.save(raw_key)  # validates it (stripped; the error never echoes it)
    except (ApiKeyStoreError, UnsafeSecretFile) as exc:
        raise KeyLoginError(str(exc)) from None
    return store.describe()


async def log_in_with_stored_key(
    config: RunnerConfig, store: ApiKeyStore | None = None
) -> KeyLogin:
    """Log the active profile's Codex home in with the stored key. Raises KeyLoginError."""
    store = store or ApiKeyStore(config.home)
    try:
        key = store.load()
    except (ApiKeyStoreError, UnsafeSecretFile) as exc:
        raise KeyLoginError(str(exc)) from None
    if key is None:
        raise KeyLoginError("no API key is stored; run `codex-runner config set-openai-key`")
    try:
        codex_home = config.codex_home
        await login_with_api_key(config, codex_home, key)
    except (LoginFailed, CodexError, ConfigError) as exc:
        raise KeyLoginError(f"{exc}; the key stays stored, retry with the same command") from None
    return KeyLogin(store.describe(), active_profile(config.home), codex_home)


async def forget_key(config: RunnerConfig, store: ApiKeyStore | None = None) -> KeyForgotten:
    """Remove the stored key; log Codex out if its credentials are an API key."""
    store = store or ApiKeyStore(config.home)
    try:
        removed = store.clear()
    except ApiKeyStoreError as exc:
        raise KeyLoginError(str(exc)) from None
    codex_home = config.codex_home
    if auth_mode_of(codex_home / AUTH_FILE) != "apikey":
        return KeyForgotten(removed, store.describe(), None)
    try:
        await logout(config, codex_home)
    except CodexError as exc:
        raise KeyLoginError(f"Codex did not log out of {codex_home}: {exc}") from None
    return KeyForgotten(removed, store.describe(), codex_home)


def reload_daemon(config: RunnerConfig, link: DaemonLink) -> DaemonReload | None:
    """Ask a running daemon (through ``link``) to restart its Codex (when idle) on the
    active profile, so that it picks up new credentials; None when no daemon runs."""
    daemon = running_daemon(config.home)
    if daemon is None:
        return None
    if not config.uses_profiles:
        return DaemonReload(
            warning=f"codex.home is set, so the daemon at {daemon.url} cannot switch its Codex "
            "over; restart the daemon to use the login"
        )
    restart = "restart the daemon to use the login"
    try:
        token = read_token(config.home)
        message = link.switch_profile(daemon.url, token, active_profile(config.home), "when_idle")
    except (TokenMissing, UnsafeSecretFile) as exc:
        return DaemonReload(warning=f"{exc}; {restart}")
    except DaemonRefused as exc:
        return DaemonReload(warning=f"the daemon refused: {exc}; {restart}")
    except DaemonUnanswered as exc:
        return DaemonReload(warning=f"the daemon at {daemon.url} did not answer ({exc}); {restart}")
    return DaemonReload(message=f"daemon at {daemon.url}: {message}")
