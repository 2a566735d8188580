"""A turn on the app-server runtime: its recorder, its notifications, approvals and controls.

A turn is handed at creation everything it needs: the connection its ``turn/start`` went
out on, its thread id, its approval handler and its timeouts. Steering, interrupting,
reading its own notifications and answering its approvals are then the turn's business;
the runtime only routes messages to it by thread id.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Sequence
from typing import Any, Protocol

from codex_runner.codex import app_server_events as wire
from codex_runner.codex.approval_policies import fallback_decision
from codex_runner.codex.errors import CodexError, NoActiveTurn, RpcError
from codex_runner.codex.jsonrpc import NO_REPLY
from codex_runner.codex.runtime import (
    ApprovalHandler,
    DeltaListener,
    ImageInput,
    TextInput,
    TurnInput,
    TurnRecorder,
    TurnResult,
    as_inputs,
)
from codex_runner.domain.approval import ANSWERED_ELSEWHERE
from codex_runner.domain.events import (
    ApprovalRequest,
    CodexEvent,
    ErrorInfo,
    EventKind,
    FailureClass,
    TurnStatus,
)

log = logging.getLogger(__name__)


class TurnChannel(Protocol):
    """The connection a turn talks to Codex on (the one its ``turn/start`` went out on)."""

    async def request(self, method: str, params: dict[str, Any] | None = None) -> Any: ...


class AppServerTurn:
    def __init__(
        self,
        channel: TurnChannel,
        thread_id: str,
        *,
        approvals: ApprovalHandler,
        request_timeout_s: float,
        started_elsewhere: bool = False,
    ) -> None:
        self.channel = channel
        # Started by another client of a shared app-server (a person in the Codex TUI), not
        # by the runner: the runner records it and may answer its approvals, nothing more.
        self.started_elsewhere = started_elsewhere
        self.recorder = TurnRecorder(thread_id)
        self.turn_id_known = asyncio.Event()
        self._approvals = approvals
        self._request_timeout_s = request_timeout_s
        # approval id -> future the interrupt path resolves to force a decision
        self.pending_approvals: dict[str, asyncio.Future[str]] = {}
        self.last_error: ErrorInfo | None = None
        self.watchdog: asyncio.Task[None] | None = None
        # The tasks answering approvals, and those another client answered whose answer is
        # still being recorded (see wait()).
        self._answering: dict[str, asyncio.Task[Any]] = {}
        self._settling: set[asyncio.Task[Any]] = set()
        # Commands of this turn still running: item id -> Codex's process id for them.
        self._commands: dict[str, str] = {}

    @property
    def thread_id(self) -> str:
        return self.recorder.thread_id

    @property
    def id(self) -> str | None:
        return self.recorder.turn_id

    @property
    def done(self) -> bool:
        return self.recorder.done

    def learn_id(self, turn_id: str) -> None:
        if self.recorder.turn_id is None:
            self.recorder.turn_id = turn_id
        self.turn_id_known.set()

    def events(self) -> AsyncIterator[CodexEvent]:
        return self.recorder.events()

    def on_delta(self, listener: DeltaListener | None) -> None:
        self.recorder.delta_listener = listener

    async def wait(self, timeout: float | None = None) -> TurnResult:
        result = await self.recorder.wait(timeout)
        if self._settling:
            # A decision made just before the turn ended is still being recorded (another
            # client's answer, say): whoever waits for the turn then sees it recorded.
            await asyncio.wait(set(self._settling), timeout=self._request_timeout_s)
        return result

    # ending --------------------------------------------------------------------------------
    def stop_watchdog(self) -> None:
        if self.watchdog is not None and self.watchdog is not asyncio.current_task():
            self.watchdog.cancel()

    def finish(self, status: TurnStatus, error: ErrorInfo | None = None) -> TurnResult:
        self.stop_watchdog()
        return self.recorder.finish(status, error)

    def fail(self, failure_class: FailureClass, message: str) -> None:
        self.stop_watchdog()
        self.recorder.fail(failure_class, message)

    def abandon(self, reason: str) -> None:
        """End the turn interrupted because the runtime stops or restarts under it."""
        self.force_pending_approvals()
        self.finish(TurnStatus.INTERRUPTED, ErrorInfo(reason, FailureClass.INTERNAL))

    # controls ------------------------------------------------------------------------------
    async def steer(self, prompt: str | Sequence[TurnInput]) -> None:
        if self.done:
            raise NoActiveTurn(f"the turn on thread {self.thread_id} has already ended")
        await asyncio.wait_for(self.turn_id_known.wait(), self._request_timeout_s)
        inputs = as_inputs(prompt)
        try:
            await self.channel.request(
                "turn/steer",
                {
                    "threadId": self.thread_id,
                    "expectedTurnId": self.id,
                    "input": wire_inputs(inputs),
                },
            )
        except RpcError as exc:
            if "no active turn" in exc.rpc_message or "expected active turn" in exc.rpc_message:
                raise NoActiveTurn(f"cannot steer: {exc.rpc_message}") from None
            raise
        text = "\n".join(i.text for i in inputs if isinstance(i, TextInput))
        self.recorder.emit(
            CodexEvent(
                EventKind.TURN_STEERED, thread_id=self.thread_id, turn_id=self.id, message=text
            )
        )

    async def interrupt(self) -> TurnResult:
        """Decline parked approvals (they would block the interrupt), then interrupt."""
        if self.done:
            return await self.wait()
        self.force_pending_approvals()
        timeout = self._request_timeout_s
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.turn_id_known.wait(), timeout)
        if self.id is not None and not self.done:
            with contextlib.suppress(CodexError):
                await self.channel.request(
                    "turn/interrupt", {"threadId": self.thread_id, "turnId": self.id}
                )
        await self._end_commands()
        try:
            return await self.wait(timeout)
        except TimeoutError:
            return self.finish(
                TurnStatus.INTERRUPTED,
                ErrorInfo(
                    "interrupted; Codex did not confirm the interrupt", FailureClass.INTERNAL
                ),
            )

    async def _end_commands(self) -> None:
        """End the commands the turn left running: Codex's interrupt ends the turn but not
        a command it runs (a ``sleep 600`` or a build would go on, writing in the task's
        workspace after the task says it stopped). Only this turn's are ended: a server an
        earlier turn started on purpose stays up."""
        for item_id, process_id in list(self._commands.items()):
            params = {"threadId": self.thread_id, "processId": process_id}
            try:
                await self.channel.request("thread/backgroundTerminals/terminate", params)
            except CodexError as exc:  # it ended meanwhile, or an older Codex
                log.debug("could not end command %s of an interrupted turn: %s", item_id, exc)
            self._commands.pop(item_id, None)

    def use_approvals(self, approvals: ApprovalHandler) -> None:
        """Where this turn's later approval requests go (a turn adopted from another client
        learns its task's handler after it started)."""
        self._approvals = approvals

    def answered_elsewhere(self, approval_id: str) -> bool:
        """Another client answered approval ``approval_id``: stop waiting, never answer it."""
        future = self.pending_approvals.get(approval_id)
        if future is None or future.done():
            return False
        future.set_result(ANSWERED_ELSEWHERE)
        # From now on, whoever waits for the turn waits for this answer to be recorded too:
        # the turn may complete before the answering task next runs.
        answering = self._answering.get(approval_id)
        if answering is not None:
            self._settling.add(answering)
            answering.add_done_callback(self._settling.discard)
        return True

    def force_pending_approvals(self, preferred: Sequence[str] = ("decline", "cancel")) -> None:
        """Answer every parked approval now (before an interrupt, which they would block)."""
        for future in self.pending_approvals.values():
            if not future.done():
                future.set_result(preferred[0])

    # incoming ------------------------------------------------------------------------------
    def on_notification(self, method: str, params: dict[str, Any]) -> None:
        """One notification naming this turn's thread."""
        recorder, thread_id = self.recorder, self.thread_id
        if not (method == "error" and params.get("willRetry")):  # retries are no progress
            recorder.last_activity = time.monotonic()
        if method == "turn/started":
            self.learn_id(str(params["turn"]["id"]))
            recorder.emit(CodexEvent(EventKind.TURN_STARTED, thread_id, self.id))
        elif method in ("item/started", "item/completed"):
            kind = EventKind.ITEM_STARTED if method == "item/started" else EventKind.ITEM_COMPLETED
            self._track_command(method, params["item"])
            recorder.emit(CodexEvent(kind, thread_id, self.id, wire.item_from_wire(params["item"])))
        elif method == "thread/tokenUsage/updated":
            last = wire.usage_from_wire((params.get("tokenUsage") or {}).get("last"))
            recorder.emit(
                CodexEvent(
                    EventKind.TOKEN_USAGE, thread_id, self.id, usage=recorder.usage.plus(last)
                )
            )
        elif method == "error":
            error = wire.error_from_wire(params.get("error"), bool(params.get("willRetry")))
            if not error.will_retry:
                self.last_error = error
            turn_id = params.get("turnId")
            recorder.emit(CodexEvent(EventKind.ERROR, thread_id, turn_id or self.id, error=error))
        elif method == "turn/completed":
            self._complete(params.get("turn") or {})
        elif (delta := wire.delta_from_wire(method, params)) is not None:
            recorder.emit_delta(delta)

    def _track_command(self, method: str, item: dict[str, Any]) -> None:
        if item.get("type") != "commandExecution":
            return
        if method == "item/started" and item.get("processId"):
            self._commands[str(item["id"])] = str(item["processId"])
        else:
            self._commands.pop(str(item.get("id")), None)

    def _complete(self, wire_turn: dict[str, Any]) -> None:
        turn_id = wire_turn.get("id")
        if self.id is not None and turn_id is not None and turn_id != self.id:
            log.warning("ignoring turn/completed for unknown turn %s", turn_id)
            return
        status = str(wire_turn.get("status", "completed"))
        if status == "completed":
            self.finish(TurnStatus.COMPLETED)
        elif status == "interrupted":
            self.finish(TurnStatus.INTERRUPTED)
        else:
            error = (
                wire.error_from_wire(wire_turn["error"])
                if wire_turn.get("error")
                else self.last_error
            )
            self.finish(
                TurnStatus.FAILED,
                error or ErrorInfo("Codex reported the turn failed", FailureClass.MODEL_ERROR),
            )

    async def _stand_down(self, handler: asyncio.Future[str], request: ApprovalRequest) -> None:
        """Another client answered ``request``: tell the handler (it records the approval as
        answered elsewhere and returns), then say so in the turn's events."""
        note = getattr(self._approvals, "answered_elsewhere", None)
        if note is None:
            handler.cancel()
        else:
            note(request)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(handler, self._request_timeout_s)
        self._resolved(request, ANSWERED_ELSEWHERE)

    def _resolved(self, request: ApprovalRequest, decision: str) -> None:
        self.recorder.emit(
            CodexEvent(
                EventKind.APPROVAL_RESOLVED,
                request.thread_id,
                self.id,
                approval=request,
                decision=decision,
            )
        )

    async def answer_approval(
        self, request: ApprovalRequest, wire_decisions: dict[str, Any], params: dict[str, Any]
    ) -> Any:
        """Park ``request`` with this turn's handler; the wire answer to send Codex."""
        forced: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self.pending_approvals[request.id] = forced
        if (current := asyncio.current_task()) is not None:
            self._answering[request.id] = current
        self.recorder.emit(
            CodexEvent(EventKind.APPROVAL_REQUESTED, request.thread_id, self.id, approval=request)
        )
        handler = asyncio.ensure_future(self._approvals(request))
        try:
            decision = await _first_of(handler, forced)
        except BaseException:
            handler.cancel()
            raise
        finally:
            self.pending_approvals.pop(request.id, None)
            self._answering.pop(request.id, None)
        if decision == ANSWERED_ELSEWHERE:
            await self._stand_down(handler, request)
            return NO_REPLY
        if not handler.done():
            handler.cancel()  # a decision the runtime forced (interrupt, shutdown)
        if decision not in wire_decisions:
            # Never fall back to an accepting answer: decline, else cancel.
            fallback = fallback_decision(request)
            self.recorder.emit(
                CodexEvent(
                    EventKind.WARNING,
                    request.thread_id,
                    self.id,
                    message=f"decision {decision!r} was not offered "
                    f"({', '.join(wire_decisions)}); answered {fallback!r}",
                )
            )
            decision = fallback
        self._resolved(request, decision)
        self.recorder.last_activity = time.monotonic()
        return wire.approval_response(request.kind, wire_decisions[decision], params)


async def _first_of(handler: asyncio.Future[str], forced: asyncio.Future[str]) -> str:
    """The handler's decision, unless the runtime forces one first (interrupt, shutdown,
    another client's answer); the caller decides what becomes of the handler then."""
    done, _ = await asyncio.wait({handler, forced}, return_when=asyncio.FIRST_COMPLETED)
    if forced in done:
        return forced.result()
    return handler.result()


def wire_inputs(inputs: Sequence[TurnInput]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for item in inputs:
        if isinstance(item, TextInput):
            out.append({"type": "text", "text": item.text})
        elif isinstance(item, ImageInput):
            out.append({"type": "localImage", "path": str(item.path)})
    return out
