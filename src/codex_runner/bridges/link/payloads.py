"""What the link pushes to the chat server, as its payloads (camelCase, as the server
speaks): ``instance_started``, ``heartbeat``, ``codex_notification``, and the answer to a
control (``codex_response`` / ``codex_error``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from codex_runner.domain.durable_event import TaskEvent

CLIENT_NAME = "codex-runner"
CAPABILITIES = {"codexAppServer": True, "codexRemoteTui": True, "tasks": True}


@dataclass(frozen=True)
class Instance:
    """Who this runner is on the chat server."""

    instance_id: str
    runner_id: str
    hostname: str
    cwd: str
    channel: str | None
    model: str | None
    effort: str | None
    service_tier: str | None
    remote: str | None  # where a Codex TUI attaches (None: the app-server is private)


def join_payload(version: str) -> dict[str, Any]:
    return {"clientName": CLIENT_NAME, "version": version, "capabilities": CAPABILITIES}


def instance_started(instance: Instance, threads: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "instanceId": instance.instance_id,
        "hostname": instance.hostname,
        "cwd": instance.cwd,
        "threads": threads,
        "model": instance.model,
        "reasoningEffort": instance.effort,
        "serviceTier": instance.service_tier,
        "remote": instance.remote,
    }


def heartbeat(
    instance: Instance,
    *,
    serving: bool,
    running: int,
    queued: int,
    chat_thread: str | None = None,
    thread_id: str | None = None,
    rate_limits: dict[str, Any] | None = None,
) -> dict[str, Any]:
    workspace, _, channel = (instance.channel or "").partition("/")
    return {
        "instanceId": instance.instance_id,
        "hostname": instance.hostname,
        "cwd": instance.cwd,
        "workspace": workspace or None,
        "channel": channel or None,
        "chatThreadId": chat_thread,
        "threadId": thread_id,
        "model": instance.model,
        "reasoningEffort": instance.effort,
        "serving": serving,
        "runningTasks": running,
        "queuedTasks": queued,
        "rateLimits": rate_limits,
    }


def notification(instance_id: str, seq: int, event: TaskEvent) -> dict[str, Any]:
    """One durable task event, numbered: ``method`` is the event's type (``codex.item.
    completed``, ``task.state_changed``, ...), ``params`` its data."""
    data = event.data
    return {
        "instanceId": instance_id,
        "seq": seq,
        "method": event.type,
        "params": data,
        "taskId": event.task_id,
        "threadId": data.get("thread_id"),
        "turnId": data.get("turn_id"),
        "receivedAt": event.at.isoformat(),
    }


def response(
    instance_id: str, control_type: str, request_ref: object, result: Any
) -> dict[str, Any]:
    return {
        "instanceId": instance_id,
        "controlType": control_type,
        "requestRef": request_ref,
        "response": result,
    }


def error(instance_id: str, control_type: str, request_ref: object, message: str) -> dict[str, Any]:
    return {
        "instanceId": instance_id,
        "controlType": control_type,
        "requestRef": request_ref,
        "message": message,
    }
