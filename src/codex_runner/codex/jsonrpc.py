"""JSON-RPC 2.0 connection with exactly one reader task.

- Requests are matched to responses by id, each with a timeout.
- Notifications go to a synchronous router callback (it must not block: it only appends).
- Server requests (approvals, user input) run their async handler in their own task, so a
  human taking minutes to decide blocks nothing else; the reply is sent when it is ready.
- ``-32001`` ("Server overloaded; retry later") is retried with exponential backoff + jitter.
- Malformed or oversized lines are counted, logged and skipped; the reader survives them.
- When the transport dies, every waiter gets :class:`TransportClosed`.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import itertools
import logging
import random
from collections.abc import Awaitable, Callable
from typing import Any, Final

import orjson

from codex_runner.codex.errors import RpcError, RpcTimeout, TransportClosed
from codex_runner.codex.transport import OversizedLine, Transport

log = logging.getLogger(__name__)

OVERLOADED = -32001

# The id Codex gave the server request being handled, for the handler to remember: when
# another client answers the request first, ``serverRequest/resolved`` names it by this id.
# Each request's handler runs in its own task, so the variable is per request.
SERVER_REQUEST_ID: contextvars.ContextVar[object] = contextvars.ContextVar("server_request_id")


class _NoReply:
    def __repr__(self) -> str:
        return "NO_REPLY"


# What a server request handler returns when the request must not be answered on this
# connection (another client of a shared app-server answered it already).
NO_REPLY: Final = _NoReply()

NotificationRouter = Callable[[str, dict[str, Any]], None]
ServerRequestHandler = Callable[[str, dict[str, Any]], Awaitable[Any]]
CloseCallback = Callable[[TransportClosed], None]


class JsonRpcConnection:
    def __init__(
        self,
        transport: Transport,
        *,
        on_notification: NotificationRouter,
        on_server_request: ServerRequestHandler,
        on_close: CloseCallback | None = None,
        request_timeout: float = 60.0,
        overload_retries: int = 5,
        overload_base_delay: float = 0.05,
    ) -> None:
        self._transport = transport
        self._on_notification = on_notification
        self._on_server_request = on_server_request
        self._on_close = on_close
        self._timeout = request_timeout
        self._overload_retries = overload_retries
        self._overload_base_delay = overload_base_delay
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[Any]] = {}
        self._methods: dict[int, str] = {}
        self._server_tasks: set[asyncio.Task[None]] = set()
        self._reader: asyncio.Task[None] | None = None
        self._closed: TransportClosed | None = None
        self.malformed_lines = 0

    # lifecycle ---------------------------------------------------------------------------
    def start(self) -> None:
        if self._reader is not None:
            raise RuntimeError("connection already started")
        self._reader = asyncio.create_task(self._read_loop(), name="codex-jsonrpc-reader")

    @property
    def closed(self) -> bool:
        return self._closed is not None

    async def close(self) -> None:
        await self._transport.close()
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(self._reader, 5.0)
        for task in list(self._server_tasks):
            task.cancel()
        self._shutdown(TransportClosed("connection closed by the runner"))

    # outgoing ----------------------------------------------------------------------------
    async def request(
        self, method: str, params: dict[str, Any] | None = None, *, timeout: float | None = None
    ) -> Any:
        """Send a request and return its result; retries overload errors with backoff."""
        for attempt in itertools.count():
            try:
                return await self._request_once(method, params, timeout or self._timeout)
            except RpcError as exc:
                if exc.code != OVERLOADED or attempt >= self._overload_retries:
                    raise
                delay = self._overload_base_delay * (2**attempt)
                await asyncio.sleep(delay + random.uniform(0, delay))
        raise AssertionError("unreachable")  # pragma: no cover

    async def _request_once(
        self, method: str, params: dict[str, Any] | None, timeout: float
    ) -> Any:
        if self._closed is not None:
            raise TransportClosed(str(self._closed))
        request_id = next(self._ids)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = future
        self._methods[request_id] = method
        message: dict[str, Any] = {"jsonrpc": "2.0", "id": request_id, "method": method}
        if params is not None:
            message["params"] = params
        try:
            await self._transport.send(orjson.dumps(message))
            return await asyncio.wait_for(future, timeout)
        except TimeoutError:
            raise RpcTimeout(f"{method}: no answer from Codex within {timeout:g}s") from None
        finally:
            self._pending.pop(request_id, None)
            self._methods.pop(request_id, None)

    async def notify(self, method: str, params: dict[str, Any] | None = None) -> None:
        message: dict[str, Any] = {"jsonrpc": "2.0", "method": method}
        if params is not None:
            message["params"] = params
        await self._transport.send(orjson.dumps(message))

    # incoming ----------------------------------------------------------------------------
    async def _read_loop(self) -> None:
        try:
            while True:
                try:
                    line = await self._transport.receive()
                except OversizedLine as exc:
                    self.malformed_lines += 1
                    log.warning("codex sent an oversized line: %s", exc)
                    continue
                self._dispatch(line)
        except TransportClosed as exc:
            self._shutdown(exc)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # pragma: no cover - defensive: never die silently
            log.exception("codex reader failed")
            self._shutdown(TransportClosed(f"reader failed: {exc!r}"))

    def _dispatch(self, line: bytes) -> None:
        if not line.strip():
            return
        try:
            message = orjson.loads(line)
            if not isinstance(message, dict):
                raise ValueError("not a JSON object")
        except ValueError as exc:
            self.malformed_lines += 1
            log.warning("skipping malformed line from codex (%s): %.200r", exc, line)
            return
        method = message.get("method")
        if isinstance(method, str) and "id" in message:
            self._start_server_request(message["id"], method, message.get("params") or {})
        elif isinstance(method, str):
            try:
                self._on_notification(method, message.get("params") or {})
            except Exception:
                log.exception("notification router failed on %s", method)
        elif "id" in message:
            self._resolve(message)
        else:
            self.malformed_lines += 1
            log.warning("skipping a JSON-RPC message of unknown shape: %.200r", line)

    def _resolve(self, message: dict[str, Any]) -> None:
        request_id = message.get("id")
        future = self._pending.get(request_id) if isinstance(request_id, int) else None
        if future is None or future.done():
            return  # late answer to a request that already timed out
        error = message.get("error")
        if isinstance(error, dict):
            method = self._methods.get(request_id, "?") if isinstance(request_id, int) else "?"
            future.set_exception(
                RpcError(
                    method,
                    int(error.get("code", 0)),
                    str(error.get("message", "")),
                    error.get("data"),
                )
            )
        else:
            future.set_result(message.get("result"))

    def _start_server_request(self, request_id: Any, method: str, params: dict[str, Any]) -> None:
        task = asyncio.create_task(
            self._answer(request_id, method, params), name=f"codex-server-request-{method}"
        )
        self._server_tasks.add(task)
        task.add_done_callback(self._server_tasks.discard)

    async def _answer(self, request_id: Any, method: str, params: dict[str, Any]) -> None:
        SERVER_REQUEST_ID.set(request_id)
        reply: dict[str, Any] = {"jsonrpc": "2.0", "id": request_id}
        try:
            result = await self._on_server_request(method, params)
            if result is NO_REPLY:
                return
            reply["result"] = result
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("server request %s failed: %s", method, exc)
            reply["error"] = {"code": -32603, "message": str(exc)}
        with contextlib.suppress(TransportClosed):
            await self._transport.send(orjson.dumps(reply))

    def _shutdown(self, exc: TransportClosed) -> None:
        if self._closed is not None:
            return
        self._closed = exc
        for future in self._pending.values():
            if not future.done():
                future.set_exception(TransportClosed(str(exc)))
        self._pending.clear()
        if self._on_close is not None:
            try:
                self._on_close(exc)
            except Exception:
                log.exception("close callback failed")
