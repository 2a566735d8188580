"""A transport to a running app-server: ``--listen unix://PATH`` or ``--listen ws://IP:PORT``.

Both speak WebSocket, not the newline-delimited JSON of stdio (checked with codex-cli
0.163): the client sends an HTTP/1.1 ``Upgrade: websocket`` request, then each JSON-RPC
message is one text frame. Codex answers a bare JSON line by closing the connection. Its
upgrade response announces ``x-codex-websocket-max-unfragmented-message-bytes`` (16 MiB), so
a message bound of ``max_line_bytes`` is the same bound stdio has. A WebSocket listener
started with ``--ws-auth`` wants ``Authorization: Bearer TOKEN`` on the upgrade.
"""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import aiohttp

from codex_runner.codex.errors import TransportClosed
from codex_runner.codex.transport import WRITE_TIMEOUT_S, OversizedLine


class WebSocketTransport:
    def __init__(
        self,
        address: str,
        session: aiohttp.ClientSession,
        ws: aiohttp.ClientWebSocketResponse,
        *,
        write_timeout_s: float,
    ) -> None:
        self.address = address  # unix://PATH or ws://HOST:PORT, for messages
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
    ) -> WebSocketTransport:
        """Open a Unix socket and upgrade it; TransportClosed names the path when that fails."""
        return await cls._open(
            f"unix://{path}",
            aiohttp.ClientSession(connector=aiohttp.UnixConnector(path=str(path))),
            "ws://localhost/",
            {},
            max_message_bytes=max_message_bytes,
            timeout_s=timeout_s,
            write_timeout_s=write_timeout_s,
            hint=f"start one with `codex app-server --listen unix://{path}`",
        )

    @classmethod
    async def connect_url(
        cls,
        url: str,
        *,
        token: str | None,
        max_message_bytes: int,
        timeout_s: float,
        write_timeout_s: float = WRITE_TIMEOUT_S,
    ) -> WebSocketTransport:
        """Open ``ws://HOST:PORT`` (with a bearer ``token`` when the listener wants one)."""
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return await cls._open(
            url,
            aiohttp.ClientSession(),
            url,
            headers,
            max_message_bytes=max_message_bytes,
            timeout_s=timeout_s,
            write_timeout_s=write_timeout_s,
            hint=f"start one with `codex app-server --listen {url}`",
        )

    @classmethod
    async def _open(
        cls,
        address: str,
        session: aiohttp.ClientSession,
        url: str,
        headers: dict[str, str],
        *,
        max_message_bytes: int,
        timeout_s: float,
        write_timeout_s: float,
        hint: str,
    ) -> WebSocketTransport:
        try:
            async with asyncio.timeout(timeout_s):  # connect and upgrade: one deadline
                ws = await session.ws_connect(
                    url,
                    headers=headers,
                    max_msg_size=max_message_bytes,
                    timeout=aiohttp.ClientWSTimeout(ws_close=timeout_s),
                )
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            await session.close()
            # The error text names the address, never the headers (the token).
            reason = type(exc).__name__ if isinstance(exc, TimeoutError) else str(exc)
            raise TransportClosed(
                f"cannot connect to a Codex app-server at {address} ({reason}); {hint}"
            ) from None
        except BaseException:
            await session.close()
            raise
        return cls(address, session, ws, write_timeout_s=write_timeout_s)

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
                    f"Codex did not read from {self.address} for "
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
        return f"app-server at {self.address}: {self._why_closed or 'connected'}"
