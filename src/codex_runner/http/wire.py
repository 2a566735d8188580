"""The API's JSON shapes (request bodies and responses), shared by the server and the CLI.

Responses are built from domain values with the ``of`` constructors; request models forbid
unknown fields, so a typo is a 422 naming the field instead of a silently ignored option.

Why here and not in ``api/``: the shapes are the contract between the daemon and its
clients, not part of the server. The CLI imports them, and an adapter must not import
another adapter; so they sit in the plumbing the adapters share, and import nothing of the
server side (no Starlette, no routes): only pydantic and the values they carry, so a CLI
command that reads them loads no web framework. The request checks are the service's own
(:mod:`codex_runner.service.validation`), so a value is judged by one rule on both ends.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field
from pydantic_core import PydanticCustomError

from codex_runner.codex.runtime import RuntimeStatus
from codex_runner.config import ApprovalPolicy, SandboxMode
from codex_runner.domain.approval import Approval
from codex_runner.domain.durable_event import TaskEvent
from codex_runner.domain.task import REASONING_EFFORTS, TaskState
from codex_runner.http.wire_link import LinkOut
from codex_runner.http.wire_options import (
    OneInput,
    OutputFields,
    SessionFields,
    TurnFields,
    TurnInputIn,
)
from codex_runner.http.wire_tasks import TaskOut
from codex_runner.service import validation
from codex_runner.service.errors import InvalidRequest

# The store's integers are 64-bit: a larger offset or sequence number is refused as bad
# input (naming its field) instead of failing in the database.
INT64_MAX = 2**63 - 1


class _Request(BaseModel):
    # Validators are built on the first request that needs them, not while the daemon
    # starts (responses are built at start: /v1/status needs them right away).
    model_config = ConfigDict(extra="forbid", defer_build=True)


# --- requests ----------------------------------------------------------------------------


def _checked_by(check: Callable[[Any], Any]) -> BeforeValidator:
    """Judge the raw JSON value with the service's own check (no coercion: ``true`` and
    ``"5"`` are not integers); its message, which names the rule, becomes pydantic's."""

    def validate(value: Any) -> Any:
        try:
            return check(value)
        except InvalidRequest as exc:
            raise PydanticCustomError("invalid_request", "{rule}", {"rule": str(exc)}) from exc

    return BeforeValidator(validate)


def _optional_priority(value: Any) -> int | None:
    return None if value is None else validation.check_priority(value)


Priority = Annotated[
    int,
    _checked_by(validation.check_priority),
    Field(ge=validation.PRIORITY_MIN, le=validation.PRIORITY_MAX, description="Higher runs first."),
]
# Constraints on the member, not the union: pydantic cannot apply them to None.
MaxRuntime = Annotated[
    Annotated[float, Field(gt=0, le=validation.MAX_RUNTIME_LIMIT_S)] | None,
    _checked_by(validation.check_max_runtime),
    Field(description="Seconds; finite."),
]
ModelName = Annotated[
    Annotated[str, Field(max_length=validation.MODEL_NAME_MAX)] | None,
    _checked_by(validation.check_model),
    Field(description="One line; default from config."),
]
Effort = Annotated[
    str | None,
    _checked_by(validation.check_effort),
    Field(description=f"Reasoning effort: one of {', '.join(REASONING_EFFORTS)}."),
]


class _WorkOptions(_Request):
    """Where and how work runs: shared by a task and a graph (whose children inherit it)."""

    repo: str | None = Field(default=None, description="Absolute path of a git repository.")
    base_ref: str | None = Field(default=None, description="Commit-ish; default the repo's HEAD.")
    cwd: str | None = Field(default=None, description="Absolute path: run in place, no worktree.")
    priority: Priority = 0
    model: ModelName = None
    effort: Effort = None
    sandbox: SandboxMode | None = None
    approval_policy: ApprovalPolicy | None = None
    max_runtime_s: MaxRuntime = None
    idempotency_key: str | None = Field(default=None, min_length=1, max_length=200)


class TaskCreate(OneInput, _WorkOptions, SessionFields, OutputFields):
    """A task: its input (prompt or input items), workspace, settings and options."""

    thread_id: str | None = Field(
        default=None,
        max_length=100,
        description="Adopt this existing Codex thread (`GET /v1/threads`) as the task's.",
    )
    turn_cwd: str | None = Field(
        default=None,
        max_length=4096,
        description="The first turn's directory inside the workspace (later turns: cwd).",
    )


class PromptBody(_Request):
    """Body of steer."""

    prompt: str = Field(min_length=1, max_length=200_000)


class MessageBody(OneInput, TurnFields):
    """A follow-up: its input, and overrides for its turn only."""


class ResumeBody(TurnFields):
    """A resume, optionally with new input and overrides for the turn it runs."""

    prompt: str | None = Field(default=None, max_length=200_000)
    input: TurnInputIn = None


class DecisionBody(_Request):
    decision: str = Field(min_length=1, max_length=100, description="One the approval offers.")
    by: str | None = Field(default=None, max_length=200, description="Who decides (for the log).")


class ChildCreate(_Request):
    key: str = Field(min_length=1, max_length=64)
    output_schema: dict[str, Any] | None = Field(
        default=None, description="A JSON Schema this child's final message must match."
    )
    prompt: str = Field(min_length=1, max_length=200_000)
    depends_on: list[str] = Field(default_factory=list, max_length=1000)
    priority: Annotated[
        Annotated[int, Field(ge=validation.PRIORITY_MIN, le=validation.PRIORITY_MAX)] | None,
        _checked_by(_optional_priority),
        Field(description="Default: the graph's priority."),
    ] = None


class GraphCreate(_WorkOptions, SessionFields, OutputFields):
    """A graph; its session options, purpose and metadata hold for the parent and every
    child, its summary and output_schema for the parent's own turn."""

    prompt: str | None = Field(
        default=None, max_length=200_000, description="The parent's own prompt; runs last."
    )
    children: list[ChildCreate] = Field(min_length=1, max_length=1000)
    max_concurrent: int | None = Field(
        default=None,
        ge=1,
        description="At most this many of the graph's children run at once (any positive"
        " integer; the daemon's max_concurrent_tasks still bounds everything). Default: no"
        " limit of the graph's own.",
    )


class GcBody(_Request):
    retention_s: float | None = Field(default=None, ge=0, description="Default from config.")
    force: bool = Field(default=False, description="Also remove branches with unmerged work.")
    dry_run: bool = Field(default=False, description="List what would go, removing nothing.")


# --- responses ---------------------------------------------------------------------------


class EventOut(BaseModel):
    task_id: str
    seq: int
    type: str
    at: datetime
    data: dict[str, Any]

    @classmethod
    def of(cls, event: TaskEvent) -> EventOut:
        return cls(
            task_id=event.task_id, seq=event.seq, type=event.type, at=event.at, data=event.data
        )


class EventList(BaseModel):
    events: list[EventOut]
    last_seq: int = Field(description="Pass as ?after= to read the next page.")

    @classmethod
    def page(cls, events: Sequence[TaskEvent], after: int) -> EventList:
        """A page read after ``after``; an empty one keeps ``after`` as its last seq."""
        last = events[-1].seq if events else after
        return cls(events=[EventOut.of(e) for e in events], last_seq=last)


class FileChangeOut(BaseModel):
    path: str
    kind: str
    diff: str | None = None


class ApprovalOut(BaseModel):
    id: str
    task_id: str
    kind: str
    state: str
    command: str | None
    cwd: str | None
    reason: str | None
    changes: list[FileChangeOut]
    available_decisions: list[str]
    decision: str | None
    decided_by: str | None
    created_at: datetime
    decided_at: datetime | None

    @classmethod
    def of(cls, approval: Approval) -> ApprovalOut:
        return cls(
            id=approval.id,
            task_id=approval.task_id,
            kind=str(approval.kind),
            state=str(approval.state),
            command=approval.command,
            cwd=approval.cwd,
            reason=approval.reason,
            changes=[
                FileChangeOut(path=c.path, kind=str(c.kind), diff=c.diff) for c in approval.changes
            ],
            available_decisions=list(approval.available_decisions),
            decision=approval.decision,
            decided_by=approval.decided_by,
            created_at=approval.created_at,
            decided_at=approval.decided_at,
        )


class ApprovalList(BaseModel):
    approvals: list[ApprovalOut]


class GraphOut(BaseModel):
    id: str
    state: TaskState = Field(description="The graph's state, derived from parent and children.")
    parent: TaskOut
    children: list[TaskOut] = Field(description="In a valid run order; see each depends_on.")
    blocked: list[str] = Field(description="Children that can never start: a prerequisite failed.")
    max_concurrent: int | None = Field(
        default=None, description="At most this many children run at once (null: no limit)."
    )


class DiffOut(BaseModel):
    task_id: str
    branch: str | None
    summary: str | None
    diff: str
    collected: bool = Field(
        default=False, description="gc removed the worktree and its branch: no diff is left."
    )
    collected_at: datetime | None = Field(default=None, description="When gc removed it.")


class RuntimeOut(BaseModel):
    kind: str
    state: str
    pid: int | None
    codex_version: str | None
    restarts: int
    uptime_s: float | None
    last_error: str | None
    warnings: list[str]

    @classmethod
    def of(cls, status: RuntimeStatus, now: float) -> RuntimeOut:
        uptime = None if status.started_at is None else max(0.0, now - status.started_at)
        return cls(
            kind=status.kind,
            state=status.state,
            pid=status.pid,
            codex_version=status.codex_version,
            restarts=status.restarts,
            uptime_s=uptime,
            last_error=status.last_error,
            warnings=list(status.warnings),
        )


class StatusOut(BaseModel):
    runtime: RuntimeOut
    counts: dict[str, int]
    active: list[TaskOut]
    max_concurrent: int
    version: str
    link: LinkOut | None = Field(default=None, description="The chat server link, if any.")


class RemovedWorktreeOut(BaseModel):
    task_id: str
    path: str
    branch: str | None
    bytes: int | None = Field(default=None, description="What the worktree took on disk.")


class GcOut(BaseModel):
    dry_run: bool = Field(default=False, description="Nothing was removed: what would go.")
    removed: list[str] = Field(description="Task ids whose worktrees were removed.")
    removed_worktrees: list[RemovedWorktreeOut] = Field(
        default_factory=list, description="Each removed worktree: its task, path and branch."
    )
    kept: list[dict[str, str]] = Field(description="task_id, reason, detail of each kept one.")


class ErrorDetail(BaseModel):
    code: str = Field(description="Stable machine name, e.g. invalid_request, not_found.")
    message: str
    field: str | None = None


class ErrorOut(BaseModel):
    error: ErrorDetail


class HealthOut(BaseModel):
    ok: bool


# --- auth profiles (/v1/auth/profile) ---------------------------------------------------


class ProfileSwitchBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    mode: Literal["now", "when_idle", "force"] = "now"


class ProfileOut(BaseModel):
    name: str
    auth_mode: str
    active: bool


class ProfileStateOut(BaseModel):
    active: str
    pending: str | None
    last_error: str | None
    profiles: list[ProfileOut]


class ProfileSwitchOut(BaseModel):
    active: str
    pending: str | None
    applied: bool
    message: str
