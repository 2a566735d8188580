"""The scripted model server: an OpenAI Responses API look-alike on 127.0.0.1.

Codex POSTs ``/v1/responses`` with ``stream: true`` and reads Server-Sent Events, or, when
the provider says ``supports_websockets = true``, sends the same calls as frames on one
WebSocket per thread (:mod:`codex_runner.mockmodel.websocket`). This server answers each
call from a :class:`~codex_runner.mockmodel.script.Script`:

1. read the conversation in the request (:func:`read_conversation`): the last *real* user
   message (Codex's own user-role context messages are skipped) and the tool outputs after it;
2. pick the first rule matching that text and play ``responses[k]``, ``k`` being how many
   model calls of this turn already ended in tool calls;
3. stream the steps as Responses API events, ending with ``response.completed``.

Every call is recorded (:class:`RecordedRequest`) so tests can assert on what Codex sent.
The script format and these rules are documented in ``docs/mock-model.md``.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import json
import logging
import posixpath
import re
import shlex
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import orjson
import tomli_w
from aiohttp import WSMsgType, web

from codex_runner.mockmodel.script import (
    ApplyPatchStep,
    CutStep,
    DelayStep,
    EchoStep,
    HangStep,
    HttpErrorStep,
    MessageStep,
    ReasoningStep,
    Script,
    ShellStep,
    Step,
    WriteFileStep,
    rule_label,
)
from codex_runner.mockmodel.stream import EventStream, SocketSink, SseSink, new_id
from codex_runner.mockmodel.websocket import (
    SocketConversation,
    SocketRequestError,
    error_event,
    is_prewarm,
    read_frame,
)

log = logging.getLogger(__name__)

MODEL_NAME: Final = "mock-model"
PROVIDER_ID: Final = "mock"
API_KEY_ENV: Final = "MOCK_API_KEY"
HOST: Final = "127.0.0.1"
# Python's default listen backlog (5..128) stalls hundreds of simultaneous Codex sessions.
LISTEN_BACKLOG: Final = 4096
# Codex request bodies carry the whole conversation; aiohttp's 1 MiB default is too small.
MAX_BODY_BYTES: Final = 64 * 1024 * 1024
# How long stop() lets handlers finish after it told them to; hangs and delays end at once.
STOP_GRACE_SECONDS: Final = 2.0

_TOOL_OUTPUT_TYPES: Final = frozenset({"function_call_output", "custom_tool_call_output"})
# Codex sends its own context (environment, AGENTS.md, aborted-turn notes, shell commands the
# user ran, ...) as user-role messages wrapped in one XML-like element; they are not prompts.
_CONTEXT_ELEMENT = re.compile(r"\A\s*<([A-Za-z_][\w-]*)(\s[^>]*)?>.*</\1>\s*\Z", re.DOTALL)
_CONTEXT_PREFIXES: Final = ("# AGENTS.md instructions",)


# ----------------------------------------------------------------------------------------
# Reading what Codex sent


@dataclass(frozen=True)
class Conversation:
    """What the server needs from one ``/v1/responses`` request body."""

    user_texts: list[str]
    """Every real user message in order (prompts and steer inputs), context skipped."""
    tool_outputs: list[str]
    """Outputs of tool calls after the last user message, in order."""
    calls_done: int
    """Model calls of this turn that already ended in tool calls (``k``)."""
    apply_patch_form: str | None
    """How the request advertises ``apply_patch``: "custom", "function" or None."""

    @property
    def last_user_text(self) -> str | None:
        return self.user_texts[-1] if self.user_texts else None


def _text_parts(content: object) -> list[str]:
    if isinstance(content, str):
        return [content]
    if isinstance(content, list):
        return [
            part["text"]
            for part in content
            if isinstance(part, dict) and isinstance(part.get("text"), str)
        ]
    return []


def _text_of(content: object) -> str:
    """The text of a message's content or a tool output (a string or a list of parts)."""
    if content is None or isinstance(content, str | list):
        return "\n".join(_text_parts(content))
    return json.dumps(content)


def is_codex_context(text: str) -> bool:
    """Whether a user-role message is context Codex injected rather than a user's prompt."""
    return _CONTEXT_ELEMENT.match(text) is not None or text.lstrip().startswith(_CONTEXT_PREFIXES)


def _apply_patch_form(tools: object) -> str | None:
    if isinstance(tools, list):
        for tool in tools:
            if isinstance(tool, dict) and tool.get("name") == "apply_patch":
                return "custom" if tool.get("type") == "custom" else "function"
    return None


def read_conversation(body: Mapping[str, Any]) -> Conversation:
    """Extract the current turn's prompt and tool outputs from a request body."""
    items = body.get("input")
    if isinstance(items, str):
        items = [{"type": "message", "role": "user", "content": items}]
    if not isinstance(items, list):
        items = []
    user_texts: list[str] = []
    last_user_index = -1
    for index, item in enumerate(items):
        if not isinstance(item, dict) or item.get("role") != "user":
            continue
        if item.get("type", "message") != "message":
            continue
        parts = _text_parts(item.get("content"))
        texts = [part for part in parts if part.strip()]
        # Codex may bundle several context parts (AGENTS.md + environment) in one message;
        # a message without text (an image alone) is still a prompt.
        if not texts or not all(is_codex_context(part) for part in texts):
            user_texts.append("\n".join(parts))
            last_user_index = index
    tool_outputs: list[str] = []
    calls_done = 0
    previous_was_output = False
    for item in items[last_user_index + 1 :]:
        is_output = isinstance(item, dict) and item.get("type") in _TOOL_OUTPUT_TYPES
        if is_output:
            tool_outputs.append(_text_of(item.get("output")))
            # One model call's tool calls come back as one run of outputs, so runs (not
            # single outputs) count model calls even when a response made several calls.
            if not previous_was_output:
                calls_done += 1
        previous_was_output = is_output
    return Conversation(
        user_texts=user_texts,
        tool_outputs=tool_outputs,
        calls_done=calls_done,
        apply_patch_form=_apply_patch_form(body.get("tools")),
    )


@dataclass(frozen=True)
class RecordedRequest:
    """One model call as the server saw it (recorded before the answer is played)."""

    path: str
    body: dict[str, Any]
    last_user_text: str | None
    tool_outputs: list[str]
    rule: str | None
    """Name of the matched rule (``rules[INDEX]`` when unnamed), None when none matched."""
    response_index: int | None
    """Index into the rule's ``responses`` that was asked for (may be past the end)."""
    user_texts: list[str] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class OtherRequest:
    """A request to any endpoint other than ``POST /v1/responses``."""

    method: str
    path: str
    status: int


# ----------------------------------------------------------------------------------------
# Choosing what to answer


@dataclass(frozen=True)
class _Plan:
    steps: Sequence[Step]
    rule: str | None
    response_index: int | None


def _plan(script: Script, conversation: Conversation) -> _Plan:
    text = conversation.last_user_text
    first = conversation.user_texts[0] if conversation.user_texts else None
    selected = script.select(text if text is not None else "", first)
    if selected is None:
        shown = text if text is not None else "(no user message)"
        return _Plan([MessageStep(message=f"mock: {shown}")], None, None)
    index, rule = selected
    k = conversation.calls_done
    if k < len(rule.responses):
        return _Plan(rule.responses[k], rule_label(index, rule), k)
    # The turn went on longer than scripted: end it with the script's last words.
    final = [s.message for s in rule.responses[-1] if isinstance(s, MessageStep)]
    return _Plan([MessageStep(message=final[-1] if final else "done")], rule_label(index, rule), k)


_HEREDOC_END: Final = "MOCK_MODEL_EOF"


def write_file_command(path: str, content: str) -> str:
    """A shell command writing exactly ``content`` to ``path`` (any quotes, ``$``, newlines).

    Text ending in a newline goes through a quoted heredoc, which reads well in approval
    prompts; anything else through ``printf '%s'`` with shell quoting.
    """
    target = shlex.quote(path)
    lines = content.split("\n")
    if content.endswith("\n") and _HEREDOC_END not in lines:
        command = f"cat > {target} <<'{_HEREDOC_END}'\n{content}{_HEREDOC_END}"
    else:
        command = f"printf '%s' {shlex.quote(content)} > {target}"
    parent = posixpath.dirname(path)
    if parent:
        command = f"mkdir -p {shlex.quote(parent)} && {command}"
    return command


def _echo_text(conversation: Conversation) -> str:
    last = conversation.last_user_text or ""
    return f"echo: {last}\nearlier: {json.dumps(conversation.user_texts[:-1])}"


def _message_item(text: str) -> dict[str, Any]:
    return {
        "type": "message",
        "id": new_id("msg"),
        "role": "assistant",
        "status": "completed",
        "content": [{"type": "output_text", "text": text, "annotations": []}],
    }


def _exec_command_item(arguments: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "function_call",
        "id": new_id("fc"),
        "call_id": new_id("call"),
        "name": "exec_command",
        "arguments": json.dumps(arguments),
        "status": "completed",
    }


def _shell_arguments(step: ShellStep) -> dict[str, Any]:
    arguments: dict[str, Any] = {"cmd": step.shell, "login": False}
    if step.workdir is not None:
        arguments["workdir"] = step.workdir
    if step.timeout_ms is not None:
        arguments["yield_time_ms"] = step.timeout_ms
    if step.justification is not None:
        arguments["sandbox_permissions"] = "require_escalated"
        arguments["justification"] = step.justification
    return arguments


def _apply_patch_item(patch: str, form: str | None) -> dict[str, Any]:
    if not patch.lstrip().startswith("*** Begin Patch"):
        patch = f"*** Begin Patch\n{patch.rstrip(chr(10))}\n*** End Patch\n"
    if form == "function":
        return {
            "type": "function_call",
            "id": new_id("fc"),
            "call_id": new_id("call"),
            "name": "apply_patch",
            "arguments": json.dumps({"input": patch}),
            "status": "completed",
        }
    if form == "custom":
        return {
            "type": "custom_tool_call",
            "id": new_id("ctc"),
            "call_id": new_id("call"),
            "name": "apply_patch",
            "input": patch,
            "status": "completed",
        }
    # No apply_patch tool advertised (Codex 0.163 offers none for unknown model names such as
    # "mock-model"): Codex still recognises an apply_patch invocation run through the shell.
    heredoc = f"apply_patch <<'MOCK_MODEL_PATCH'\n{patch.rstrip(chr(10))}\nMOCK_MODEL_PATCH"
    return _exec_command_item({"cmd": heredoc, "login": False})


def _item_for(step: Step, conversation: Conversation) -> dict[str, Any]:
    """The output item a content step produces (not for delay/cut/hang/http_error)."""
    if isinstance(step, MessageStep):
        return _message_item(step.message)
    if isinstance(step, EchoStep):
        return _message_item(_echo_text(conversation))
    if isinstance(step, ReasoningStep):
        return {
            "type": "reasoning",
            "id": new_id("rs"),
            "summary": [{"type": "summary_text", "text": step.reasoning}],
        }
    if isinstance(step, ShellStep):
        return _exec_command_item(_shell_arguments(step))
    if isinstance(step, WriteFileStep):
        command = write_file_command(step.write_file.path, step.write_file.content)
        return _exec_command_item({"cmd": command, "login": False})
    if isinstance(step, ApplyPatchStep):
        return _apply_patch_item(step.apply_patch, conversation.apply_patch_form)
    raise TypeError(f"step {step!r} produces no output item")


def _drop_connection(request: web.Request) -> None:
    # Abort (not close) so the client sees a truncated chunked body, as when a proxy dies.
    if request.transport is not None:
        request.transport.abort()


def _error_response(status: int, message: str, body: str | None = None) -> web.Response:
    if body is not None:
        return web.Response(status=status, text=body, content_type="application/json")
    error = {"error": {"message": message, "type": "mock_model_error", "code": str(status)}}
    return web.json_response(error, status=status)


# ----------------------------------------------------------------------------------------
# The server


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
        provider: dict[str, Any] = {
            "name": PROVIDER_ID,
            "base_url": self.base_url,
            "wire_api": "responses",
            "env_key": API_KEY_ENV,
            # Retries would replay scripted errors and hide them from tests.
            "request_max_retries": 0,
            "stream_max_retries": 0,
        }
        if self.websockets:
            # Codex then keeps one connection per thread, as with its own OpenAI provider.
            provider["supports_websockets"] = True
        return {
            "model": MODEL_NAME,
            "model_provider": PROVIDER_ID,
            "model_providers": {PROVIDER_ID: provider},
        }

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
        return _error_response(404, f"mock model has no endpoint {request.method} {request.path}")

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

    async def _take(self, request: web.Request, body: dict[str, Any]) -> tuple[Conversation, _Plan]:
        """Read and record one model call; return what to answer."""
        conversation = read_conversation(body)
        plan = _plan(self.script, conversation)
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
            return _error_response(400, f"mock model cannot read the request body: {error}")
        if not isinstance(body, dict):
            return _error_response(400, "mock model expects a JSON object body")
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
            return _error_response(
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
                return _error_response(503, "mock model is stopping")
            if isinstance(step, HttpErrorStep):
                return _error_response(
                    step.http_error, f"scripted HTTP {step.http_error}", step.body
                )
        raise AssertionError("validated responses with http_error end with it")

    async def _send_error(
        self, socket: web.WebSocketResponse, request: web.Request, steps: Sequence[Step]
    ) -> bool:
        for step in steps:
            if isinstance(step, DelayStep) and await self._stopped_within(step.delay):
                _drop_connection(request)
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
                    _drop_connection(request)
                    return False
            elif isinstance(step, CutStep):
                _drop_connection(request)
                return False
            elif isinstance(step, HangStep):
                # No timeout on purpose: a hang lasts until stop() or until the client leaves
                # (which cancels this handler, see handler_cancellation).
                await self._stopping.wait()
                _drop_connection(request)
                return False
            else:
                await stream.add_item(_item_for(step, conversation))
        await stream.complete()
        return True
