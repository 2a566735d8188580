"""``codex-runner mcp``: the tools over stdio, for an agent that spawns the server; each
call goes to the running daemon's API (:mod:`~codex_runner.mcp_server.daemon_backend`)."""

from __future__ import annotations

from codex_runner.config import McpSettings
from codex_runner.mcp_server.daemon_backend import DaemonBackend, Locate
from codex_runner.mcp_server.tools import build_server


async def serve_stdio(locate: Locate, defaults: McpSettings) -> None:
    """Serve MCP on stdin/stdout until the client closes stdin."""
    backend = DaemonBackend(locate)
    try:
        await build_server(backend, defaults).run_stdio_async()
    finally:
        await backend.aclose()
