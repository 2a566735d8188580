"""Login flows through Codex's own ``account/login/*`` calls on a profile's Codex home.

Codex stores and refreshes the credentials in that home's auth store; the runner keeps only
what ``account/read`` reports (mode, e-mail, plan).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from codex_runner.auth.account import AccountInfo
from codex_runner.auth.account_session import AccountSession, Launcher
from codex_runner.codex.errors import CodexError, RpcError
from codex_runner.config import RunnerConfig

DEFAULT_LOGIN_TIMEOUT_S = 600.0
_CANCEL_TIMEOUT_S = 10.0
_API_KEY_FIX = "or use an API key: codex-runner config set-openai-key --api-key-stdin"


class LoginFailed(Exception):
    """The login did not complete; the message says why and what to try."""


class LoginCancelled(LoginFailed):
    def __init__(self, status: str) -> None:
        self.status = status  # what account/login/cancel answered: canceled | notFound
        super().__init__(f"ChatGPT login cancelled (Codex: {status}); nothing was stored")


class LoginTimedOut(LoginFailed):
    pass


@dataclass(frozen=True)
class LoginPrompt:
    """What the person must do: open ``url`` (and, for a device code, enter ``user_code``)."""

    login_id: str
    url: str
    user_code: str | None = None


async def login_with_api_key(
    config: RunnerConfig, codex_home: Path, api_key: str, *, launcher: Launcher | None = None
) -> AccountInfo:
    """Log Codex in with ``api_key`` on ``codex_home``; returns what Codex then reports."""
    async with AccountSession(config, codex_home, launcher=launcher) as session:
        try:
            await session.login_api_key(api_key)
        except CodexError as exc:
            raise LoginFailed(f"Codex refused the API key login: {exc}") from None
        return await session.account(rate_limits=False)


async def logout(
    config: RunnerConfig, codex_home: Path, *, launcher: Launcher | None = None
) -> None:
    """Codex's own logout: it removes the credentials from ``codex_home``'s auth store."""
    async with AccountSession(config, codex_home, launcher=launcher) as session:
        await session.logout()


async def login_with_chatgpt(
    config: RunnerConfig,
    codex_home: Path,
    *,
    device_code: bool,
    on_prompt: Callable[[LoginPrompt], None],
    timeout: float = DEFAULT_LOGIN_TIMEOUT_S,
    cancel: asyncio.Event | None = None,
    launcher: Launcher | None = None,
) -> AccountInfo:
    """ChatGPT login: show the prompt, wait for Codex to finish, with a timeout and a cancel.

    Setting ``cancel``, the timeout, or cancelling the calling task (Ctrl-C) all send
    ``account/login/cancel`` so Codex closes its callback server and stores nothing.
    """
    async with AccountSession(config, codex_home, launcher=launcher) as session:
        try:
            started = await session.start_chatgpt_login(device_code=device_code)
        except RpcError as exc:
            how = "device-code login" if device_code else "login"
            raise LoginFailed(
                f"ChatGPT {how} could not start: {exc.rpc_message}; check network access to "
                f"auth.openai.com, {_API_KEY_FIX}"
            ) from None
        prompt = _prompt_from(started)
        on_prompt(prompt)
        completion = asyncio.ensure_future(session.wait_login_completed(prompt.login_id, timeout))
        cancelled = asyncio.ensure_future((cancel or asyncio.Event()).wait())
        try:
            await asyncio.wait({completion, cancelled}, return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:
            with contextlib.suppress(CodexError, TimeoutError):
                await asyncio.shield(_cancel(session, prompt.login_id))
            raise
        finally:
            cancelled.cancel()
            if not completion.done():
                completion.cancel()
        if not completion.done() or completion.cancelled():
            raise LoginCancelled(await _cancel(session, prompt.login_id))
        if isinstance(completion.exception(), TimeoutError):
            status = await _cancel(session, prompt.login_id)
            raise LoginTimedOut(
                f"ChatGPT login did not complete within {timeout:g}s (cancelled: {status}); "
                "run the command again and finish the login in the browser sooner"
            )
        result = completion.result()
        if not result.success:
            raise LoginFailed(f"ChatGPT login failed: {result.error or 'no reason given'}")
        return await session.account()


async def _cancel(session: AccountSession, login_id: str) -> str:
    async with asyncio.timeout(_CANCEL_TIMEOUT_S):
        return await session.cancel_login(login_id)


def _prompt_from(started: dict[str, object]) -> LoginPrompt:
    login_id = started.get("loginId")
    url = started.get("authUrl") or started.get("verificationUrl")
    if not isinstance(login_id, str) or not isinstance(url, str):
        raise LoginFailed(
            f"Codex started a login without a login id or URL (type {started.get('type')!r}); "
            "upgrade codex-runner or its Codex binary"
        )
    code = started.get("userCode")
    return LoginPrompt(login_id, url, code if isinstance(code, str) else None)
