"""A task as the API shows it (its usage, its options, its result)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from codex_runner.domain.events import TokenUsage
from codex_runner.domain.task import Task, TaskState


def session_fields(task: Task) -> dict[str, Any]:
    """The task's session options, each as its own field."""
    session = task.session
    return {
        "developer_instructions": session.developer_instructions,
        "base_instructions": session.base_instructions,
        "personality": session.personality,
        "service_tier": session.service_tier,
        "model_provider": session.model_provider,
        "config": dict(session.config),
        "ephemeral": session.ephemeral,
        "runtime": session.runtime,
    }


class UsageOut(BaseModel):
    input_tokens: int
    cached_input_tokens: int
    output_tokens: int
    reasoning_output_tokens: int
    total_tokens: int

    @classmethod
    def of(cls, usage: TokenUsage) -> UsageOut:
        return cls(
            input_tokens=usage.input_tokens,
            cached_input_tokens=usage.cached_input_tokens,
            output_tokens=usage.output_tokens,
            reasoning_output_tokens=usage.reasoning_output_tokens,
            total_tokens=usage.total_tokens,
        )


class TaskOut(BaseModel):
    id: str
    prompt: str
    state: TaskState
    reason: str | None
    priority: int
    repo: str | None
    base_ref: str | None
    cwd: str | None
    model: str | None
    effort: str | None
    sandbox: str | None
    approval_policy: str | None
    created_at: datetime
    updated_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    thread_id: str | None
    usage: UsageOut
    final_message: str | None
    branch: str | None
    diff_summary: str | None
    parent_id: str | None
    graph_id: str | None
    key: str | None
    depends_on: list[str]
    max_runtime_s: float
    idempotency_key: str | None
    attempts: int
    pending_message: str | None
    developer_instructions: str | None = None
    base_instructions: str | None = None
    personality: str | None = None
    service_tier: str | None = None
    model_provider: str | None = None
    config: dict[str, Any] = Field(default_factory=dict, description="Codex config overrides.")
    ephemeral: bool = False
    runtime: str | None = Field(
        default=None, description="app-server or exec; null: the daemon's [codex] runtime."
    )
    purpose: str | None = None
    metadata: dict[str, str] = Field(default_factory=dict)
    result: Any = Field(
        default=None,
        description="The validated JSON of the latest turn, when it had an output_schema "
        "(see has_result: a result may itself be null).",
    )
    has_result: bool = False
    host_id: str | None = Field(default=None, description="The host that claimed it last.")
    lease: int = Field(default=0, description="Grows on every claim and takeover.")
    attached: bool = Field(
        default=False,
        description="A person's Codex client is attached to the task's thread, or runs a turn "
        "on it (see GET /v1/tasks/{id}/attach).",
    )
    current_turn_id: str | None = Field(
        default=None,
        description="Codex's id of the current or last turn (null before the first); given "
        "when one task is read (GET /v1/tasks/{id}), null in lists and action answers.",
    )

    @classmethod
    def of(
        cls, task: Task, *, attached: bool = False, current_turn_id: str | None = None
    ) -> TaskOut:
        u = task.usage
        return cls(
            id=task.id,
            prompt=task.prompt,
            state=task.state,
            reason=task.reason,
            priority=task.priority,
            repo=task.workspace.repo,
            base_ref=task.workspace.base_ref,
            cwd=task.workspace.cwd,
            model=task.settings.model,
            effort=task.settings.effort,
            sandbox=task.settings.sandbox,
            approval_policy=task.settings.approval_policy,
            created_at=task.created_at,
            updated_at=task.updated_at,
            started_at=task.started_at,
            finished_at=task.finished_at,
            thread_id=task.thread_id,
            usage=UsageOut.of(u),
            final_message=task.final_message,
            branch=task.branch,
            diff_summary=task.diff_summary,
            parent_id=task.parent_id,
            graph_id=task.graph_id,
            key=task.key,
            depends_on=list(task.depends_on),
            max_runtime_s=task.max_runtime_s,
            idempotency_key=task.idempotency_key,
            attempts=task.attempts,
            pending_message=task.pending_message,
            **session_fields(task),
            purpose=task.purpose,
            metadata=dict(task.metadata),
            result=json.loads(task.result_json) if task.result_json is not None else None,
            has_result=task.result_json is not None,
            host_id=task.host_id,
            lease=task.lease,
            attached=attached,
            current_turn_id=current_turn_id,
        )


class TaskList(BaseModel):
    tasks: list[TaskOut]
