"""The daemon's /mcp: behind the API's token, set up on the first request, stopped once."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from starlette.routing import Route

from codex_runner.api.app import create_app
from codex_runner.codex.scripted import ScriptedRuntime, complete
from codex_runner.config import McpSettings
from codex_runner.mcp_server.mount import MCP_PATH, McpMount
from codex_runner.service.event_bus import EventBus
from codex_runner.service.tasks import TaskService
from codex_runner.store.memory import InMemoryStore
from codex_runner.workspace.memory import InMemoryWorkspaces

TOKEN = "test-token-0123456789"
HOST = "127.0.0.1:8765"
INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-06-18",
        "capabilities": {},
        "clientInfo": {"name": "t", "version": "1"},
    },
}
HEADERS = {"Accept": "application/json, text/event-stream", "Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[tuple[httpx.AsyncClient, McpMount]]:
    service = TaskService(
        InMemoryStore(),
        ScriptedRuntime(lambda _: complete),
        InMemoryWorkspaces(tmp_path / "worktrees"),
        EventBus(),
        max_concurrent=1,
        approval_timeout_s=30.0,
    )
    hosts = frozenset({HOST})
    mount = McpMount(service, McpSettings(cwd=str(tmp_path)), allowed_hosts=hosts)
    app = create_app(service, token=TOKEN, ready=lambda: True, allowed_hosts=hosts)
    app.router.routes.append(Route(MCP_PATH, endpoint=mount))
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url=f"http://{HOST}") as client:
            yield client, mount
    finally:
        await mount.aclose()


async def test_mcp_needs_the_api_token(served: tuple[httpx.AsyncClient, McpMount]) -> None:
    client, _ = served
    response = await client.post(
        MCP_PATH, json=INITIALIZE, headers={**HEADERS, "Authorization": "Bearer wrong"}
    )

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthorized"


async def test_the_first_request_sets_mcp_up_and_a_foreign_origin_is_refused(
    served: tuple[httpx.AsyncClient, McpMount],
) -> None:
    client, _ = served
    answered = await client.post(MCP_PATH, json=INITIALIZE, headers=HEADERS)
    foreign = await client.post(
        MCP_PATH, json=INITIALIZE, headers={**HEADERS, "Origin": "http://evil.example"}
    )

    assert answered.status_code == 200, answered.text
    assert "codex-runner" in answered.text  # the serverInfo of the initialize result
    assert foreign.status_code == 403


async def test_after_close_mcp_is_stopped_and_a_second_close_is_harmless(
    served: tuple[httpx.AsyncClient, McpMount],
) -> None:
    client, mount = served
    assert (await client.post(MCP_PATH, json=INITIALIZE, headers=HEADERS)).status_code == 200

    await mount.aclose()
    await mount.aclose()

    stopped = await client.post(MCP_PATH, json=INITIALIZE, headers=HEADERS)
    assert stopped.status_code == 503
    assert "shutting down" in stopped.json()["error"]["message"]
