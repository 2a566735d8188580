"""The engine's public contract: a Codex runtime runs turns on threads.

Two implementations share it: :class:`~codex_runner.codex.app_server.AppServerRuntime`
(one long-lived ``codex app-server``, many threads) and
:class:`~codex_runner.codex.exec_runtime.ExecRuntime` (``codex exec --json`` per turn).

Usage::

    async with AppServerRuntime(config, approvals=my_handler) as runtime:
        thread = await runtime.start_thread(ThreadOptions(cwd=repo))
        turn = await runtime.start_turn(thread.id, "fix the bug")
        async for event in turn.events():
            print(event.to_dict())
        result = await turn.wait()
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

from codex_runner.domain.delta import Delta
from codex_runner.domain.events import (
    ApprovalRequest,
    CodexEvent,
    ErrorInfo,
    EventKind,
    FailureClass,
    ItemType,
    TokenUsage,
    TurnStatus,
)

# Answers an approval request with one of ``request.available_decisions``. It may take as
# long as a human needs; the runtime keeps streaming other threads meanwhile.
ApprovalHandler = Callable[[ApprovalRequest], Awaitable[str]]

# A turn's events are held in memory for its readers (the ingest pump reads them as they come;
# a reader may also start late). Past this many, the oldest command output is shed, one per
# new event, so that starts, completions and approvals stay; past twice as many, the oldest
# events go, and a reader that far behind skips them.
MAX_EVENTS_PER_TURN = 50_000
DROPPED_OUTPUT = "[dropped]"


@dataclass(frozen=True)
class ThreadOptions:
    """A thread's settings: given when it starts and again when it is resumed. None (or
    empty) leaves Codex's (or the runner's configured) default."""

    cwd: Path
    model: str | None = None
    effort: str | None = None
    sandbox: str | None = None
    approval_policy: str | None = None
    developer_instructions: str | None = None
    base_instructions: str | None = None
    personality: str | None = None
    service_tier: str | None = None
    model_provider: str | None = None
    # Codex config overrides by dotted key, for this thread only.
    config: Mapping[str, Any] = field(default_factory=dict)
    ephemeral: bool = False  # Codex keeps no rollout: the thread cannot be resumed later


@dataclass(frozen=True)
class TurnOptions:
    """Settings for one turn only; None keeps the thread's. The runtime puts the thread's
    own back on the next turn (Codex would keep a turn's override for the turns after it).
    ``output_schema`` (a JSON Schema) constrains the turn's final message."""

    model: str | None = None
    effort: str | None = None
    summary: str | None = None
    sandbox: str | None = None
    approval_policy: str | None = None
    cwd: Path | None = None
    output_schema: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class TextInput:
    text: str


@dataclass(frozen=True)
class ImageInput:
    path: Path


TurnInput = TextInput | ImageInput


def as_inputs(prompt: str | Sequence[TurnInput]) -> list[TurnInput]:
    """A prompt string is one text input; anything else is taken as a list of inputs."""
    if isinstance(prompt, str):
        return [TextInput(prompt)]
    return list(prompt)


@dataclass(frozen=True)
class ThreadHandle:
    id: str
    # Set when the requested thread could not be resumed and this fresh one replaced it.
    replaced_thread_id: str | None = None


@dataclass(frozen=True)
class TurnResult:
    thread_id: str
    turn_id: str | None
    status: TurnStatus
    final_message: str | None
    usage: TokenUsage
    error: ErrorInfo | None = None

    @property
    def ok(self) -> bool:
        return self.status is TurnStatus.COMPLETED


MAX_STATUS_WARNINGS = 50


@dataclass
class RuntimeStatus:
    kind: str
    state: str  # stopped | starting | ready | restarting | failed | closed
    pid: int | None = None
    codex_version: str | None = None
    restarts: int = 0
    started_at: float | None = None
    last_error: str | None = None
    malformed_lines: int = 0
    warnings: list[str] = field(default_factory=list)
    # The Codex account's rate-limit use, as Codex last reported it (None until it does).
    rate_limits: dict[str, Any] | None = None

    def note_warning(self, text: str) -> None:
        """Keep ``text`` for operators (doctor, /v1/status) once, and only the latest few:
        Codex repeats its warnings at every restart."""
        if text not in self.warnings:
            self.warnings.append(text)
            del self.warnings[:-MAX_STATUS_WARNINGS]


class Turn(Protocol):
    """A running or finished turn. Events are replayable: each ``events()`` call starts at
    the first event, so a late subscriber misses nothing."""

    @property
    def thread_id(self) -> str: ...

    @property
    def id(self) -> str | None: ...

    @property
    def done(self) -> bool: ...

    def events(self) -> AsyncIterator[CodexEvent]: ...

    def on_delta(self, listener: DeltaListener | None) -> None:
        """Hand each live delta of this turn to ``listener`` (None: drop them, the default).
        Deltas are not events: nothing replays them, the completed item is the record."""
        ...

    async def wait(self, timeout: float | None = None) -> TurnResult: ...

    async def steer(self, prompt: str | Sequence[TurnInput]) -> None: ...

    async def interrupt(self) -> TurnResult: ...


class CodexRuntime(Protocol):
    kind: str

    async def start(self) -> None: ...

    async def close(self) -> None: ...

    def status(self) -> RuntimeStatus: ...

    async def start_thread(self, options: ThreadOptions) -> ThreadHandle: ...

    async def resume_thread(
        self, thread_id: str, options: ThreadOptions, *, context: str | None = None
    ) -> ThreadHandle: ...

    async def start_turn(
        self,
        thread_id: str,
        prompt: str | Sequence[TurnInput],
        *,
        approvals: ApprovalHandler | None = None,
        options: TurnOptions | None = None,
    ) -> Turn:
        """Start a turn on an open thread. Its approval requests go to ``approvals`` when
        given (the caller knows whose turn it is), else to the runtime's handler;
        ``options`` override the thread's settings for this turn only."""
        ...

    async def release_thread(self, thread_id: str) -> None:
        """The caller is done with the thread for now (its turn ended): the runtime may free
        what it holds for it. A later turn needs ``resume_thread`` first. Never raises."""
        ...


def error_note(error: ErrorInfo) -> str:
    """An error in one line: its message, with Codex's details when they add something."""
    if error.detail and error.detail not in error.message:
        return f"{error.message} ({error.detail})"
    return error.message


DeltaListener = Callable[[Delta], None]


class TurnRecorder:
    """The state shared by every runtime's turn: an append-only event list, the result.

    Runtimes call :meth:`emit` for each canonical event and :meth:`finish` exactly once
    (later calls are ignored, so racing endings such as a crash and a late
    ``turn/completed`` cannot produce two results).
    """

    def __init__(self, thread_id: str, *, max_events: int = MAX_EVENTS_PER_TURN) -> None:
        self.thread_id = thread_id
        self.turn_id: str | None = None
        self._events: list[CodexEvent] = []
        self._max_events = max_events
        self._dropped = 0  # events gone from the front of _events: readers count from 0
        self._shed_from = 0  # index in _events before which every output is already shed
        self._changed = asyncio.Event()
        self._result: asyncio.Future[TurnResult] = asyncio.get_running_loop().create_future()
        self.usage = TokenUsage()
        self.final_message: str | None = None
        self.last_activity = time.monotonic()
        # The latest error Codex reported in this turn, retried ones included: a turn that
        # then goes quiet (an unreachable provider) fails naming it, not just the silence.
        self.last_error: ErrorInfo | None = None
        self.delta_listener: DeltaListener | None = None

    @property
    def done(self) -> bool:
        return self._result.done()

    def emit_delta(self, delta: Delta) -> None:
        """A live piece of a streaming item: to the listener, if any; never kept."""
        if self.done:
            return
        self.last_activity = time.monotonic()
        if self.delta_listener is not None:
            self.delta_listener(delta)

    def emit(self, event: CodexEvent) -> None:
        if self.done:
            return
        if not _retrying(event):
            self.last_activity = time.monotonic()
        if event.kind is EventKind.TOKEN_USAGE and event.usage is not None:
            self.usage = event.usage
        elif event.kind is EventKind.ERROR and event.error is not None:
            self.last_error = event.error
        if (
            event.kind is EventKind.ITEM_COMPLETED
            and event.item is not None
            and event.item.type is ItemType.AGENT_MESSAGE
            and event.item.text
        ):
            self.final_message = event.item.text
        self._events.append(event)
        if len(self._events) > self._max_events:
            self._shed()
        self._wake()

    def finish(self, status: TurnStatus, error: ErrorInfo | None = None) -> TurnResult:
        """Record the end of the turn and its closing event; returns the (first) result."""
        if self.done:
            return self._result.result()
        kind = {
            TurnStatus.COMPLETED: EventKind.TURN_COMPLETED,
            TurnStatus.FAILED: EventKind.TURN_FAILED,
            TurnStatus.INTERRUPTED: EventKind.TURN_INTERRUPTED,
        }[status]
        self._events.append(
            CodexEvent(
                kind=kind,
                thread_id=self.thread_id,
                turn_id=self.turn_id,
                usage=self.usage,
                error=error,
                message=self.final_message,
            )
        )
        result = TurnResult(
            thread_id=self.thread_id,
            turn_id=self.turn_id,
            status=status,
            final_message=self.final_message,
            usage=self.usage,
            error=error,
        )
        self._result.set_result(result)
        self._wake()
        return result

    def fail(self, failure_class: FailureClass, message: str, detail: str | None = None) -> None:
        self.finish(TurnStatus.FAILED, ErrorInfo(message, failure_class, detail))

    def fail_idle(self, silence: str, idle_s: float, detail: str | None = None) -> None:
        """Fail the turn for ``silence`` (what went quiet, for how long), naming the last
        error Codex reported before it, if any: that is usually the cause."""
        if self.last_error is not None:
            message = f"{silence}; last error: {error_note(self.last_error)}"
        else:
            message = (
                f"{silence}. Raise codex.turn_idle_timeout_s (now {idle_s:g}s) if turns are "
                "legitimately this quiet."
            )
        self.fail(FailureClass.TURN_IDLE_TIMEOUT, message, detail)

    async def events(self) -> AsyncIterator[CodexEvent]:
        index = 0  # counted from the turn's first event, dropped ones included
        while True:
            while index < self._dropped + len(self._events):
                index = max(index, self._dropped)
                yield self._events[index - self._dropped]
                index += 1
            if self.done:
                return
            self._changed.clear()
            await self._changed.wait()

    async def wait(self, timeout: float | None = None) -> TurnResult:
        return await asyncio.wait_for(asyncio.shield(self._result), timeout)

    def _wake(self) -> None:
        self._changed.set()

    def _shed(self) -> None:
        """Over the cap: shed the oldest output still held; past twice the cap, the oldest event."""
        if len(self._events) > 2 * self._max_events:
            self._events.pop(0)
            self._dropped += 1
            self._shed_from = max(0, self._shed_from - 1)
            return
        while self._shed_from < len(self._events) - 1:  # never the event just emitted
            index = self._shed_from
            self._shed_from += 1
            event = self._events[index]
            if event.item is not None and event.item.output not in (None, "", DROPPED_OUTPUT):
                item = replace(event.item, output=DROPPED_OUTPUT)
                self._events[index] = replace(event, item=item)
                return


def _retrying(event: CodexEvent) -> bool:
    """An error Codex will retry is no progress: a turn that only retries (an unreachable
    provider, retried without end) must still go idle and fail naming the error, rather
    than keep its idle watchdog fed for ever."""
    return event.kind is EventKind.ERROR and event.error is not None and event.error.will_retry
