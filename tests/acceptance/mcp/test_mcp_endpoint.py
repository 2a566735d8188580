"""The daemon's ``/mcp`` is guarded like the API (token, Host, Origin), and ``codex-runner
mcp`` answers even when no daemon runs, each tool call saying how to start one."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from mcp import Client

from .conftest import StartDaemon, Tools, stdio_parameters

pytestmark = pytest.mark.acceptance

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
MCP_HEADERS = {"Accept": "application/json, text/event-stream"}


async def test_mcp_needs_the_token_and_the_daemons_own_host_and_origin(
    start_daemon: StartDaemon, tmp_path: Path
) -> None:
    daemon = await start_daemon()
    async with daemon.client(token="wrong") as client:
        response = await client.post("/mcp", json=INITIALIZE, headers=MCP_HEADERS)
        assert response.status_code == 401
    async with daemon.client() as client:
        rebound = await client.post(
            "/mcp", json=INITIALIZE, headers={**MCP_HEADERS, "Host": "evil.example"}
        )
        assert rebound.status_code == 421
        foreign = await client.post(
            "/mcp", json=INITIALIZE, headers={**MCP_HEADERS, "Origin": "http://evil.example"}
        )
        assert foreign.status_code == 403
        own = await client.post(
            "/mcp", json=INITIALIZE, headers={**MCP_HEADERS, "Origin": daemon.url}
        )
        assert own.status_code == 200, own.text


async def test_without_a_daemon_the_stdio_server_starts_and_each_call_says_how_to_start_one(
    tmp_path: Path,
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    with socket.socket() as probe:  # a port nothing listens on, instead of the default one
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    (home / "config.toml").write_text(f"[service]\nport = {port}\n")
    async with Client(stdio_parameters(home)) as client:
        tools = Tools(client)
        assert len((await client.list_tools()).tools) == 14
        text = await tools.error("list_tasks")

    assert "codex-runner serve" in text
