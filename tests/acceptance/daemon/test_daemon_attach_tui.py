"""``task attach`` with the real Codex TUI in tmux: the printed command opens the task's
thread and shows its last message; attached through the CLI, the task says so, a message
typed in the TUI becomes the task's turn, and the attachment ends with the TUI."""

from __future__ import annotations

import asyncio
import contextlib
import shlex
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from .conftest import StartDaemon
from .harness import CLI, TERMINAL, Daemon, all_events, wait_state

pytestmark = pytest.mark.acceptance


class Tmux:
    """A private tmux server (its own socket) with one session."""

    def __init__(self, socket: Path) -> None:
        self.socket = socket

    def run(self, *args: str) -> str:
        done = subprocess.run(
            ["tmux", "-S", str(self.socket), *args],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        )
        return done.stdout

    def start(self, command: str, env: dict[str, str]) -> None:
        exports = " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items())
        self.run("new-session", "-d", "-x", "160", "-y", "50", "-s", "t", f"{exports} {command}")

    def screen(self) -> str:
        return self.run("capture-pane", "-p", "-t", "t")

    async def wait_for(self, text: str, timeout: float = 60) -> str:
        screen = ""
        try:
            async with asyncio.timeout(timeout):
                while text not in (screen := self.screen()):  # noqa: ASYNC110
                    await asyncio.sleep(0.2)  # a terminal's screen sets no event
        except TimeoutError:
            raise AssertionError(f"{text!r} never showed; the screen:\n{screen}") from None
        return screen


@pytest.fixture
def tmux(tmp_path: Path) -> Iterator[Tmux]:
    if shutil.which("tmux") is None:
        pytest.fail("tmux is missing: `make test` installs it (apt-get install tmux)")
    session = Tmux(tmp_path / "tmux.sock")
    yield session
    subprocess.run(["tmux", "-S", str(session.socket), "kill-server"], capture_output=True)


async def _completed(client: httpx.AsyncClient, repo: Path, prompt: str) -> dict[str, Any]:
    task = (await client.post("/v1/tasks", json={"prompt": prompt, "repo": str(repo)})).json()
    done = await wait_state(client, task["id"], TERMINAL)
    assert done["state"] == "completed", done
    return done


def _env(daemon: Daemon) -> dict[str, str]:
    return {"CODEX_RUNNER_HOME": str(daemon.home), "MOCK_API_KEY": "k", "TERM": "xterm-256color"}


async def test_the_printed_attach_command_opens_the_tui_on_the_task(
    start_daemon: StartDaemon, repo: Path, tmux: Tmux
) -> None:
    daemon = await start_daemon()
    async with daemon.client() as client:
        task = await _completed(client, repo, "quick one")
    code, out, err = await daemon.cli("task", "attach", task["id"][:10], "--print")
    assert code == 0, err
    assert "resume --remote unix://" in out and task["thread_id"] in out
    tmux.start(out.strip(), _env(daemon))
    screen = await tmux.wait_for("quick done")
    assert "quick one" in screen


async def test_a_person_attached_in_the_tui_runs_a_turn_of_the_task(
    start_daemon: StartDaemon, repo: Path, tmux: Tmux
) -> None:
    daemon = await start_daemon()
    async with daemon.client() as client:
        task = await _completed(client, repo, "quick one")
        cli = " ".join(shlex.quote(part) for part in CLI)
        tmux.start(f"{cli} task attach {task['id']}", _env(daemon))
        await tmux.wait_for("quick done")
        assert (await client.get(f"/v1/tasks/{task['id']}")).json()["attached"] is True
        tmux.run("send-keys", "-t", "t", "-l", "hello from the tui")
        await tmux.wait_for("hello from the tui")
        # The TUI takes an Enter right after fast typing as part of a paste (a new line):
        # press it until the message goes.
        for _ in range(20):
            tmux.run("send-keys", "-t", "t", "Enter")
            with contextlib.suppress(AssertionError):
                await tmux.wait_for("Hi there", timeout=1)
                break
        await tmux.wait_for("Hi there")
        async with asyncio.timeout(60):
            while True:  # the task runs the TUI's turn and completes again
                events = await all_events(client, task["id"])
                moves = [e["data"]["to"] for e in events if e["type"] == "task.state_changed"]
                if moves[-2:] == ["running", "completed"] and len(moves) >= 4:
                    break
                await asyncio.sleep(0.05)  # the daemon's state, polled over HTTP
        now = (await client.get(f"/v1/tasks/{task['id']}")).json()
        assert now["final_message"] == "Hi there"
        tmux.run("kill-server")  # the TUI and `task attach` end without saying goodbye
        async with asyncio.timeout(30):
            while (await client.get(f"/v1/tasks/{task['id']}")).json()["attached"]:  # noqa: ASYNC110
                await asyncio.sleep(0.1)  # the daemon's state, over HTTP
