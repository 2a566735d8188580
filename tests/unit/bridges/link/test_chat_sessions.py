"""The link's chat sessions against a scripted Codex and a recording chat server push: each
message id once, commands without a session, unreadable messages, the bound thread and
who decides a thread's approval."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from codex_runner.bridges.link.chat_sessions import NO_SESSION, LinkChat
from codex_runner.codex.scripted import Script, ScriptedRuntime, ask, complete
from codex_runner.domain.task import TaskState
from codex_runner.service.event_bus import EventBus
from codex_runner.service.tasks import DirectoryWorkspaces, TaskService
from codex_runner.store.memory import InMemoryStore


class Pushes:
    def __init__(self) -> None:
        self.sent: list[tuple[str, dict[str, Any]]] = []

    async def push(self, event: str, payload: dict[str, Any]) -> dict[str, Any]:
        self.sent.append((event, payload))
        return {}

    def texts(self, thread: str) -> list[str]:
        return [str(p.get("text")) for _, p in self.sent if p.get("chatThreadId") == thread]


def message(text: str, message_id: str, thread: str = "th-1", author: str = "u1") -> dict[str, Any]:
    return {
        "author": {"id": author, "name": author.upper()},
        "text": text,
        "chatThreadId": thread,
        "messageId": message_id,
    }


@pytest.fixture
def script() -> Callable[[str], Script]:
    return lambda _: complete


@pytest.fixture
async def linked(
    tmp_path: Path, script: Callable[[str], Script]
) -> AsyncIterator[tuple[LinkChat, TaskService, ScriptedRuntime, Pushes]]:
    runtime = ScriptedRuntime(script)
    service = TaskService(
        InMemoryStore(),
        runtime,
        DirectoryWorkspaces(),
        EventBus(),
        max_concurrent=2,
        approval_timeout_s=5,
    )
    pushes = Pushes()
    chat = LinkChat(
        db_path=tmp_path / "link" / "chat.sqlite",
        service=service,
        channel="acme/general",
        cwd=tmp_path,
        push=pushes.push,
        instance_id="inst_1",
    )
    await service.start()
    await chat.start()
    try:
        yield chat, service, runtime, pushes
    finally:
        await chat.stop(5)
        await service.stop()


async def settle(chat: LinkChat) -> None:
    await chat.core.relay.wait_idle(5)
    await chat.core.outbox.wait_idle(5)


async def test_a_message_delivered_twice_runs_once_and_binds_the_heartbeat(
    linked: tuple[LinkChat, TaskService, ScriptedRuntime, Pushes],
) -> None:
    chat, service, runtime, pushes = linked
    assert await chat.bound() == (None, None)
    await chat.handle(message("hello", "m1"))
    await chat.handle(message("hello", "m1"))
    await settle(chat)
    assert [text for _, text in runtime.started] == ["U1: hello"]
    assert "done: U1: hello" in pushes.texts("th-1")
    session = chat.core.db.session("acme_general-th-1")
    assert session is not None
    task = await service.get(session.task_id)
    assert await chat.bound() == ("th-1", task.thread_id)


async def test_a_command_or_a_bad_message_starts_nothing(
    linked: tuple[LinkChat, TaskService, ScriptedRuntime, Pushes],
) -> None:
    chat, _, runtime, pushes = linked
    await chat.handle(message("-stop", "m1", thread="th-2"))
    await chat.handle({"text": "no author", "chatThreadId": "th-2", "messageId": "m2"})
    await chat.handle(message("   ", "m3", thread="th-2"))
    await settle(chat)
    assert pushes.texts("th-2") == [NO_SESSION]
    assert runtime.started == [] and chat.core.db.sessions() == []


@pytest.mark.parametrize("script", [lambda _: ask])
async def test_a_threads_approval_is_decided_by_its_requester_named_in_by(
    linked: tuple[LinkChat, TaskService, ScriptedRuntime, Pushes],
) -> None:
    chat, service, _, pushes = linked
    await chat.handle(message("clean up", "m1"))
    session = chat.core.db.session("acme_general-th-1")
    assert session is not None
    approval_id = ""
    async with asyncio.timeout(5):
        async for event in service.events(session.task_id):
            if event.type == "approval.requested":
                approval_id = str(event.data["approval_id"])
                break
    assert (await chat.decide(approval_id, "accept", None)).outcome == "refused"
    assert (await chat.decide(approval_id, "accept", "u2")).outcome == "refused"
    assert (await chat.decide("a_unknown", "accept", "u1")).outcome == "unknown"
    assert (await chat.decide(approval_id, "accept", "u1")).outcome == "decided"
    async for _ in service.events(session.task_id):
        if (await service.get(session.task_id)).state is TaskState.COMPLETED:
            break
    await settle(chat)
    requests = [p for event, p in pushes.sent if event == "approval_request"]
    assert len(requests) == 1 and requests[0]["deciders"] == ["u1"]
    edits = [p for _, p in pushes.sent if p.get("replaces") == requests[0]["replyId"]]
    assert edits and edits[-1]["decidedBy"] == "U1"
