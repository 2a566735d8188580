"""A transport to a running ``codex app-server --listen unix://PATH``.

The socket speaks WebSocket, not the newline-delimited JSON of stdio (checked with
codex-cli 0.163): the client sends an HTTP/1.1 ``Upgrade: websocket`` request, then each
JSON-RPC message is one text frame. Codex answers a bare JSON line by closing the
connection. Its upgrade response announces ``x-codex-websocket-max-unfragmented-message-bytes``
(16 MiB), so a message bound of ``max_line_bytes`` is the same bound stdio has.
"""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import aiohttp

from codex_runner.codex.errors import TransportClosed
from codex_runner.codex.transport import WRITE_TIMEOUT_S, OversizedLine


class UnixSocketTransport:
    def __init__(
        self,
        path: Path,
        session: aiohttp.ClientSession,
        ws: aiohttp.ClientWebSocketResponse,
        *,
        write_timeout_s: float,
    ) -> None:
        self.path = path
        self._session = session
        self._ws = ws
        self._write_timeout_s = write_timeout_s
        self._write_lock = asyncio.Lock()
        self._why_closed: str | None = None

    @classmethod
    async def connect(
        cls,
        path: Path,
        *,
        max_message_bytes: int,
        timeout_s: float,
        write_timeout_s: float = WRITE_TIMEOUT_S,
    ) -> UnixSocketTransport:
        """Open the socket and upgrade it; TransportClosed names the path when that fails."""
        session = aiohttp.ClientSession(connector=aiohttp.UnixConnector(path=str(path)))
        try:
            async with asyncio.timeout(timeout_s):  # connect and upgrade: one deadline
                ws = await session.ws_connect(
                    "ws://localhost/",
                    max_msg_size=max_message_bytes,
                    timeout=aiohttp.ClientWSTimeout(ws_close=timeout_s),
                )
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            await session.close()
            raise TransportClosed(
                f"cannot connect to a Codex app-server at unix://{path} ({exc or type(exc)}); "
                f"start one with `codex app-server --listen unix://{path}`"
            ) from None
        except BaseException:
            await session.close()
            raise
        return cls(path, session, ws, write_timeout_s=write_timeout_s)

    async def send(self, line: bytes) -> None:
        async with self._write_lock:
            if self._ws.closed:
                raise TransportClosed(f"cannot write to Codex: {self.describe()}")
            try:
                await asyncio.wait_for(
                    self._ws.send_str(line.decode("utf-8")), self._write_timeout_s
                )
            except TimeoutError:
                await self.close()
                raise TransportClosed(
                    f"Codex did not read from unix://{self.path} for "
                    f"{self._write_timeout_s:g}s; the connection was closed"
                ) from None
            except (ConnectionError, aiohttp.ClientError) as exc:
                raise TransportClosed(f"cannot write to Codex ({exc}): {self.describe()}") from None

    async def receive(self) -> bytes:
        while True:
            message = await self._ws.receive()
            if message.type is aiohttp.WSMsgType.TEXT:
                return str(message.data).encode("utf-8")
            if message.type is aiohttp.WSMsgType.BINARY:
                return bytes(message.data)
            if message.type is aiohttp.WSMsgType.ERROR:
                error = self._ws.exception()
                if isinstance(error, aiohttp.WebSocketError) and error.code == 1009:
                    # aiohttp closes the socket after a frame over max_msg_size: unlike a
                    # stdio line, an oversized message cannot be skipped and read past.
                    self._why_closed = f"a message over the limit ({error})"
                    raise OversizedLine(str(error))
                self._why_closed = f"websocket error: {error}"
            elif message.type in (
                aiohttp.WSMsgType.CLOSE,
                aiohttp.WSMsgType.CLOSING,
                aiohttp.WSMsgType.CLOSED,
            ):
                self._why_closed = self._why_closed or f"closed (code {self._ws.close_code})"
            else:
                continue  # ping/pong are answered by aiohttp
            await self.close()
            raise TransportClosed(f"Codex closed the connection: {self.describe()}")

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._ws.close(), 5.0)
        with contextlib.suppress(Exception):
            await self._session.close()

    def describe(self) -> str:
        return f"app-server at unix://{self.path}: {self._why_closed or 'connected'}"
