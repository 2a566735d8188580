"""The scheduler: starts queued tasks as slots free up and owns their live runs.

Each run is a supervised asyncio task around :meth:`TaskRunner.run
<codex_runner.service.runner.TaskRunner.run>` with its :class:`LiveRun` handle; the scheduler
alone stops runs (a person's interrupt or cancel, the home becoming unavailable, shutdown),
and alone remembers crash suspects between runs, so that they run one at a time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from codex_runner.domain.task import Task
from codex_runner.domain.transitions import Action
from codex_runner.logs.records import log_context
from codex_runner.service.live_run import CrashHistory, LiveRun
from codex_runner.service.runner import TaskRunner
from codex_runner.service.writer import Abandoned, TaskWriter
from codex_runner.store.errors import TaskNotFound
from codex_runner.store.protocol import Store

log = logging.getLogger(__name__)

DEFAULT_STOP_REASON = "the runner stopped; resume the task to continue"


class Scheduler:
    def __init__(
        self,
        store: Store,
        runner: TaskRunner,
        writer: TaskWriter,
        *,
        max_concurrent: int,
        stop_timeout_s: float,
        admits: Callable[[], bool],
        defers: Callable[[Task], bool] = lambda task: False,
    ) -> None:
        """``admits()`` says whether new work is taken now; queued tasks wait meanwhile.
        ``defers(task)``: leave the task to another host for now (the one holding its
        worktree and thread)."""
        self._defers = defers
        self._store = store
        self._runner = runner
        self._writer = writer
        self._max = max_concurrent
        self._stop_timeout_s = stop_timeout_s
        self._admits = admits
        self._wake = asyncio.Event()
        self._loop: asyncio.Task[None] | None = None
        self._stopping = False
        self._stop_reason = DEFAULT_STOP_REASON  # said by tasks interrupted by the stop
        self._runs: dict[str, LiveRun] = {}
        self._supervisors: dict[str, asyncio.Task[None]] = {}
        # Crash suspects and their crashes, kept between runs (see CrashHistory).
        self._suspects: set[str] = set()
        self._crashes: dict[str, int] = {}

    # --- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        self._stopping = False
        self._loop = asyncio.create_task(self._schedule_loop(), name="task-scheduler")

    async def stop(self, reason: str | None = None) -> None:
        """Stop starting tasks, interrupt running turns and wait (bounded) for the runs.

        ``reason`` (why the daemon stops) is what the interrupted tasks say.
        """
        if reason:
            self._stop_reason = reason
        self._stopping = True
        for run in self._runs.values():
            run.shutdown_reason = self._stop_reason
        if self._loop is not None:
            self._loop.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._loop
            self._loop = None
        for run in list(self._runs.values()):
            if run.turn is not None:
                with contextlib.suppress(Exception):
                    await run.turn.interrupt()
        supervisors = list(self._supervisors.values())
        if supervisors:
            _, pending = await asyncio.wait(supervisors, timeout=self._stop_timeout_s)
            for supervisor in pending:
                supervisor.cancel()
            if pending:
                await asyncio.wait(pending)

    def wake(self) -> None:
        """Something may start now: a task was queued, or new work is taken again."""
        self._wake.set()

    # --- live runs -------------------------------------------------------------------------

    def live_run(self, task_id: str) -> LiveRun | None:
        """The task's run, while the scheduler has one going."""
        return self._runs.get(task_id)

    async def stop_run(self, task: Task, action: Action) -> bool:
        """Ask the task's live run to interrupt or cancel and wait for it; False if none."""
        supervisor = self._supervisors.get(task.id)
        run = self._runs.get(task.id)
        if supervisor is None or run is None or not task.state.is_active:
            return False
        await run.request_stop(action)
        await asyncio.wait([supervisor], timeout=self._stop_timeout_s)
        return True

    async def halt_running(self, reason: str) -> None:
        """Interrupt every running turn saying ``reason`` (not a person's request)."""

        async def halt(task_id: str) -> None:
            with contextlib.suppress(TaskNotFound):
                task = await self._writer.get(task_id)
                run = self._runs.get(task_id)
                if run is not None:
                    run.stop_reason = reason
                await self.stop_run(task, Action.INTERRUPT)

        await asyncio.gather(*(halt(task_id) for task_id in list(self._supervisors)))

    async def stop_turns_of_lost_claims(self) -> None:
        """Stop every live Codex turn without writing anything: another host took these
        tasks over (their leases are no longer ours), so each runner's next write is fenced
        off and it ends quietly."""
        turns = [run.turn for run in self._runs.values() if run.turn is not None]
        for turn in turns:
            if not turn.done:
                with contextlib.suppress(Exception):
                    await turn.interrupt()

    def crash_history(self, task_id: str) -> CrashHistory:
        """What the scheduler remembers of the task's crashes (nothing once it ended)."""
        return CrashHistory(task_id in self._suspects, self._crashes.get(task_id, 0))

    def forget(self, task_id: str) -> None:
        """Forget the task's crash and failover history (it ended, or was cancelled queued)."""
        self._suspects.discard(task_id)
        self._crashes.pop(task_id, None)
        self._runner.forget(task_id)

    # --- scheduling ------------------------------------------------------------------------

    async def _schedule_loop(self) -> None:
        suspects = self._suspects
        while not self._stopping:
            self._wake.clear()
            free = self._max - len(self._supervisors)
            if free > 0 and self._admits():
                try:
                    # Suspects beyond the first are passed over: ask for enough to fill up.
                    ready = await self._store.next_queued(free + len(suspects))
                except Exception:
                    log.exception("scheduler could not read the queue")
                    ready = []
                suspect_running = any(task_id in suspects for task_id in self._supervisors)
                chosen: list[Task] = []
                for task in ready:
                    if (
                        task.id in self._supervisors
                        or len(self._supervisors) + len(chosen) >= self._max
                        or self._defers(task)
                    ):
                        continue
                    if task.id in suspects:  # one at a time: see CrashHistory
                        if suspect_running:
                            continue
                        suspect_running = True
                    chosen.append(task)
                for task in await self._claim(chosen):
                    self._begin(task)
            await self._wake.wait()

    async def _claim(self, chosen: list[Task]) -> list[Task]:
        """The chosen tasks this host got (started, on its lease), in one transaction; those
        another host took first are left to it."""
        if not chosen:
            return []
        try:
            return await self._runner.claim(chosen)
        except Exception:
            log.exception("scheduler could not claim queued tasks")
            return []

    def _begin(self, task: Task) -> None:
        run = self._runs[task.id] = LiveRun(task.id, self.crash_history(task.id))
        self._supervisors[task.id] = asyncio.create_task(
            self._supervise(task, run), name=f"task-runner-{task.id}"
        )

    async def _supervise(self, task: Task, run: LiveRun) -> None:
        # Whatever the run logs (and the tasks it starts) is about this task: it goes to the
        # task's own log stream too (docs/logs.md).
        with log_context(task_id=task.id):
            await self._supervise_run(task, run)

    async def _supervise_run(self, task: Task, run: LiveRun) -> None:
        try:
            await self._runner.run(task, run)
        except Abandoned:
            pass
        except Exception as exc:
            log.exception("runner for task %s failed", task.id)
            with contextlib.suppress(Exception):
                await self._writer.transition_by_id(
                    task.id, Action.FAIL, reason=f"runner error: {exc}"
                )
        finally:
            self.keep_history(task.id, run.requeued)
            self._runs.pop(task.id, None)
            self._supervisors.pop(task.id, None)
            self._wake.set()

    def keep_history(self, task_id: str, requeued: CrashHistory | None) -> None:
        """After a run: the history of a task it re-queued, else none."""
        if requeued is None:
            self.forget(task_id)
            return
        if requeued.suspect:
            self._suspects.add(task_id)
        else:
            self._suspects.discard(task_id)
        if requeued.crashes:
            self._crashes[task_id] = requeued.crashes
        else:
            self._crashes.pop(task_id, None)
