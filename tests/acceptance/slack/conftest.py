"""The Slack bridge assembled for real: fake Slack, real codex, scripted model, SqlStore."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from starlette.middleware import Middleware

from codex_runner.bridges.slack import SlackBridge, slack_router
from codex_runner.codex.factory import create_runtime
from codex_runner.config import NotifySettings, RunnerConfig, SlackSettings
from codex_runner.domain.task import Task, TaskState
from codex_runner.http.auth import BearerAuth
from codex_runner.http.json_app import json_app, open_paths
from codex_runner.logs.raw import RawLayer
from codex_runner.mockmodel import MockModelServer, Script
from codex_runner.service.event_bus import EventBus
from codex_runner.service.tasks import DirectoryWorkspaces, TaskService
from codex_runner.store.sql import SqlStore

from .fake_slack import APP_TOKEN, BOT_TOKEN, FakeSlack

API_TOKEN = "daemon-api-token"

SLACK_STREAMED_ANSWER = (
    "Slack sees this answer grow in the status message, piece by piece, then posted whole."
)

SLACK_RULES: list[dict[str, Any]] = [
    {
        # About three seconds of writing: a few live edits of the status message, at most
        # one a second.
        "match": "stream slowly",
        "responses": [[{"message": SLACK_STREAMED_ANSWER, "deltas": 8, "delta_delay": 0.4}]],
    },
    {"match": "hello", "responses": [[{"message": "Hi there, **friend**"}]]},
    {"match": "what did I say", "responses": [[{"echo": True}]]},
    {"match": "hang forever", "responses": [[{"hang": True}]]},
    {
        "match": "wait for go",
        "responses": [
            [{"shell": "while [ ! -e go ]; do sleep 0.05; done; echo went", "timeout_ms": 30000}],
            [{"message": "released"}],
        ],
    },
    {
        "match": "touch approved",
        "responses": [[{"shell": "touch approved.txt"}], [{"message": "touched it"}]],
    },
]


@pytest.fixture
async def model() -> AsyncIterator[MockModelServer]:
    """Overrides the shared scripted model with this package's rules."""
    async with MockModelServer(Script.from_dict({"rules": SLACK_RULES}), port=0) as server:
        yield server


@pytest.fixture
async def fake_slack() -> AsyncIterator[FakeSlack]:
    async with FakeSlack() as slack:
        yield slack


@dataclass
class Harness:
    slack: FakeSlack
    model: MockModelServer
    bridge: SlackBridge
    service: TaskService
    store: SqlStore
    config: RunnerConfig
    url: str

    @property
    def home(self) -> Path:
        return self.config.home

    async def task_of(self, channel: str, thread_ts: str) -> Task:
        """The session's task; its status message in the thread shows the session exists."""
        await self.slack.wait_for(lambda: self.slack.bot_posts(channel, thread_ts))
        session = self.bridge.session_for(channel, thread_ts)
        assert session is not None
        return await self.service.get(session.task_id)

    async def wait_state(self, task_id: str, *states: TaskState, timeout: float = 60) -> Task:
        async with asyncio.timeout(timeout):
            task = await self.service.get(task_id)
            if task.state in states:
                return task
            async for _ in self.service.events(task_id):
                task = await self.service.get(task_id)
                if task.state in states:
                    return task
        raise AssertionError("event feed ended")


Factory = Callable[..., AbstractAsyncContextManager[Harness]]


@pytest.fixture
def harness(
    make_config: Callable[..., RunnerConfig],
    fake_slack: FakeSlack,
    model: MockModelServer,
    monkeypatch: pytest.MonkeyPatch,
) -> Factory:
    """``async with harness(approval_policy=..., slack={...}) as h``: everything running."""
    for name in ("SLACK_APP_TOKEN", "SLACK_BOT_TOKEN", "SLACK_API_URL"):
        monkeypatch.delenv(name, raising=False)

    @asynccontextmanager
    async def build(
        slack: dict[str, Any] | None = None,
        raw_events: RawLayer | None = None,
        notify: dict[str, Any] | None = None,
        **codex: Any,
    ) -> AsyncIterator[Harness]:
        base = make_config(**codex)
        settings = SlackSettings(
            app_token=APP_TOKEN,
            bot_token=BOT_TOKEN,
            api_url=fake_slack.api_url,
            delivery_retry_base_s=0.05,
            delivery_retry_max_s=0.2,
            **(slack or {}),
        )
        notify_settings = NotifySettings.model_validate(notify or {})
        config = base.model_copy(update={"slack": settings, "notify": notify_settings})
        store = await SqlStore.open(config.home / "runner.sqlite")
        bus = EventBus()
        runtime = create_runtime(config)
        await runtime.start()
        service = TaskService(
            store,
            runtime,
            DirectoryWorkspaces(),
            bus,
            max_concurrent=4,
            approval_timeout_s=120,
        )
        # The helper endpoints: a socket bound first, so the bridge knows its URL.
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        bridge = SlackBridge(config, service, url, raw_events=raw_events, bus=bus)
        # Under the daemon's bearer check, as in the daemon: the helper routes authenticate
        # with the session key alone, every other path needs the API token.
        routers = [slack_router(bridge)]
        auth = Middleware(BearerAuth, token=API_TOKEN, open_paths=open_paths(routers))
        app = json_app(routers, middleware=[auth])
        server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
        serving = asyncio.create_task(server.serve(sockets=[sock]))
        try:
            await service.start()
            await bridge.start()
            await bridge.wait_connected(20)
            yield Harness(fake_slack, model, bridge, service, store, config, url)
        finally:
            await bridge.stop()
            await service.stop()
            await runtime.close()
            server.should_exit = True
            await asyncio.wait_for(serving, 10)
            sock.close()
            await store.close()

    return build
