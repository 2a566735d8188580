"""``codex-runner link`` in the foreground: with no daemon it runs one for as long as it
runs; with one running it uses it and leaves it running; Ctrl-C ends the link."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
from pathlib import Path

import pytest
import tomli_w

from codex_runner.mockmodel import MockModelServer
from codex_runner.runner_home.daemon_info import running_daemon

from ...support.chat_server import FakeChatServer
from ..daemon.harness import CLI, TERMINAL, Daemon, wait_state
from .conftest import RUNNER_ID, TOKEN, TOPIC

pytestmark = pytest.mark.acceptance


async def _link(home: Path, chat: FakeChatServer, repo: Path) -> asyncio.subprocess.Process:
    env = {
        **os.environ,
        "CODEX_RUNNER_HOME": str(home),
        "MOCK_API_KEY": "k",
        "CODEX_RUNNER_LINK_TOKEN": TOKEN,
    }
    return await asyncio.create_subprocess_exec(
        *CLI,
        "link",
        "--url",
        chat.url,
        "--runner-id",
        RUNNER_ID,
        "--cwd",
        str(repo),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )


def _home(tmp_path: Path, model: MockModelServer) -> Path:
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    config = {"codex": {"config": model.codex_config()}}
    (home / "config.toml").write_text(tomli_w.dumps(config))
    return home


async def _interrupt(proc: asyncio.subprocess.Process, sig: int = signal.SIGINT) -> tuple[int, str]:
    proc.send_signal(sig)
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode is not None
    return proc.returncode, out.decode() + err.decode()


async def test_link_runs_its_own_daemon_for_as_long_as_it_runs(
    tmp_path: Path, link_model: MockModelServer, chat: FakeChatServer, repo: Path
) -> None:
    home = _home(tmp_path, link_model)
    proc = await _link(home, chat, repo)
    try:
        started = await chat.wait_for("instance_started", timeout=90)
        assert started.topic == TOPIC
        await chat.push(
            TOPIC, "control", {"type": "start_turn", "text": "quick one", "requestRef": "x"}
        )
        answer = await chat.wait_for("codex_response", timeout=60)
        info = running_daemon(home)
        assert info is not None
        daemon = Daemon(home)
        daemon.url = info.url
        async with daemon.client() as client:
            done = await wait_state(client, answer.payload["response"]["taskId"], TERMINAL)
        assert done["state"] == "completed"
    finally:
        code, output = await _interrupt(proc)
    assert code == 0, output
    assert "linked to" in output and TOKEN not in output
    assert running_daemon(home) is None  # its daemon stopped with it


async def test_link_uses_a_running_daemon_and_leaves_it_running(
    tmp_path: Path, link_model: MockModelServer, chat: FakeChatServer, repo: Path
) -> None:
    home = _home(tmp_path, link_model)
    daemon = Daemon(home)
    await daemon.start()
    try:
        proc = await _link(home, chat, repo)
        try:
            await chat.wait_for("instance_started", timeout=60)
            async with daemon.client() as client:
                assert (await client.get("/v1/link")).json()["state"] == "connected"
        finally:
            # SIGTERM (or a closed terminal's SIGHUP) ends the link as Ctrl-C does.
            code, output = await _interrupt(proc, signal.SIGTERM)
        assert code == 0, output
        assert running_daemon(home) is not None
        async with daemon.client() as client:
            assert (await client.get("/v1/link")).status_code == 404  # the link ended
            assert (await client.get("/readyz")).status_code == 200
    finally:
        await asyncio.to_thread(daemon.stop)  # the fake chat server shares this loop


async def test_a_refused_token_ends_link_with_an_error(
    tmp_path: Path, link_model: MockModelServer, repo: Path
) -> None:
    home = _home(tmp_path, link_model)
    async with FakeChatServer(token="another-token") as other:
        proc = await _link(home, other, repo)
        out, err = await asyncio.wait_for(proc.communicate(), 120)
    assert proc.returncode == 1, (out, err)
    text = out.decode() + err.decode()
    assert "refused" in text and TOKEN not in text


async def test_link_tui_opens_codex_on_the_shared_app_server(
    tmp_path: Path, link_model: MockModelServer, chat: FakeChatServer, repo: Path
) -> None:
    from ..daemon.test_daemon_attach_tui import Tmux

    home = _home(tmp_path, link_model)
    daemon = Daemon(home)
    await daemon.start()
    tmux = Tmux(tmp_path / "tmux.sock")
    try:
        command = " ".join(
            [*CLI, "link", "--url", chat.url, "--runner-id", RUNNER_ID, "--cwd", str(repo), "--tui"]
        )
        env = {
            "CODEX_RUNNER_HOME": str(home),
            "MOCK_API_KEY": "k",
            "CODEX_RUNNER_LINK_TOKEN": TOKEN,
            "TERM": "xterm-256color",
        }
        tmux.start(command, env)
        await chat.wait_for("instance_started", timeout=60)
        await tmux.wait_for("OpenAI Codex")  # the TUI, on the runner's own app-server
        async with daemon.client() as client:
            assert (await client.get("/v1/link")).json()["state"] == "connected"
        # Ctrl-C twice quits the TUI; the command then ends the link.
        async with daemon.client() as client, asyncio.timeout(60):
            while (await client.get("/v1/link")).status_code != 404:
                tmux.run("send-keys", "-t", "t", "C-c")
                await asyncio.sleep(0.5)  # the TUI's own pace: nothing to wait on
    finally:
        with contextlib.suppress(subprocess.CalledProcessError):  # it ended with the command
            tmux.run("kill-server")
        await asyncio.to_thread(daemon.stop)  # the fake chat server shares this loop
