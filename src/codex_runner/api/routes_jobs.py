"""Background job routes (``/v1/jobs``; docs/jobs.md).

``POST /v1/jobs`` and ``GET /v1/jobs`` take the API token, the task's job key (header
``X-Codex-Runner-Task-Key``) or a chat session's helper key (``X-Codex-Runner-Session``, the
one the agent reads from its ``session.json``): the two keys open only their own task's jobs,
never the rest of the API, and with a session key the task may go unsaid. The routes on one
job take the API token.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from pydantic import Field
from starlette.exceptions import HTTPException

from codex_runner.domain.jobs import JobState
from codex_runner.http.auth import bearer_token
from codex_runner.http.errors import ERROR_RESPONSES
from codex_runner.http.routing import Header, Router
from codex_runner.http.wire_jobs import JobIn, JobList, JobOut, JobOutput
from codex_runner.runner_home.api_token import token_matches
from codex_runner.service.jobs import (
    DEFAULT_TAIL_BYTES,
    TASK_KEY_HEADER,
    JobNotFound,
    JobRefused,
    JobRequest,
    JobService,
    TaskKeys,
)

Authorization = Annotated[str | None, Header("Authorization")]
TaskKey = Annotated[str | None, Header(TASK_KEY_HEADER)]
SESSION_HEADER = "X-Codex-Runner-Session"  # the Slack helper's (bridges.slack.session_files)
SessionKey = Annotated[str | None, Header(SESSION_HEADER)]
SessionTask = Callable[[str], str | None]  # a chat session's helper key -> its task id


def job_routes(
    jobs: JobService, *, token: str, keys: TaskKeys, session_task: SessionTask = lambda _: None
) -> list[Router]:
    """Two routers: the task-key ones (they check their credential themselves) and the
    API-token ones. ``session_task`` names the task of a chat session's helper key."""
    keyed = Router(
        prefix="/v1/jobs", tags=["jobs"], responses=ERROR_RESPONSES, authenticates_itself=True
    )
    router = Router(prefix="/v1/jobs", tags=["jobs"], responses=ERROR_RESPONSES)

    def check(
        authorization: str | None, task_key: str | None, session: str | None, task_id: str | None
    ) -> str | None:
        """The task the request may act on (None: any, with the API token)."""
        presented = bearer_token(authorization)
        if presented is not None and token_matches(token, presented):
            return task_id
        if session is not None:
            own = session_task(session)
            if own is None:
                raise HTTPException(403, "unknown session key; read it from session.json")
            if task_id not in (None, own):
                raise HTTPException(403, "a session key opens only its own task's jobs")
            return own
        if task_key is None:
            raise HTTPException(
                401, f"send the API token, the task's {TASK_KEY_HEADER} or {SESSION_HEADER}"
            )
        if task_id is None or not keys.opens(task_key, task_id):
            raise HTTPException(403, "a task key opens only its own task's jobs")
        return task_id

    @keyed.post("", status=201, response=JobOut)
    async def start_job(
        body: JobIn,
        authorization: Authorization = None,
        task_key: TaskKey = None,
        session: SessionKey = None,
    ) -> JobOut:
        """Start a command in the task's workspace; it reports back to the task when it
        ends. Refused (409) over the per-task or per-host cap."""
        task_id = check(authorization, task_key, session, body.task_id)
        if task_id is None:
            raise HTTPException(422, "task_id is missing: name the task the job reports to")
        request = JobRequest(
            task_id=task_id,
            command=body.command,
            name=body.name,
            restartable=body.restartable,
            max_runtime_s=body.max_runtime_s,
        )
        try:
            return JobOut.of(await jobs.start_job(request))
        except JobRefused as exc:
            raise HTTPException(409, str(exc)) from None

    @keyed.get("")
    async def list_jobs(
        task_id: str | None = None,
        state: Annotated[list[JobState] | None, Field(description="Repeat for several.")] = None,
        authorization: Authorization = None,
        task_key: TaskKey = None,
        session: SessionKey = None,
    ) -> JobList:
        """Jobs newest first, of one task or all (a task or session key: its own task only)."""
        task_id = check(authorization, task_key, session, task_id)
        found = await jobs.jobs(task_id=task_id, states=state)
        return JobList(jobs=[JobOut.of(j) for j in found])

    @router.get("/{job_id}")
    async def get_job(job_id: str) -> JobOut:
        try:
            return JobOut.of(await jobs.job(job_id))
        except JobNotFound as exc:
            raise HTTPException(404, str(exc)) from None

    @router.get("/{job_id}/logs")
    async def job_logs(
        job_id: str, tail_bytes: Annotated[int, Field(ge=1)] = DEFAULT_TAIL_BYTES
    ) -> JobOutput:
        """The end of the job's output (stdout and stderr), secrets masked."""
        try:
            return JobOutput(job_id=job_id, output=await jobs.output(job_id, tail_bytes))
        except JobNotFound as exc:
            raise HTTPException(404, str(exc)) from None

    @router.post("/{job_id}/cancel")
    async def cancel_job(job_id: str) -> JobOut:
        """Stop the job's process group (SIGTERM, then SIGKILL after [jobs] kill_grace_s)."""
        try:
            return JobOut.of(await jobs.cancel(job_id))
        except JobNotFound as exc:
            raise HTTPException(404, str(exc)) from None
        except JobRefused as exc:
            raise HTTPException(409, str(exc)) from None

    return [keyed, router]
