"""``[codex] url``: the daemon on an app-server something else started. Killed mid-turn,
the turn fails with transport_closed and the task waits; once the app-server is back the
daemon reconnects by itself and the task goes on."""

from __future__ import annotations

import asyncio
import signal
import subprocess
from pathlib import Path
from typing import Any

import pytest
import tomli_w

from codex_runner.codex.binary import bundled_path_dir, find_codex_binary
from codex_runner.codex.home import child_environment, prepare_codex_home
from codex_runner.config import load_config
from codex_runner.mockmodel import MockModelServer

from .conftest import StartDaemon
from .harness import TERMINAL, Daemon, all_events, wait_event, wait_state

pytestmark = pytest.mark.acceptance


class ExternalAppServer:
    """``codex app-server --listen unix://PATH`` on a Codex home of its own."""

    def __init__(self, root: Path, model: MockModelServer) -> None:
        root.mkdir(parents=True, exist_ok=True)
        (root / "config.toml").write_text(
            tomli_w.dumps({"codex": {"config": model.codex_config()}})
        )
        self.config = load_config(root)
        self.socket = root / "app-server.sock"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        home = prepare_codex_home(self.config)
        env = {**child_environment(self.config, bundled_path_dir()), "MOCK_API_KEY": "k"}
        binary = str(find_codex_binary(None))
        self.proc = subprocess.Popen(
            [binary, "app-server", "--listen", f"unix://{self.socket}"],
            cwd=home,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)
        self.socket.unlink(missing_ok=True)  # a killed app-server leaves its socket

    async def wait_listening(self) -> None:
        async with asyncio.timeout(30):
            while not self.socket.exists():  # noqa: ASYNC110 - another process's file
                await asyncio.sleep(0.05)


async def _ready(daemon: Daemon) -> None:
    async with daemon.client() as client, asyncio.timeout(60):
        while (await client.get("/readyz")).status_code != 200:  # noqa: ASYNC110
            await asyncio.sleep(0.1)  # the daemon reconnects on its own schedule


async def test_an_external_app_server_killed_mid_turn_fails_the_turn_and_is_reconnected(
    start_daemon: StartDaemon, daemon_model: MockModelServer, repo: Path, tmp_path: Path
) -> None:
    external = ExternalAppServer(tmp_path / "external", daemon_model)
    external.start()
    await external.wait_listening()
    daemon = await start_daemon(codex={"url": f"unix://{external.socket}"})
    try:
        async with daemon.client() as client:
            task = (
                await client.post("/v1/tasks", json={"prompt": "long job", "repo": str(repo)})
            ).json()
            await wait_event(client, task["id"], "codex.item.started")
            external.kill()
            async with asyncio.timeout(30):
                while (await client.get("/readyz")).status_code == 200:  # noqa: ASYNC110
                    await asyncio.sleep(0.05)  # the daemon notices the app-server is gone
            external.start()
            await external.wait_listening()
            await _ready(daemon)
            done = await wait_state(client, task["id"], TERMINAL, timeout=120)
            events = await all_events(client, task["id"])
        failed: list[dict[str, Any]] = [
            e["data"] for e in events if e["type"] == "codex.turn.failed"
        ]
        assert failed, [e["type"] for e in events]
        error = failed[0]["error"]
        assert error["failure_class"] == "transport_closed_before_turn_completed", error
        assert f"unix://{external.socket}" in error["message"]
        # Re-queued like a turn whose own Codex crashed, and finished once Codex was back.
        assert done["state"] == "completed", done
        _code, out, err = await daemon.cli("doctor")
        assert f"unix://{external.socket}" in out + err
    finally:
        daemon.stop()
        if external.proc is not None and external.proc.poll() is None:
            external.kill()
