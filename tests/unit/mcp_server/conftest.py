"""The MCP tools over a real TaskService (in-memory store and workspaces, scripted Codex),
called through the SDK's own client, in-process.

Prompts pick the Codex script: ``wait...`` blocks until ``runtime.gate`` is set, ``ask...``
asks for an approval, ``json...`` answers with the JSON :data:`VERDICT`, anything else
completes at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from mcp import Client
from mcp_types import CallToolResult

from codex_runner.codex.runtime import TurnRecorder
from codex_runner.codex.scripted import Script, ScriptedRuntime, ask, complete, gated
from codex_runner.config import McpSettings
from codex_runner.domain.events import CodexEvent, EventKind, Item, ItemType, TurnStatus
from codex_runner.domain.task import TaskState
from codex_runner.mcp_server.service_backend import ServiceBackend
from codex_runner.mcp_server.tools import build_server
from codex_runner.service.event_bus import EventBus
from codex_runner.service.tasks import TaskService
from codex_runner.store.memory import InMemoryStore
from codex_runner.workspace.memory import InMemoryWorkspaces

VERDICT = {"verdict": "pass", "issues": []}


async def answer_json(rt: ScriptedRuntime, rec: TurnRecorder, text: str) -> None:
    rec.emit(CodexEvent(EventKind.TURN_STARTED, thread_id=rec.thread_id))
    item = Item(id="m1", type=ItemType.AGENT_MESSAGE, text=json.dumps(VERDICT))
    rec.emit(CodexEvent(EventKind.ITEM_COMPLETED, thread_id=rec.thread_id, item=item))
    rec.finish(TurnStatus.COMPLETED)


def script_for(text: str) -> Script:
    if text.startswith("json"):
        return answer_json
    if text.startswith("wait"):
        return gated
    if text.startswith("ask"):
        return ask
    return complete


@dataclass
class Tools:
    client: Client
    service: TaskService
    runtime: ScriptedRuntime
    workspaces: InMemoryWorkspaces
    repo: Path
    plain_dir: Path

    async def call(self, name: str, **arguments: Any) -> CallToolResult:
        return await self.client.call_tool(name, arguments)

    async def ok(self, name: str, **arguments: Any) -> dict[str, Any]:
        """The tool's structured result; fails the test on a tool error."""
        result = await self.call(name, **arguments)
        assert not result.is_error, result.content
        assert result.structured_content is not None
        return dict(result.structured_content)

    async def wait_state(self, task_id: str, state: TaskState) -> None:
        """Wait on the task's event feed (no polling) until it is in ``state``."""
        async with asyncio.timeout(5):
            async with contextlib.aclosing(self.service.events(task_id)) as events:
                if (await self.service.get(task_id)).state is state:
                    return
                async for _ in events:
                    if (await self.service.get(task_id)).state is state:
                        return

    async def error(self, name: str, **arguments: Any) -> str:
        """The text of the tool's error; fails the test when the call succeeds."""
        result = await self.call(name, **arguments)
        assert result.is_error, result.structured_content
        return "\n".join(getattr(part, "text", "") for part in result.content)


async def tools_over(tmp_path: Path, defaults: McpSettings | None) -> AsyncIterator[Tools]:
    store = InMemoryStore()
    runtime = ScriptedRuntime(script_for)
    workspaces = InMemoryWorkspaces(tmp_path / "worktrees")
    service = TaskService(
        store, runtime, workspaces, EventBus(), max_concurrent=2, approval_timeout_s=30.0
    )
    repo = tmp_path / "repo"
    workspaces.add_repository(repo, {"HEAD": "a" * 40, "main": "a" * 40})
    plain = tmp_path / "plain"
    plain.mkdir()
    server = build_server(ServiceBackend(service), defaults or McpSettings(cwd=str(plain)))
    await service.start()
    connected: asyncio.Future[Client] = asyncio.get_running_loop().create_future()
    done = asyncio.Event()

    async def hold() -> None:
        # The client's task group must be left by the task that entered it; pytest may
        # tear a fixture down in another task, so one task holds the client throughout.
        try:
            async with Client(server) as client:
                connected.set_result(client)
                await done.wait()
        except BaseException as exc:
            if not connected.done():
                connected.set_exception(exc)
            raise

    holder = asyncio.create_task(hold())
    try:
        client = await asyncio.wait_for(connected, 10)
        yield Tools(client, service, runtime, workspaces, repo, plain)
    finally:
        done.set()
        runtime.gate.set()
        await asyncio.wait_for(holder, 10)
        await service.stop()


@pytest.fixture
async def tools(tmp_path: Path) -> AsyncIterator[Tools]:
    async for made in tools_over(tmp_path, None):
        yield made
