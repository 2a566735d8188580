"""A daemon with the real codex and the scripted model, and the MCP SDK's own client for
it over Streamable HTTP (``/mcp``) or stdio (``codex-runner mcp``)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any

import httpx2
import pytest
import tomli_w
from mcp import Client
from mcp.client.stdio import StdioServerParameters
from mcp.client.streamable_http import streamable_http_client
from mcp_types import CallToolResult

from codex_runner.mockmodel import MockModelServer, Script

from ..daemon.conftest import DAEMON_RULES
from ..daemon.harness import CLI, Daemon

CHILD_ANSWER = "child says: the tests pass"
TASK_ID = '"id":\\s*"(t_[0-9a-z]+)"'

MCP_RULES: list[dict[str, Any]] = [
    {
        "match": "needs approval",
        "responses": [
            [{"shell": "touch approved.txt", "justification": "Create approved.txt?"}],
            [{"message": "approved and done"}],
        ],
    },
    {"match": "child work", "responses": [[{"message": CHILD_ANSWER}]]},
    # One agent delegating to another through codex-runner's MCP server.
    {
        "match": "delegate",
        "responses": [
            [
                {
                    "mcp_tool": {
                        "server": "runner",
                        "tool": "submit_task",
                        "arguments": {"prompt": "child work, please"},
                    }
                }
            ],
            [
                {
                    "mcp_tool": {
                        "server": "runner",
                        "tool": "wait_task",
                        "arguments": {"timeout_s": 60},
                        "arguments_from_output": {"task_id": TASK_ID},
                    }
                }
            ],
            [{"message": "delegated; the child is done"}],
        ],
    },
    *DAEMON_RULES,
]

StartDaemon = Callable[..., Awaitable[Daemon]]


class Tools:
    """An MCP client session with the helpers the tests share."""

    def __init__(self, client: Client) -> None:
        self.client = client

    async def call(self, name: str, **arguments: Any) -> CallToolResult:
        return await self.client.call_tool(name, arguments)

    async def ok(self, name: str, **arguments: Any) -> dict[str, Any]:
        result = await self.call(name, **arguments)
        assert not result.is_error, result.content
        assert result.structured_content is not None
        return dict(result.structured_content)

    async def error(self, name: str, **arguments: Any) -> str:
        result = await self.call(name, **arguments)
        assert result.is_error, result.structured_content
        return "\n".join(getattr(part, "text", "") for part in result.content)


def http_client(daemon: Daemon, *, token: str | None = None) -> Client:
    """The SDK's client on the daemon's ``/mcp``, with the API token."""
    token = token if token is not None else (daemon.home / "api-token").read_text().strip()
    http = httpx2.AsyncClient(
        headers={"Authorization": f"Bearer {token}"}, timeout=httpx2.Timeout(30, read=120)
    )
    return Client(streamable_http_client(f"{daemon.url}/mcp", http_client=http))


def stdio_parameters(home: Path) -> StdioServerParameters:
    """``codex-runner mcp`` for the daemon of ``home``."""
    return StdioServerParameters(
        command=CLI[0], args=[*CLI[1:], "mcp"], env={"CODEX_RUNNER_HOME": str(home)}
    )


def stdio_client(daemon: Daemon) -> Client:
    return Client(stdio_parameters(daemon.home))


def mcp_client(daemon: Daemon, transport: str) -> AbstractAsyncContextManager[Client]:
    return http_client(daemon) if transport == "http" else stdio_client(daemon)


@pytest.fixture
async def mcp_model() -> AsyncIterator[MockModelServer]:
    async with MockModelServer(Script.from_dict({"rules": MCP_RULES}), port=0) as server:
        yield server


@pytest.fixture
async def start_daemon(tmp_path: Path, mcp_model: MockModelServer) -> AsyncIterator[StartDaemon]:
    """Start the daemon; ``codex_config`` goes into ``[codex.config]`` beside the scripted
    model's provider, ``mcp`` is the ``[mcp]`` section."""
    started: list[Daemon] = []

    async def start(
        *, codex_config: dict[str, Any] | None = None, mcp: dict[str, Any] | None = None
    ) -> Daemon:
        home = tmp_path / "home"
        home.mkdir(parents=True, exist_ok=True)
        config = {
            "codex": {
                "sandbox": "workspace-write",
                "approval_policy": "never",
                "config": {**mcp_model.codex_config(), **(codex_config or {})},
            },
            "service": {"max_concurrent_tasks": 4},
            "mcp": mcp or {},
        }
        (home / "config.toml").write_text(tomli_w.dumps(config))
        daemon = Daemon(home)
        started.append(daemon)
        await daemon.start()
        return daemon

    try:
        yield start
    finally:
        for daemon in started:
            daemon.stop()
