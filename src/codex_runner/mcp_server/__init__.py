"""The MCP server: codex-runner's tools for agents (docs/mcp.md).

One definition of the tools (:mod:`~codex_runner.mcp_server.tools`) over a small backend
Protocol (:mod:`~codex_runner.mcp_server.backend`), served two ways: Streamable HTTP at the
daemon's ``/mcp`` over its TaskService (:mod:`~codex_runner.mcp_server.endpoint`), and
stdio for ``codex-runner mcp`` over the daemon's API (:mod:`~codex_runner.mcp_server.stdio`).
"""
