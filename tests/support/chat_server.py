"""A fake chat server for the link's tests: real Phoenix Channels v2 over WebSocket on 127.0.0.1.

It accepts only its token (HTTP 403 at the upgrade otherwise), answers ``heartbeat`` on topic
``phoenix`` (unless ``answer_heartbeats`` is False), answers ``phx_join`` with what
``join_reply`` computes and every other push with what ``replies[event]`` computes (ok with
``{}`` by default), and records every frame it receives. Tests push to the client with
:meth:`FakeChatServer.push` and cut the connection with :meth:`FakeChatServer.drop`.

    async with FakeChatServer(token="t0ken") as server:
        socket = await PhoenixSocket.connect(server.url, token="t0ken")
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

SOCKET_PATH = "/socket/websocket"
MAX_FRAMES = 10_000
MAX_MESSAGE_BYTES = 16 * 2**20
WAIT_TIMEOUT_S = 10.0

# (status, response) of a phx_reply; None sends no reply at all (to test timeouts).
Reply = tuple[str, dict[str, Any]] | None


@dataclass(frozen=True)
class Frame:
    """One frame the server received, in arrival order (``index`` counts from 0)."""

    index: int
    at: float  # time.monotonic() when it arrived
    join_ref: str | None
    ref: str | None
    topic: str
    event: str
    payload: dict[str, Any]
    connection: int  # which connection (1 for the first) it came on


class FakeChatServer:
    """A Phoenix Channels v2 server with one current client connection."""

    def __init__(self, token: str = "t0ken", *, max_frames: int = MAX_FRAMES) -> None:
        self.token = token
        self.answer_heartbeats = True
        # (topic, join payload) -> the join's reply; tests set {"lastSeq": N} here.
        self.join_reply: Callable[[str, dict[str, Any]], Reply] = lambda topic, payload: (
            "ok",
            {},
        )
        # (event, payload) pushes sent on the topic right after an ok join's reply.
        self.after_join: Callable[[Frame], list[tuple[str, dict[str, Any]]]] = lambda f: []
        # event -> the reply to a push of that event (ok with {} when absent).
        self.replies: dict[str, Callable[[Frame], Reply]] = {}
        self.frames: deque[Frame] = deque(maxlen=max_frames)
        self.connections = 0
        self.rejected = 0  # upgrades refused for a wrong token or path
        self._counter = itertools.count()
        self._seen: set[int] = set()  # indexes wait_for has returned
        self._changed = asyncio.Condition()
        self._client: ServerConnection | None = None
        self._joined: dict[str, str] = {}  # the current connection's topic -> join_ref
        self._server: Server | None = None
        self.url = ""

    async def __aenter__(self) -> Self:
        self._server = await serve(
            self._serve_client,
            "127.0.0.1",
            0,
            process_request=self._check_upgrade,
            ping_interval=None,  # the Phoenix heartbeat is the keep-alive under test
            max_size=MAX_MESSAGE_BYTES,
            close_timeout=WAIT_TIMEOUT_S,
        )
        port = next(iter(self._server.sockets)).getsockname()[1]
        self.url = f"ws://127.0.0.1:{port}/socket"
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(WAIT_TIMEOUT_S):
                    await self._server.wait_closed()

    # -- what tests call -------------------------------------------------------------------

    async def wait_for(
        self,
        event: str,
        predicate: Callable[[Frame], bool] | None = None,
        timeout: float = WAIT_TIMEOUT_S,
    ) -> Frame:
        """The oldest received frame of ``event`` matching ``predicate`` that no earlier
        ``wait_for`` returned (so calling it three times gives three different heartbeats),
        waiting up to ``timeout`` seconds for it to arrive."""

        def unseen() -> Frame | None:
            for frame in self.frames:
                if frame.index in self._seen or frame.event != event:
                    continue
                if predicate is None or predicate(frame):
                    return frame
            return None

        try:
            async with asyncio.timeout(timeout), self._changed:
                found = await self._changed.wait_for(unseen)
        except TimeoutError:
            got = [f"{f.topic}:{f.event}" for f in list(self.frames)[-20:]]
            raise AssertionError(
                f"no new {event!r} frame matched within {timeout:g} s; last received: {got}"
            ) from None
        self._seen.add(found.index)
        return found

    def received(self, event: str) -> list[Frame]:
        """Every recorded frame of ``event``, oldest first."""
        return [f for f in self.frames if f.event == event]

    async def wait_connected(self, n: int = 1, timeout: float = WAIT_TIMEOUT_S) -> None:
        """Wait until the n-th connection (counting from 1) has been accepted."""
        try:
            async with asyncio.timeout(timeout), self._changed:
                await self._changed.wait_for(lambda: self.connections >= n)
        except TimeoutError:
            raise AssertionError(
                f"connection {n} did not come within {timeout:g} s ({self.connections} so far)"
            ) from None

    async def push(self, topic: str, event: str, payload: dict[str, Any]) -> None:
        """Send a push to the current client, with the join_ref of its join of ``topic``."""
        await self._send(self._current(), self._joined.get(topic), None, topic, event, payload)

    async def send_raw(self, text: str) -> None:
        """Send ``text`` as it is to the current client (to test frames it cannot read)."""
        async with asyncio.timeout(WAIT_TIMEOUT_S):
            await self._current().send(text)

    async def drop(self, *, abort: bool = False) -> None:
        """Close the current client connection from the server side (``abort``: cut the TCP
        connection with no closing handshake, like a network failure)."""
        client = self._current()
        if abort:
            client.transport.abort()
            return
        async with asyncio.timeout(WAIT_TIMEOUT_S):
            await client.close(code=1001, reason="going away")

    # -- the server ------------------------------------------------------------------------

    def _check_upgrade(self, connection: ServerConnection, request: Request) -> Response | None:
        parts = urlsplit(request.path)
        query = parse_qs(parts.query)
        if parts.path != SOCKET_PATH:
            self.rejected += 1
            return connection.respond(404, f"no socket at {parts.path}\n")
        if query.get("vsn") != ["2.0.0"]:
            self.rejected += 1
            return connection.respond(400, "only serializer vsn 2.0.0 is spoken here\n")
        if query.get("token") != [self.token]:
            self.rejected += 1
            return Response(403, "Forbidden", Headers(), b"invalid token\n")
        return None

    async def _serve_client(self, ws: ServerConnection) -> None:
        joined: dict[str, str] = {}  # this connection's topic -> join_ref
        async with self._changed:
            self.connections += 1
            number = self.connections
            self._client, self._joined = ws, joined
            self._changed.notify_all()
        try:
            async for raw in ws:
                await self._answer(ws, number, joined, raw)
        except ConnectionClosed:
            pass
        finally:
            if self._client is ws:
                self._client = None

    async def _answer(
        self, ws: ServerConnection, number: int, joined: dict[str, str], raw: str | bytes
    ) -> None:
        join_ref, ref, topic, event, payload = json.loads(raw)
        frame = Frame(
            next(self._counter), time.monotonic(), join_ref, ref, topic, event, payload, number
        )
        async with self._changed:
            self.frames.append(frame)
            self._changed.notify_all()
        reply: Reply
        if topic == "phoenix" and event == "heartbeat":
            reply = ("ok", {}) if self.answer_heartbeats else None
        elif event == "phx_join":
            reply = self.join_reply(topic, payload)
            if reply is not None and reply[0] == "ok":
                joined[topic] = join_ref
        elif topic not in joined:
            reply = ("error", {"reason": "unmatched topic"})  # what Phoenix answers
        elif event == "phx_leave":
            reply = ("ok", {})
        else:
            reply = self.replies.get(event, lambda _: ("ok", {}))(frame)
        if reply is not None:
            status, response = reply
            body = {"status": status, "response": response}
            await self._send(ws, join_ref, ref, topic, "phx_reply", body)
        if event == "phx_join" and reply is not None and reply[0] == "ok":
            for pushed_event, pushed in self.after_join(frame):
                await self._send(ws, join_ref, None, topic, pushed_event, pushed)
        if event == "phx_leave" and topic in joined:
            # Phoenix ends the channel after a leave and says so.
            del joined[topic]
            await self._send(ws, join_ref, join_ref, topic, "phx_close", {})

    def _current(self) -> ServerConnection:
        if self._client is None:
            raise AssertionError("no client is connected to the fake chat server")
        return self._client

    @staticmethod
    async def _send(
        ws: ServerConnection,
        join_ref: str | None,
        ref: str | None,
        topic: str,
        event: str,
        payload: dict[str, Any],
    ) -> None:
        async with asyncio.timeout(WAIT_TIMEOUT_S):
            await ws.send(json.dumps([join_ref, ref, topic, event, payload]))
