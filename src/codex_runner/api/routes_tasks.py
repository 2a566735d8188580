"""Task routes: submit, list, read, and the lifecycle actions (interrupt, resume, steer,
message, cancel), plus the task's turns and its branch's diff."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field
from starlette.requests import Request
from starlette.responses import Response

from codex_runner.api.inputs import metadata_filter
from codex_runner.domain.task import Task, TaskState
from codex_runner.http.errors import ERROR_RESPONSES
from codex_runner.http.routing import Router, model_response
from codex_runner.http.wire import (
    INT64_MAX,
    DiffOut,
    MessageBody,
    PromptBody,
    ResumeBody,
    TaskCreate,
)
from codex_runner.http.wire_inputs import (
    overrides_of,
    settings_of,
    task_options_of,
    turn_input_of,
)
from codex_runner.http.wire_tasks import TaskList, TaskOut
from codex_runner.http.wire_turns import TurnList, current_turn_id
from codex_runner.service.tasks import TaskService
from codex_runner.service.validation import workspace_request


def task_routes(service: TaskService) -> Router:
    router = Router(prefix="/v1/tasks", tags=["tasks"], responses=ERROR_RESPONSES)

    def out(task: Task) -> TaskOut:
        return TaskOut.of(task, attached=service.sessions.attached(task.id))

    @router.post(
        "",
        status=201,
        response=TaskOut,
        responses={200: {"model": TaskOut, "description": "The task with this idempotency key."}},
    )
    async def submit_task(body: TaskCreate) -> Response:
        """Queue a task; re-sending an idempotency key answers 200 with the existing task."""
        workspace = workspace_request(body.repo, body.base_ref, body.cwd)
        task, created = await service.submit_or_find(
            turn_input_of(body.prompt, body.input),
            workspace,
            priority=body.priority,
            settings=settings_of(body),
            max_runtime_s=body.max_runtime_s,
            idempotency_key=body.idempotency_key,
            thread_id=body.thread_id,
            options=task_options_of(body),
        )
        return model_response(out(task), 201 if created else 200)

    @router.get("")
    async def list_tasks(
        request: Request,
        state: Annotated[list[TaskState] | None, Field(description="Repeat to match several.")] = (
            None
        ),
        graph_id: str | None = None,
        purpose: Annotated[str | None, Field(max_length=64)] = None,
        limit: Annotated[int, Field(ge=1, le=1000)] = 100,
        offset: Annotated[int, Field(ge=0, le=INT64_MAX)] = 0,
    ) -> TaskList:
        """Tasks newest first. Filters: state (repeatable), graph_id, purpose, and any
        number of ``metadata.KEY=VALUE`` (each key must hold its value)."""
        tasks = await service.list_tasks(
            states=state or None,
            graph_id=graph_id,
            purpose=purpose,
            metadata=metadata_filter(request.query_params),
            limit=limit,
            offset=offset,
        )
        return TaskList(tasks=[out(t) for t in tasks])

    @router.get("/{task_id}")
    async def get_task(task_id: str) -> TaskOut:
        task = await service.get(task_id)
        turn_id = current_turn_id(await service.turns(task.id))
        return TaskOut.of(
            task, attached=service.sessions.attached(task.id), current_turn_id=turn_id
        )

    @router.get("/{task_id}/turns")
    async def task_turns(task_id: str) -> TurnList:
        """The task's turns by number: input, status, timing, usage, final message."""
        return TurnList.of(task_id, await service.turns(task_id))

    @router.post("/{task_id}/interrupt")
    async def interrupt_task(task_id: str) -> TaskOut:
        """Stop the live turn; the thread is kept and the task can be resumed."""
        return out(await service.interrupt(task_id))

    @router.post("/{task_id}/resume")
    async def resume_task(task_id: str, body: ResumeBody | None = None) -> TaskOut:
        """Re-queue an interrupted task on its thread, optionally with new input and
        overrides for the turn it runs."""
        if body is None:
            return out(await service.resume(task_id))
        given = None if body.prompt is None and body.input is None else body
        prompt = turn_input_of(body.prompt, body.input) if given is not None else None
        return out(await service.resume(task_id, prompt, overrides_of(body)))

    @router.post("/{task_id}/steer")
    async def steer_task(task_id: str, body: PromptBody) -> TaskOut:
        """Add input to the task's live turn."""
        await service.steer(task_id, body.prompt)
        return out(await service.get(task_id))

    @router.post("/{task_id}/message")
    async def message_task(task_id: str, body: MessageBody) -> TaskOut:
        """A follow-up for an interrupted or completed task, queued as its next turn (the
        overrides hold for that turn only)."""
        prompt = turn_input_of(body.prompt, body.input)
        return out(await service.message(task_id, prompt, overrides=overrides_of(body)))

    @router.post("/{task_id}/cancel")
    async def cancel_task(task_id: str) -> TaskOut:
        """End the task for good (a graph parent cancels its unfinished children)."""
        return out(await service.cancel(task_id))

    @router.get("/{task_id}/diff")
    async def task_diff(task_id: str) -> DiffOut:
        """The branch's diff; for a worktree gc removed, ``collected`` and when instead."""
        diff = await service.diff(task_id)
        task = await service.get(task_id)
        return DiffOut(
            task_id=task.id,
            branch=task.branch,
            summary=task.diff_summary,
            diff=diff.diff,
            collected=diff.collected,
            collected_at=diff.collected_at,
        )

    return router
