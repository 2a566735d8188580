"""``codex-runner serve``: run the daemon in the foreground until Ctrl-C or SIGTERM."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer

from codex_runner.auth.profile_store import ProfileError
from codex_runner.cli.main import fail
from codex_runner.codex.errors import CodexError
from codex_runner.config import ConfigError, load_config
from codex_runner.daemon.home_lock import HomeInUse
from codex_runner.daemon.server import ServeError, serve
from codex_runner.runner_home.api_token import token_path
from codex_runner.runner_home.secret_files import UnsafeSecretFile


def serve_command(
    host: Annotated[
        str | None, typer.Option(help="Address to bind; default [service] host (127.0.0.1).")
    ] = None,
    port: Annotated[
        int | None,
        typer.Option(
            min=0, max=65535, help="Port; default [service] port (8765); 0 picks a free one."
        ),
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
        raise fail(str(exc)) from None
    bind_host = host or config.service.host
    bind_port = config.service.port if port is None else port

    def listening(url: str) -> None:
        # Plain prints: rich is not imported on the daemon's start.
        print(f"codex-runner listening on {url}")
        print(f"API token: {token_path(config.home)} (send it as 'Authorization: Bearer')")
        print("Stop with Ctrl-C.", flush=True)

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
    except (ServeError, HomeInUse, UnsafeSecretFile, CodexError, ProfileError, OSError) as exc:
        raise fail(str(exc)) from None
