"""``codex-runner serve``: run the daemon in the foreground until Ctrl-C or SIGTERM."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from codex_runner.codex.errors import CodexError
from codex_runner.config import ConfigError, load_config
from codex_runner.daemon.secret_files import UnsafeSecretFile
from codex_runner.daemon.server import ServeError, serve
from codex_runner.daemon.token import token_path

out = Console(highlight=False)
err = Console(stderr=True, highlight=False)


def serve_command(
    host: Annotated[
        str | None, typer.Option(help="Address to bind; default [service] host (127.0.0.1).")
    ] = None,
    port: Annotated[
        int | None, typer.Option(help="Port; default [service] port (8765); 0 picks a free one.")
    ] = None,
    max_concurrent_tasks: Annotated[
        int | None, typer.Option(help="Tasks running at once; default [service] config.")
    ] = None,
    allow_remote: Annotated[
        bool, typer.Option(help="Allow binding an address other than loopback.")
    ] = False,
) -> None:
    """Run the daemon: the task service, its HTTP API and the Slack bridge (if configured)."""
    try:
        config = load_config(service_overrides={"max_concurrent_tasks": max_concurrent_tasks})
    except ConfigError as exc:
        raise _fail(str(exc)) from None
    bind_host = host or config.service.host
    bind_port = config.service.port if port is None else port

    def listening(url: str) -> None:
        out.print(f"codex-runner listening on {url}")
        out.print(f"API token: {token_path(config.home)} (send it as 'Authorization: Bearer')")
        out.print("Stop with Ctrl-C.")

    try:
        asyncio.run(
            serve(
                config,
                host=bind_host,
                port=bind_port,
                on_listening=listening,
                allow_remote=allow_remote,
            )
        )
    except KeyboardInterrupt:
        pass
    except (ServeError, UnsafeSecretFile, CodexError, OSError) as exc:
        raise _fail(str(exc)) from None


def _fail(message: str) -> typer.Exit:
    err.print(f"[red]error:[/] {escape(' '.join(message.split()))}", soft_wrap=True)
    return typer.Exit(1)
