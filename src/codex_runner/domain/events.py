"""Canonical Codex events: one normalized model for every Codex runtime.

Both runtimes (the long-lived ``codex app-server`` and ``codex exec --json`` per turn)
translate what Codex tells them into these plain values, so everything above the engine
(the task service, the CLI, the HTTP API, chat bridges) reads one vocabulary. Events are
frozen dataclasses that round-trip through JSON (``to_dict`` / ``event_from_dict``).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, is_dataclass
from enum import StrEnum
from typing import Any


class EventKind(StrEnum):
    THREAD_STARTED = "thread.started"
    THREAD_RESUMED = "thread.resumed"
    # The old thread could not be resumed (rollout missing or empty); a fresh thread
    # carrying the earlier context replaced it.
    THREAD_REPLACED = "thread.replaced"
    TURN_STARTED = "turn.started"
    TURN_COMPLETED = "turn.completed"
    TURN_FAILED = "turn.failed"
    TURN_INTERRUPTED = "turn.interrupted"
    TURN_STEERED = "turn.steered"
    ITEM_STARTED = "item.started"
    ITEM_COMPLETED = "item.completed"
    TOKEN_USAGE = "token_usage.updated"
    APPROVAL_REQUESTED = "approval.requested"
    APPROVAL_RESOLVED = "approval.resolved"
    ERROR = "error"
    WARNING = "warning"


class ItemType(StrEnum):
    USER_MESSAGE = "user_message"
    AGENT_MESSAGE = "agent_message"
    REASONING = "reasoning"
    COMMAND_EXECUTION = "command_execution"
    FILE_CHANGE = "file_change"
    MCP_TOOL_CALL = "mcp_tool_call"
    WEB_SEARCH = "web_search"
    PLAN = "plan"
    OTHER = "other"


class TurnStatus(StrEnum):
    COMPLETED = "completed"
    FAILED = "failed"
    INTERRUPTED = "interrupted"


class FailureClass(StrEnum):
    """Why a turn did not complete; stable strings that callers may branch on."""

    TRANSPORT_CLOSED_BEFORE_TURN_COMPLETED = "transport_closed_before_turn_completed"
    MODEL_ERROR = "model_error"
    MODEL_STREAM_DISCONNECTED = "model_stream_disconnected"
    USAGE_LIMIT = "usage_limit"
    UNAUTHORIZED = "unauthorized"
    CONTEXT_WINDOW_EXCEEDED = "context_window_exceeded"
    TURN_IDLE_TIMEOUT = "turn_idle_timeout"
    PROTOCOL_ERROR = "protocol_error"
    RUNTIME_UNAVAILABLE = "runtime_unavailable"
    PROCESS_EXITED = "process_exited"
    # The final message does not parse as JSON or does not match the turn's output schema.
    OUTPUT_SCHEMA_MISMATCH = "output_schema_mismatch"
    INTERNAL = "internal"


class ApprovalKind(StrEnum):
    COMMAND = "command"
    FILE_CHANGE = "file_change"
    PERMISSIONS = "permissions"
    USER_INPUT = "user_input"
    ELICITATION = "elicitation"


@dataclass(frozen=True)
class TokenUsage:
    input_tokens: int = 0
    cached_input_tokens: int = 0
    output_tokens: int = 0
    reasoning_output_tokens: int = 0
    total_tokens: int = 0

    def plus(self, other: TokenUsage) -> TokenUsage:
        return TokenUsage(
            self.input_tokens + other.input_tokens,
            self.cached_input_tokens + other.cached_input_tokens,
            self.output_tokens + other.output_tokens,
            self.reasoning_output_tokens + other.reasoning_output_tokens,
            self.total_tokens + other.total_tokens,
        )


@dataclass(frozen=True)
class FileChange:
    path: str
    kind: str  # add | delete | update
    diff: str | None = None


@dataclass(frozen=True)
class Item:
    """One thing Codex did or said inside a turn."""

    id: str
    type: ItemType
    text: str | None = None  # agent message, reasoning summary, plan, user message
    command: str | None = None
    cwd: str | None = None
    exit_code: int | None = None
    output: str | None = None  # aggregated command output
    status: str | None = None  # Codex's own item status, e.g. completed / failed / declined
    changes: tuple[FileChange, ...] = ()
    raw_type: str | None = None  # Codex's own item type name, kept for OTHER items


@dataclass(frozen=True)
class ErrorInfo:
    message: str
    failure_class: FailureClass
    detail: str | None = None
    will_retry: bool = False
    http_status: int | None = None  # the model provider's HTTP status, when Codex said it


@dataclass(frozen=True)
class ApprovalRequest:
    """Codex asks before it acts; the runner answers with one of ``available_decisions``."""

    id: str
    kind: ApprovalKind
    thread_id: str
    turn_id: str | None
    item_id: str | None = None
    command: str | None = None
    cwd: str | None = None
    reason: str | None = None
    changes: tuple[FileChange, ...] = ()
    available_decisions: tuple[str, ...] = ("accept", "decline")


@dataclass(frozen=True)
class CodexEvent:
    kind: EventKind
    thread_id: str | None = None
    turn_id: str | None = None
    item: Item | None = None
    usage: TokenUsage | None = None
    error: ErrorInfo | None = None
    approval: ApprovalRequest | None = None
    decision: str | None = None  # for approval.resolved
    message: str | None = None  # warnings, final agent message on turn end, notes
    data: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict without empty fields (what ``dataclasses.asdict`` would give,
        minus its deep copies: this runs for every event Codex sends, and ``asdict`` alone
        capped event ingest below 16,000 events/s on one core). ``data`` is shared, not copied.
        """
        raw = _as_dict(self)
        return {k: v for k, v in raw.items() if v not in (None, {}, ())}


_FIELD_NAMES: dict[type, tuple[str, ...]] = {}


def _as_dict(obj: Any) -> dict[str, Any]:
    """A dataclass as a dict, nested dataclasses (alone or in tuples) as dicts too."""
    names = _FIELD_NAMES.get(type(obj))
    if names is None:
        names = _FIELD_NAMES[type(obj)] = tuple(f.name for f in fields(obj))
    out: dict[str, Any] = {}
    for name in names:
        value = getattr(obj, name)
        if value is None or isinstance(value, str | int | float):
            pass
        elif is_dataclass(value):
            value = _as_dict(value)
        elif isinstance(value, tuple) and value and is_dataclass(value[0]):
            value = tuple(_as_dict(v) for v in value)
        out[name] = value
    return out


def event_from_dict(raw: dict[str, Any]) -> CodexEvent:
    """Inverse of ``CodexEvent.to_dict``; raises ``ValueError`` on unknown kinds."""
    item = raw.get("item")
    usage = raw.get("usage")
    error = raw.get("error")
    approval = raw.get("approval")
    return CodexEvent(
        kind=EventKind(raw["kind"]),
        thread_id=raw.get("thread_id"),
        turn_id=raw.get("turn_id"),
        item=_item_from_dict(item) if item else None,
        usage=TokenUsage(**usage) if usage else None,
        error=(
            ErrorInfo(
                message=error["message"],
                failure_class=FailureClass(error["failure_class"]),
                detail=error.get("detail"),
                will_retry=bool(error.get("will_retry", False)),
                http_status=error.get("http_status"),
            )
            if error
            else None
        ),
        approval=_approval_from_dict(approval) if approval else None,
        decision=raw.get("decision"),
        message=raw.get("message"),
        data=dict(raw.get("data") or {}),
    )


def _changes(raw: Any) -> tuple[FileChange, ...]:
    return tuple(FileChange(**c) for c in (raw or ()))


def _item_from_dict(raw: dict[str, Any]) -> Item:
    fields = dict(raw)
    fields["type"] = ItemType(fields["type"])
    fields["changes"] = _changes(fields.get("changes"))
    return Item(**fields)


def _approval_from_dict(raw: dict[str, Any]) -> ApprovalRequest:
    fields = dict(raw)
    fields["kind"] = ApprovalKind(fields["kind"])
    fields["changes"] = _changes(fields.get("changes"))
    fields["available_decisions"] = tuple(fields.get("available_decisions") or ())
    return ApprovalRequest(**fields)
