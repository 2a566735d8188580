"""In-memory stand-in for a Codex app-server connection, shipped for tests.

``FakeTransport`` implements :class:`~codex_runner.codex.transport.Transport`; the test plays
Codex through :class:`FakeCodexPeer`, reading what the runtime sent and pushing replies,
notifications, server requests, garbage lines, or a hang-up.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from codex_runner.codex.errors import TransportClosed
from codex_runner.codex.transport import OversizedLine

_EOF = object()


class FakeTransport:
    def __init__(self) -> None:
        self._inbox: asyncio.Queue[object] = asyncio.Queue(maxsize=10_000)  # to the runtime
        self.sent: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize=10_000)  # from it
        self.closed = False
        self.exit_description = "fake codex still running"

    async def send(self, line: bytes) -> None:
        if self.closed:
            raise TransportClosed(f"cannot write to Codex: {self.exit_description}")
        await self.sent.put(json.loads(line))

    async def receive(self) -> bytes:
        item = await self._inbox.get()
        if item is _EOF:
            self.closed = True
            raise TransportClosed(f"Codex closed the connection: {self.exit_description}")
        if isinstance(item, OversizedLine):
            raise item
        assert isinstance(item, bytes)
        return item

    async def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._inbox.put_nowait(_EOF)

    def describe(self) -> str:
        return self.exit_description

    # the peer's side ---------------------------------------------------------------------
    def push_raw(self, line: bytes) -> None:
        self._inbox.put_nowait(line)

    def push(self, message: dict[str, Any]) -> None:
        self.push_raw(json.dumps(message).encode())

    def push_oversized(self) -> None:
        self._inbox.put_nowait(OversizedLine("line over limit skipped"))

    def hang_up(self, description: str = "codex killed by signal 9") -> None:
        self.exit_description = description
        self._inbox.put_nowait(_EOF)


class FakeCodexPeer:
    """Plays the app-server side of one FakeTransport."""

    def __init__(self, transport: FakeTransport) -> None:
        self.transport = transport

    async def next(self, method: str | None = None, timeout: float = 5.0) -> dict[str, Any]:
        """The next message the runtime sent (skipping others when ``method`` is given)."""
        async with asyncio.timeout(timeout):
            while True:
                message = await self.transport.sent.get()
                if method is None or message.get("method") == method:
                    return message

    async def expect_request(self, method: str, timeout: float = 5.0) -> dict[str, Any]:
        message = await self.next(method, timeout)
        assert "id" in message, f"{method} was sent as a notification"
        return message

    def reply(self, request: dict[str, Any], result: Any) -> None:
        self.transport.push({"jsonrpc": "2.0", "id": request["id"], "result": result})

    def reply_error(self, request: dict[str, Any], code: int, message: str) -> None:
        self.transport.push(
            {"jsonrpc": "2.0", "id": request["id"], "error": {"code": code, "message": message}}
        )

    def notify(self, method: str, params: dict[str, Any]) -> None:
        self.transport.push({"jsonrpc": "2.0", "method": method, "params": params})

    def server_request(self, request_id: int, method: str, params: dict[str, Any]) -> None:
        self.transport.push(
            {"jsonrpc": "2.0", "id": request_id, "method": method, "params": params}
        )

    async def handshake(self) -> None:
        init = await self.expect_request("initialize")
        self.reply(init, {"userAgent": "codex_cli_rs/0.163.0 (fake)"})
        await self.next("initialized")
