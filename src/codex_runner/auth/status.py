"""``config status``: where things live, which Codex, which profile and account, the daemon."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from codex_runner.auth.account import AccountInfo, describe_mode
from codex_runner.auth.account_session import AccountSession, Launcher
from codex_runner.auth.api_key_store import ApiKeyStore, ApiKeyStoreError
from codex_runner.auth.profile_store import AUTH_FILE, auth_mode_of
from codex_runner.codex.binary import codex_version, find_codex_binary
from codex_runner.codex.errors import CodexError
from codex_runner.config import RunnerConfig, active_profile
from codex_runner.runner_home.daemon_info import running_daemon
from codex_runner.runner_home.secret_files import UnsafeSecretFile
from codex_runner.runner_home.team_home import team_home


@dataclass(frozen=True)
class RunnerStatus:
    home: Path
    config_file: Path
    config_file_exists: bool
    codex_home: Path
    team_home: Path
    codex_binary: str | None
    codex_version: str | None
    profile: str
    profile_auth_mode: str  # from the profile's auth.json: apikey | chatgpt | none
    account: AccountInfo | None  # what Codex reports (account/read)
    problems: tuple[str, ...]  # what could not be found out, one line each
    api_key_store: str  # where the runner keeps its copy of an API key
    api_key_stored: bool | None  # None: the store could not be read
    daemon_url: str | None

    @property
    def auth_mode(self) -> str:
        """The mode in a person's words: Codex's answer when it reports an account, else the
        profile's auth.json (Codex reports no OpenAI account for other model providers)."""
        if self.account is not None and self.account.authenticated:
            return describe_mode(self.account.mode)
        return describe_mode(self.profile_auth_mode)

    @property
    def uses_api_key(self) -> bool:
        """An API key is what Codex signs in with: the runner stored one, or the profile's
        auth.json holds one."""
        return self.api_key_stored is True or self.profile_auth_mode.lower() == "apikey"

    def account_summary(self) -> str | None:
        """The account in a person's words (None when Codex was not asked): an API key is
        never reported as "not logged in", even when Codex reports no OpenAI account."""
        account = self.account
        if account is None:
            return None
        plan = f", plan {account.plan_type}" if account.plan_type else ""
        if account.authenticated:
            return (account.email or describe_mode(account.mode)) + plan
        needs_none = "" if account.requires_openai_auth else "; the model provider needs none"
        if self.uses_api_key:
            return f"authenticates with the API key (no ChatGPT login{needs_none})"
        if not account.requires_openai_auth:
            return "not logged in (the model provider needs no OpenAI login)"
        return "not logged in"

    def to_dict(self) -> dict[str, Any]:
        return {
            "home": str(self.home),
            "config_file": str(self.config_file),
            "config_file_exists": self.config_file_exists,
            "codex_home": str(self.codex_home),
            "team_home": str(self.team_home),
            "codex": {"binary": self.codex_binary, "version": self.codex_version},
            "profile": {
                "name": self.profile,
                "auth_mode": self.auth_mode,
                "auth_file_mode": self.profile_auth_mode,
            },
            "account": self.account.to_dict() if self.account is not None else None,
            "api_key": {"store": self.api_key_store, "stored": self.api_key_stored},
            "daemon": {"running": self.daemon_url is not None, "url": self.daemon_url},
            "problems": list(self.problems),
        }


async def gather_status(
    config: RunnerConfig, *, ask_codex: bool = True, launcher: Launcher | None = None
) -> RunnerStatus:
    """Collect the status; ``ask_codex`` starts an app-server for ``account/read``."""
    problems: list[str] = []
    binary: str | None = None
    version: str | None = None
    try:
        found = find_codex_binary(config.codex.bin)
        binary = str(found)
        version = await asyncio.to_thread(codex_version, found)
    except CodexError as exc:
        problems.append(str(exc))
    except Exception as exc:  # the binary exists but --version failed
        problems.append(f"`codex --version` failed: {exc}")
    account: AccountInfo | None = None
    if ask_codex and binary is not None:
        try:
            async with AccountSession(config, launcher=launcher) as session:
                account = await session.account()
        except CodexError as exc:
            problems.append(f"account/read failed: {exc}")
    store = ApiKeyStore(config.home)
    try:
        stored: bool | None = store.load() is not None
    except (ApiKeyStoreError, UnsafeSecretFile) as exc:
        stored = None
        problems.append(str(exc))
    daemon = running_daemon(config.home)
    codex_home = config.codex_home
    return RunnerStatus(
        home=config.home,
        config_file=config.home / "config.toml",
        config_file_exists=(config.home / "config.toml").exists(),
        codex_home=codex_home,
        team_home=team_home(config.home, config.auth.team_home),
        codex_binary=binary,
        codex_version=version,
        profile=active_profile(config.home),
        profile_auth_mode=auth_mode_of(codex_home / AUTH_FILE),
        account=account,
        problems=tuple(problems),
        api_key_store=store.describe(),
        api_key_stored=stored,
        daemon_url=daemon.url if daemon is not None else None,
    )
