"""An API over a real TaskService: in-memory store and workspaces, scripted Codex.

Prompts pick the Codex script: ``wait...`` blocks until ``runtime.gate`` is set, ``ask...``
asks for an approval, anything else completes at once.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from codex_runner.api.app import create_app
from codex_runner.codex.scripted import Script, ScriptedRuntime, ask, complete, gated
from codex_runner.domain.task import Task, TaskState
from codex_runner.service.event_bus import EventBus
from codex_runner.service.tasks import TaskService
from codex_runner.store.memory import InMemoryStore
from codex_runner.workspace.memory import InMemoryWorkspaces

TOKEN = "test-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
BASE_URL = "http://127.0.0.1:8765"


def script_for(text: str) -> Script:
    if text.startswith("wait"):
        return gated
    if text.startswith("ask"):
        return ask
    return complete


@dataclass
class Harness:
    service: TaskService
    runtime: ScriptedRuntime
    store: InMemoryStore
    bus: EventBus
    workspaces: InMemoryWorkspaces
    repo: Path  # a registered "git repository"
    plain_dir: Path  # a directory that is not a repository
    client: httpx.AsyncClient
    ready: list[bool]

    async def post(self, url: str, json: Any = None) -> httpx.Response:
        return await self.client.post(url, json=json, headers=AUTH)

    async def get(self, url: str, **params: Any) -> httpx.Response:
        return await self.client.get(url, params=params or None, headers=AUTH)

    async def submit(self, prompt: str = "fix it", **fields: Any) -> dict[str, Any]:
        body = {"prompt": prompt, "cwd": str(self.plain_dir), **fields}
        response = await self.post("/v1/tasks", body)
        assert response.status_code == 201, response.text
        data: dict[str, Any] = response.json()
        return data

    async def wait_state(self, task_id: str, state: TaskState) -> Task:
        """Wait on the task's event feed (no polling) until it is in ``state``."""
        async with asyncio.timeout(5):
            task = await self.service.get(task_id)
            if task.state is state:
                return task
            async with contextlib.aclosing(self.service.events(task_id)) as events:
                async for _ in events:
                    task = await self.service.get(task_id)
                    if task.state is state:
                        return task
        raise AssertionError("the event feed ended")

    async def pending_approval(self, task_id: str) -> str:
        async with asyncio.timeout(5):
            async with contextlib.aclosing(self.service.events(task_id)) as events:
                async for event in events:
                    if event.type == "approval.requested":
                        return str(event.data["approval_id"])
        raise AssertionError("the event feed ended")


def make_service(
    tmp_path: Path,
) -> tuple[TaskService, ScriptedRuntime, InMemoryStore, EventBus, InMemoryWorkspaces]:
    store = InMemoryStore()
    runtime = ScriptedRuntime(script_for)
    bus = EventBus()
    workspaces = InMemoryWorkspaces(tmp_path / "worktrees")
    service = TaskService(
        store, runtime, workspaces, bus, max_concurrent=2, approval_timeout_s=30.0
    )
    return service, runtime, store, bus, workspaces


@pytest.fixture
async def harness(tmp_path: Path) -> AsyncIterator[Harness]:
    service, runtime, store, bus, workspaces = make_service(tmp_path)
    repo = tmp_path / "repo"
    workspaces.add_repository(repo, {"HEAD": "a" * 40, "main": "a" * 40})
    plain = tmp_path / "plain"
    plain.mkdir()
    ready = [True]
    app = create_app(service, token=TOKEN, ready=lambda: ready[0], version="9.9.9")
    transport = httpx.ASGITransport(app=app)
    await service.start()
    try:
        async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as client:
            yield Harness(service, runtime, store, bus, workspaces, repo, plain, client, ready)
    finally:
        runtime.gate.set()
        await service.stop()
