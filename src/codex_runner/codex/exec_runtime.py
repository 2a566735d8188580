"""The exec runtime: one ``codex exec --json`` process per turn.

Each turn runs ``codex exec --json --skip-git-repo-check -s SANDBOX -C CWD [...] -- PROMPT``;
later turns on the same thread run ``codex exec resume --json ... -- THREAD_ID PROMPT``
(``resume`` has no ``-s``/``-C`` in 0.163, so the sandbox goes in as ``-c sandbox_mode=...``
and the process runs in the thread's cwd, which ``resume`` uses as the working root).
Stdin is /dev/null: with an open pipe ``codex exec`` waits for more input.
``--skip-git-repo-check`` is always passed because the runner, not Codex, decides where
tasks run (plain-directory workspaces are allowed).

Thread ids. Codex creates an exec thread only when its first turn runs, so
:meth:`ExecRuntime.start_thread` returns a *provisional* id (``exec-<uuid>``). The real
Codex thread id arrives with the first turn's ``thread.started`` line; from then on
``turn.thread_id``, every event and ``TurnResult.thread_id`` carry the real id, and the
``thread.started`` event names the provisional one in ``data["provisional_thread_id"]``.
:meth:`ExecRuntime.start_turn` accepts either id. Persist ``TurnResult.thread_id`` (not
the provisional id) to resume the thread later.

Resume. Exec cannot check a thread without running a turn, so :meth:`resume_thread` only
records the thread; its first turn runs ``exec resume``. When that process ends before
``thread.started`` because the rollout is missing ("no rollout found ..."), the turn
retries as a fresh thread with ``context`` prepended to the prompt and emits
``thread.replaced`` (``data["replaced_thread_id"]``), as the app-server runtime does, except
that the handle ``resume_thread`` returned cannot know it yet (``replaced_thread_id`` stays
None; the old id keeps working as an alias and ``TurnResult.thread_id`` has the new one). Ids
that are not Codex UUIDs (e.g. a provisional id from an earlier runtime) are replaced the
same way without a doomed ``exec resume``: for such ids Codex would silently start a new
thread instead of failing.

Approvals. ``codex exec`` cannot answer approval requests, so every turn runs with
``approval_policy="never"``; a thread that asked for another policy gets a ``warning`` event
on its first turn (the service refuses such tasks at submit). Steering is impossible too.

Usage. A turn's usage is the difference between Codex's running token total and the total
after the thread's previous turn (remembered across ``release_thread``; unknown for a thread
this runtime never ran: the running total, flagged ``baseline_known: False``).

Processes. Each process has its own group and is always reaped: at the end of its turn
(the turn's result is published only after the process exited), on interrupt (SIGINT to
the group, then ChildProcess.terminate's SIGTERM/SIGKILL escalation), on the idle
watchdog (no stdout line for ``codex.turn_idle_timeout_s``), and on :meth:`close`. The
process belongs to a runtime-owned task, so a caller cancelling its own wait does not leak it.
Exec turns have no turn id (``turn_id`` None): ``codex exec --json`` does not print one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path

from codex_runner.codex.binary import bundled_path_dir, codex_version, find_codex_binary
from codex_runner.codex.errors import CodexError, RuntimeUnavailable, TurnBusy
from codex_runner.codex.exec_events import ExecTranslator, parse_line
from codex_runner.codex.exec_turn import (
    ExecAttempt,
    ExecThread,
    ExecTurn,
    approval_warning,
    check_cwd,
    exec_argv,
    is_codex_thread_id,
    output_schema_file,
    stop_child,
)
from codex_runner.codex.home import child_environment, prepare_codex_home
from codex_runner.codex.process import ChildProcess, PidRegistry
from codex_runner.codex.reported_warnings import PROCESS_WARNINGS, ReportedWarnings
from codex_runner.codex.runtime import (
    ApprovalHandler,
    ImageInput,
    RuntimeStatus,
    TextInput,
    ThreadHandle,
    ThreadOptions,
    TurnInput,
    TurnOptions,
    as_inputs,
)
from codex_runner.config import RunnerConfig
from codex_runner.domain.events import (
    CodexEvent,
    ErrorInfo,
    EventKind,
    FailureClass,
    TokenUsage,
    TurnStatus,
)

log = logging.getLogger(__name__)

PROVISIONAL_PREFIX = "exec-"
# Token totals kept for released threads (a few hundred bytes each); the oldest go first,
# and a thread resumed without one reports its usage as a running total (baseline unknown).
_REMEMBERED_USAGE_TOTALS = 10_000


class ExecRuntime:
    """:class:`~codex_runner.codex.runtime.CodexRuntime` over ``codex exec --json``: no
    long-lived process, one child per running turn, any number of threads in parallel."""

    kind = "exec"

    def __init__(
        self, config: RunnerConfig, *, reported_warnings: ReportedWarnings = PROCESS_WARNINGS
    ) -> None:
        self.config = config
        self._reported = reported_warnings
        self.settings = config.codex
        self._registry = PidRegistry(config.pids_dir)
        self._binary: Path | None = None
        self._env: dict[str, str] = {}
        self._threads: dict[str, ExecThread] = {}
        self._aliases: dict[str, str] = {}  # Codex thread id -> key in _threads
        # Codex thread id -> its running token total, for threads released between turns.
        self._usage_totals: OrderedDict[str, TokenUsage] = OrderedDict()
        self._state = "stopped"
        self._status = RuntimeStatus(kind=self.kind, state="stopped")

    # lifecycle ---------------------------------------------------------------------------
    async def __aenter__(self) -> ExecRuntime:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def start(self) -> None:
        if self._state != "stopped":
            raise RuntimeUnavailable(f"runtime cannot start from state {self._state!r}")
        self._set_state("starting")
        try:
            reaped = await asyncio.to_thread(self._registry.reap_orphans)
            if reaped:
                self._warn(
                    f"reaped {len(reaped)} orphaned codex process(es) left by a crash: {reaped}"
                )
            binary = find_codex_binary(self.settings.bin)
            try:
                version = await asyncio.to_thread(
                    codex_version, binary, self.settings.start_timeout_s
                )
            except Exception as exc:
                raise RuntimeUnavailable(
                    f"'{binary} --version' failed ({exc}); check codex.bin or reinstall "
                    "openai-codex-cli-bin"
                ) from None
            await asyncio.to_thread(prepare_codex_home, self.config)
        except BaseException:
            self._set_state("stopped")
            raise
        self._binary = binary
        self._env = child_environment(self.config, bundled_path_dir())
        self._status.codex_version = version
        self._status.started_at = time.time()
        self._set_state("ready")

    async def close(self) -> None:
        """Stop every running turn (its process is reaped) and refuse new ones."""
        if self._state == "closed":
            return
        self._set_state("closed")
        turns = [s.active for s in self._threads.values() if s.active is not None]
        for turn in turns:
            turn.stop_reason = "close"
        await asyncio.gather(*(turn.halt_and_settle() for turn in turns))

    def status(self) -> RuntimeStatus:
        running = [
            s.active.child
            for s in self._threads.values()
            if s.active is not None and s.active.child is not None
        ]
        self._status.pid = next((c.pid for c in running if c.returncode is None), None)
        return self._status

    def _set_state(self, state: str) -> None:
        self._state = state
        self._status.state = state

    def _warn(self, message: str) -> None:
        # Once in status() and once per daemon process in the log: a warning per thread or
        # per process would repeat the same words for every task.
        self._status.note_warning(self._reported.report(message))

    def _require_ready(self) -> Path:
        if self._state != "ready" or self._binary is None:
            raise RuntimeUnavailable(
                f"codex exec runtime is {self._state}; call start() first"
                if self._state == "stopped"
                else f"codex exec runtime is {self._state}"
            )
        return self._binary

    # threads -----------------------------------------------------------------------------
    def _lookup(self, thread_id: str) -> ExecThread | None:
        return self._threads.get(self._aliases.get(thread_id, thread_id))

    async def start_thread(self, options: ThreadOptions) -> ThreadHandle:
        """A provisional thread; Codex creates the real one when the first turn runs."""
        self._require_ready()
        check_cwd(options)
        key = f"{PROVISIONAL_PREFIX}{uuid.uuid4()}"
        self._threads[key] = ExecThread(
            key,
            options,
            codex_id=None,
            notice=CodexEvent(EventKind.THREAD_STARTED, data={"provisional_thread_id": key}),
        )
        return ThreadHandle(key)

    async def resume_thread(
        self, thread_id: str, options: ThreadOptions, *, context: str | None = None
    ) -> ThreadHandle:
        """Record the thread; its next turn runs ``exec resume`` (see the module docstring
        for how an unresumable thread is replaced)."""
        self._require_ready()
        check_cwd(options)
        known = self._lookup(thread_id)
        if known is not None:
            # Already open here (by either id): one state per thread, so two ids can never
            # run two turns on one Codex thread at once.
            if known.active is not None and not known.active.done:
                raise TurnBusy(
                    f"a turn is running on thread {thread_id}; wait for it or interrupt it"
                )
            known.options = options
            if known.codex_id is None:
                known.context = context
            return ThreadHandle(thread_id)
        state = ExecThread(
            thread_id,
            options,
            codex_id=thread_id,
            notice=CodexEvent(EventKind.THREAD_RESUMED, thread_id=thread_id),
            context=context,
            usage_total=self._usage_totals.pop(thread_id, None),
        )
        if not is_codex_thread_id(thread_id):
            # Never hand exec resume a non-UUID: Codex would treat it as a thread name and
            # quietly start a new thread. Such an id never ran a turn (e.g. provisional).
            state.codex_id = None
            state.replacing = (thread_id, "not a Codex thread id; it never ran a turn")
        self._threads[thread_id] = state
        return ThreadHandle(thread_id)

    async def release_thread(self, thread_id: str) -> None:
        """Forget the thread's record between turns (no process outlives its turn). Its
        token total is remembered, boundedly, so that the next turn's usage is still
        measured from it after ``resume_thread``."""
        state = self._lookup(thread_id)
        if state is None or (state.active is not None and not state.active.done):
            return
        del self._threads[state.key]
        for alias in [a for a, key in self._aliases.items() if key == state.key]:
            del self._aliases[alias]
        if state.codex_id is not None and state.usage_total is not None:
            self._usage_totals[state.codex_id] = state.usage_total
            self._usage_totals.move_to_end(state.codex_id)
            while len(self._usage_totals) > _REMEMBERED_USAGE_TOTALS:
                self._usage_totals.popitem(last=False)

    # turns -------------------------------------------------------------------------------
    async def start_turn(
        self,
        thread_id: str,
        prompt: str | Sequence[TurnInput],
        *,
        approvals: ApprovalHandler | None = None,
        options: TurnOptions | None = None,
    ) -> ExecTurn:
        """Start a turn on a thread (provisional or Codex id); returns once it is under way.

        ``approvals`` is never called: codex exec cannot ask (the policy is forced to never).
        """
        self._require_ready()
        state = self._lookup(thread_id)
        if state is None:
            raise CodexError(
                f"thread {thread_id} is not open in this runtime; call resume_thread first"
            )
        if state.active is not None and not state.active.done:
            raise TurnBusy(
                f"a turn is already running on thread {thread_id}; wait for it or interrupt "
                "it (the exec runtime cannot steer)"
            )
        turn = ExecTurn(
            state,
            state.codex_id or state.key,
            grace_s=self.settings.shutdown_grace_s,
            options=options,
        )
        state.active = turn
        self._approval_warning(turn)
        turn.task = asyncio.create_task(
            self._run_turn(turn, as_inputs(prompt)), name=f"codex-exec-{state.key}"
        )
        return turn

    def _approval_warning(self, turn: ExecTurn) -> None:
        state = turn.state
        policy = (
            turn.options.approval_policy
            or state.options.approval_policy
            or self.settings.approval_policy
        )
        if policy == "never" or state.approvals_warned:
            return
        state.approvals_warned = True
        warning = approval_warning(policy, turn.thread_id)
        self._warn(warning.message or "")
        turn.recorder.emit(warning)

    async def _run_turn(self, turn: ExecTurn, inputs: list[TurnInput]) -> None:
        state = turn.state
        try:
            prompt = "\n\n".join(i.text for i in inputs if isinstance(i, TextInput))
            images = [i.path for i in inputs if isinstance(i, ImageInput)]
            attempt = await self._attempt(turn, prompt, images)
            lost = attempt.lost_thread_reason()
            if lost is not None and attempt.resumed_id is not None and turn.stop_reason is None:
                # No thread.started yet, so no model call was made: retrying is safe.
                state.codex_id = None
                state.replacing = (attempt.resumed_id, lost)
                attempt = await self._attempt(turn, prompt, images)
            error = turn.conclude(attempt, self.settings.turn_idle_timeout_s)
            if error is not None:
                self._status.last_error = error
        except asyncio.CancelledError:
            self._end(turn, TurnStatus.INTERRUPTED, "the turn's task was cancelled")
            raise
        except OSError as exc:
            self._end(
                turn,
                TurnStatus.FAILED,
                f"could not run codex exec: {exc}",
                FailureClass.RUNTIME_UNAVAILABLE,
            )
        except Exception as exc:
            log.exception("exec turn on thread %s failed", turn.thread_id)
            self._end(turn, TurnStatus.FAILED, f"exec runtime error: {exc!r}")
        finally:
            if state.active is turn:
                state.active = None
            if not turn.done:  # pragma: no cover - every path above finishes the turn
                turn.recorder.fail(FailureClass.INTERNAL, "exec turn ended without a result")

    def _end(
        self,
        turn: ExecTurn,
        status: TurnStatus,
        message: str,
        failure_class: FailureClass = FailureClass.INTERNAL,
    ) -> None:
        """End a turn whose process could not run to its own end."""
        if turn.state.active is turn:
            turn.state.active = None
        if turn.stop_reason == "close":
            status, message = TurnStatus.INTERRUPTED, "the runtime was closed while the turn ran"
            failure_class = FailureClass.INTERNAL
        elif status is TurnStatus.FAILED:
            self._status.last_error = message
        turn.recorder.finish(status, ErrorInfo(message, failure_class))

    async def _attempt(self, turn: ExecTurn, prompt: str, images: Sequence[Path]) -> ExecAttempt:
        """Run one codex exec process to its end; it is reaped before this returns."""
        state = turn.state
        if self._binary is None:
            raise RuntimeUnavailable("codex exec runtime is not started")
        with output_schema_file(turn.options.output_schema) as schema_file:
            argv = exec_argv(
                self._binary,
                self.settings,
                state.options,
                state.codex_id,
                state.prompt_for(prompt),
                images,
                turn=turn.options,
                schema_file=schema_file,
            )
            child = await ChildProcess.spawn(
                argv,
                env=self._env,
                cwd=turn.options.cwd or state.options.cwd,
                registry=self._registry,
                stdin_devnull=True,
                stdout_limit=self.settings.max_line_bytes,
            )
            return await self._follow(turn, child)

    async def _follow(self, turn: ExecTurn, child: ChildProcess) -> ExecAttempt:
        state, grace = turn.state, self.settings.shutdown_grace_s
        turn.child = child
        attempt = ExecAttempt(
            ExecTranslator(turn.thread_id, state.usage_total), child, resumed_id=state.codex_id
        )
        try:
            if turn.stop_reason is not None:  # interrupted or closed while spawning
                await stop_child(child, grace)
            attempt.idle = await self._pump(turn, child, attempt.translator)
            if not attempt.idle:
                # stdout is closed, so the process is exiting: give it the grace period.
                with contextlib.suppress(TimeoutError):
                    await child.wait(grace)
        finally:
            # Always reached, also when the task is cancelled: no process outlives its turn.
            await stop_child(child, grace)
        return attempt

    async def _pump(self, turn: ExecTurn, child: ChildProcess, translator: ExecTranslator) -> bool:
        """Read stdout to its end, emitting events; True when the idle watchdog fired."""
        stdout = child.proc.stdout
        assert stdout is not None  # spawned with stdout=PIPE
        idle_s = self.settings.turn_idle_timeout_s
        recorder = turn.recorder
        recorder.last_activity = time.monotonic()
        while True:
            remaining = recorder.last_activity + idle_s - time.monotonic()
            if remaining <= 0:
                return True
            try:
                line = await asyncio.wait_for(stdout.readline(), remaining)
            except TimeoutError:
                continue  # the loop head turns this into the idle verdict
            except ValueError:  # a line longer than codex.max_line_bytes (already discarded)
                self._status.malformed_lines += 1
                continue
            if not line:
                return False
            recorder.last_activity = time.monotonic()
            parsed = parse_line(line)
            if parsed is None:
                if line.strip():
                    self._status.malformed_lines += 1
                    log.debug("skipping malformed codex exec line: %.200r", line)
                continue
            announced = translator.started_thread_id
            events = translator.feed(parsed)
            if translator.started_thread_id is not None and announced is None:
                self._aliases[translator.started_thread_id] = turn.state.key
                turn.thread_announced(translator.started_thread_id)
            for event in events:
                recorder.emit(event)
            for delta in translator.deltas(parsed):
                recorder.emit_delta(delta)
