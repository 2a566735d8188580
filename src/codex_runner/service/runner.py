"""One run of a task: start (or resume) its Codex thread in its workspace, run one turn with
its events stored as they arrive, then settle the task from the turn's result (complete and
commit, interrupt, retry after a Codex crash, fail over to another auth profile, or fail).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from codex_runner.auth.failover import FailoverDecision
from codex_runner.codex.errors import TransportClosed
from codex_runner.codex.runtime import (
    CodexRuntime,
    ImageInput,
    TextInput,
    ThreadOptions,
    Turn,
    TurnInput,
    TurnResult,
)
from codex_runner.domain.conversation import ThreadRecord
from codex_runner.domain.conversation import Turn as TurnRecord
from codex_runner.domain.durable_event import EventType, NewEvent
from codex_runner.domain.events import ErrorInfo, FailureClass, TurnStatus
from codex_runner.domain.graph import coordinator_input
from codex_runner.domain.task import Task
from codex_runner.domain.transitions import Action, InvalidTransition
from codex_runner.service.approvals import ApprovalDesk
from codex_runner.service.failover import FailoverPolicy
from codex_runner.service.graphs import load_graph
from codex_runner.service.ingest import ingest_turn_events
from codex_runner.service.turn_records import finished_turn
from codex_runner.service.validation import commit_message
from codex_runner.service.writer import Abandoned, TaskWriter
from codex_runner.store.errors import TaskConflict
from codex_runner.store.protocol import Store
from codex_runner.workspace.protocol import WorkspaceError, Workspaces, WorkspaceSpec

log = logging.getLogger(__name__)

MAX_CRASH_ATTEMPTS = 3
CONTINUE_PROMPT = "Continue where you left off."


DEFAULT_STOP_REASON = "the runner stopped; resume the task to continue"


class TaskRunner:
    """Runs tasks one turn at a time; the service starts one ``run`` per scheduled task.

    ``turns`` and ``stop_requested`` are shared with the service, which steers and stops the
    live turns; ``stopping`` is set while the service shuts down.
    """

    def __init__(
        self,
        store: Store,
        runtime: CodexRuntime,
        workspaces: Workspaces,
        writer: TaskWriter,
        approvals: ApprovalDesk,
        *,
        failover: FailoverPolicy | None,
        commit_on_complete: bool,
        clock: Callable[[], datetime],
    ) -> None:
        self._store = store
        self._runtime = runtime
        self._workspaces = workspaces
        self._writer = writer
        self._approvals = approvals
        self._failover = failover
        self._commit_on_complete = commit_on_complete
        self._clock = clock
        self.turns: dict[str, Turn] = {}
        # Interrupt or cancel asked of a task whose run is alive; the run honours it even
        # when the request lands before its Codex turn exists.
        self.stop_requested: dict[str, Action] = {}
        # Why a stop was requested, when not by a person (the home became unavailable).
        self.stop_reasons: dict[str, str] = {}
        self.stopping = False
        self.stop_reason = DEFAULT_STOP_REASON  # said by tasks interrupted by the stop
        # Tasks whose turn died with Codex while other turns ran too: any of them may have
        # crashed it. The scheduler runs them one at a time, so a crash while one of them
        # runs is charged to that one; its turn ending any other way clears it.
        self.suspects: set[str] = set()
        self._crashes: dict[str, int] = {}
        # Tasks this run re-queued itself (after a crash or a failover): their history above
        # is still needed by the next run; any other task's is dropped when its run ends.
        self._requeued: set[str] = set()

    async def run(self, queued: Task) -> None:
        """Run the task's next turn; raises Abandoned when someone else took it over."""
        suspect = queued.id in self.suspects
        try:
            task = await self._writer.transition(queued, Action.START, retry=False)
        except (InvalidTransition, TaskConflict) as exc:
            raise Abandoned() from exc
        try:
            await self._run_started(task, suspect=suspect)
        except TransportClosed:
            # Codex died while this task opened its thread or started its turn (another
            # task's turn may have killed it): a crash like one under a running turn, so
            # the task is re-queued as a suspect instead of failing with a runner error.
            await self._settle_crash(await self._writer.get(task.id), suspect=suspect)

    async def _run_started(self, task: Task, *, suspect: bool) -> None:
        """The run of a task that has just become running."""
        first_run = task.thread_id is None
        first_text = task.prompt
        if task.is_graph_parent and first_run:
            children = (await load_graph(self._store, task.graph_id or "")).children
            first_text = coordinator_input(task.prompt if task.runs_codex else None, children)
            if not task.runs_codex:
                await self._writer.transition(
                    task, Action.COMPLETE, reason="all children completed", final_message=first_text
                )
                return
        workspace = await self._workspaces.create(task.id, WorkspaceSpec.of_task(task.workspace))
        options = ThreadOptions(
            cwd=workspace.path,
            model=task.settings.model,
            effort=task.settings.effort,
            sandbox=task.settings.sandbox,
            approval_policy=task.settings.approval_policy,
        )
        if task.thread_id is not None:
            handle = await self._runtime.resume_thread(task.thread_id, options, context=task.prompt)
        else:
            handle = await self._runtime.start_thread(options)
        turn: Turn | None = None
        released = False
        try:
            if handle.id != task.thread_id:
                await self._store.record_thread(
                    ThreadRecord(
                        handle.id, task.id, self._clock(), replaces=handle.replaced_thread_id
                    )
                )
            text = task.pending_message or (first_text if first_run else CONTINUE_PROMPT)
            inputs: list[TurnInput] = [TextInput(text)]
            inputs += [ImageInput(Path(p)) for p in task.pending_images]
            task = await self._writer.save(
                task.id,
                thread_id=handle.id,
                pending_message=None,
                pending_images=(),
                branch=workspace.branch,
            )
            if task.id in self.stop_requested:
                released = True
                await self._runtime.release_thread(handle.id)
                await self._honour_stop_request(task)
                return
            number = len(await self._store.list_turns(task.id)) + 1
            turn = await self._runtime.start_turn(handle.id, inputs if len(inputs) > 1 else text)
            self.turns[task.id] = turn
            record = TurnRecord(
                task.id, number, text, self._clock(), thread_id=handle.id, codex_turn_id=turn.id
            )
            await self._store.save_turn(record)
            if task.id in self.stop_requested:
                await turn.interrupt()  # asked while the turn was being started
            result = await self._await_turn(task, turn)
            if turn.thread_id != handle.id:
                # The exec runtime hands out a provisional id until Codex names the thread;
                # keep Codex's own, or the thread could not be resumed after a restart.
                await self._store.record_thread(
                    ThreadRecord(turn.thread_id, task.id, self._clock(), replaces=handle.id)
                )
                await self._writer.save(task.id, thread_id=turn.thread_id)
            await self._store.save_turn(finished_turn(record, result, self._clock()))
            expiry = self._approvals.take_expiry(task.id)
            await self._approvals.end_turn(task.id)
            # Before the task settles: once it is queued again, its next run resumes the thread.
            released = True
            await self._runtime.release_thread(handle.id)
        except BaseException:
            if not released:
                await self._let_go(task.id, handle.id, turn)
            raise
        if result is None:
            await self._writer.transition_by_id(task.id, Action.FAIL, reason="max runtime exceeded")
            return
        await self._settle(task.id, result, number, suspect=suspect, expiry=expiry)

    async def _let_go(self, task_id: str, thread_id: str, turn: Turn | None) -> None:
        """A run that failed midway: stop its Codex turn (nobody would read it, and it would
        hold a slot the scheduler has already freed), expire its approvals, release the thread.
        Best effort: the caller is already handling the run's own error."""
        if turn is not None and not turn.done:
            with contextlib.suppress(Exception):
                await turn.interrupt()
        self._approvals.take_expiry(task_id)
        with contextlib.suppress(Exception):
            await self._approvals.end_turn(task_id)
        await self._runtime.release_thread(thread_id)

    def forget(self, task_id: str) -> None:
        """The task's run is over."""
        self.turns.pop(task_id, None)
        self.stop_requested.pop(task_id, None)
        self.stop_reasons.pop(task_id, None)
        if task_id in self._requeued:
            self._requeued.discard(task_id)
        else:
            self.drop_history(task_id)

    def drop_history(self, task_id: str) -> None:
        """Forget the task's crash and failover history (it ended, or was cancelled queued)."""
        self.suspects.discard(task_id)
        self._crashes.pop(task_id, None)
        if self._failover is not None:
            self._failover.forget(task_id)

    async def _await_turn(self, task: Task, turn: Turn) -> TurnResult | None:
        """The turn's result with its events stored; None when it overran the max runtime."""
        pump = asyncio.create_task(
            ingest_turn_events(
                self._store, task.id, turn, clock=self._clock, publish=self._writer.publish_events
            )
        )
        try:
            try:
                result = await turn.wait(timeout=task.max_runtime_s)
            except TimeoutError:
                await turn.interrupt()
                await pump
                return None
            await pump
            return result
        finally:
            if not pump.done():
                pump.cancel()

    async def _honour_stop_request(self, task: Task) -> None:
        """Settle an interrupt or cancel that arrived before the turn started."""
        action = self.stop_requested[task.id]
        reason = "cancelled by request" if action is Action.CANCEL else "interrupted by request"
        await self._writer.transition(task, action, reason=self.stop_reasons.get(task.id, reason))

    async def _settle(
        self,
        task_id: str,
        result: TurnResult,
        turn_number: int,
        *,
        suspect: bool,
        expiry: str | None = None,
    ) -> None:
        """``expiry`` says why an approval of the turn expired, if one did."""
        task = await self._writer.get(task_id)
        if not _crashed(result):
            self.suspects.discard(task_id)
            self._crashes.pop(task_id, None)
        if self._failover is not None and result.status is not TurnStatus.FAILED:
            self._failover.forget(task_id)
        if result.status is TurnStatus.COMPLETED:
            branch, diff, note = await self._finish_workspace(task, turn_number)
            await self._writer.transition(
                task,
                Action.COMPLETE,
                reason="turn completed" + note,
                final_message=result.final_message,
                usage=task.usage.plus(result.usage),
                branch=branch,
                diff_summary=diff,
            )
        elif result.status is TurnStatus.INTERRUPTED:
            usage = task.usage.plus(result.usage)
            if self.stop_requested.get(task_id) is Action.CANCEL:
                await self._writer.transition(
                    task, Action.CANCEL, reason="cancelled by request", usage=usage
                )
            else:
                reason = self.stop_reasons.get(task_id) or self._interrupt_reason(task_id, expiry)
                await self._writer.transition(task, Action.INTERRUPT, reason=reason, usage=usage)
        elif _crashed(result):
            await self._settle_crash(task, suspect=suspect)
        else:
            await self._settle_failure(task, result)

    def _interrupt_reason(self, task_id: str, expiry: str | None) -> str:
        """Why a turn ended interrupted: a person's request, else an approval that expired
        (its answer ended the turn), else the runner stopping."""
        if task_id in self.stop_requested:
            return "interrupted by request"
        if expiry is not None:
            return expiry
        return self.stop_reason if self.stopping else "interrupted by request"

    async def _settle_crash(self, task: Task, *, suspect: bool) -> None:
        """Codex died under the turn: re-queue it, and fail a task that keeps crashing it.

        A crash counts against a task only when it ran as the one suspect (see
        ``suspects``): a task that merely ran beside the one that crashed Codex becomes a
        suspect, re-runs apart from the other suspects, and is cleared when it gets through.
        """
        if not suspect:
            self.suspects.add(task.id)
            reason = "codex crashed while this task ran; re-queued to run apart from the others"
        else:
            crashes = self._crashes.get(task.id, 0) + 1
            if crashes >= MAX_CRASH_ATTEMPTS:
                self.suspects.discard(task.id)
                self._crashes.pop(task.id, None)
                reason = f"codex crashed on this task {crashes} times"
                await self._writer.transition(task, Action.FAIL, reason=reason)
                return
            self._crashes[task.id] = crashes
            reason = (
                f"codex crashed before the turn completed (crash {crashes} of "
                f"{MAX_CRASH_ATTEMPTS}); re-queued"
            )
        task = await self._writer.transition(task, Action.INTERRUPT, reason=reason)
        self._requeued.add(task.id)
        await self._writer.transition(task, Action.RESUME, reason=reason)

    async def _settle_failure(self, task: Task, result: TurnResult) -> None:
        error = result.error
        if (decision := await self._fail_over(task, error)) is not None:
            reason = decision.event_message()
            switched = NewEvent(
                EventType.AUTH_FAILOVER,
                self._clock(),
                {
                    "from": decision.from_profile,
                    "to": decision.to_profile,
                    "error": decision.reason,
                },
            )
            task = await self._writer.transition(
                task, Action.INTERRUPT, reason=reason, extra=[switched]
            )
            self._requeued.add(task.id)
            await self._writer.transition(task, Action.RESUME, reason=reason)
        else:
            message = error.message if error is not None else "turn failed"
            await self._writer.transition(task, Action.FAIL, reason=message)

    async def _fail_over(self, task: Task, error: ErrorInfo | None) -> FailoverDecision | None:
        if self._failover is None:
            return None
        return await self._failover.after_failure(task.id, error)

    async def _finish_workspace(
        self, task: Task, turn_number: int
    ) -> tuple[str | None, str | None, str]:
        """After a completed turn: commit the worktree (if configured); (branch, summary, note)."""
        workspace = await self._workspaces.locate(task.id, WorkspaceSpec.of_task(task.workspace))
        if workspace is None or not workspace.is_worktree:
            return task.branch, task.diff_summary, ""
        try:
            if self._commit_on_complete:
                summary = await self._workspaces.commit_changes(
                    workspace, commit_message(task, turn_number)
                )
            else:
                summary = await self._workspaces.diff_summary(workspace)
        except WorkspaceError as exc:
            # The work stays in the worktree; the task completed, so say what went wrong.
            log.warning("task %s: committing its worktree failed: %s", task.id, exc)
            return workspace.branch, task.diff_summary, f"; its changes were not committed: {exc}"
        return workspace.branch, summary.report() if summary is not None else None, ""


def _crashed(result: TurnResult) -> bool:
    """Codex went away before the turn completed (its app-server died or was killed)."""
    return (
        result.status not in (TurnStatus.COMPLETED, TurnStatus.INTERRUPTED)
        and result.error is not None
        and result.error.failure_class is FailureClass.TRANSPORT_CLOSED_BEFORE_TURN_COMPLETED
    )
