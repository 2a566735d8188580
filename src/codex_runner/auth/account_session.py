"""A short-lived ``codex app-server`` on one Codex home, for account calls.

Login, logout and ``account/read`` run against the Codex home of a chosen auth profile,
which need not be the one the runtime uses; so this opens its own connection instead of
borrowing the runtime's. Codex then stores (and refreshes) the credentials in that home's
own auth store. Its :class:`~codex_runner.codex.connection.AppServerConnection` owns the
child from spawn to reap.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from codex_runner.auth.account import AccountInfo, account_from_wire
from codex_runner.codex.connection import AppServerConnection, Launcher
from codex_runner.codex.errors import CodexError, RpcError, RuntimeUnavailable
from codex_runner.config import RunnerConfig

__all__ = ["AccountSession", "Launcher", "LoginCompletion", "VersionInfo", "pinned_to"]

LOGIN_COMPLETED = "account/login/completed"


@dataclass(frozen=True)
class LoginCompletion:
    login_id: str | None
    success: bool
    error: str | None


@dataclass(frozen=True)
class VersionInfo:
    codex_version: str | None
    codex_home: str | None


def pinned_to(config: RunnerConfig, codex_home: Path) -> RunnerConfig:
    """``config`` with its Codex home fixed to ``codex_home`` (whatever profile is active)."""
    return config.model_copy(
        update={"codex": config.codex.model_copy(update={"home": str(codex_home)})}
    )


class AccountSession:
    """``async with AccountSession(config, codex_home) as session: await session.account()``."""

    def __init__(
        self,
        config: RunnerConfig,
        codex_home: Path | None = None,
        *,
        launcher: Launcher | None = None,
    ) -> None:
        self.config = pinned_to(config, codex_home) if codex_home is not None else config
        self._launcher = launcher
        self._conn: AppServerConnection | None = None
        self._completions: dict[str | None, LoginCompletion] = {}
        self._completed = asyncio.Event()
        self.version = VersionInfo(None, None)

    async def __aenter__(self) -> AccountSession:
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def open(self) -> None:
        self._conn = AppServerConnection.for_config(
            self.config,
            launcher=self._launcher,
            on_notification=self._on_notification,
            on_server_request=self._refuse_server_request,
        )
        info = await self._conn.open()
        self.version = VersionInfo(info.codex_version, info.codex_home)

    async def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            await conn.close()

    def _on_notification(self, method: str, params: dict[str, Any]) -> None:
        if method == LOGIN_COMPLETED:
            login_id = params.get("loginId")
            error = params.get("error")
            self._completions[str(login_id) if login_id is not None else None] = LoginCompletion(
                str(login_id) if login_id is not None else None,
                bool(params.get("success")),
                str(error) if error else None,
            )
            self._completed.set()

    async def _refuse_server_request(self, method: str, params: dict[str, Any]) -> Any:
        raise CodexError(f"codex-runner does not handle {method} during an account session")

    async def request(self, method: str, params: dict[str, Any] | None = None) -> Any:
        if self._conn is None:
            raise RuntimeUnavailable("the account session is not open")
        return await self._conn.request(method, params)

    # account calls -----------------------------------------------------------------------
    async def account(self, *, rate_limits: bool = True) -> AccountInfo:
        """``account/read``, plus usage windows when Codex can report them (ChatGPT only)."""
        info = account_from_wire(await self.request("account/read", {"refreshToken": False}))
        if rate_limits and info.mode == "chatgpt":
            with contextlib.suppress(CodexError):  # optional: the account is known already
                info = info.with_rate_limits(await self.request("account/rateLimits/read"))
        return info

    async def login_api_key(self, api_key: str) -> None:
        """Codex's own API-key login: Codex writes the key to this home's auth store."""
        try:
            await self.request("account/login/start", {"type": "apiKey", "apiKey": api_key})
        except RpcError as exc:
            # Codex's message could quote what it was given: never pass the key on.
            raise RpcError(
                exc.method, exc.code, exc.rpc_message.replace(api_key, "[redacted]")
            ) from None

    async def start_chatgpt_login(self, *, device_code: bool) -> dict[str, Any]:
        kind = "chatgptDeviceCode" if device_code else "chatgpt"
        result = await self.request("account/login/start", {"type": kind})
        return result if isinstance(result, dict) else {}

    async def cancel_login(self, login_id: str) -> str:
        """``account/login/cancel``; returns Codex's status (``canceled`` or ``notFound``)."""
        result = await self.request("account/login/cancel", {"loginId": login_id})
        return str((result or {}).get("status", "unknown"))

    async def logout(self) -> None:
        await self.request("account/logout")

    async def wait_login_completed(self, login_id: str | None, timeout: float) -> LoginCompletion:
        """The ``account/login/completed`` notification for ``login_id``; TimeoutError after
        ``timeout`` seconds."""
        async with asyncio.timeout(timeout):
            while login_id not in self._completions:
                self._completed.clear()
                await self._completed.wait()
        return self._completions[login_id]
