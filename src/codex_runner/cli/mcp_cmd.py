"""``codex-runner mcp``: the MCP server over stdio, for an agent that spawns it.

It starts nothing of its own: each tool call goes to the running daemon of
``$CODEX_RUNNER_HOME`` (or ``--url``) with the home's API token, found afresh per call, so
the agent may start before the daemon and outlive a restart of it (docs/mcp.md).
"""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer

from codex_runner.cli import exit_codes
from codex_runner.cli.daemon_address import api_token, resolve_url
from codex_runner.cli.daemon_errors import ClientError
from codex_runner.cli.main import fail
from codex_runner.config import ConfigError, default_home, load_config
from codex_runner.mcp_server.backend import DAEMON_UNREACHABLE, RunnerError
from codex_runner.mcp_server.stdio import serve_stdio


def mcp_command(
    url: Annotated[
        str | None,
        typer.Option(
            "--url",
            help="The daemon's URL; default: the running daemon of CODEX_RUNNER_HOME.",
        ),
    ] = None,
) -> None:
    """Serve MCP on stdin/stdout; the tools call the running daemon (see docs/mcp.md)."""
    home = default_home()
    try:
        defaults = load_config(home).mcp
    except ConfigError as exc:
        raise fail(str(exc), exit_codes.USAGE) from None

    def locate() -> tuple[str, str]:
        try:
            return resolve_url(home, url), api_token(home)
        except ClientError as exc:
            raise RunnerError(DAEMON_UNREACHABLE, str(exc)) from None

    asyncio.run(serve_stdio(locate, defaults))
