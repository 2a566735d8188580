"""The chat server's ``control`` pushes, each turned into one call on the task service.

A control names its type and carries its arguments; its answer is the call's result (sent
as ``codex_response``) or a ControlError whose message says what was wrong (sent as
``codex_error``). Nothing here decides anything the service does not: a control is a
request from a person in the chat, like a CLI command.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

from codex_runner.bridges.chat.sessions import ApprovalOutcome
from codex_runner.domain.approval import ApprovalError
from codex_runner.domain.task import Task, WorkspaceRequest
from codex_runner.domain.transitions import InvalidTransition, accepts_message
from codex_runner.service.errors import (
    InvalidRequest,
    NoAppServer,
    NotAttachable,
    TaskNotRunning,
)
from codex_runner.service.tasks import TaskService
from codex_runner.store.errors import ApprovalNotFound, TaskNotFound
from codex_runner.workspace.protocol import WorkspaceError

log = logging.getLogger(__name__)

DECIDED_BY = "chat"
# (approval id, decision, by) -> what the chat-bound sessions made of it ("unknown": not theirs)
DecideInChat = Callable[[str, str, str | None], Awaitable[ApprovalOutcome]]
# Errors whose message is meant for the person who sent the control.
_TOLD: tuple[type[Exception], ...] = (
    InvalidRequest,
    InvalidTransition,
    TaskNotFound,
    ApprovalNotFound,
    ApprovalError,
    TaskNotRunning,
    NotAttachable,
    NoAppServer,
    WorkspaceError,
)


class ControlError(Exception):
    """A control that cannot be done; the message goes back to the chat as it is."""


class Controls:
    def __init__(
        self,
        service: TaskService,
        cwd: Path,
        *,
        serving: Callable[[], bool],
        set_serving: Callable[[bool], None],
        drop_queued: Callable[[Sequence[str], str | None], Awaitable[list[str]]] | None = None,
        decide_in_chat: DecideInChat | None = None,
    ) -> None:
        self._service = service
        self._cwd = cwd
        self._serving = serving
        self._set_serving = set_serving
        self._drop_queued = drop_queued
        self._decide_in_chat = decide_in_chat
        self._handlers: dict[str, Callable[[dict[str, Any]], Awaitable[Any]]] = {
            "start_turn": self._start_turn,
            "steer_turn": self._steer_turn,
            "interrupt_turn": self._interrupt_turn,
            "read_thread": self._read_thread,
            "list_threads": self._list_threads,
            "start_instance": self._start_instance,
            "stop_instance": self._stop_instance,
            "interrupt_queued_messages": self._interrupt_queued,
            "resolve_codex_approval_request": self._resolve_approval,
        }

    @property
    def types(self) -> tuple[str, ...]:
        return tuple(self._handlers)

    async def handle(self, control_type: str, control: dict[str, Any]) -> Any:
        handler = self._handlers.get(control_type)
        if handler is None:
            raise ControlError(
                f"control {control_type!r} is not supported by codex-runner; "
                f"it supports {', '.join(self._handlers)}"
            )
        try:
            return await handler(control)
        except ControlError:
            raise
        except _TOLD as exc:
            raise ControlError(str(exc)) from None
        except Exception:
            log.exception("control %s failed", control_type)
            message = f"{control_type} failed: internal error (see the runner's log)"
            raise ControlError(message) from None

    # turns -------------------------------------------------------------------------------
    async def _start_turn(self, control: dict[str, Any]) -> dict[str, Any]:
        if not self._serving():
            raise ControlError("this instance is stopped: send start_instance first")
        text, images = _input_of(control)
        thread_id = _optional_str(control, "threadId")
        if thread_id is None:
            task = await self._service.submit(
                text, WorkspaceRequest.directory(str(self._cwd)), images=images
            )
            return _task_answer(task)
        owner = await self._service.store.find_task_by_thread(thread_id)
        if owner is None:  # a thread no task has: a new task adopts it
            task = await self._service.submit(
                text,
                WorkspaceRequest.directory(str(self._cwd)),
                images=images,
                thread_id=thread_id,
            )
            return _task_answer(task)
        if not accepts_message(owner.state):
            raise ControlError(
                f"task {owner.id} on thread {thread_id} is {owner.state}: "
                "steer_turn adds to a running turn, interrupt_turn stops it"
            )
        return _task_answer(await self._service.message(owner.id, text, images))

    async def _steer_turn(self, control: dict[str, Any]) -> dict[str, Any]:
        task = await self._task_of(control)
        text, _ = _input_of(control)
        await self._service.steer(task.id, text)
        return _task_answer(await self._service.get(task.id))

    async def _interrupt_turn(self, control: dict[str, Any]) -> dict[str, Any]:
        task = await self._task_of(control)
        return _task_answer(await self._service.interrupt(task.id))

    async def _task_of(self, control: dict[str, Any]) -> Task:
        if (task_id := _optional_str(control, "taskId")) is not None:
            return await self._service.get(task_id)
        thread_id = _optional_str(control, "threadId")
        if thread_id is None:
            raise ControlError("name the turn's threadId (or taskId)")
        task = await self._service.store.find_task_by_thread(thread_id)
        if task is None:
            raise ControlError(f"no task of this runner has thread {thread_id}")
        return task

    # threads -----------------------------------------------------------------------------
    async def _read_thread(self, control: dict[str, Any]) -> dict[str, Any]:
        thread_id = _optional_str(control, "threadId")
        if thread_id is None:
            raise ControlError("read_thread needs a threadId")
        return await self._service.sessions.read_thread(thread_id)

    async def _list_threads(self, control: dict[str, Any]) -> list[dict[str, Any]]:
        cwd = _optional_str(control, "cwd")
        found = await self._service.sessions.threads(Path(cwd) if cwd else self._cwd)
        return [
            {
                "id": thread.id,
                "cwd": thread.cwd,
                "preview": thread.preview,
                "name": thread.name,
                "updatedAt": thread.updated_at.isoformat() if thread.updated_at else None,
                "taskId": owner,
            }
            for thread, owner in found
        ]

    # the instance --------------------------------------------------------------------------
    async def _start_instance(self, control: dict[str, Any]) -> dict[str, Any]:
        self._set_serving(True)
        return {"serving": True}

    async def _stop_instance(self, control: dict[str, Any]) -> dict[str, Any]:
        self._set_serving(False)  # running turns go on; new ones are refused
        return {"serving": False}

    async def _interrupt_queued(self, control: dict[str, Any]) -> dict[str, Any]:
        ids = control.get("messageIds")
        if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
            raise ControlError("interrupt_queued_messages needs messageIds: a list of strings")
        by = _optional_str(control, "by")
        dropped = await self._drop_queued(ids, by) if self._drop_queued is not None else []
        return {"interrupted": dropped}

    async def _resolve_approval(self, control: dict[str, Any]) -> dict[str, Any]:
        decision = _optional_str(control, "decision")
        if decision is None:
            raise ControlError("resolve_codex_approval_request needs a decision")
        approval_id = _optional_str(control, "approvalId")
        if approval_id is None and (request_id := _optional_str(control, "requestId")):
            pending = await self._service.pending_approvals()
            approval_id = next((a.id for a in pending if a.request_id == request_id), None)
        if approval_id is None:
            raise ControlError("name a pending approval: approvalId (or its requestId)")
        by = _optional_str(control, "by")
        if self._decide_in_chat is not None:
            # A chat thread's approval is decided as its sessions decide (who may, the
            # request's post edited); any other goes straight to the service.
            outcome = await self._decide_in_chat(approval_id, decision, by)
            if outcome.outcome in ("refused", "rejected"):
                raise ControlError(outcome.message)
            if outcome.outcome == "decided":
                decided = await self._service.approval(approval_id)
                return {
                    "approvalId": decided.id,
                    "decision": decided.decision,
                    "taskId": decided.task_id,
                }
        decided = await self._service.decide_approval(approval_id, decision, by or DECIDED_BY)
        return {"approvalId": decided.id, "decision": decided.decision, "taskId": decided.task_id}


def _optional_str(control: dict[str, Any], key: str) -> str | None:
    value = control.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise ControlError(f"{key} must be a non-empty string")
    return value.strip()


def _input_of(control: dict[str, Any]) -> tuple[str, list[str]]:
    """The control's text and image paths: ``text``, or ``input`` items (text, localImage)."""
    if isinstance(control.get("text"), str) and control["text"].strip():
        return control["text"], []
    items = control.get("input")
    if not isinstance(items, list) or not items:
        raise ControlError("send text, or input: a list of {type: text|localImage, ...} items")
    texts: list[str] = []
    images: list[str] = []
    for item in items:
        kind = item.get("type") if isinstance(item, dict) else None
        if kind == "text" and isinstance(item.get("text"), str):
            texts.append(item["text"])
        elif kind in ("localImage", "image") and isinstance(item.get("path"), str):
            images.append(item["path"])
        else:
            raise ControlError(f"input item {item!r} is neither text nor localImage")
    text = "\n".join(texts)
    if not text.strip():
        raise ControlError("the input has no text: say what Codex should do")
    return text, images


def _task_answer(task: Task) -> dict[str, Any]:
    return {"taskId": task.id, "threadId": task.thread_id, "state": str(task.state)}
