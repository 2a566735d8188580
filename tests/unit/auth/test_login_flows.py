"""Login flows over the app-server protocol, against an in-memory Codex peer."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from codex_runner.auth.login import (
    LoginCancelled,
    LoginFailed,
    LoginPrompt,
    LoginTimedOut,
    login_with_api_key,
    login_with_chatgpt,
)
from codex_runner.codex.fake import FakeCodexPeer, FakeTransport
from codex_runner.codex.process import ChildProcess
from codex_runner.codex.transport import Transport
from codex_runner.config import RunnerConfig, load_config

KEY = "sk-canary-login"
AUTH_URL = "https://auth.openai.com/oauth/authorize?state=abc"


class OnePeer:
    def __init__(self) -> None:
        self.transport = FakeTransport()
        self.peer = FakeCodexPeer(self.transport)

    async def launch(self) -> tuple[Transport, ChildProcess | None]:
        return self.transport, None


@pytest.fixture
def config(tmp_path: Path) -> RunnerConfig:
    return load_config(tmp_path)


async def test_api_key_login_uses_codexs_own_login_call(config: RunnerConfig) -> None:
    fake = OnePeer()
    task = asyncio.create_task(
        login_with_api_key(config, config.codex_home, KEY, launcher=fake.launch)
    )
    await fake.peer.handshake()
    login = await fake.peer.expect_request("account/login/start")
    assert login["params"] == {"type": "apiKey", "apiKey": KEY}
    fake.peer.reply(login, {"type": "apiKey"})
    read = await fake.peer.expect_request("account/read")
    fake.peer.reply(read, {"account": {"type": "apiKey"}, "requiresOpenaiAuth": True})
    info = await asyncio.wait_for(task, 5)
    assert info.mode == "apiKey"


async def test_a_refused_api_key_never_appears_in_the_error(config: RunnerConfig) -> None:
    fake = OnePeer()
    task = asyncio.create_task(
        login_with_api_key(config, config.codex_home, KEY, launcher=fake.launch)
    )
    await fake.peer.handshake()
    login = await fake.peer.expect_request("account/login/start")
    fake.peer.reply_error(login, -32600, f"invalid key {KEY}")
    with pytest.raises(LoginFailed) as caught:
        await asyncio.wait_for(task, 5)
    assert KEY not in str(caught.value) and "[redacted]" in str(caught.value)


async def _start_chatgpt(
    config: RunnerConfig, fake: OnePeer, **kwargs: Any
) -> tuple[asyncio.Task[Any], list[LoginPrompt], dict[str, Any]]:
    prompts: list[LoginPrompt] = []
    task = asyncio.create_task(
        login_with_chatgpt(
            config,
            config.codex_home,
            on_prompt=prompts.append,
            launcher=fake.launch,
            **{"device_code": False, **kwargs},
        )
    )
    await fake.peer.handshake()
    start = await fake.peer.expect_request("account/login/start")
    return task, prompts, start


async def test_browser_login_shows_the_url_and_waits_for_completion(
    config: RunnerConfig,
) -> None:
    fake = OnePeer()
    task, prompts, start = await _start_chatgpt(config, fake)
    assert start["params"] == {"type": "chatgpt"}
    fake.peer.reply(start, {"type": "chatgpt", "loginId": "L1", "authUrl": AUTH_URL})
    fake.peer.notify("account/login/completed", {"loginId": "L1", "success": True})
    read = await fake.peer.expect_request("account/read")
    fake.peer.reply(read, {"account": {"type": "chatgpt", "email": "me@x", "planType": "pro"}})
    limits = await fake.peer.expect_request("account/rateLimits/read")
    fake.peer.reply_error(limits, -32600, "rate limits unavailable")
    info = await asyncio.wait_for(task, 5)
    assert prompts == [LoginPrompt("L1", AUTH_URL)]
    assert (info.mode, info.email) == ("chatgpt", "me@x")


async def test_cancel_sends_account_login_cancel(config: RunnerConfig) -> None:
    fake = OnePeer()
    cancel = asyncio.Event()
    task, _, start = await _start_chatgpt(config, fake, cancel=cancel)
    fake.peer.reply(start, {"type": "chatgpt", "loginId": "L2", "authUrl": AUTH_URL})
    cancel.set()
    request = await fake.peer.expect_request("account/login/cancel")
    assert request["params"] == {"loginId": "L2"}
    fake.peer.reply(request, {"status": "canceled"})
    with pytest.raises(LoginCancelled) as caught:
        await asyncio.wait_for(task, 5)
    assert caught.value.status == "canceled"


async def test_a_login_that_never_completes_times_out_and_is_cancelled(
    config: RunnerConfig,
) -> None:
    fake = OnePeer()
    task, _, start = await _start_chatgpt(config, fake, timeout=0.05)
    fake.peer.reply(start, {"type": "chatgpt", "loginId": "L3", "authUrl": AUTH_URL})
    request = await fake.peer.expect_request("account/login/cancel")
    fake.peer.reply(request, {"status": "canceled"})
    with pytest.raises(LoginTimedOut, match="did not complete within"):
        await asyncio.wait_for(task, 5)


async def test_cancelling_the_caller_still_cancels_the_login(config: RunnerConfig) -> None:
    fake = OnePeer()
    shown = asyncio.Event()
    task = asyncio.create_task(
        login_with_chatgpt(
            config,
            config.codex_home,
            device_code=False,
            on_prompt=lambda _: shown.set(),
            launcher=fake.launch,
        )
    )
    await fake.peer.handshake()
    start = await fake.peer.expect_request("account/login/start")
    fake.peer.reply(start, {"type": "chatgpt", "loginId": "L4", "authUrl": AUTH_URL})
    await asyncio.wait_for(shown.wait(), 5)  # the flow now waits for the completion
    task.cancel()
    request = await fake.peer.expect_request("account/login/cancel")
    fake.peer.reply(request, {"status": "canceled"})
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, 5)


async def test_device_code_login_shows_the_code_and_a_failed_completion_is_an_error(
    config: RunnerConfig,
) -> None:
    fake = OnePeer()
    task, prompts, start = await _start_chatgpt(config, fake, device_code=True)
    assert start["params"] == {"type": "chatgptDeviceCode"}
    fake.peer.reply(
        start,
        {
            "type": "chatgptDeviceCode",
            "loginId": "D1",
            "verificationUrl": "https://auth.openai.com/codex/device",
            "userCode": "ABCD-1234",
        },
    )
    fake.peer.notify(
        "account/login/completed", {"loginId": "D1", "success": False, "error": "expired"}
    )
    with pytest.raises(LoginFailed, match="expired"):
        await asyncio.wait_for(task, 5)
    assert prompts[0].user_code == "ABCD-1234"


async def test_a_login_that_cannot_start_says_what_to_do(config: RunnerConfig) -> None:
    fake = OnePeer()
    task, prompts, start = await _start_chatgpt(config, fake, device_code=True)
    fake.peer.reply_error(start, -32603, "failed to request device code: error sending request")
    with pytest.raises(LoginFailed, match="device-code login could not start") as caught:
        await asyncio.wait_for(task, 5)
    assert "set-openai-key" in str(caught.value)
    assert prompts == []
