"""Background jobs (docs/jobs.md): a long-running command started from a task, in the
task's workspace, that outlives the turn and reports back to the task when it ends.

A start is checked here (the command, the runtime cap, the per-task and per-host caps: over
a cap it is refused, never queued) and handed to the :class:`JobSupervisor`, which owns the
processes. Agents authenticate with their task's job key (:class:`TaskKeys`): it opens the
job routes for that one task only, never the rest of the API.
"""

from __future__ import annotations

import hashlib
import hmac
import shlex
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from codex_runner.config.jobs import JobSettings
from codex_runner.domain.ids import IdGenerator
from codex_runner.domain.jobs import ACTIVE_JOB_STATES, JOB_PREFIX, Job, JobState, job_name
from codex_runner.domain.task import TaskState
from codex_runner.logs.redaction import mask_secrets
from codex_runner.service.errors import InvalidRequest
from codex_runner.service.jobs_supervisor import JobSupervisor, JobTasks
from codex_runner.store.protocol import Store
from codex_runner.workspace.protocol import Workspaces

# Bounds on what a start may carry.
MAX_COMMAND_BYTES = 16 * 1024
MAX_ARGS = 256
# A tail of output asked for through the API or the CLI.
DEFAULT_TAIL_BYTES = 64 * 1024
MAX_TAIL_BYTES = 1024 * 1024
TASK_KEY_HEADER = "X-Codex-Runner-Task-Key"


class JobNotFound(LookupError):
    def __init__(self, job_id: str) -> None:
        super().__init__(f"no background job {job_id}; `codex-runner jobs list` shows them")
        self.job_id = job_id


class JobRefused(Exception):
    """A start or a cancel the caps or the job's state do not allow (HTTP 409)."""


@dataclass(frozen=True)
class JobRequest:
    task_id: str
    command: str | Sequence[str]  # a shell string, or an argv list run as it is
    name: str | None = None
    restartable: bool = False
    max_runtime_s: float | None = None


class TaskKeys:
    """Per-task job keys: an HMAC of the task id under a secret of the home (the API
    token), so a key needs no storage, survives restarts, and opens one task's jobs."""

    def __init__(self, secret: bytes) -> None:
        self._secret = secret

    def key(self, task_id: str) -> str:
        digest = hmac.new(self._secret, f"job:{task_id}".encode(), hashlib.sha256)
        return "tk_" + digest.hexdigest()[:40]

    def opens(self, key: str | None, task_id: str) -> bool:
        return key is not None and hmac.compare_digest(key, self.key(task_id))


def argv_of(command: str | Sequence[str]) -> tuple[str, ...]:
    """The argv a job runs: a string goes to ``sh -c``, a list runs as it is."""
    if isinstance(command, str):
        if not command.strip():
            raise InvalidRequest("command", "the command is empty: give a shell string or argv")
        argv: tuple[str, ...] = ("sh", "-c", command)
    else:
        argv = tuple(command)
        if not argv or not argv[0].strip():
            raise InvalidRequest("command", "the command is empty: give a shell string or argv")
        if len(argv) > MAX_ARGS:
            raise InvalidRequest("command", f"at most {MAX_ARGS} arguments; use a script")
    if sum(len(a.encode()) for a in argv) > MAX_COMMAND_BYTES:
        raise InvalidRequest("command", f"the command is over {MAX_COMMAND_BYTES} bytes")
    if any("\x00" in a for a in argv):
        raise InvalidRequest("command", "the command holds a NUL character")
    return argv


class JobService:
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
        ids: IdGenerator | None = None,
    ) -> None:
        self._store = store
        self._tasks = tasks
        self._workspaces = workspaces
        self._settings = settings
        self._clock = clock
        self._ids = ids or IdGenerator()
        self.supervisor = JobSupervisor(
            store,
            tasks,
            workspaces,
            settings,
            jobs_dir=jobs_dir,
            host_id=host_id,
            environment=environment,
            clock=clock,
        )

    async def start(self) -> None:
        await self.supervisor.start()

    async def stop(self) -> None:
        await self.supervisor.stop()

    async def start_job(self, request: JobRequest) -> Job:
        """Record the job and start its process in its task's workspace; refused (JobRefused)
        over a cap, or while the task has no workspace."""
        argv = argv_of(request.command)
        cap = self._settings.max_runtime_s
        runtime = cap if request.max_runtime_s is None else request.max_runtime_s
        if not 0 < runtime <= cap:
            raise InvalidRequest(
                "max_runtime_s", f"must be above 0 and at most [jobs] max_runtime_s ({cap:g} s)"
            )
        task = await self._tasks.get(request.task_id)  # TaskNotFound for an unknown task
        if task.state in (TaskState.FAILED, TaskState.CANCELLED):
            raise JobRefused(
                f"task {task.id} is {task.state}: a job reports back to its task, and this "
                "one takes no more follow-ups"
            )
        workspace = await self._workspaces.locate(task.id, task.workspace)
        if workspace is None:
            raise JobRefused(
                f"task {task.id} has no workspace yet; start the job once its first turn runs"
            )
        async with self.supervisor.lock:  # one start at a time: the caps hold
            await self._check_caps(task.id)
            job = Job(
                id=self._ids.new(JOB_PREFIX),
                task_id=task.id,
                command=argv,
                name=job_name(argv, request.name),
                host_id=self.supervisor.host_id,
                created_at=self._clock(),
                max_runtime_s=runtime,
                restartable=request.restartable,
            )
            await self._store.add_job(job)
            return await self.supervisor.launch(job, workspace.path)

    async def _check_caps(self, task_id: str) -> None:
        mine = await self._store.list_jobs(
            task_id=task_id, states=ACTIVE_JOB_STATES, limit=self._settings.max_per_task
        )
        if len(mine) >= self._settings.max_per_task:
            raise JobRefused(
                f"task {task_id} has {len(mine)} jobs running, its cap ([jobs] max_per_task); "
                "wait for one to end or cancel one"
            )
        here = await self._store.list_jobs(
            host_id=self.supervisor.host_id,
            states=ACTIVE_JOB_STATES,
            limit=self._settings.max_running,
        )
        if len(here) >= self._settings.max_running:
            raise JobRefused(
                f"{len(here)} jobs run on this host, its cap ([jobs] max_running); "
                "wait for one to end or cancel one"
            )

    async def job(self, job_id: str) -> Job:
        found = await self._store.job(job_id)
        if found is None:
            raise JobNotFound(job_id)
        return found

    async def jobs(
        self, *, task_id: str | None = None, states: Sequence[JobState] | None = None
    ) -> list[Job]:
        """Jobs newest first, of one task or of all."""
        return await self._store.list_jobs(task_id=task_id, states=states)

    async def output(self, job_id: str, tail_bytes: int = DEFAULT_TAIL_BYTES) -> str:
        """The end of the job's output, secrets masked."""
        await self.job(job_id)
        size = max(1, min(tail_bytes, MAX_TAIL_BYTES))
        return mask_secrets(self.supervisor.files(job_id).tail(size))

    async def cancel(self, job_id: str) -> Job:
        """Stop the job's process group (SIGTERM, SIGKILL after the grace) and end it."""
        job = await self.job(job_id)
        if not job.state.is_active:
            raise JobRefused(f"job {job_id} is {job.state} already")
        if job.host_id != self.supervisor.host_id:
            raise JobRefused(f"job {job_id} runs on host {job.host_id}: cancel it there")
        async with self.supervisor.lock:
            job = await self.job(job_id)  # the supervisor may have ended it meanwhile
            if not job.state.is_active:
                return job
            return await self.supervisor.stop_job(job, JobState.CANCELLED, "cancelled by request")


def shown_command(job: Job) -> str:
    """The job's command as one shell line."""
    if job.command[:2] == ("sh", "-c") and len(job.command) == 3:
        return job.command[2]
    return shlex.join(job.command)
