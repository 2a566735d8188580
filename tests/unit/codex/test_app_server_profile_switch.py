"""AppServerRuntime.switch_codex_home: restart on another auth profile's Codex home."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from codex_runner.codex.app_server import AppServerRuntime
from codex_runner.codex.app_server_turn import AppServerTurn
from codex_runner.codex.errors import TurnBusy
from codex_runner.codex.fake import FakeCodexPeer, FakeTransport
from codex_runner.codex.process import ChildProcess
from codex_runner.codex.runtime import ThreadOptions
from codex_runner.codex.transport import Transport
from codex_runner.config import load_config
from codex_runner.domain.events import TurnStatus


class Launches:
    """Each launch gets a fresh fake peer; records the Codex home the runtime meant to use."""

    def __init__(self) -> None:
        self.peers: asyncio.Queue[FakeCodexPeer] = asyncio.Queue()
        self.homes: list[Path] = []
        self.runtime: AppServerRuntime | None = None

    async def launch(self) -> tuple[Transport, ChildProcess | None]:
        assert self.runtime is not None
        self.homes.append(self.runtime.config.codex_home)
        transport = FakeTransport()
        await self.peers.put(FakeCodexPeer(transport))
        return transport, None

    async def peer(self) -> FakeCodexPeer:
        peer = await asyncio.wait_for(self.peers.get(), 5)
        await peer.handshake()
        return peer


async def _started(tmp_path: Path) -> tuple[AppServerRuntime, Launches, FakeCodexPeer]:
    launches = Launches()
    runtime = AppServerRuntime(load_config(tmp_path), launcher=launches.launch)
    launches.runtime = runtime
    start = asyncio.create_task(runtime.start())
    peer = await launches.peer()
    await asyncio.wait_for(start, 5)
    return runtime, launches, peer


async def _running_turn(runtime: AppServerRuntime, peer: FakeCodexPeer) -> AppServerTurn:
    thread = asyncio.create_task(runtime.start_thread(ThreadOptions(cwd=Path("/tmp"))))
    peer.reply(await peer.expect_request("thread/start"), {"thread": {"id": "th1"}})
    await asyncio.wait_for(thread, 5)
    turn = asyncio.create_task(runtime.start_turn("th1", "work"))
    peer.reply(await peer.expect_request("turn/start"), {"turn": {"id": "tu1"}})
    return await asyncio.wait_for(turn, 5)


async def test_an_idle_runtime_restarts_on_the_new_home(tmp_path: Path) -> None:
    runtime, launches, _ = await _started(tmp_path)
    assert runtime.running_turns() == 0
    switch = asyncio.create_task(runtime.switch_codex_home(tmp_path / "other"))
    await launches.peer()
    await asyncio.wait_for(switch, 5)
    assert launches.homes == [tmp_path / "codex-home", tmp_path / "other"]
    assert runtime.status().state == "ready" and runtime.status().restarts == 1
    await runtime.close()


async def test_a_busy_runtime_refuses_unless_forced(tmp_path: Path) -> None:
    runtime, launches, peer = await _started(tmp_path)
    turn = await _running_turn(runtime, peer)
    with pytest.raises(TurnBusy):
        await runtime.switch_codex_home(tmp_path / "other")
    assert runtime.running_turns() == 1 and launches.homes == [tmp_path / "codex-home"]
    switch = asyncio.create_task(runtime.switch_codex_home(tmp_path / "other", force=True))
    await launches.peer()
    await asyncio.wait_for(switch, 5)
    result = await turn.wait(5)
    assert result.status is TurnStatus.INTERRUPTED
    assert result.error is not None and "another auth profile" in result.error.message
    assert runtime.running_turns() == 0
    await runtime.close()


async def test_wait_idle_returns_when_the_running_turn_ends(tmp_path: Path) -> None:
    runtime, _, peer = await _started(tmp_path)
    await _running_turn(runtime, peer)
    idle = asyncio.create_task(runtime.wait_idle())
    peer.notify("turn/completed", {"threadId": "th1", "turn": {"id": "tu1", "status": "completed"}})
    await asyncio.wait_for(idle, 5)
    assert runtime.running_turns() == 0
    await runtime.close()
