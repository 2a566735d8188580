"""One run of a task: start (or resume) its Codex thread in its workspace, run one turn with
its events stored as they arrive, then settle the task from the turn's result (complete and
commit, interrupt, retry after a Codex crash, fail over to another auth profile, or fail).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

from codex_runner.auth.failover_rules import FailoverDecision
from codex_runner.codex.errors import TransportClosed
from codex_runner.codex.runtime import (
    ApprovalHandler,
    ImageInput,
    TextInput,
    Turn,
    TurnInput,
    TurnResult,
)
from codex_runner.codex.task_runtimes import TaskRuntimes
from codex_runner.domain.conversation import ThreadRecord
from codex_runner.domain.conversation import Turn as TurnRecord
from codex_runner.domain.durable_event import EventType, NewEvent
from codex_runner.domain.events import ErrorInfo, TurnStatus
from codex_runner.domain.graph import coordinator_input
from codex_runner.domain.task import Task, TaskState
from codex_runner.domain.task_options import TurnOverrides
from codex_runner.domain.transitions import Action
from codex_runner.service.approvals import ApprovalDesk
from codex_runner.service.coauthors import CommitTrailers, no_coauthors, with_trailers
from codex_runner.service.graphs import load_graph
from codex_runner.service.ingest import ingest_turn_events
from codex_runner.service.live_run import CrashHistory, LiveRun
from codex_runner.service.profile_failover import FailoverPolicy
from codex_runner.service.structured_results import structured_result
from codex_runner.service.task_approvals import TaskApprovals
from codex_runner.service.thread_carry import ThreadCarrier
from codex_runner.service.thread_options import thread_options, turn_options
from codex_runner.service.turn_records import (
    checked_result,
    crashed,
    error_text,
    finished_turn,
    schema_mismatched,
)
from codex_runner.service.validation import commit_message
from codex_runner.service.warm_thread_keeper import WarmThreadKeeper
from codex_runner.service.writer import Abandoned, TaskWriter
from codex_runner.store.errors import LeaseLost
from codex_runner.store.protocol import Store
from codex_runner.workspace.protocol import WorkspaceError, Workspaces

log = logging.getLogger(__name__)

MAX_CRASH_ATTEMPTS = 3
CONTINUE_PROMPT = "Continue where you left off."


class TaskRunner:
    """Runs tasks one turn at a time; the scheduler starts one ``run`` per task it starts,
    with the :class:`LiveRun` through which it stops the run."""

    def __init__(
        self,
        store: Store,
        runtimes: TaskRuntimes,
        workspaces: Workspaces,
        writer: TaskWriter,
        approvals: ApprovalDesk,
        *,
        failover: FailoverPolicy | None,
        commit_on_complete: bool,
        clock: Callable[[], datetime],
        warm: WarmThreadKeeper | None = None,
        host_id: str | None = None,
        carrier: ThreadCarrier | None = None,
        auth_profile: Callable[[], str | None] = lambda: None,
        coauthors: CommitTrailers | None = None,
    ) -> None:
        """``warm`` keeps threads loaded after their turn; without it each is released.
        ``host_id`` is the host that claims the tasks this runner runs (domain.hosts);
        ``auth_profile`` names the profile Codex runs under now (each turn records it)."""
        self._host_id = host_id
        self._auth_profile = auth_profile
        self._coauthors = coauthors or no_coauthors  # Co-authored-by trailers of commits
        self._carrier = carrier  # the threads' session files, for other hosts
        self._store = store
        self._runtimes = runtimes
        self._workspaces = workspaces
        self._writer = writer
        self._approvals = approvals
        self._failover = failover
        self._commit_on_complete = commit_on_complete
        self._clock = clock
        self._warm = warm if warm is not None else WarmThreadKeeper(runtimes, limit=0, idle_s=0)

    async def claim(self, queued: list[Task]) -> list[Task]:
        """Start those of ``queued`` this host gets: each on a new lease, as this host's
        (the lease fences off any earlier holder); one another host is taking is skipped."""
        return await self._writer.claim(queued, self._host_id)

    async def run(self, queued: Task, live: LiveRun) -> None:
        """Run the task's next turn (claiming it first unless :meth:`claim` did); raises
        Abandoned when someone else took it over."""
        task = queued
        if queued.state is not TaskState.RUNNING:
            claimed = await self.claim([queued])
            if not claimed:
                raise Abandoned()  # another host (or a cancel) got to it first
            task = claimed[0]
        try:
            await self._run_started(task, live)
        except LeaseLost as exc:
            # Another host took the task over (we were paused or cut off): its turn here was
            # stopped on the way out; nothing more is ours to write.
            raise Abandoned() from exc
        except TransportClosed:
            # Codex died while this task opened its thread or started its turn (another
            # task's turn may have killed it): a crash like one under a running turn, so
            # the task is re-queued as a suspect instead of failing with a runner error.
            await self._settle_crash(await self._held(task), live)

    def forget(self, task_id: str) -> None:
        """Forget the task's failover history (its run ended without re-queueing it, or it
        was cancelled queued)."""
        if self._failover is not None:
            self._failover.forget(task_id)

    async def _run_started(self, task: Task, live: LiveRun) -> None:
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
        workspace = await self._workspaces.create(task.id, task.workspace)
        options = thread_options(task, workspace.path)
        kind = task.session.runtime
        if task.thread_id is not None:
            self._warm.take(task.thread_id)  # in use again: the idle timer must not release it
            if self._carrier is not None:
                await self._carrier.restore(task.thread_id)  # it may have run on another host
            handle = await self._runtimes.resume_thread(
                task.thread_id, options, context=task.prompt, runtime=kind
            )
        else:
            handle = await self._runtimes.start_thread(options, runtime=kind)
        turn: Turn | None = None
        released = False
        try:
            new_thread = None
            if handle.id != task.thread_id:
                new_thread = ThreadRecord(
                    handle.id, task.id, self._clock(), replaces=handle.replaced_thread_id
                )
            text = task.pending_message or (first_text if first_run else CONTINUE_PROMPT)
            inputs: list[TurnInput] = [TextInput(text)]
            inputs += [ImageInput(Path(p)) for p in task.pending_images]
            overrides = task.next_turn
            # One write records a new thread with the task's input taken (so the thread is
            # never the task's without its record), and the turn's number is read beside it
            # (a reader thread, parallel to the store's writer): all on every turn's path.
            task, earlier_turns = await asyncio.gather(
                self._writer.save_run(
                    task,
                    thread=new_thread,
                    thread_id=handle.id,
                    pending_message=None,
                    pending_images=(),
                    next_turn=TurnOverrides(),
                    result_json=None,  # the task's result is its latest turn's
                    branch=workspace.branch,
                ),
                self._store.list_turns(task.id),
            )
            if live.stop_action is not None:
                released = True
                await self._runtimes.release_thread(handle.id)
                await self._writer.transition(
                    task, live.stop_action, reason=live.stop_request_reason()
                )
                return
            number = len(earlier_turns) + 1
            turn = await self._runtimes.start_turn(
                handle.id,
                inputs if len(inputs) > 1 else text,
                approvals=self._approval_handler(task.id, task.lease),
                options=turn_options(overrides, workspace.path),
            )
            live.turn = turn
            record = TurnRecord(
                task.id,
                number,
                text,
                self._clock(),
                thread_id=handle.id,
                codex_turn_id=turn.id,
                auth_profile=self._auth_profile(),
            )
            await self._store.save_turn(record)
            if live.stop_requested:
                await turn.interrupt()  # asked while the turn was being started
            result = await self._await_turn(task, turn)
            if turn.thread_id != handle.id:
                # The exec runtime hands out a provisional id until Codex names the thread;
                # keep Codex's own, or the thread could not be resumed after a restart.
                self._runtimes.learn(handle.id, turn.thread_id)
                named = ThreadRecord(turn.thread_id, task.id, self._clock(), replaces=handle.id)
                await self._writer.save(
                    task.id, thread=named, lease=task.lease, thread_id=turn.thread_id
                )
            structured = None
            if result is not None and result.ok and overrides.output_schema is not None:
                structured = structured_result(overrides.output_schema, result.final_message)
                result = checked_result(result, structured)
            finished = finished_turn(record, result, self._clock())
            if structured is not None:
                finished = replace(finished, result_json=structured.json_text)
            await self._store.save_turn(finished)
            if self._carrier is not None:
                await self._carrier.keep(turn.thread_id)
            expiry = self._approvals.take_expiry(task.id)
            await self._approvals.end_turn(task.id)
            # Before the task settles: once it is queued again, its next run finds the thread
            # warm (no thread/resume), or resumes it if the warm bounds let it go.
            released = True
            await self._warm.keep(turn.thread_id)
        except BaseException:
            if not released:
                await self._let_go(task.id, handle.id, turn)
            raise
        held = await self._held(task)
        if result is None:
            await self._writer.transition(held, Action.FAIL, reason="max runtime exceeded")
            return
        await self._settle(
            held, result, number, live, expiry=expiry, result_json=finished.result_json
        )

    async def _held(self, run: Task) -> Task:
        """The task as stored now, if it is still this run's (the lease it claimed);
        Abandoned when another host has claimed it or taken it over since."""
        task = await self._writer.get(run.id)
        if task.lease != run.lease:
            raise Abandoned()
        return task

    def _approval_handler(self, task_id: str, lease: int) -> ApprovalHandler:
        """Where the approval requests of this task's turn go: the turn is handed it at
        start, so no request has to be traced back to its task by thread."""
        return TaskApprovals(self._approvals, self._store, self._writer, task_id, lease=lease)

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
        await self._runtimes.release_thread(thread_id)

    async def _await_turn(self, task: Task, turn: Turn) -> TurnResult | None:
        """The turn's result with its events stored; None when it overran the max runtime."""
        pump = asyncio.create_task(
            ingest_turn_events(
                self._store,
                task.id,
                turn,
                clock=self._clock,
                publish=self._writer.publish_events,
                publish_delta=self._writer.publish_delta,
                lease=task.lease,
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

    async def _settle(
        self,
        task: Task,
        result: TurnResult,
        turn_number: int,
        live: LiveRun,
        *,
        expiry: str | None = None,
        result_json: str | None = None,
    ) -> None:
        """``expiry`` says why an approval of the turn expired, if one did; ``result_json``
        is the turn's structured result, if it had an output schema."""
        if self._carrier is not None and result.status is TurnStatus.FAILED and not crashed(result):
            task = await self._keep_work(task, turn_number)
        if self._failover is not None and result.status is not TurnStatus.FAILED:
            self._failover.forget(task.id)
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
                result_json=result_json,
            )
        elif result.status is TurnStatus.INTERRUPTED:
            usage = task.usage.plus(result.usage)
            if live.stop_action is Action.CANCEL:
                await self._writer.transition(
                    task, Action.CANCEL, reason="cancelled by request", usage=usage
                )
            else:
                reason = live.interrupt_reason(expiry)
                fields: dict[str, Any] = {}
                if self._carrier is not None:
                    # Hosts share the store: the next run may be another host's, so the
                    # turn's work goes on the task branch now, not only at a completed turn.
                    branch, diff, note = await self._finish_workspace(task, turn_number)
                    fields = {"branch": branch, "diff_summary": diff}
                    reason += note
                await self._writer.transition(
                    task, Action.INTERRUPT, reason=reason, usage=usage, **fields
                )
        elif crashed(result):
            await self._settle_crash(task, live)
        elif schema_mismatched(result):
            # The raw reply stays the task's final message: the caller can see what came.
            await self._writer.transition(
                task,
                Action.FAIL,
                reason=error_text(result),
                final_message=result.final_message,
                usage=task.usage.plus(result.usage),
            )
        else:
            await self._settle_failure(task, result, live)

    async def _keep_work(self, task: Task, turn_number: int) -> Task:
        """A failed turn's work on the task branch too, on a shared store (the next run may
        be another host's); Abandoned when the task is no longer this run's."""
        branch, diff, _ = await self._finish_workspace(task, turn_number)
        return await self._writer.save(task.id, lease=task.lease, branch=branch, diff_summary=diff)

    async def _settle_crash(self, task: Task, live: LiveRun) -> None:
        """Codex died under the turn: re-queue it, and fail a task that keeps crashing it.

        A crash counts against a task only when it ran as the one suspect (see
        :class:`CrashHistory`): a task that merely ran beside the one that crashed Codex
        becomes a suspect, re-runs apart from the other suspects, and is cleared when it
        gets through.
        """
        if not live.history.suspect:
            history = CrashHistory(suspect=True, crashes=live.history.crashes)
            reason = "codex crashed while this task ran; re-queued to run apart from the others"
        else:
            crashes = live.history.crashes + 1
            if crashes >= MAX_CRASH_ATTEMPTS:
                reason = f"codex crashed on this task {crashes} times"
                await self._writer.transition(task, Action.FAIL, reason=reason)
                return
            history = CrashHistory(suspect=True, crashes=crashes)
            reason = (
                f"codex crashed before the turn completed (crash {crashes} of "
                f"{MAX_CRASH_ATTEMPTS}); re-queued"
            )
        task = await self._writer.transition(task, Action.INTERRUPT, reason=reason)
        live.requeued = history
        await self._writer.transition(task, Action.RESUME, reason=reason)

    async def _settle_failure(self, task: Task, result: TurnResult, live: LiveRun) -> None:
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
            live.requeued = CrashHistory()  # the turn got through: no longer a suspect
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
        workspace = await self._workspaces.locate(task.id, task.workspace)
        if workspace is None or not workspace.is_worktree:
            return task.branch, task.diff_summary, ""
        try:
            if self._commit_on_complete:
                message = commit_message(task, turn_number)
                summary = await self._workspaces.commit_changes(
                    workspace, with_trailers(message, await self._coauthors(task.id))
                )
            else:
                summary = await self._workspaces.diff_summary(workspace)
        except WorkspaceError as exc:
            # The work stays in the worktree; the task completed, so say what went wrong.
            log.warning("task %s: committing its worktree failed: %s", task.id, exc)
            return workspace.branch, task.diff_summary, f"; its changes were not committed: {exc}"
        return workspace.branch, summary.report() if summary is not None else None, ""
