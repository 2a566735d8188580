"""``codex-runner link``: this machine as a local runner of a chat server, in the foreground.

It runs the link in the home's daemon: the one already running, or one it starts for as
long as it runs (``serve`` in a child process, stopped when the command ends). It prints
each change of the link's state until Ctrl-C; with ``--tui`` it opens the Codex TUI on the
runner's shared app-server instead, and ends with it. A refused token ends it with exit 1.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError

from codex_runner.cli.client import DaemonClient
from codex_runner.cli.daemon_errors import ClientError
from codex_runner.cli.main import fail
from codex_runner.codex.binary import find_codex_binary
from codex_runner.codex.endpoint import shared_remote
from codex_runner.config import ConfigError, LinkSettings, RunnerConfig, load_config
from codex_runner.http.wire_link import LinkOut, LinkStart
from codex_runner.runner_home.daemon_info import running_daemon
from codex_runner.runner_home.link_token import LinkTokenError, link_token

START_TIMEOUT_S = 60.0
POLL_S = 0.5


def link_command(
    url: Annotated[str, typer.Option(help="The chat server's socket: wss://HOST/socket.")],
    runner_id: Annotated[str, typer.Option(help="This runner's id on the chat server.")],
    cwd: Annotated[
        Path | None, typer.Option(help="Where turns started from the chat run (default: here).")
    ] = None,
    channel: Annotated[
        str | None, typer.Option(help="WORKSPACE/CHANNEL whose chat threads are sessions here.")
    ] = None,
    heartbeat: Annotated[
        float | None, typer.Option(help="Seconds between heartbeats (default [link] or 15).")
    ] = None,
    tui: Annotated[
        bool, typer.Option("--tui", help="Open the Codex TUI on the runner's shared Codex.")
    ] = False,
) -> None:
    """Connect this runner to a chat server (token: CODEX_RUNNER_LINK_TOKEN or [link]
    token_file) and serve it until Ctrl-C."""
    try:
        config = load_config()
        settings = LinkSettings(
            url=url,
            runner_id=runner_id,
            cwd=str((cwd or Path.cwd()).resolve()),
            channel=channel,
            heartbeat_s=heartbeat or config.link.heartbeat_s,
            token_file=config.link.token_file,
        )
        token = link_token(settings)
    except ConfigError as exc:
        raise fail(str(exc)) from None
    except ValidationError as exc:
        first = exc.errors()[0]
        raise fail(f"--{'-'.join(map(str, first['loc']))}: {first['msg']}", 2) from None
    except LinkTokenError as exc:
        raise fail(str(exc)) from None
    body = LinkStart(
        url=url,
        runner_id=runner_id,
        cwd=settings.cwd,
        channel=channel,
        heartbeat_s=settings.heartbeat_s,
        token=token,
    )
    # A closed terminal (SIGHUP) or a SIGTERM ends the link as Ctrl-C does: through the
    # cleanup below, so a running daemon is not left with a link nobody watches.
    for sig in (signal.SIGHUP, signal.SIGTERM):
        signal.signal(sig, _interrupt)
    try:
        with _daemon(config) as client:
            client.start_link(body)
            print(f"linked to {url} as {runner_id}; stop with Ctrl-C", flush=True)
            try:
                code = _run_tui(config, client.link().thread_id) if tui else _watch(client)
            finally:
                with contextlib.suppress(ClientError):
                    client.stop_link()
    except ClientError as exc:
        raise fail(str(exc)) from None
    raise typer.Exit(code)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


@contextlib.contextmanager
def _daemon(config: RunnerConfig) -> Iterator[DaemonClient]:
    """A client of the home's daemon; one started for the command when none runs."""
    child: subprocess.Popen[bytes] | None = None
    if running_daemon(config.home) is None:
        child = _start_daemon(config)
    try:
        with DaemonClient.connect(home=config.home) as client:
            yield client
    finally:
        if child is not None:
            child.send_signal(signal.SIGTERM)
            try:
                child.wait(30)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait(10)


def _start_daemon(config: RunnerConfig) -> subprocess.Popen[bytes]:
    log = config.home / "logs" / "link-serve.log"
    log.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    with log.open("ab") as out:
        child = subprocess.Popen(
            [sys.executable, "-m", "codex_runner", "serve", "--port", "0"],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, "CODEX_RUNNER_HOME": str(config.home)},
        )
    deadline = time.monotonic() + START_TIMEOUT_S
    while (info := running_daemon(config.home)) is None or info.pid != child.pid:
        if child.poll() is not None or time.monotonic() > deadline:
            if child.poll() is None:
                child.kill()
                child.wait(10)
            raise fail(f"the daemon did not start; its output is in {log}")
        time.sleep(0.1)  # the daemon writes its address when it listens
    print(f"started a daemon for the link (pid {child.pid}; output in {log})", flush=True)
    return child


def _watch(client: DaemonClient) -> int:
    """Print each change of the link's state until Ctrl-C (0) or a refused token (1)."""
    shown = ""
    try:
        while True:
            link = client.link()
            line = _describe(link)
            if line != shown:
                print(line, flush=True)
                shown = line
            if link.state == "rejected":
                return 1
            time.sleep(POLL_S)
    except KeyboardInterrupt:
        return 0


def _describe(link: LinkOut) -> str:
    if link.state == "connected":
        return f"link: connected (instance {link.instance_id})"
    if link.last_error:
        return f"link: {link.state}: {link.last_error}"
    return f"link: {link.state}"


def _run_tui(config: RunnerConfig, thread_id: str | None) -> int:
    """The Codex TUI on the bound chat session's thread, else a new session, both on the
    runner's shared app-server."""
    remote = shared_remote(config)
    if remote is None:
        raise fail('--tui needs the shared app-server ([codex] listen = "socket", the default)')
    binary = str(find_codex_binary(config.codex.bin))
    if thread_id is not None:
        command = [binary, "resume", "--remote", remote, thread_id]
    else:
        command = [binary, "--remote", remote]
    env = {**os.environ}
    if not config.codex.url:
        env["CODEX_HOME"] = str(config.codex_home)
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)  # the TUI's to handle
    try:
        return subprocess.call(command, env=env)
    finally:
        signal.signal(signal.SIGINT, previous)
