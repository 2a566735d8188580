"""A daemon linked to the fake chat server, with the real codex and the scripted model."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
import tomli_w

from codex_runner.mockmodel import MockModelServer, Script

from ...support.chat_server import FakeChatServer
from ..daemon.conftest import DAEMON_RULES
from ..daemon.harness import Daemon

TOKEN = "link-t0ken-5ecret-value"
RUNNER_ID = "runner-1"
TOPIC = f"local_runner:{RUNNER_ID}"


class LinkedDaemon(Daemon):
    """A daemon whose environment carries the link's token."""

    def __init__(self, home: Path, token: str) -> None:
        super().__init__(home)
        self.token = token

    @property
    def env(self) -> dict[str, str]:
        return {**super().env, "CODEX_RUNNER_LINK_TOKEN": self.token}


StartLinked = Callable[..., Awaitable[LinkedDaemon]]


@pytest.fixture
async def link_model() -> AsyncIterator[MockModelServer]:
    async with MockModelServer(Script.from_dict({"rules": DAEMON_RULES}), port=0) as server:
        yield server


@pytest.fixture
async def chat() -> AsyncIterator[FakeChatServer]:
    async with FakeChatServer(token=TOKEN) as server:
        yield server


@pytest.fixture
async def start_linked(
    tmp_path: Path, link_model: MockModelServer, chat: FakeChatServer, repo: Path
) -> AsyncIterator[StartLinked]:
    started: list[LinkedDaemon] = []

    async def start(
        *, token: str = TOKEN, codex: dict[str, Any] | None = None, **link: Any
    ) -> LinkedDaemon:
        home = tmp_path / "home"
        home.mkdir(exist_ok=True)
        settings = {
            "codex": {"config": link_model.codex_config(), **(codex or {})},
            "link": {
                "url": chat.url,
                "runner_id": RUNNER_ID,
                "cwd": str(repo),
                "heartbeat_s": 0.5,
                **link,
            },
        }
        (home / "config.toml").write_text(tomli_w.dumps(settings))
        daemon = LinkedDaemon(home, token)
        started.append(daemon)
        await daemon.start()
        return daemon

    yield start
    for daemon in started:
        await asyncio.to_thread(daemon.stop)  # the fake chat server shares this loop
