"""Live session routes: attach the Codex TUI to a task's thread, list Codex threads."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import Field
from starlette.responses import Response

from codex_runner.http.errors import ERROR_RESPONSES
from codex_runner.http.routing import Router, model_response
from codex_runner.http.wire_sessions import AttachCreate, AttachOut, ThreadList, ThreadOut
from codex_runner.service.errors import InvalidRequest
from codex_runner.service.tasks import TaskService


def session_routes(service: TaskService) -> Router:
    router = Router(prefix="/v1", tags=["sessions"], responses=ERROR_RESPONSES)
    sessions = service.sessions

    @router.get("/tasks/{task_id}/attach")
    async def attach_target(task_id: str) -> AttachOut:
        """How to open the Codex TUI on the task's thread (409 while it has none yet)."""
        return AttachOut.of(await sessions.target(await service.get(task_id)))

    @router.post("/tasks/{task_id}/attach", status=201, response=AttachOut)
    async def open_attachment(task_id: str, body: AttachCreate) -> Response:
        """Record that a local process attaches (the task shows `attached: true` while it
        runs) and keep the thread loaded and followed by the runner meanwhile."""
        attachment, target = await sessions.open(await service.get(task_id), body.pid)
        return model_response(AttachOut.of(target, attachment), 201)

    @router.route("DELETE", "/tasks/{task_id}/attach/{attachment_id}", status=204)
    async def close_attachment(task_id: str, attachment_id: str) -> Response:
        await sessions.close(task_id, attachment_id)
        return Response(status_code=204)

    @router.get("/threads")
    async def list_threads(
        cwd: Annotated[str | None, Field(description="Only threads started here.")] = None,
        limit: Annotated[int, Field(ge=1, le=200)] = 50,
    ) -> ThreadList:
        """The Codex threads the runner's Codex home knows, newest first."""
        if cwd is not None and not Path(cwd).is_absolute():
            raise InvalidRequest("cwd", f"{cwd!r} is not an absolute path")
        found = await sessions.threads(Path(cwd) if cwd else None, limit)
        return ThreadList(threads=[ThreadOut.of(thread, owner) for thread, owner in found])

    return router
