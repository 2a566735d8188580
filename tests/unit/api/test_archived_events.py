"""An archived task's events read through the API as they did before archiving: the page
and the SSE stream (replayed, then ended since the task is settled). The real SQLite store."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from codex_runner.api.app import create_app
from codex_runner.codex.scripted import ScriptedRuntime
from codex_runner.domain.task import TaskState
from codex_runner.service.event_archive import EventArchiver
from codex_runner.service.event_bus import EventBus
from codex_runner.service.tasks import TaskService
from codex_runner.store.sql import SqlStore
from codex_runner.workspace.memory import InMemoryWorkspaces

from .conftest import AUTH, BASE_URL, TOKEN, script_for


@dataclass
class Api:
    service: TaskService
    store: SqlStore
    client: httpx.AsyncClient
    cwd: Path

    async def get(self, url: str, **params: Any) -> httpx.Response:
        return await self.client.get(url, params=params or None, headers=AUTH)

    async def completed_task(self) -> str:
        body = {"prompt": "quick", "cwd": str(self.cwd)}
        created = await self.client.post("/v1/tasks", json=body, headers=AUTH)
        task_id: str = created.json()["id"]
        async with asyncio.timeout(5):
            async with contextlib.aclosing(self.service.events(task_id)) as events:
                async for _ in events:
                    if (await self.service.get(task_id)).state is TaskState.COMPLETED:
                        return task_id
        raise AssertionError("the event feed ended")


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[Api]:
    store = await SqlStore.open(tmp_path / "runner.sqlite")
    workspaces = InMemoryWorkspaces(tmp_path / "worktrees")
    service = TaskService(
        store,
        ScriptedRuntime(script_for),
        workspaces,
        EventBus(),
        max_concurrent=1,
        approval_timeout_s=30.0,
    )
    (tmp_path / "plain").mkdir()
    app = create_app(service, token=TOKEN, ready=lambda: True, version="9.9.9")
    await service.start()
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as client:
            yield Api(service, store, client, tmp_path / "plain")
    finally:
        await service.stop()
        await store.close()


def sse_ids(body: str) -> list[int]:
    return [int(line[3:].strip()) for line in body.splitlines() if line.startswith("id:")]


async def test_an_archived_tasks_events_page_and_stream_as_before(api: Api) -> None:
    task_id = await api.completed_task()
    url = f"/v1/tasks/{task_id}/events"
    before: dict[str, Any] = (await api.get(url)).json()
    stream_before = (await api.get(f"{url}/stream", until_terminal="true")).text

    later = datetime.now(UTC) + timedelta(days=2)
    done = await EventArchiver(api.store, 24 * 3600.0, clock=lambda: later).archive_once()
    assert [a.task_id for a in done.archived] == [task_id]

    assert (await api.get(url)).json() == before
    page = (await api.get(url, after=1, limit=2)).json()
    assert page["events"] == before["events"][1:3]
    stream = (await api.get(f"{url}/stream", until_terminal="true")).text
    assert sse_ids(stream) == [e["seq"] for e in before["events"]]
    assert stream == stream_before
