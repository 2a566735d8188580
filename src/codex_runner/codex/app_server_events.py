"""Translate app-server (protocol v2) payloads into canonical events. Pure functions."""

from __future__ import annotations

from typing import Any

from codex_runner.codex.model_errors import MAX_ERROR_CHARS, http_status_of, model_error_message
from codex_runner.codex.safe_text import safe_text
from codex_runner.domain.delta import Delta, DeltaKind
from codex_runner.domain.events import (
    ApprovalKind,
    ApprovalRequest,
    ErrorInfo,
    FailureClass,
    FileChange,
    Item,
    ItemType,
    TokenUsage,
)

ITEM_TYPES: dict[str, ItemType] = {
    "userMessage": ItemType.USER_MESSAGE,
    "agentMessage": ItemType.AGENT_MESSAGE,
    "reasoning": ItemType.REASONING,
    "commandExecution": ItemType.COMMAND_EXECUTION,
    "fileChange": ItemType.FILE_CHANGE,
    "mcpToolCall": ItemType.MCP_TOOL_CALL,
    "webSearch": ItemType.WEB_SEARCH,
    "plan": ItemType.PLAN,
}

APPROVAL_METHODS: dict[str, ApprovalKind] = {
    "item/commandExecution/requestApproval": ApprovalKind.COMMAND,
    "item/fileChange/requestApproval": ApprovalKind.FILE_CHANGE,
    "item/permissions/requestApproval": ApprovalKind.PERMISSIONS,
    "item/tool/requestUserInput": ApprovalKind.USER_INPUT,
    "mcpServer/elicitation/request": ApprovalKind.ELICITATION,
}

_DEFAULT_DECISIONS: dict[ApprovalKind, tuple[str, ...]] = {
    ApprovalKind.COMMAND: ("accept", "acceptForSession", "decline", "cancel"),
    ApprovalKind.FILE_CHANGE: ("accept", "acceptForSession", "decline", "cancel"),
    ApprovalKind.PERMISSIONS: ("accept", "decline"),
    ApprovalKind.USER_INPUT: ("decline",),
    ApprovalKind.ELICITATION: ("accept", "decline", "cancel"),
}


def _text_of(parts: Any) -> str:
    if isinstance(parts, str):
        return parts
    if isinstance(parts, list):
        out = []
        for part in parts:
            if isinstance(part, str):
                out.append(part)
            elif isinstance(part, dict) and isinstance(part.get("text"), str):
                out.append(part["text"])
        return "\n".join(out)
    return ""


def file_changes(raw: Any) -> tuple[FileChange, ...]:
    if isinstance(raw, dict):  # {path: change}
        raw = [{"path": path, **(change or {})} for path, change in raw.items()]
    changes = []
    for change in raw or ():
        if not isinstance(change, dict):
            continue
        kind = change.get("kind") or change.get("type") or "update"
        if isinstance(kind, dict):
            kind = kind.get("type", "update")
        diff = change.get("diff") or change.get("unified_diff") or change.get("content")
        changes.append(FileChange(path=str(change.get("path", "")), kind=str(kind), diff=diff))
    return tuple(changes)


def item_from_wire(raw: dict[str, Any]) -> Item:
    raw_type = str(raw.get("type", ""))
    item_type = ITEM_TYPES.get(raw_type, ItemType.OTHER)
    text: str | None = None
    if item_type in (ItemType.AGENT_MESSAGE, ItemType.PLAN):
        text = raw.get("text")
    elif item_type is ItemType.REASONING:
        text = _text_of(raw.get("summary")) or _text_of(raw.get("content")) or None
    elif item_type is ItemType.USER_MESSAGE:
        text = _text_of(raw.get("content")) or None
    status = raw.get("status")
    exit_code = raw.get("exitCode")
    return Item(
        id=str(raw.get("id", "")),
        type=item_type,
        text=text,
        command=raw.get("command") if isinstance(raw.get("command"), str) else None,
        cwd=raw.get("cwd") if isinstance(raw.get("cwd"), str) else None,
        exit_code=exit_code if isinstance(exit_code, int) else None,
        output=raw.get("aggregatedOutput"),
        status=status if isinstance(status, str) else None,
        changes=file_changes(raw.get("changes")),
        raw_type=raw_type if item_type is ItemType.OTHER else None,
    )


def usage_from_wire(raw: dict[str, Any] | None) -> TokenUsage:
    raw = raw or {}
    return TokenUsage(
        input_tokens=int(raw.get("inputTokens", 0) or 0),
        cached_input_tokens=int(raw.get("cachedInputTokens", 0) or 0),
        output_tokens=int(raw.get("outputTokens", 0) or 0),
        reasoning_output_tokens=int(raw.get("reasoningOutputTokens", 0) or 0),
        total_tokens=int(raw.get("totalTokens", 0) or 0),
    )


def failure_class_of(info: Any) -> FailureClass:
    """Map Codex's ``codexErrorInfo`` onto our stable failure classes."""
    name = next(iter(info), "") if isinstance(info, dict) else str(info or "")
    return {
        "usageLimitExceeded": FailureClass.USAGE_LIMIT,
        "rateLimitExceeded": FailureClass.USAGE_LIMIT,
        "sessionBudgetExceeded": FailureClass.USAGE_LIMIT,
        "unauthorized": FailureClass.UNAUTHORIZED,
        "contextWindowExceeded": FailureClass.CONTEXT_WINDOW_EXCEEDED,
        "responseStreamDisconnected": FailureClass.MODEL_STREAM_DISCONNECTED,
    }.get(name, FailureClass.MODEL_ERROR)


def error_from_wire(raw: dict[str, Any] | None, will_retry: bool = False) -> ErrorInfo:
    """A ``TurnError`` as an :class:`ErrorInfo` that names the model provider's HTTP status
    (see :mod:`codex_runner.codex.model_errors`), with its text safe to show."""
    raw = raw or {}
    info = raw.get("codexErrorInfo")
    message = str(raw.get("message") or "Codex reported an error")
    status = http_status_of(info)
    detail = raw.get("additionalDetails")
    return ErrorInfo(
        message=model_error_message(message, status),
        failure_class=failure_class_of(info),
        detail=safe_text(detail, MAX_ERROR_CHARS) if isinstance(detail, str) else None,
        will_retry=will_retry,
        http_status=status,
    )


def decision_name(decision: Any) -> str:
    """``"accept"`` stays; ``{"acceptWithExecpolicyAmendment": {...}}`` becomes its key."""
    if isinstance(decision, dict) and decision:
        return str(next(iter(decision)))
    return str(decision)


def approval_from_wire(
    request_id: str, method: str, params: dict[str, Any]
) -> tuple[ApprovalRequest, dict[str, Any]]:
    """The canonical request and a map from decision name to the wire value to send back."""
    kind = APPROVAL_METHODS[method]
    offered = params.get("availableDecisions")
    wire: dict[str, Any] = {}
    for decision in offered if isinstance(offered, list) and offered else _DEFAULT_DECISIONS[kind]:
        wire.setdefault(decision_name(decision), decision)
    command = params.get("command")
    if isinstance(command, list):
        command = " ".join(str(c) for c in command)
    request = ApprovalRequest(
        id=request_id,
        kind=kind,
        thread_id=str(params.get("threadId") or params.get("conversationId") or ""),
        turn_id=params.get("turnId"),
        item_id=params.get("itemId"),
        command=command if isinstance(command, str) else None,
        cwd=params.get("cwd") if isinstance(params.get("cwd"), str) else None,
        reason=params.get("reason"),
        changes=file_changes(params.get("fileChanges") or params.get("changes")),
        available_decisions=tuple(wire),
    )
    return request, wire


def approval_response(
    kind: ApprovalKind, wire_decision: Any, params: dict[str, Any]
) -> dict[str, Any]:
    """The JSON result that answers an approval server request."""
    if kind is ApprovalKind.USER_INPUT:
        return {"answers": {}}
    if kind is ApprovalKind.ELICITATION:
        return {"action": wire_decision, "content": None}
    if kind is ApprovalKind.PERMISSIONS:
        granted = decision_name(wire_decision) == "accept"
        return {"permissions": params.get("permissions") or {} if granted else {}}
    return {"decision": wire_decision}


_APPENDING_DELTAS: dict[str, DeltaKind] = {
    "item/agentMessage/delta": DeltaKind.AGENT_MESSAGE,
    "item/reasoning/summaryTextDelta": DeltaKind.REASONING,
    "item/commandExecution/outputDelta": DeltaKind.COMMAND_OUTPUT,
    "item/plan/delta": DeltaKind.PLAN,
}


def delta_from_wire(method: str, params: dict[str, Any]) -> Delta | None:
    """The delta a notification carries, or None when it carries none.

    ``turn/plan/updated`` and ``turn/diff/updated`` name no item: they are snapshots of the
    turn's whole plan and diff, keyed by the turn id.
    """
    kind = _APPENDING_DELTAS.get(method)
    if kind is not None:
        text = params.get("delta")
        if not isinstance(text, str) or not text:
            return None
        return Delta(str(params.get("itemId", "")), kind, text)
    turn_id = str(params.get("turnId", ""))
    if method == "turn/diff/updated" and isinstance(params.get("diff"), str):
        return Delta(turn_id, DeltaKind.DIFF, params["diff"], replaces=True)
    if method == "turn/plan/updated" and isinstance(params.get("plan"), list):
        steps = [
            f"[{step.get('status', '')}] {step.get('step', '')}"
            for step in params["plan"]
            if isinstance(step, dict)
        ]
        return Delta(turn_id, DeltaKind.PLAN, "\n".join(steps), replaces=True)
    return None
