"""ScriptedRuntime: an in-memory CodexRuntime whose turns follow Python scripts.

For tests of everything above the Codex engine (the task service, the API, bridges): no
process, no model. A script is ``async def script(runtime, recorder, text)`` that emits
canonical events through the recorder and finishes the turn; ``runtime.script(text)`` picks
the script for a turn's input. Ready-made scripts: :func:`complete`, :func:`gated`,
:func:`crash`, :func:`ask`.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from codex_runner.codex.runtime import (
    ApprovalHandler,
    DeltaListener,
    RuntimeStatus,
    TextInput,
    ThreadHandle,
    ThreadOptions,
    TurnInput,
    TurnOptions,
    TurnRecorder,
    TurnResult,
)
from codex_runner.domain.events import (
    ApprovalKind,
    ApprovalRequest,
    CodexEvent,
    EventKind,
    FailureClass,
    Item,
    ItemType,
    TokenUsage,
    TurnStatus,
)

Script = Callable[["ScriptedRuntime", TurnRecorder, str], Awaitable[None]]


async def complete(rt: ScriptedRuntime, rec: TurnRecorder, text: str) -> None:
    rec.emit(CodexEvent(EventKind.TURN_STARTED, thread_id=rec.thread_id))
    item = Item(id="m1", type=ItemType.AGENT_MESSAGE, text=f"done: {text}")
    rec.emit(CodexEvent(EventKind.ITEM_COMPLETED, thread_id=rec.thread_id, item=item))
    rec.emit(CodexEvent(EventKind.TOKEN_USAGE, usage=TokenUsage(input_tokens=3, total_tokens=5)))
    rec.finish(TurnStatus.COMPLETED)


async def gated(rt: ScriptedRuntime, rec: TurnRecorder, text: str) -> None:
    await rt.gate.wait()
    await complete(rt, rec, text)


async def crash(rt: ScriptedRuntime, rec: TurnRecorder, text: str) -> None:
    rec.fail(FailureClass.TRANSPORT_CLOSED_BEFORE_TURN_COMPLETED, "codex exited")


async def ask(rt: ScriptedRuntime, rec: TurnRecorder, text: str) -> None:
    handler = rt.turn_approvals.get(rec.thread_id) or rt.approvals
    assert handler is not None, "give the runtime or the turn an approval handler"
    request = ApprovalRequest(
        id="r1",
        kind=ApprovalKind.COMMAND,
        thread_id=rec.thread_id,
        turn_id=None,
        command="rm -rf build",
        available_decisions=("accept", "decline"),
    )
    decision = await handler(request)
    rt.decisions.append(decision)
    await complete(rt, rec, f"{text} ({decision})")


class ScriptedTurn:
    def __init__(self, rec: TurnRecorder, task: asyncio.Task[None]) -> None:
        self._rec = rec
        self._task = task
        self.steered: list[str] = []

    @property
    def thread_id(self) -> str:
        return self._rec.thread_id

    @property
    def id(self) -> str | None:
        return self._rec.turn_id

    @property
    def done(self) -> bool:
        return self._rec.done

    def events(self) -> AsyncIterator[CodexEvent]:
        return self._rec.events()

    def on_delta(self, listener: DeltaListener | None) -> None:
        self._rec.delta_listener = listener

    async def wait(self, timeout: float | None = None) -> TurnResult:
        return await self._rec.wait(timeout)

    async def steer(self, prompt: str | Sequence[TurnInput]) -> None:
        if not isinstance(prompt, str):
            prompt = "\n".join(i.text for i in prompt if isinstance(i, TextInput))
        self.steered.append(prompt)

    async def interrupt(self) -> TurnResult:
        self._task.cancel()
        return self._rec.finish(TurnStatus.INTERRUPTED)


@dataclass
class ScriptedRuntime:
    script: Callable[[str], Script]
    kind: str = "scripted"
    approvals: ApprovalHandler | None = None
    gate: asyncio.Event = field(default_factory=asyncio.Event)
    started: list[tuple[str, str]] = field(default_factory=list)  # (thread id, input)
    resumed: list[str] = field(default_factory=list)
    released: list[str] = field(default_factory=list)
    decisions: list[str] = field(default_factory=list)
    turn_approvals: dict[str, ApprovalHandler] = field(default_factory=dict)  # by thread id
    cwds: dict[str, Path] = field(default_factory=dict)  # thread id -> its working directory
    images: list[list[str]] = field(default_factory=list)  # image paths of each turn with images
    thread_options: dict[str, ThreadOptions] = field(default_factory=dict)  # latest, by thread
    turn_options: list[TurnOptions | None] = field(default_factory=list)  # each turn's
    live: int = 0
    max_live: int = 0
    threads: int = 0
    started_changed: asyncio.Condition = field(default_factory=asyncio.Condition)

    async def wait_started(self, n: int, timeout: float = 5.0) -> None:
        """Wait until ``n`` turns have been started."""
        async with asyncio.timeout(timeout), self.started_changed:
            await self.started_changed.wait_for(lambda: len(self.started) >= n)

    async def start(self) -> None: ...

    async def close(self) -> None: ...

    def status(self) -> RuntimeStatus:
        return RuntimeStatus(kind="scripted", state="ready")

    async def start_thread(self, options: ThreadOptions) -> ThreadHandle:
        self.threads += 1
        thread_id = f"th{self.threads}"
        self.cwds[thread_id] = options.cwd
        self.thread_options[thread_id] = options
        return ThreadHandle(thread_id)

    async def resume_thread(
        self, thread_id: str, options: ThreadOptions, *, context: str | None = None
    ) -> ThreadHandle:
        self.resumed.append(thread_id)
        self.thread_options[thread_id] = options
        return ThreadHandle(thread_id)

    async def release_thread(self, thread_id: str) -> None:
        self.released.append(thread_id)

    async def start_turn(
        self,
        thread_id: str,
        prompt: str | Sequence[TurnInput],
        *,
        approvals: ApprovalHandler | None = None,
        options: TurnOptions | None = None,
    ) -> ScriptedTurn:
        self.turn_options.append(options)
        if approvals is not None:
            self.turn_approvals[thread_id] = approvals
        else:
            self.turn_approvals.pop(thread_id, None)
        if not isinstance(prompt, str):
            self.images.append([str(i.path) for i in prompt if not isinstance(i, TextInput)])
            prompt = "\n".join(i.text for i in prompt if isinstance(i, TextInput))
        self.started.append((thread_id, prompt))
        async with self.started_changed:
            self.started_changed.notify_all()
        rec = TurnRecorder(thread_id)
        self.live += 1
        self.max_live = max(self.max_live, self.live)
        script = self.script(prompt)

        async def run() -> None:
            try:
                await script(self, rec, prompt)
            finally:
                self.live -= 1

        return ScriptedTurn(rec, asyncio.create_task(run()))


async def write_file(rt: ScriptedRuntime, rec: TurnRecorder, text: str) -> None:
    """Write ``out.txt`` (the turn's input) in the thread's working directory, then complete."""
    (rt.cwds[rec.thread_id] / "out.txt").write_text(text + "\n")
    await complete(rt, rec, text)


async def fail(rt: ScriptedRuntime, rec: TurnRecorder, text: str) -> None:
    """A turn that fails with a model error (not a crash: no retry)."""
    rec.fail(FailureClass.MODEL_ERROR, f"model refused: {text}")
