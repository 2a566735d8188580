"""The supervisor of this host's background jobs (docs/jobs.md).

It looks at each job every ``[jobs] check_interval_s``: a job whose process ended gets its
exit status; one past its runtime cap, or whose task was cancelled, has its process group
stopped (SIGTERM, then SIGKILL after the grace). Each job that ended is reported to its
task: a ``job.finished`` event at once, and a follow-up message with its exit status and
output tail once the task takes one (right away when it is completed or interrupted; after
its turn when it is queued or running; never when it failed or was cancelled). Whether the
message went out is kept in the store, so a report outlives a daemon restart.

At start it takes back the jobs the store says this host runs: one whose process still
lives is adopted (it runs in its own session, so a daemon restart does not touch it); one
whose process is gone ends with the exit code its wrapper wrote, else is re-run once when
restartable and failed otherwise.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

from codex_runner.config.jobs import JobSettings
from codex_runner.domain.jobs import (
    ACTIVE_JOB_STATES,
    JOB_FINISHED,
    JOB_STARTED,
    Job,
    JobState,
    output_tail,
    report_text,
)
from codex_runner.domain.task import Task, TaskState
from codex_runner.domain.transitions import accepts_message
from codex_runner.logs.records import log_context
from codex_runner.logs.redaction import mask_secrets
from codex_runner.service.jobs_process import JobFiles, JobProcess, spawn
from codex_runner.service.jobs_retention import remove_old_job_folders
from codex_runner.store.protocol import Store
from codex_runner.workspace.protocol import Workspaces

log = logging.getLogger(__name__)

# How many ended, unreported jobs a start looks back at.
REPORT_BACKLOG = 100
CLEANUP_INTERVAL_S = 3600.0


class JobTasks(Protocol):
    """What jobs need of the task service (TaskService has it)."""

    async def get(self, task_id: str) -> Task: ...

    async def message(self, task_id: str, prompt: str) -> Task: ...

    async def record_event(self, task_id: str, type: str, data: dict[str, Any]) -> Any: ...


class JobSupervisor:
    def __init__(
        self,
        store: Store,
        tasks: JobTasks,
        workspaces: Workspaces,
        settings: JobSettings,
        *,
        jobs_dir: Path,
        host_id: str,
        environment: Callable[[], Mapping[str, str]],
        clock: Callable[[], datetime],
    ) -> None:
        self._store = store
        self._tasks = tasks
        self._workspaces = workspaces
        self.settings = settings
        self.jobs_dir = jobs_dir
        self.host_id = host_id
        self._environment = environment
        self._clock = clock
        self.processes: dict[str, JobProcess] = {}
        self._unreported: set[str] = set()
        self._failed_reports: set[str] = set()  # warned about once each
        self._troubled: set[str] = set()  # jobs whose check failed, logged once each
        # Told the task id after a report re-queued its task (a chat bridge relays the turn).
        self.on_reported: list[Callable[[str], Awaitable[None]]] = []
        self._loop: asyncio.Task[None] | None = None
        # Held by each check, start and cancel: the caps and a job's end are decided once.
        self.lock = asyncio.Lock()

    def files(self, job_id: str) -> JobFiles:
        return JobFiles.of(self.jobs_dir, job_id)

    # --- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        """Take back this host's jobs (adopt, re-run or end them), then supervise."""
        for job in await self._store.list_jobs(host_id=self.host_id, states=ACTIVE_JOB_STATES):
            with log_context(task_id=job.task_id):
                try:
                    await self._take_back(job)
                except Exception:  # one job's trouble must not keep the daemon down
                    log.exception("background job %s could not be taken back", job.id)
        ended = [s for s in JobState if not s.is_active]
        backlog = await self._store.list_jobs(
            host_id=self.host_id, states=ended, limit=REPORT_BACKLOG
        )
        self._unreported.update(j.id for j in backlog if j.reported_at is None)
        try:
            await self.remove_old_folders()  # then hourly
        except OSError:
            log.exception("removing old background jobs' folders failed")
        self._loop = asyncio.create_task(self._supervise(), name="jobs-supervisor")

    async def stop(self) -> None:
        """Stop supervising; the jobs keep running (the next start adopts them)."""
        if self._loop is not None:
            self._loop.cancel()
            with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                await asyncio.wait_for(self._loop, timeout=10.0)
            self._loop = None
        self.processes.clear()

    async def _supervise(self) -> None:
        loop = asyncio.get_running_loop()
        next_cleanup = loop.time() + CLEANUP_INTERVAL_S
        while True:
            await asyncio.sleep(self.settings.check_interval_s)
            try:
                await self.check()
                if loop.time() >= next_cleanup:
                    next_cleanup = loop.time() + CLEANUP_INTERVAL_S
                    await self.remove_old_folders()
            except Exception:
                log.exception("checking background jobs failed")

    async def remove_old_folders(self) -> int:
        """Remove finished jobs' folders older than ``[jobs] keep_s``; how many went."""
        active = await self._store.list_jobs(states=ACTIVE_JOB_STATES, limit=10_000)
        removed = await asyncio.to_thread(
            remove_old_job_folders,
            self.jobs_dir,
            active={j.id for j in active},
            keep_s=self.settings.keep_s,
            now=time.time(),
        )
        if removed:
            log.info("removed %d finished background jobs' folders", removed)
        return removed

    async def check(self) -> None:
        """One look at every job this host runs, then at the reports still to send."""
        async with self.lock:
            for job in await self._store.list_jobs(host_id=self.host_id, states=[JobState.RUNNING]):
                with log_context(task_id=job.task_id):
                    await self._guarded(job.id, self._check_job(job))
            for job_id in sorted(self._unreported):
                await self._guarded(job_id, self._deliver(job_id))

    async def _guarded(self, job_id: str, step: Awaitable[None]) -> None:
        """One job's trouble (its task gone, say) is logged once and does not stop the
        others' checks; the step is tried again at the next check."""
        try:
            await step
        except Exception:
            if job_id not in self._troubled:
                self._troubled.add(job_id)
                log.exception("background job %s: checking it failed", job_id)

    # --- starting --------------------------------------------------------------------------

    async def launch(self, job: Job, cwd: Path) -> Job:
        """Start ``job``'s process in ``cwd``; the job as saved (running, or failed when the
        process could not start)."""
        files = self.files(job.id)
        try:
            child = spawn(
                files,
                job.command,
                cwd=cwd,
                env=self._environment(),
                output_max_bytes=self.settings.output_max_bytes,
            )
        except OSError as exc:
            return await self.finish(job, JobState.FAILED, f"could not start: {exc}")
        self.processes[job.id] = JobProcess(child.pid, child)
        shown = mask_secrets(job.name)  # a name cut from the command may hold a token
        running = replace(
            job,
            state=JobState.RUNNING,
            pid=child.pid,
            pgid=child.pid,  # the session leader's pid is its group's id
            started_at=self._clock(),
            reason=None,
        )
        await self._store.save_job(running)
        await self._tasks.record_event(
            job.task_id,
            JOB_STARTED,
            {"job_id": job.id, "name": shown, "pid": child.pid, "restarts": job.restarts},
        )
        log.info("background job %s started (pid %d): %s", job.id, child.pid, shown)
        return running

    async def _take_back(self, job: Job) -> None:
        if job.state is JobState.QUEUED or job.pid is None:
            await self._relaunch(job, "started after a daemon restart")
            return
        process = JobProcess(job.pid, files=self.files(job.id))
        if process.running() and self.files(job.id).exit_code() is None:
            self.processes[job.id] = process
            log.info("background job %s adopted (pid %d)", job.id, job.pid)
            await self._check_job(job)  # its runtime cap counts across restarts
            return
        if self.files(job.id).exit_code() is not None:
            await self._ended(job)
        elif job.restartable and job.restarts < 1:
            self.files(job.id).note("the job's process was gone after a daemon restart: re-run")
            await self._relaunch(replace(job, restarts=job.restarts + 1), "re-run")
        else:
            why = "its process was gone after a daemon restart"
            if job.restartable:
                why += " (it was re-run once already)"
            else:
                why += " and it is not restartable"
            await self.finish(job, JobState.FAILED, why)

    async def _relaunch(self, job: Job, why: str) -> None:
        task = await self._tasks.get(job.task_id)
        if task.state is TaskState.CANCELLED:
            await self.finish(job, JobState.CANCELLED, "its task was cancelled")
            return
        workspace = await self._workspaces.locate(task.id, task.workspace)
        if workspace is None:
            await self.finish(job, JobState.FAILED, "its task's workspace is gone")
            return
        log.info("background job %s %s", job.id, why)
        await self.launch(job, workspace.path)

    # --- watching --------------------------------------------------------------------------

    async def _check_job(self, job: Job) -> None:
        process = self.processes.get(job.id)
        if process is None:  # started by this host in an earlier run, not taken back yet
            process = self.processes[job.id] = JobProcess(job.pid or 0, files=self.files(job.id))
        if not process.running():
            await self._ended(job)
            return
        task = await self._tasks.get(job.task_id)
        if task.state is TaskState.CANCELLED:
            await self.stop_job(job, JobState.CANCELLED, "its task was cancelled")
            return
        started = job.started_at or job.created_at
        if self._clock() - started > timedelta(seconds=job.max_runtime_s):
            await self.stop_job(
                job, JobState.TIMED_OUT, f"it ran past its cap of {job.max_runtime_s:g} s"
            )

    async def stop_job(self, job: Job, state: JobState, reason: str) -> Job:
        """Stop the job's process group and end it in ``state`` saying ``reason``."""
        process = self.processes.get(job.id)
        if process is None and job.pid is not None:  # not taken back: only if it is the job's
            found = JobProcess(job.pid, files=self.files(job.id))
            process = found if found.running() else None
        if process is not None:
            await process.stop(self.settings.kill_grace_s)
        self.files(job.id).note(f"stopped: {reason}")
        return await self.finish(job, state, reason)

    async def _ended(self, job: Job) -> None:
        code = self.files(job.id).exit_code()
        if code is None:
            await self.finish(job, JobState.FAILED, "its process ended without an exit status")
        elif code == 0:
            await self.finish(job, JobState.SUCCEEDED, None, exit_code=0)
        else:
            await self.finish(job, JobState.FAILED, f"exit code {code}", exit_code=code)

    async def finish(
        self, job: Job, state: JobState, reason: str | None, *, exit_code: int | None = None
    ) -> Job:
        """Save the job's end, record it on the task and queue its report."""
        self.processes.pop(job.id, None)
        ended = replace(
            job, state=state, reason=reason, exit_code=exit_code, ended_at=self._clock()
        )
        await self._store.save_job(ended)
        log.info("background job %s %s%s", job.id, state, f": {reason}" if reason else "")
        await self._tasks.record_event(
            job.task_id,
            JOB_FINISHED,
            {
                "job_id": job.id,
                "name": mask_secrets(job.name),
                "state": str(state),
                "exit_code": exit_code,
                "reason": reason,
                # What the task is told, for the chat thread too (bridges/chat relay_plan).
                "report": self.report(ended),
            },
        )
        self._unreported.add(job.id)
        await self._deliver(job.id)
        return ended

    # --- reporting -------------------------------------------------------------------------

    def report(self, job: Job) -> str:
        """The follow-up message for an ended job: exit status and output tail, masked."""
        return mask_secrets(report_text(job, output_tail(self.files(job.id).tail())))

    async def _deliver(self, job_id: str) -> None:
        job = await self._store.job(job_id)
        if job is None or job.reported_at is not None:
            self._unreported.discard(job_id)
            return
        task = await self._tasks.get(job.task_id)
        messaged = False
        if accepts_message(task.state):
            try:
                await self._tasks.message(job.task_id, self.report(job))
                messaged = True
            except Exception as exc:  # the task moved on meanwhile, the home is away...
                if job_id not in self._failed_reports:
                    self._failed_reports.add(job_id)
                    log.warning("background job %s: reporting to its task failed: %s", job_id, exc)
                return  # tried again at the next check
        elif not task.state.is_terminal:
            return  # queued or in a turn: told once that turn ends
        await self._store.save_job(replace(job, reported_at=self._clock()))
        self._unreported.discard(job_id)
        self._failed_reports.discard(job_id)
        for hook in self.on_reported if messaged else ():
            try:
                await hook(job.task_id)
            except Exception:
                log.exception("background job %s: a report hook failed", job_id)
