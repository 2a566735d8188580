"""``codex-runner mock-model``: serve a scripted model for offline, deterministic Codex runs."""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path
from typing import Annotated

import typer

from codex_runner.mockmodel import (
    API_KEY_ENV,
    MockModelServer,
    RecordedRequest,
    Script,
    ScriptError,
    load_script,
)


def _print_model_call(recorded: RecordedRequest) -> None:
    rule = recorded.rule if recorded.rule is not None else "(no rule: default answer)"
    prompt = (recorded.last_user_text or "").replace("\n", " ")
    if len(prompt) > 60:
        prompt = prompt[:57] + "..."
    print(
        f"model call: rule={rule} response={recorded.response_index} prompt={prompt!r}",
        file=sys.stderr,
        flush=True,
    )


async def _serve(script: Script, port: int, source: Path, websockets: bool) -> None:
    server = MockModelServer(script, port=port, on_request=_print_model_call, websockets=websockets)
    try:
        await server.start()
    except OSError as error:
        raise ScriptError(f"cannot listen on 127.0.0.1:{port}: {error}") from None
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        print(
            f"# mock model: {len(script.rules)} rule(s) from {source} at {server.base_url}\n"
            f"# Add this to codex-runner's config; Codex reads the API key from "
            f"${API_KEY_ENV} (any value).\n"
            f"{server.config_snippet()}",
            flush=True,
        )
        # Serving is the whole job: no timeout, it ends on Ctrl-C or SIGTERM.
        await stop.wait()
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
        await server.stop()


def mock_model_command(
    *,
    port: Annotated[
        int, typer.Option("--port", "-p", help="Port on 127.0.0.1; 0 picks a free one.")
    ] = 0,
    script: Annotated[
        Path,
        typer.Option("--script", "-s", help="Script file (YAML or JSON), see docs/mock-model.md."),
    ],
    websockets: Annotated[
        bool,
        typer.Option(
            "--websockets",
            help="Have Codex call the model over one WebSocket per thread "
            "(as with its own OpenAI provider) instead of one HTTP request per call.",
        ),
    ] = False,
) -> None:
    """Serve a scripted model (an OpenAI Responses API look-alike) until Ctrl-C.

    Prints the TOML table (codex.config) that points Codex at it.
    """
    try:
        loaded = load_script(script)
        asyncio.run(_serve(loaded, port, script, websockets))
    except ScriptError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from None
