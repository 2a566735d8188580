"""A small Phoenix Channels client (JSON serializer version 2) over ``websockets``.

Every frame is ``[join_ref, ref, topic, event, payload]``. One reader task per socket routes
frames and never blocks: a ``phx_reply`` resolves the future of the push it answers (matched by
``ref``), anything else the server pushes goes to a bounded inbox that :meth:`receive` drains.
A heartbeat task sends ``heartbeat`` on topic ``phoenix`` every ``heartbeat_s``; a heartbeat
left unanswered for as long again means the connection is dead. The token travels in the URL,
so it is redacted from every exception and log line the client or the library produces.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus, WebSocketException

from codex_runner.bridges.link.phoenix_wire import (
    PHOENIX_TOPIC,
    TokenRedactor,
    decode_frame,
    encode_frame,
    socket_url,
)

log = logging.getLogger(__name__)

# Join errors that mean the token itself is refused: retrying with it cannot succeed.
TOKEN_REASONS = frozenset({"unauthorized", "invalid_token"})
# A reply or a thread read can be large; the library's default (1 MiB) is too tight.
MAX_MESSAGE_BYTES = 16 * 2**20


class PhoenixError(Exception):
    """Base of the client's errors; no message ever contains the token."""


class TokenRejected(PhoenixError):
    """The chat server refused the token: retrying with the same token cannot succeed."""


class ConnectionLost(PhoenixError):
    """The socket is gone: closed by either side, or a heartbeat went unanswered."""


class ConnectFailed(ConnectionLost):
    """The socket could not be opened (network, TLS, an HTTP error other than 401/403)."""


class PushRefused(PhoenixError):
    """The server answered a push with a ``phx_reply`` whose status is not ``ok``."""

    def __init__(self, message: str, *, status: str, response: dict[str, Any]) -> None:
        super().__init__(message)
        self.status = status
        self.response = response


class PushTimeout(PhoenixError):
    """No ``phx_reply`` came for a push within its timeout."""


class ChannelClosed(PhoenixError):
    """The server closed (``phx_close``) or crashed (``phx_error``) a channel a push waited on."""


@dataclass(frozen=True)
class Message:
    """A push from the server: not a reply, not a heartbeat."""

    topic: str
    event: str
    payload: dict[str, Any]
    ref: str | None
    join_ref: str | None


class PhoenixSocket:
    """One connected Phoenix socket; make it with :meth:`connect`, end it with :meth:`close`."""

    def __init__(
        self,
        ws: ClientConnection,
        *,
        redactor: TokenRedactor,
        heartbeat_s: float,
        timeout_s: float,
        max_queue: int,
    ) -> None:
        self._ws = ws
        self._redactor = redactor
        self._heartbeat_s = heartbeat_s
        self._timeout_s = timeout_s
        self._max_queue = max_queue
        self._last_ref = 0
        self._joined: dict[str, str] = {}  # topic -> the join_ref of its current join
        # ref -> (topic, event, the future its phx_reply settles)
        self._pending: dict[str, tuple[str, str, asyncio.Future[dict[str, Any]]]] = {}
        self._inbox: deque[Message] = deque()
        self._arrived = asyncio.Event()
        self._dropped = 0
        self._lost_reason: str | None = None
        self._closer: asyncio.Task[None] | None = None
        self._reader = asyncio.create_task(self._read(), name="phoenix-reader")
        self._heart = asyncio.create_task(self._beat(), name="phoenix-heartbeat")

    @classmethod
    async def connect(
        cls,
        url: str,
        *,
        token: str,
        heartbeat_s: float = 30.0,
        timeout_s: float = 10.0,
        max_queue: int = 1000,
    ) -> PhoenixSocket:
        """Open the socket at ``{url}/websocket?vsn=2.0.0&token=...``.

        Raises TokenRejected when the server answers 401/403 at the upgrade, ConnectFailed
        when the socket cannot be opened within ``timeout_s``.
        """
        if heartbeat_s <= 0 or timeout_s <= 0 or max_queue < 1:
            raise ValueError(
                "heartbeat_s and timeout_s must be positive and max_queue at least 1 "
                f"(got {heartbeat_s}, {timeout_s}, {max_queue})"
            )
        full_url = socket_url(url, token)  # checks url and token, names neither secret
        redactor = TokenRedactor(token)
        shown = redactor.redact(url)  # in case someone put the token in the base url too
        try:
            ws = await connect(
                full_url,
                open_timeout=timeout_s,
                close_timeout=timeout_s,
                # The Phoenix heartbeat is the one keep-alive, so its failure mode is the one.
                ping_interval=None,
                max_size=MAX_MESSAGE_BYTES,
                logger=redactor.logger("websockets.client"),
            )
        except InvalidStatus as exc:
            status = exc.response.status_code
            if status in (401, 403):
                raise TokenRejected(
                    f"the chat server at {shown} refused the link token (HTTP {status}); "
                    "set the right one in CODEX_RUNNER_LINK_TOKEN or the token_file"
                ) from None
            raise ConnectFailed(
                f"the chat server at {shown} answered HTTP {status} instead of opening the socket"
            ) from None
        except (OSError, TimeoutError, WebSocketException) as exc:
            reason = redactor.redact(str(exc)) or type(exc).__name__
            raise ConnectFailed(f"cannot open the socket to {shown}: {reason}") from None
        return cls(
            ws,
            redactor=redactor,
            heartbeat_s=heartbeat_s,
            timeout_s=timeout_s,
            max_queue=max_queue,
        )

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    @property
    def closed(self) -> bool:
        """True once the connection is lost or :meth:`close` was called."""
        return self._lost_reason is not None

    @property
    def dropped(self) -> int:
        """How many server pushes were dropped because the inbox was full."""
        return self._dropped

    def join_ref(self, topic: str) -> str | None:
        """The join_ref of ``topic``'s current join, None when it is not joined."""
        return self._joined.get(topic)

    async def join(
        self, topic: str, payload: dict[str, Any], *, timeout_s: float | None = None
    ) -> dict[str, Any]:
        """Join ``topic``; returns the ok reply's ``response``.

        Raises TokenRejected when the reason is ``unauthorized``/``invalid_token``, PushRefused
        for any other refusal, PushTimeout, ConnectionLost.
        """
        join_ref = self._next_ref()
        try:
            response = await self._request(
                join_ref, join_ref, topic, "phx_join", payload, timeout_s
            )
        except PushRefused as exc:
            if exc.response.get("reason") in TOKEN_REASONS:
                raise TokenRejected(
                    f"the chat server refused to join {topic}: {exc.response.get('reason')}; "
                    "set the right token in CODEX_RUNNER_LINK_TOKEN or the token_file"
                ) from None
            raise
        return response  # the reader recorded the join as the reply came, before any push

    async def push(
        self,
        topic: str,
        event: str,
        payload: dict[str, Any],
        *,
        timeout_s: float | None = None,
    ) -> dict[str, Any]:
        """Push ``event`` on ``topic`` and wait for its ``phx_reply``; returns its ``response``.

        Raises PushRefused, PushTimeout, ChannelClosed, ConnectionLost.
        """
        ref = self._next_ref()
        return await self._request(self._joined.get(topic), ref, topic, event, payload, timeout_s)

    async def receive(self, *, timeout_s: float | None = None) -> Message:
        """The next server push, oldest first.

        Raises ConnectionLost once the socket is gone and the inbox is drained, TimeoutError
        when ``timeout_s`` passes first (without a timeout the heartbeat bounds the wait: a dead
        connection is noticed within two intervals).
        """
        async with asyncio.timeout(timeout_s):
            while True:
                if self._inbox:
                    return self._inbox.popleft()
                if self._lost_reason is not None:
                    raise ConnectionLost(self._lost_reason)
                self._arrived.clear()
                await self._arrived.wait()

    async def leave(self, topic: str) -> None:
        """Leave ``topic``: forget its join at once, then tell the server (best effort)."""
        join_ref = self._joined.pop(topic, None)
        if join_ref is None or self.closed:
            return
        try:
            await self._request(join_ref, self._next_ref(), topic, "phx_leave", {}, None)
        except (PushRefused, PushTimeout, ChannelClosed) as exc:
            log.warning("leaving %s: %s", topic, exc)
        except ConnectionLost:
            pass  # a gone socket has left every channel

    async def close(self) -> None:
        """Close the socket and reap its tasks; idempotent, bounded by ``timeout_s``."""
        if self._closer is None:
            self._closer = asyncio.create_task(self._shut_down(), name="phoenix-close")
        await asyncio.shield(self._closer)

    # -- internals ------------------------------------------------------------------------

    def _next_ref(self) -> str:
        self._last_ref += 1
        return str(self._last_ref)

    async def _request(
        self,
        join_ref: str | None,
        ref: str,
        topic: str,
        event: str,
        payload: dict[str, Any],
        timeout_s: float | None,
    ) -> dict[str, Any]:
        if self._lost_reason is not None:
            raise ConnectionLost(self._lost_reason)
        timeout = self._timeout_s if timeout_s is None else timeout_s
        reply: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[ref] = (topic, event, reply)
        try:
            async with asyncio.timeout(timeout):
                await self._send(encode_frame(join_ref, ref, topic, event, payload))
                return await reply
        except TimeoutError:
            raise PushTimeout(f"no reply to {event} on {topic} within {timeout:g} s") from None
        finally:
            self._pending.pop(ref, None)
            if not reply.done():
                reply.cancel()
            elif not reply.cancelled():
                reply.exception()  # settled while the send failed: retrieved, not warned about

    async def _send(self, text: str) -> None:
        try:
            await self._ws.send(text)
        except ConnectionClosed as exc:
            self._lose(self._close_reason(exc))
            raise ConnectionLost(self._lost_reason or "the socket closed") from None

    async def _read(self) -> None:
        reason = "the chat server closed the socket"
        try:
            async for raw in self._ws:
                self._route(raw)
        except ConnectionClosed as exc:
            reason = self._close_reason(exc)
        except Exception as exc:  # the socket is unusable; say why, without the token
            reason = f"the socket failed: {self._redactor.redact(repr(exc))}"
        finally:
            self._lose(reason)

    def _route(self, raw: str | bytes) -> None:
        frame = decode_frame(raw)
        if isinstance(frame, str):  # a frame it cannot read: say so, keep reading
            log.warning("ignoring a frame from the chat server: %s", self._redactor.redact(frame))
            return
        join_ref, ref, topic, event, payload = frame
        if event == "phx_reply":
            self._settle(ref, topic, payload)
        elif join_ref is not None and self._joined.get(topic, join_ref) != join_ref:
            log.debug("dropping %s on %s from an earlier join", event, topic)
        elif event in ("phx_error", "phx_close"):
            self._end_channel(topic, join_ref, event, payload)
        else:
            self._deliver(Message(topic, event, payload, ref, join_ref))

    def _settle(self, ref: str | None, topic: str, payload: dict[str, Any]) -> None:
        _, event, reply = self._pending.get(ref or "", (topic, "", None))
        if reply is None or reply.done():
            log.debug("a reply on %s to ref %s nobody waits for", topic, ref)
            return
        status, response = payload.get("status"), payload.get("response", {})
        if not isinstance(status, str) or not isinstance(response, dict):
            reply.set_exception(PhoenixError(f"a malformed phx_reply on {topic}: {payload!r}"))
        elif status == "ok":
            if event == "phx_join" and ref is not None:
                # Recorded here, in frame order, so a phx_error right after is not missed.
                self._joined[topic] = ref
            reply.set_result(response)
        else:
            reply.set_exception(
                PushRefused(
                    f"the chat server refused a push on {topic}: {status} {response!r}",
                    status=status,
                    response=response,
                )
            )

    def _end_channel(
        self, topic: str, join_ref: str | None, event: str, payload: dict[str, Any]
    ) -> None:
        if topic not in self._joined:
            return  # the close that follows our own leave, or a channel we never joined
        del self._joined[topic]
        for waiting_topic, _, reply in self._pending.values():
            if waiting_topic == topic and not reply.done():
                reply.set_exception(ChannelClosed(f"the chat server ended {topic} ({event})"))
        # The owner hears of it too, so that it can join again.
        self._deliver(Message(topic, event, payload, None, join_ref))

    def _deliver(self, message: Message) -> None:
        if len(self._inbox) >= self._max_queue:
            self._inbox.popleft()
            self._dropped += 1
            if self._dropped == 1:
                log.warning(
                    "the link's inbox is full (%d pushes): dropping the oldest; "
                    "the socket's dropped count says how many",
                    self._max_queue,
                )
        self._inbox.append(message)
        self._arrived.set()

    async def _beat(self) -> None:
        while self._lost_reason is None:
            await asyncio.sleep(self._heartbeat_s)
            try:
                await self._request(
                    None, self._next_ref(), PHOENIX_TOPIC, "heartbeat", {}, self._heartbeat_s
                )
            except PushTimeout:
                self._lose(
                    f"the chat server did not answer a heartbeat within {self._heartbeat_s:g} s"
                )
                # Closing wakes the reader; the close is bounded by close_timeout.
                with contextlib.suppress(Exception):
                    await self._ws.close()
                return
            except PushRefused as exc:  # it answered, so the connection is alive
                log.warning("the chat server refused a heartbeat: %s", exc)
            except ConnectionLost:
                return

    def _close_reason(self, exc: ConnectionClosed) -> str:
        return f"the socket closed: {self._redactor.redact(str(exc))}"

    def _lose(self, reason: str) -> None:
        """Mark the socket gone (the first reason wins) and wake every waiter."""
        if self._lost_reason is not None:
            return
        self._lost_reason = reason
        self._joined.clear()
        for _, _, reply in self._pending.values():
            if not reply.done():
                reply.set_exception(ConnectionLost(reason))
        self._arrived.set()
        if self._heart is not asyncio.current_task():
            self._heart.cancel()

    async def _shut_down(self) -> None:
        self._lose("the link closed the socket")  # also cancels the heartbeat
        with contextlib.suppress(Exception):
            await self._ws.close()  # bounded by close_timeout
        for task in (self._heart, self._reader):
            await _reap(task, self._timeout_s)


async def _reap(task: asyncio.Task[None], timeout_s: float) -> None:
    """Wait for ``task`` to end, cancelling it if it will not; never waits unbounded."""
    if not task.done():
        await asyncio.wait({task}, timeout=timeout_s)
    if not task.done():
        task.cancel()
        await asyncio.wait({task}, timeout=timeout_s)
    if task.done() and not task.cancelled() and task.exception() is not None:
        log.warning("%s ended with %r", task.get_name(), task.exception())
