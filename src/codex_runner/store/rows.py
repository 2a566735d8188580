"""Domain values <-> rows of the SQL tables (plain dicts; no SQL here)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict
from typing import Any

from codex_runner.domain.approval import Approval, ApprovalState
from codex_runner.domain.conversation import ThreadRecord, Turn, TurnState
from codex_runner.domain.events import ApprovalKind, FileChange, TokenUsage
from codex_runner.domain.graph import Graph
from codex_runner.domain.hosts import Host
from codex_runner.domain.task import RuntimeSettings, Task, TaskState, WorkspaceRequest
from codex_runner.domain.task_options import SessionOptions, TurnOverrides
from codex_runner.store.protocol import TASK_IDENTITY_FIELDS

Row = Mapping[Any, Any]  # a RowMapping (column name -> value)


def _usage_columns(usage: TokenUsage) -> dict[str, int]:
    return {
        "input_tokens": usage.input_tokens,
        "cached_input_tokens": usage.cached_input_tokens,
        "output_tokens": usage.output_tokens,
        "reasoning_output_tokens": usage.reasoning_output_tokens,
        "total_tokens": usage.total_tokens,
    }


def _usage(row: Row) -> TokenUsage:
    return TokenUsage(
        input_tokens=row["input_tokens"],
        cached_input_tokens=row["cached_input_tokens"],
        output_tokens=row["output_tokens"],
        reasoning_output_tokens=row["reasoning_output_tokens"],
        total_tokens=row["total_tokens"],
    )


def task_to_row(task: Task) -> dict[str, Any]:
    return {
        "id": task.id,
        "prompt": task.prompt,
        "repo": task.workspace.repo,
        "base_ref": task.workspace.base_ref,
        "cwd": task.workspace.cwd,
        "priority": task.priority,
        "model": task.settings.model,
        "effort": task.settings.effort,
        "sandbox": task.settings.sandbox,
        "approval_policy": task.settings.approval_policy,
        "state": task.state.value,
        "reason": task.reason,
        "created_at": task.created_at,
        "updated_at": task.updated_at,
        "started_at": task.started_at,
        "finished_at": task.finished_at,
        "thread_id": task.thread_id,
        **_usage_columns(task.usage),
        "final_message": task.final_message,
        "branch": task.branch,
        "diff_summary": task.diff_summary,
        "parent_id": task.parent_id,
        "graph_id": task.graph_id,
        "key": task.key,
        "depends_on": task.depends_on,
        "max_runtime_s": task.max_runtime_s,
        "idempotency_key": task.idempotency_key,
        "attempts": task.attempts,
        "pending_message": task.pending_message,
        "pending_images": task.pending_images,
        "runs_codex": task.runs_codex,
        "idempotency_fingerprint": task.idempotency_fingerprint,
        "workspace_collected_at": task.workspace_collected_at,
        "session_options": task.session.to_json(),
        "purpose": task.purpose,
        "meta": dict(task.metadata),
        "next_turn": task.next_turn.to_json(),
        "result_json": task.result_json,
        "host_id": task.host_id,
        "lease": task.lease,
    }


def task_update_values(task: Task) -> dict[str, Any]:
    return {k: v for k, v in task_to_row(task).items() if k not in TASK_IDENTITY_FIELDS}


# The order of the tasks table's columns, which task_from_row unpacks by position (fast:
# startup reconciliation reads every active task).
TASK_COLUMNS = (
    "id",
    "prompt",
    "repo",
    "base_ref",
    "cwd",
    "priority",
    "model",
    "effort",
    "sandbox",
    "approval_policy",
    "state",
    "reason",
    "created_at",
    "updated_at",
    "started_at",
    "finished_at",
    "thread_id",
    "input_tokens",
    "cached_input_tokens",
    "output_tokens",
    "reasoning_output_tokens",
    "total_tokens",
    "final_message",
    "branch",
    "diff_summary",
    "parent_id",
    "graph_id",
    "key",
    "depends_on",
    "max_runtime_s",
    "idempotency_key",
    "attempts",
    "pending_message",
    "pending_images",
    "runs_codex",
    "idempotency_fingerprint",
    "workspace_collected_at",
    "session_options",
    "purpose",
    "meta",
    "next_turn",
    "result_json",
    "host_id",
    "lease",
)


def task_from_row(row: Sequence[Any]) -> Task:
    """A task from a full ``tasks`` row in :data:`TASK_COLUMNS` order."""
    (
        id_,
        prompt,
        repo,
        base_ref,
        cwd,
        priority,
        model,
        effort,
        sandbox,
        approval_policy,
        state,
        reason,
        created_at,
        updated_at,
        started_at,
        finished_at,
        thread_id,
        input_tokens,
        cached_input_tokens,
        output_tokens,
        reasoning_output_tokens,
        total_tokens,
        final_message,
        branch,
        diff_summary,
        parent_id,
        graph_id,
        key,
        depends_on,
        max_runtime_s,
        idempotency_key,
        attempts,
        pending_message,
        pending_images,
        runs_codex,
        idempotency_fingerprint,
        workspace_collected_at,
        session_options,
        purpose,
        meta,
        next_turn,
        result_json,
        host_id,
        lease,
    ) = row
    return Task(
        id=id_,
        prompt=prompt,
        workspace=WorkspaceRequest(repo=repo, base_ref=base_ref, cwd=cwd),
        created_at=created_at,
        updated_at=updated_at,
        priority=priority,
        settings=RuntimeSettings(model, effort, sandbox, approval_policy),
        state=TaskState(state),
        reason=reason,
        started_at=started_at,
        finished_at=finished_at,
        thread_id=thread_id,
        usage=TokenUsage(
            input_tokens, cached_input_tokens, output_tokens, reasoning_output_tokens, total_tokens
        ),
        final_message=final_message,
        branch=branch,
        diff_summary=diff_summary,
        parent_id=parent_id,
        graph_id=graph_id,
        key=key,
        depends_on=depends_on,
        max_runtime_s=max_runtime_s,
        idempotency_key=idempotency_key,
        attempts=attempts,
        pending_message=pending_message,
        pending_images=pending_images,
        runs_codex=bool(runs_codex),
        idempotency_fingerprint=idempotency_fingerprint,
        workspace_collected_at=workspace_collected_at,
        session=SessionOptions.from_json(session_options),
        purpose=purpose,
        metadata=meta or {},
        next_turn=TurnOverrides.from_json(next_turn),
        result_json=result_json,
        host_id=host_id,
        lease=lease,
    )


def approval_to_row(approval: Approval) -> dict[str, Any]:
    return {
        "id": approval.id,
        "task_id": approval.task_id,
        "request_id": approval.request_id,
        "kind": approval.kind.value,
        "created_at": approval.created_at,
        "thread_id": approval.thread_id,
        "turn_id": approval.turn_id,
        "item_id": approval.item_id,
        "command": approval.command,
        "cwd": approval.cwd,
        "reason": approval.reason,
        "changes": [asdict(c) for c in approval.changes],
        "available_decisions": list(approval.available_decisions),
        "state": approval.state.value,
        "decision": approval.decision,
        "decided_by": approval.decided_by,
        "decided_at": approval.decided_at,
    }


def approval_from_row(row: Row) -> Approval:
    return Approval(
        id=row["id"],
        task_id=row["task_id"],
        request_id=row["request_id"],
        kind=ApprovalKind(row["kind"]),
        created_at=row["created_at"],
        thread_id=row["thread_id"],
        turn_id=row["turn_id"],
        item_id=row["item_id"],
        command=row["command"],
        cwd=row["cwd"],
        reason=row["reason"],
        changes=tuple(FileChange(**c) for c in row["changes"]),
        available_decisions=tuple(row["available_decisions"]),
        state=ApprovalState(row["state"]),
        decision=row["decision"],
        decided_by=row["decided_by"],
        decided_at=row["decided_at"],
    )


def graph_to_row(graph: Graph) -> dict[str, Any]:
    return {
        "id": graph.id,
        "parent_id": graph.parent_id,
        "created_at": graph.created_at,
        "max_concurrent": graph.max_concurrent,
    }


def graph_from_row(row: Row) -> Graph:
    return Graph(
        id=row["id"],
        parent_id=row["parent_id"],
        created_at=row["created_at"],
        max_concurrent=row["max_concurrent"],
    )


def thread_to_row(thread: ThreadRecord) -> dict[str, Any]:
    return {
        "thread_id": thread.thread_id,
        "task_id": thread.task_id,
        "created_at": thread.created_at,
        "replaces": thread.replaces,
    }


def turn_to_row(turn: Turn) -> dict[str, Any]:
    return {
        "task_id": turn.task_id,
        "number": turn.number,
        "input": turn.input,
        "state": turn.state.value,
        "started_at": turn.started_at,
        "thread_id": turn.thread_id,
        "codex_turn_id": turn.codex_turn_id,
        "finished_at": turn.finished_at,
        **_usage_columns(turn.usage),
        "error": turn.error,
        "final_message": turn.final_message,
        "result_json": turn.result_json,
        "auth_profile": turn.auth_profile,
    }


def turn_from_row(row: Row) -> Turn:
    return Turn(
        task_id=row["task_id"],
        number=row["number"],
        input=row["input"],
        started_at=row["started_at"],
        state=TurnState(row["state"]),
        thread_id=row["thread_id"],
        codex_turn_id=row["codex_turn_id"],
        finished_at=row["finished_at"],
        usage=_usage(row),
        error=row["error"],
        final_message=row["final_message"],
        result_json=row["result_json"],
        auth_profile=row["auth_profile"],
    )


def host_to_row(host: Host) -> dict[str, Any]:
    return {
        "id": host.id,
        "hostname": host.hostname,
        "version": host.version,
        "capacity": host.capacity,
        "started_at": host.started_at,
        "heartbeat_at": host.heartbeat_at,
        "draining": host.draining,
        "dead_at": host.dead_at,
    }


def host_from_row(row: Row) -> Host:
    return Host(**{name: row[name] for name in HOST_COLUMNS})


HOST_COLUMNS = (
    "id",
    "hostname",
    "version",
    "capacity",
    "started_at",
    "heartbeat_at",
    "draining",
    "dead_at",
)
