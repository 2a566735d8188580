"""The JSON of live sessions: attaching the Codex TUI to a task, and the Codex threads."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field

if TYPE_CHECKING:  # the CLI reads these models without loading the service
    from codex_runner.codex.thread_catalog import ThreadSummary
    from codex_runner.service.live_sessions import Attachment, AttachTarget


class AttachOut(BaseModel):
    """How to open the Codex TUI on the task's thread, against the runner's app-server."""

    task_id: str
    remote: str = Field(description="The app-server's address (unix:///PATH or ws://HOST:PORT).")
    thread_id: str
    command: list[str] = Field(description="Run it with `env` set, and no `-c` overrides.")
    env: dict[str, str]
    attachment_id: str | None = Field(
        default=None, description="Set when an attachment was opened (POST)."
    )

    @classmethod
    def of(cls, target: AttachTarget, attachment: Attachment | None = None) -> AttachOut:
        return cls(
            task_id=target.task_id,
            remote=target.remote,
            thread_id=target.thread_id,
            command=list(target.command),
            env=dict(target.env),
            attachment_id=attachment.id if attachment is not None else None,
        )


class AttachCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    pid: int = Field(
        gt=0,
        le=2**31,
        description="The local process that runs the Codex TUI; the attachment ends with it.",
    )


class ThreadOut(BaseModel):
    id: str
    cwd: str | None
    preview: str
    name: str | None
    created_at: datetime | None
    updated_at: datetime | None
    task_id: str | None = Field(description="The task whose thread it is, if any.")

    @classmethod
    def of(cls, thread: ThreadSummary, task_id: str | None) -> ThreadOut:
        return cls(
            id=thread.id,
            cwd=thread.cwd,
            preview=thread.preview,
            name=thread.name,
            created_at=thread.created_at,
            updated_at=thread.updated_at,
            task_id=task_id,
        )


class ThreadList(BaseModel):
    threads: list[ThreadOut]
