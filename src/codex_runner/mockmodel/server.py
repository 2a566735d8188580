"""The scripted model server: an OpenAI Responses API look-alike on 127.0.0.1.

Codex POSTs ``/v1/responses`` with ``stream: true`` and reads Server-Sent Events, or, when
the provider says ``supports_websockets = true``, sends the same calls as frames on one
WebSocket per thread (:mod:`codex_runner.mockmodel.websocket`). This server answers each
call from a :class:`~codex_runner.mockmodel.script.Script`:

1. read the conversation in the request (:mod:`~codex_runner.mockmodel.conversation`): the
   last *real* user message (Codex's own user-role context messages are skipped) and the
   tool outputs after it;
2. pick the first rule matching that text and play ``responses[k]``, ``k`` being how many
   model calls of this turn already ended in tool calls
   (:mod:`~codex_runner.mockmodel.answers`, which also builds the output items);
3. stream the steps as Responses API events, ending with ``response.completed``.

Every call is recorded (:class:`RecordedRequest`) so tests can assert on what Codex sent.
The script format and these rules are documented in ``docs/mock-model.md``.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Final

import orjson
import tomli_w
from aiohttp import WSMsgType, web

from codex_runner.mockmodel.answers import Plan, item_for, plan_answer
from codex_runner.mockmodel.codex_settings import MODEL_NAME, codex_config_for
from codex_runner.mockmodel.conversation import (
    Conversation,
    OtherRequest,
    RecordedRequest,
    read_conversation,
)
from codex_runner.mockmodel.script import (
    CutStep,
    DelayStep,
    HangStep,
    HttpErrorStep,
    MessageStep,
    Script,
    Step,
)
from codex_runner.mockmodel.stream import (
    EventStream,
    SocketSink,
    SseSink,
    drop_connection,
    error_response,
)
from codex_runner.mockmodel.websocket import (
    SocketConversation,
    SocketRequestError,
    error_event,
    is_prewarm,
    read_frame,
)

log = logging.getLogger(__name__)

HOST: Final = "127.0.0.1"
# Python's default listen backlog (5..128) stalls hundreds of simultaneous Codex sessions.
LISTEN_BACKLOG: Final = 4096
# Codex request bodies carry the whole conversation; aiohttp's 1 MiB default is too small.
MAX_BODY_BYTES: Final = 64 * 1024 * 1024
# How long stop() lets handlers finish after it told them to; hangs and delays end at once.
STOP_GRACE_SECONDS: Final = 2.0


class ServerState(enum.Enum):
    NEW = "new"
    RUNNING = "running"
    STOPPED = "stopped"


class MockModelServer:
    """Serve a script on ``127.0.0.1`` until stopped; use as ``async with`` or start/stop.

    ``port=0`` picks a free port. ``on_request`` is called with each recorded model call
    (the CLI prints them); it must not block. The server always answers both transports;
    ``websockets`` decides which one :meth:`codex_config` tells Codex to use.
    """

    def __init__(
        self,
        script: Script,
        port: int = 0,
        *,
        on_request: Callable[[RecordedRequest], None] | None = None,
        websockets: bool = False,
    ) -> None:
        self.script = script
        self.websockets = websockets
        self.requests: list[RecordedRequest] = []
        self.other_requests: list[OtherRequest] = []
        self._requested_port = port
        self._port: int | None = None
        self._on_request = on_request
        self._state = ServerState.NEW
        self._runner: web.AppRunner | None = None
        self._recorded = asyncio.Condition()
        self._stopping = asyncio.Event()
        self._open_streams = 0
        # Connections of the open WebSockets: idle ones wait for Codex's next call, so stop()
        # must drop them itself (aiohttp would wait out its shutdown timeout for each).
        self._sockets: set[asyncio.Transport] = set()
        self._idle = asyncio.Event()
        self._idle.set()

    # -- lifecycle ---------------------------------------------------------------------

    async def start(self) -> None:
        """Bind and start serving; raise RuntimeError when started twice."""
        if self._state is not ServerState.NEW:
            raise RuntimeError(f"MockModelServer cannot start: it is {self._state.value}")
        app = web.Application(client_max_size=MAX_BODY_BYTES)
        app.router.add_post("/v1/responses", self._handle_responses)
        app.router.add_get("/v1/responses", self._handle_socket)
        app.router.add_get("/v1/models", self._handle_models)
        app.router.add_route("*", "/{tail:.*}", self._handle_other)
        # handler_cancellation: a client that goes away cancels its (possibly hanging) handler.
        runner = web.AppRunner(
            app, access_log=None, handler_cancellation=True, shutdown_timeout=STOP_GRACE_SECONDS
        )
        await runner.setup()
        site = web.TCPSite(runner, HOST, self._requested_port, backlog=LISTEN_BACKLOG)
        try:
            await site.start()
        except BaseException:
            await runner.cleanup()
            self._state = ServerState.STOPPED
            raise
        self._runner = runner
        self._port = int(runner.addresses[0][1])
        self._state = ServerState.RUNNING
        log.info("mock model serving %d rule(s) at %s", len(self.script.rules), self.base_url)

    async def stop(self) -> None:
        """Stop serving; hanging and delayed streams are dropped at once. Idempotent."""
        if self._state is not ServerState.RUNNING:
            self._state = ServerState.STOPPED
            return
        self._state = ServerState.STOPPED
        self._stopping.set()
        for transport in list(self._sockets):
            transport.abort()
        assert self._runner is not None
        await self._runner.cleanup()

    async def __aenter__(self) -> MockModelServer:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    @property
    def state(self) -> ServerState:
        return self._state

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("MockModelServer has no port until start() returns")
        return self._port

    @property
    def base_url(self) -> str:
        """What Codex's provider ``base_url`` must be, e.g. ``http://127.0.0.1:PORT/v1``."""
        return f"http://{HOST}:{self.port}/v1"

    # -- Codex configuration -------------------------------------------------------------

    def codex_config(self) -> dict[str, Any]:
        """Codex ``config.toml`` settings that point Codex at this server."""
        return codex_config_for(self.base_url, websockets=self.websockets)

    def config_snippet(self) -> str:
        """:meth:`codex_config` as TOML under a ``[codex.config]`` table."""
        return tomli_w.dumps({"codex": {"config": self.codex_config()}})

    # -- recordings ----------------------------------------------------------------------

    async def wait_for_requests(self, n: int, timeout: float = 10.0) -> list[RecordedRequest]:
        """Wait until at least ``n`` model calls were recorded; return them all.

        Raises TimeoutError (saying what did arrive) after ``timeout`` seconds.
        """
        try:
            async with asyncio.timeout(timeout), self._recorded:
                await self._recorded.wait_for(lambda: len(self.requests) >= n)
        except TimeoutError:
            seen = [(r.rule, r.last_user_text) for r in self.requests]
            raise TimeoutError(
                f"waited {timeout}s for {n} model call(s), got {len(self.requests)}: {seen}"
            ) from None
        return list(self.requests)

    @property
    def open_streams(self) -> int:
        """Model calls being answered right now (including hanging and delayed ones)."""
        return self._open_streams

    async def wait_until_idle(self, timeout: float = 10.0) -> None:
        """Wait until no model call is being answered, e.g. until Codex dropped a hang.

        Raises TimeoutError after ``timeout`` seconds.
        """
        try:
            async with asyncio.timeout(timeout):
                while self._open_streams:
                    await self._idle.wait()
        except TimeoutError:
            raise TimeoutError(
                f"waited {timeout}s for the mock model to go idle; "
                f"{self._open_streams} stream(s) still open"
            ) from None

    async def _record(self, recorded: RecordedRequest) -> None:
        async with self._recorded:
            self.requests.append(recorded)
            self._recorded.notify_all()
        if self._on_request is not None:
            try:
                self._on_request(recorded)
            except Exception:
                # An observer's bug must not turn into a model failure Codex would see.
                log.exception("mock model: on_request callback failed")

    # -- handlers ------------------------------------------------------------------------

    async def _handle_models(self, request: web.Request) -> web.Response:
        self.other_requests.append(OtherRequest(request.method, request.path, 200))
        model = {"id": MODEL_NAME, "object": "model", "created": 0, "owned_by": "codex-runner"}
        return web.json_response({"object": "list", "data": [model]})

    async def _handle_other(self, request: web.Request) -> web.Response:
        self.other_requests.append(OtherRequest(request.method, request.path, 404))
        log.warning("mock model: no endpoint %s %s", request.method, request.path)
        return error_response(404, f"mock model has no endpoint {request.method} {request.path}")

    @contextlib.contextmanager
    def _answering(self) -> Iterator[None]:
        self._open_streams += 1
        self._idle.clear()
        try:
            yield
        finally:
            # Runs on normal ends, on client departure (handler cancelled) and on stop().
            self._open_streams -= 1
            if not self._open_streams:
                self._idle.set()

    async def _take(self, request: web.Request, body: dict[str, Any]) -> tuple[Conversation, Plan]:
        """Read and record one model call; return what to answer."""
        conversation = read_conversation(body)
        plan = plan_answer(self.script, conversation)
        await self._record(
            RecordedRequest(
                path=request.path,
                body=body,
                last_user_text=conversation.last_user_text,
                tool_outputs=conversation.tool_outputs,
                rule=plan.rule,
                response_index=plan.response_index,
                user_texts=conversation.user_texts,
                headers=dict(request.headers),
            )
        )
        return conversation, plan

    async def _handle_responses(self, request: web.Request) -> web.StreamResponse:
        with self._answering():
            return await self._answer(request)

    async def _answer(self, request: web.Request) -> web.StreamResponse:
        # aiohttp has already undone gzip/deflate (and zstd/br when their libraries are
        # installed; otherwise it answers 400 itself). Codex 0.163 sends plain JSON here.
        raw = await request.read()
        try:
            # orjson: Codex sends its instructions and tool schemas with every call (tens of
            # KB); decoding them was the scripted model's largest cost under load.
            body = orjson.loads(raw)
        except ValueError as error:
            return error_response(400, f"mock model cannot read the request body: {error}")
        if not isinstance(body, dict):
            return error_response(400, "mock model expects a JSON object body")
        conversation, plan = await self._take(request, body)
        if any(isinstance(step, HttpErrorStep) for step in plan.steps):
            return await self._play_error(plan.steps)
        response = web.StreamResponse(
            headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
        )
        await response.prepare(request)
        model = str(body.get("model", MODEL_NAME))
        stream = EventStream(SseSink(response), model, len(raw))
        if await self._play(plan.steps, conversation, stream, request):
            await response.write_eof()
        return response

    async def _handle_socket(self, request: web.Request) -> web.StreamResponse:
        socket = web.WebSocketResponse(max_msg_size=MAX_BODY_BYTES)
        if not socket.can_prepare(request).ok:
            return error_response(
                405, "GET /v1/responses is the WebSocket endpoint; POST model calls instead"
            )
        await socket.prepare(request)
        transport = request.transport
        if transport is not None:
            self._sockets.add(transport)
        try:
            await self._serve_socket(request, socket)
        finally:
            self._sockets.discard(transport)
        return socket

    async def _serve_socket(self, request: web.Request, socket: web.WebSocketResponse) -> None:
        conversation = SocketConversation()
        async for message in socket:
            if message.type is WSMsgType.ERROR:
                break  # the connection failed; aiohttp has closed it
            if message.type is not WSMsgType.TEXT:
                await socket.close(message=b"mock model expects text frames")
                break
            with self._answering():
                keep_open = await self._answer_frame(request, socket, conversation, message.data)
            if not keep_open:
                break

    async def _answer_frame(
        self,
        request: web.Request,
        socket: web.WebSocketResponse,
        remembered: SocketConversation,
        data: str,
    ) -> bool:
        """Answer one frame; return whether the connection stays open for the next one."""
        try:
            frame = read_frame(data)
            body = remembered.request_body(frame)
        except SocketRequestError as error:
            await socket.send_str(error_event(400, str(error)).decode())
            return True
        model = str(body.get("model", MODEL_NAME))
        # Usage counts the whole input, also when the frame carried only the new items.
        size = len(data) if not frame.get("previous_response_id") else len(orjson.dumps(body))
        stream = EventStream(SocketSink(socket), model, size)
        if is_prewarm(frame):
            await stream.open()
            await stream.complete()
            remembered.remember(stream.id, body, [])
            return True
        conversation, plan = await self._take(request, body)
        if any(isinstance(step, HttpErrorStep) for step in plan.steps):
            return await self._send_error(socket, request, plan.steps)
        if not await self._play(plan.steps, conversation, stream, request):
            return False
        remembered.remember(stream.id, body, stream.output)
        return True

    async def _stopped_within(self, seconds: float) -> bool:
        """Sleep ``seconds`` unless the server stops first; return whether it stopped."""
        try:
            await asyncio.wait_for(self._stopping.wait(), timeout=seconds)
        except TimeoutError:
            return False
        return True

    async def _play_error(self, steps: Sequence[Step]) -> web.Response:
        for step in steps:
            if isinstance(step, DelayStep) and await self._stopped_within(step.delay):
                return error_response(503, "mock model is stopping")
            if isinstance(step, HttpErrorStep):
                return error_response(
                    step.http_error, f"scripted HTTP {step.http_error}", step.body
                )
        raise AssertionError("validated responses with http_error end with it")

    async def _send_error(
        self, socket: web.WebSocketResponse, request: web.Request, steps: Sequence[Step]
    ) -> bool:
        for step in steps:
            if isinstance(step, DelayStep) and await self._stopped_within(step.delay):
                drop_connection(request)
                return False
            if isinstance(step, HttpErrorStep):
                message = step.body if step.body is not None else f"scripted HTTP {step.http_error}"
                await socket.send_str(error_event(step.http_error, message).decode())
                return True
        raise AssertionError("validated responses with http_error end with it")

    async def _play(
        self,
        steps: Sequence[Step],
        conversation: Conversation,
        stream: EventStream,
        request: web.Request,
    ) -> bool:
        """Stream the steps; return False when a step dropped the connection instead."""
        await stream.open()
        for step in steps:
            if isinstance(step, DelayStep):
                if await self._stopped_within(step.delay):
                    drop_connection(request)
                    return False
            elif isinstance(step, CutStep):
                drop_connection(request)
                return False
            elif isinstance(step, HangStep):
                # No timeout on purpose: a hang lasts until stop() or until the client leaves
                # (which cancels this handler, see handler_cancellation).
                await self._stopping.wait()
                drop_connection(request)
                return False
            elif isinstance(step, MessageStep):
                await stream.add_item(
                    item_for(step, conversation),
                    deltas=step.deltas,
                    delta_delay=step.delta_delay,
                )
            else:
                await stream.add_item(item_for(step, conversation))
        await stream.complete()
        return True
