"""AppServerConnection: one owner of an app-server connection, driven with a fake peer."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from codex_runner.codex.connection import AppServerConnection, Launcher
from codex_runner.codex.errors import RuntimeUnavailable, TransportClosed
from codex_runner.codex.fake import FakeCodexPeer, FakeTransport
from codex_runner.codex.process import ChildProcess
from codex_runner.codex.transport import Transport


def _launcher(transport: FakeTransport) -> Launcher:
    async def launch() -> tuple[Transport, ChildProcess | None]:
        return transport, None

    return launch


async def test_it_shakes_hands_routes_notifications_and_server_requests_and_closes() -> None:
    transport = FakeTransport()
    peer = FakeCodexPeer(transport)
    heard: list[tuple[str, dict[str, Any]]] = []

    async def answer(method: str, params: dict[str, Any]) -> Any:
        return {"answered": method}

    conn = AppServerConnection(
        _launcher(transport),
        on_notification=lambda method, params: heard.append((method, params)),
        on_server_request=answer,
    )
    opening = asyncio.create_task(conn.__aenter__())
    await peer.handshake()
    await asyncio.wait_for(opening, 5)
    assert conn.info.codex_version == "0.163.0"
    peer.notify("thread/started", {"threadId": "t1"})
    peer.server_request(4, "item/tool/call", {"x": 1})
    assert await peer.next() == {
        "jsonrpc": "2.0",
        "id": 4,
        "result": {"answered": "item/tool/call"},
    }
    assert heard == [("thread/started", {"threadId": "t1"})]
    request = asyncio.create_task(conn.request("thread/list", {}))
    peer.reply(await peer.expect_request("thread/list"), {"data": []})
    assert await asyncio.wait_for(request, 5) == {"data": []}
    await conn.__aexit__(None, None, None)
    assert transport.closed and conn.closed
    with pytest.raises(TransportClosed, match="not open"):
        await conn.request("thread/list")


async def test_a_peer_that_hangs_up_during_the_handshake_is_unavailable_naming_why() -> None:
    transport = FakeTransport()
    transport.hang_up("codex exited with code 2; stderr: bad flag")
    conn = AppServerConnection(_launcher(transport), start_timeout_s=5)
    with pytest.raises(RuntimeUnavailable, match="bad flag"):
        await conn.open()
    assert conn.closed


async def test_a_server_request_without_a_handler_is_refused_with_an_error() -> None:
    transport = FakeTransport()
    peer = FakeCodexPeer(transport)
    conn = AppServerConnection(_launcher(transport))
    opening = asyncio.create_task(conn.open())
    await peer.handshake()
    assert (await asyncio.wait_for(opening, 5)).user_agent.startswith("codex_cli_rs")
    peer.server_request(7, "item/commandExecution/requestApproval", {})
    reply = await peer.next()
    assert reply["id"] == 7 and "does not handle" in reply["error"]["message"]
    await conn.close()


async def test_opening_twice_is_refused() -> None:
    transport = FakeTransport()
    peer = FakeCodexPeer(transport)
    conn = AppServerConnection(_launcher(transport))
    opening = asyncio.create_task(conn.open())
    await peer.handshake()
    await asyncio.wait_for(opening, 5)
    with pytest.raises(RuntimeError, match="already open"):
        await conn.open()
    await conn.close()
    assert conn.closed
