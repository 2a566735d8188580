"""Pieces of the exec runtime: a thread's state, a turn and how it ends, the command line,
stopping a child.

See :mod:`codex_runner.codex.exec_runtime` for the behaviour they add up to.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import tomli_w

from codex_runner.codex.errors import CodexError, UnsupportedOperation
from codex_runner.codex.exec_events import ExecTranslator, lost_thread_reason
from codex_runner.codex.process import ChildProcess
from codex_runner.codex.runtime import (
    DeltaListener,
    ThreadOptions,
    TurnInput,
    TurnOptions,
    TurnRecorder,
    TurnResult,
)
from codex_runner.config import CodexSettings
from codex_runner.domain.events import (
    CodexEvent,
    ErrorInfo,
    EventKind,
    FailureClass,
    TokenUsage,
    TurnStatus,
)

# Extra time for a turn's task to wrap up after its process got the full signal escalation.
SETTLE_S = 15.0


@dataclass
class ExecThread:
    """What the runtime knows about one thread between and during its turns."""

    key: str  # the id handed out by start_thread / resume_thread
    options: ThreadOptions
    codex_id: str | None  # None until Codex announced the thread (or it must be replaced)
    notice: CodexEvent | None = None  # emitted once the next turn's thread.started arrives
    # Earlier context from resume_thread; prepended to the prompt of a fresh run (codex_id
    # None), i.e. when the thread turns out to be unresumable. Dropped once a thread runs.
    context: str | None = None
    replacing: tuple[str, str] | None = None  # (old thread id, reason) while replacing it
    approvals_warned: bool = False
    usage_total: TokenUsage | None = None  # Codex's running total after the last turn
    active: ExecTurn | None = None

    def prompt_for(self, prompt: str) -> str:
        """The prompt to send: with the earlier context when this run starts a fresh thread."""
        if self.codex_id is None and self.context:
            return f"Context from the earlier session:\n{self.context}\n\n{prompt}"
        return prompt


@dataclass
class ExecAttempt:
    """One ``codex exec`` process of a turn and how it went."""

    translator: ExecTranslator
    child: ChildProcess
    resumed_id: str | None = None  # the thread id given to ``exec resume``, if any
    idle: bool = False  # the idle watchdog stopped it

    def lost_thread_reason(self) -> str | None:
        """Why ``exec resume`` could not load the thread, when that is how it ended (before
        Codex announced any thread); None otherwise."""
        if self.resumed_id is None or self.translator.started_thread_id is not None:
            return None
        error = self.translator.error or self.translator.last_error
        return lost_thread_reason(self.child.stderr_text()) or lost_thread_reason(
            error.message if error else None
        )


class ExecTurn:
    """A turn on the exec runtime: one process (two when a lost thread is replaced)."""

    def __init__(
        self,
        state: ExecThread,
        thread_id: str,
        *,
        grace_s: float,
        options: TurnOptions | None = None,
    ) -> None:
        self.state = state
        self.options = options or TurnOptions()  # this turn's overrides
        self._grace_s = grace_s
        self.recorder = TurnRecorder(thread_id)
        self.child: ChildProcess | None = None
        self.task: asyncio.Task[None] | None = None  # owns the process; see ExecRuntime
        self.stop_reason: str | None = None  # "interrupt" | "close"

    @property
    def thread_id(self) -> str:
        """The provisional id until Codex announces the thread, then the Codex thread id."""
        return self.recorder.thread_id

    @property
    def id(self) -> str | None:
        return self.recorder.turn_id  # exec output carries no turn id: always None

    @property
    def done(self) -> bool:
        return self.recorder.done

    def events(self) -> AsyncIterator[CodexEvent]:
        return self.recorder.events()

    def on_delta(self, listener: DeltaListener | None) -> None:
        self.recorder.delta_listener = listener

    async def wait(self, timeout: float | None = None) -> TurnResult:
        return await self.recorder.wait(timeout)

    async def steer(self, prompt: str | Sequence[TurnInput]) -> None:
        raise UnsupportedOperation(
            "the exec runtime cannot steer a running turn (codex exec reads no input once "
            'started); set codex.runtime = "app-server" to steer turns, or interrupt this '
            "turn and start a new one"
        )

    async def interrupt(self) -> TurnResult:
        """SIGINT the turn's process group, escalate if needed; the turn ends INTERRUPTED."""
        if self.done:
            return await self.wait()
        self.stop_reason = self.stop_reason or "interrupt"
        await self.halt_and_settle()
        return await self.wait(SETTLE_S)  # already finished by halt_and_settle

    async def halt_and_settle(self) -> None:
        """Stop the turn's process and wait until its task has finished the turn."""
        if self.child is not None:
            await stop_child(self.child, self._grace_s)
        # A turn still spawning checks stop_reason right after the spawn and stops itself.
        if self.task is not None:
            done, _ = await asyncio.wait({self.task}, timeout=SETTLE_S)
            if not done:  # pragma: no cover - the task ends once its process is gone
                self.task.cancel()
                with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                    await asyncio.wait_for(self.task, SETTLE_S)
        if not self.done:  # pragma: no cover - defensive: never leave a turn unfinished
            self.recorder.finish(
                TurnStatus.INTERRUPTED,
                ErrorInfo("interrupted; codex exec did not wind down", FailureClass.INTERNAL),
            )

    # how it ends ---------------------------------------------------------------------------
    def thread_announced(self, codex_id: str) -> None:
        """``thread.started``: learn the real id, emit the thread notice if one is due."""
        state = self.state
        expected = state.codex_id
        self.recorder.thread_id = codex_id
        notice, state.notice = state.notice, None
        replacing, state.replacing = state.replacing, None
        carried = expected is None and bool(state.context)
        if expected is not None and codex_id != expected:
            # exec resume started another thread instead of failing: the prompt went out
            # without the earlier context, but the caller must still learn of the switch.
            replacing = (expected, "codex exec resume started a new thread")
        if replacing is not None:
            old_id, reason = replacing
            notice = CodexEvent(
                EventKind.THREAD_REPLACED,
                message=f"thread {old_id} could not be resumed ({reason}); started thread "
                f"{codex_id}"
                + (" with the earlier context" if carried else " without earlier context"),
                data={"replaced_thread_id": old_id, "reason": reason},
            )
        state.codex_id = codex_id
        state.context = None  # resumed or replaced: the context has served its purpose
        if notice is not None:
            self.recorder.emit(
                CodexEvent(
                    notice.kind, thread_id=codex_id, message=notice.message, data=notice.data
                )
            )

    def conclude(self, attempt: ExecAttempt, idle_s: float) -> str | None:
        """Finish the turn from what the (reaped) process said and how it ended; returns
        the runtime's error when the process itself failed (None otherwise)."""
        state, recorder, translator = self.state, self.recorder, attempt.translator
        if state.active is self:
            state.active = None  # before finish: a woken waiter may start the next turn
        stderr = attempt.child.stderr_text().strip() or None
        if self.stop_reason == "close" and translator.terminal is None:
            recorder.finish(
                TurnStatus.INTERRUPTED,
                ErrorInfo("the runtime was closed while the turn ran", FailureClass.INTERNAL),
            )
        elif translator.terminal is TurnStatus.COMPLETED:
            state.usage_total = translator.usage_total
            recorder.finish(TurnStatus.COMPLETED)
        elif self.stop_reason == "interrupt":
            recorder.finish(TurnStatus.INTERRUPTED)
        elif translator.terminal is TurnStatus.FAILED and translator.error is not None:
            recorder.finish(TurnStatus.FAILED, _with_detail(translator.error, stderr))
        elif attempt.idle:
            recorder.fail_idle(
                f"no output from codex exec for {idle_s:g}s, so the process was stopped",
                idle_s,
                stderr,
            )
        elif translator.last_error is not None:
            recorder.finish(TurnStatus.FAILED, _with_detail(translator.last_error, stderr))
        else:
            message = f"codex exec exited before turn.completed ({attempt.child.describe_exit()})"
            recorder.fail(FailureClass.PROCESS_EXITED, message, stderr)
            return message
        return None


def _with_detail(error: ErrorInfo, stderr: str | None) -> ErrorInfo:
    if error.detail or not stderr:
        return error
    return replace(error, detail=stderr[-2000:])


def toml_value(value: Any) -> str:
    """``value`` as a TOML value for ``-c key=value`` (tomli_w handles every escape)."""
    return tomli_w.dumps({"v": value}).split("=", 1)[1].strip()


def exec_argv(
    binary: Path,
    settings: CodexSettings,
    options: ThreadOptions,
    codex_id: str | None,
    prompt: str,
    images: Sequence[Path] = (),
    *,
    turn: TurnOptions | None = None,
    schema_file: Path | None = None,
) -> list[str]:
    """``codex exec`` for a fresh thread, ``codex exec resume`` when ``codex_id`` is set.

    Each process is one turn, so ``turn``'s overrides apply to it alone; the thread's session
    options go in as ``-c`` config on every turn (exec keeps none of them between processes).
    ``schema_file`` holds the turn's output schema.
    """
    turn = turn or TurnOptions()
    sandbox = turn.sandbox or options.sandbox or settings.sandbox
    argv = [str(binary), "exec"]
    if codex_id is not None:
        # resume has no -s / -C in 0.163: the sandbox goes in as config, and the process
        # runs in the thread's cwd, which resume takes as the working root.
        argv += ["resume", "--json", "--skip-git-repo-check"]
        argv += ["-c", f"sandbox_mode={toml_value(sandbox)}"]
    else:
        cwd = turn.cwd or options.cwd
        argv += ["--json", "--skip-git-repo-check", "-s", sandbox, "-C", str(cwd)]
    argv += ["-c", 'approval_policy="never"']  # exec has no channel to answer approvals
    if model := turn.model or options.model or settings.model:
        argv += ["-m", model]
    config: dict[str, Any] = {
        "model_reasoning_effort": turn.effort or options.effort or settings.effort,
        "model_reasoning_summary": turn.summary,
        "developer_instructions": options.developer_instructions,
        "base_instructions": options.base_instructions,
        "personality": options.personality,
        "service_tier": options.service_tier,
        "model_provider": options.model_provider,
        **options.config,
    }
    for key, value in config.items():
        if value is not None:
            argv += ["-c", f"{key}={toml_value(value)}"]
    if options.ephemeral:
        argv.append("--ephemeral")
    if schema_file is not None:
        argv += ["--output-schema", str(schema_file)]
    for path in images:
        argv += ["-i", str(path)]
    # Checked against the allow-list at load; the switch the runner always passes is not
    # repeated (codex refuses a switch given twice).
    argv += [arg for arg in settings.exec.extra_args if arg != "--skip-git-repo-check"]
    # "--" ends the options: a prompt starting with "-" stays a prompt, and -i (which takes
    # several values) cannot swallow it.
    argv.append("--")
    if codex_id is not None:
        argv.append(codex_id)
    argv.append(prompt)
    return argv


@contextlib.contextmanager
def output_schema_file(schema: Mapping[str, Any] | None) -> Iterator[Path | None]:
    """The turn's output schema in a private file for ``--output-schema``, removed after
    the turn (None: no schema, no file)."""
    if schema is None:
        yield None
        return
    fd, name = tempfile.mkstemp(prefix="codex-runner-schema-", suffix=".json")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(schema, out)
        yield Path(name)
    finally:
        with contextlib.suppress(OSError):
            os.unlink(name)


def check_cwd(options: ThreadOptions) -> None:
    if not options.cwd.is_dir():
        raise CodexError(f"thread cwd {options.cwd} is not a directory; create the workspace first")


def is_codex_thread_id(thread_id: str) -> bool:
    try:
        uuid.UUID(thread_id)
    except ValueError:
        return False
    return True


def approval_warning(policy: str, thread_id: str) -> CodexEvent:
    """The warning a thread's first exec turn carries when it asked for approvals."""
    message = (
        f"approval policy {policy!r} is not possible with codex exec, which cannot ask for "
        "approvals; this thread runs with approval policy 'never' (the sandbox still "
        "applies). Use the app-server runtime to approve commands."
    )
    return CodexEvent(
        EventKind.WARNING,
        thread_id=thread_id,
        message=message,
        data={"requested_approval_policy": policy, "approval_policy": "never"},
    )


async def stop_child(child: ChildProcess, grace: float) -> None:
    """Stop and reap a codex exec process group.

    SIGINT first: codex exec stops the way Ctrl-C stops it (and the thread stays resumable).
    A process that ignores it gets ChildProcess.terminate's SIGTERM, then SIGKILL. Runs
    shielded so that a cancelled caller cannot leave the escalation half done.
    """

    async def escalate() -> None:
        if child.returncode is None:
            child.signal_group(signal.SIGINT)
            with contextlib.suppress(TimeoutError):
                await child.wait(grace)
        # Reaps, forgets the pid file and SIGKILLs leftover grandchildren; quick once exited.
        await child.terminate(grace)

    await asyncio.shield(escalate())
