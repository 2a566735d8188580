"""The chat core against the in-memory chat and a scripted Codex: one session per chat
thread, queueing while a turn runs, -stop, approvals from the chat, a fresh task after a
failed one, and the outbox keeping what the chat did not take across a restart.

Any chat bridge gets this behaviour by handing the core its transport, renderer and host.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from codex_runner.bridges.chat.bridge_db import Session
from codex_runner.bridges.chat.core import ChatCore
from codex_runner.bridges.chat.memory import MARK_QUEUED, InMemoryChat, InMemoryHost, PlainRenderer
from codex_runner.bridges.chat.sessions import ChatInput
from codex_runner.bridges.chat.task_log import TaskLog
from codex_runner.codex.runtime import TurnRecorder
from codex_runner.codex.scripted import Script, ScriptedRuntime, ask, complete, fail, gated
from codex_runner.domain.events import CodexEvent, EventKind, TurnStatus
from codex_runner.domain.task import TaskState
from codex_runner.service.event_bus import EventBus
from codex_runner.service.tasks import DirectoryWorkspaces, TaskService
from codex_runner.store.memory import InMemoryStore

CHANNEL, THREAD, KEY = "general", "thread-1", "general-thread-1"


async def working(rt: ScriptedRuntime, rec: TurnRecorder, text: str) -> None:
    """A turn that starts (so it has a status message) and works until the gate opens."""
    rec.emit(CodexEvent(EventKind.TURN_STARTED, thread_id=rec.thread_id))
    await rt.gate.wait()
    rec.finish(TurnStatus.COMPLETED)


@dataclass
class Harness:
    service: TaskService
    runtime: ScriptedRuntime
    store: InMemoryStore
    chat: InMemoryChat
    core: ChatCore
    db_path: Path
    host: InMemoryHost

    async def start(self, text: str, user: str = "ann", message_id: str = "c1") -> Session:
        message = ChatInput(user, message_id, text, f"{user}: {text}")
        await self.core.sessions.start(KEY, CHANNEL, THREAD, message, message.turn_text)
        session = self.core.db.session(KEY)
        assert session is not None
        return session

    async def say(self, text: str, user: str = "ann", message_id: str = "c2") -> None:
        session = self.core.db.session(KEY)
        assert session is not None
        await self.core.sessions.deliver(
            session, ChatInput(user, message_id, text, f"{user}: {text}")
        )

    async def idle(self) -> None:
        """Until every task event is relayed and every post delivered."""
        await self.core.relay.wait_idle(5)
        await self.core.outbox.wait_idle(5)

    async def state(self, task_id: str, *states: TaskState) -> None:
        async for _ in self.service.events(task_id):
            if (await self.service.get(task_id)).state in states:
                return

    async def types(self, task_id: str) -> list[str]:
        return [e.type for e in await self.store.read_events(task_id)]

    def thread(self) -> list[str]:
        return self.chat.thread(CHANNEL, THREAD)


def new_core(h_service: TaskService, chat: InMemoryChat, host: InMemoryHost, db: Path) -> ChatCore:
    return ChatCore(
        db_path=db,
        service=h_service,
        task_log=TaskLog(h_service.record_event, bridge="chat"),
        transport=chat,
        render=PlainRenderer(),
        host=host,
        approvers=frozenset(),
        retry_base_s=0.001,
        retry_max_s=0.01,
        live_interval_s=None,
    )


@pytest.fixture
def script() -> Callable[[str], Script]:
    return lambda _: complete


@pytest.fixture
async def h(tmp_path: Path, script: Callable[[str], Script]) -> AsyncIterator[Harness]:
    store = InMemoryStore()
    runtime = ScriptedRuntime(script)
    service = TaskService(
        store, runtime, DirectoryWorkspaces(), EventBus(), max_concurrent=2, approval_timeout_s=5
    )
    chat = InMemoryChat()
    host = InMemoryHost(tmp_path, names={"ann": "Ann"})
    db = tmp_path / "chat.sqlite"
    core = new_core(service, chat, host, db)
    await service.start()
    await core.start()
    harness = Harness(service, runtime, store, chat, core, db, host)
    try:
        yield harness
    finally:
        await harness.core.stop(5)
        await service.stop()


async def test_a_chat_thread_is_one_session_on_one_codex_thread_across_messages(
    h: Harness,
) -> None:
    session = await h.start("hello")
    await h.idle()
    assert h.thread() == ["Done (5 tokens)", "done: ann: hello"]
    assert h.chat.messages["m1"].history == ["Working", "Done (5 tokens)"]

    await h.say("and more")
    await h.idle()
    assert h.core.db.session(KEY).task_id == session.task_id  # type: ignore[union-attr]
    assert [thread for thread, _ in h.runtime.started] == ["th1", "th1"]
    assert h.thread()[-1] == "done: ann: and more"
    types = await h.types(session.task_id)
    assert types.count("chat.session_started") == 1
    assert types.count("chat.message_received") == 2
    received = [
        e.data
        for e in await h.store.read_events(session.task_id)
        if e.type == "chat.message_received"
    ]
    assert received[0] == {"message_id": "c1", "user": "ann", "text": "hello", "images": []}


@pytest.mark.parametrize("script", [lambda _: gated])
async def test_messages_wait_in_the_queue_while_a_turn_runs_and_run_one_turn_each_in_order(
    h: Harness,
) -> None:
    session = await h.start("first")
    await h.runtime.wait_started(1)
    await h.say("second", message_id="c2")
    await h.say("third", message_id="c3")
    assert h.core.db.queue_depth(KEY) == 2
    await h.core.outbox.wait_idle(5)
    assert [p.payload["message_id"] for p in h.chat.other if p.op == MARK_QUEUED] == ["c2", "c3"]

    h.runtime.gate.set()
    await h.runtime.wait_started(3)
    await h.idle()
    assert [text for _, text in h.runtime.started][1:] == ["ann: second", "ann: third"]
    assert h.core.db.queue_depth(KEY) == 0
    types = await h.types(session.task_id)
    assert types.count("chat.message_queued") == 2
    assert types.count("chat.message_dispatched") == 2


@pytest.mark.parametrize("script", [lambda _: working])
async def test_stop_interrupts_the_turn_and_drops_the_queue(h: Harness) -> None:
    session = await h.start("long job")
    await h.runtime.wait_started(1)
    await h.say("later")
    await h.core.sessions.stop(session, "ann", "c9")
    await h.state(session.task_id, TaskState.INTERRUPTED)
    # An interrupted task may go on, so its follower stays: wait for what it says.
    await h.chat.wait_for(lambda: "Stopped" in h.thread())  # the turn's status message
    await h.core.outbox.wait_idle(5)
    assert "Stopping the current turn. Dropped 1 queued message." in h.thread()
    assert h.core.db.queue_depth(KEY) == 0
    assert len(h.runtime.started) == 1

    await h.core.sessions.stop(session, "ann", "c10")
    await h.core.outbox.wait_idle(5)
    assert h.thread()[-1] == "Nothing is running right now."


@pytest.mark.parametrize("script", [lambda _: ask])
async def test_an_approval_is_asked_in_the_chat_and_decided_only_by_the_requester(
    h: Harness,
) -> None:
    session = await h.start("clean up")
    await h.chat.wait_for(lambda: h.chat.find("Approve rm -rf build") is not None)
    request = h.chat.find("Approve rm -rf build")
    assert request is not None and request.payload["actions"] == ["accept", "decline"]
    approval_id = str(request.payload["ref"]).removeprefix("approval:")

    await h.core.sessions.decide("bob", approval_id, "accept")
    await h.chat.wait_for(lambda: h.chat.find("only @ann can decide") is not None)
    assert h.runtime.decisions == []

    await h.core.sessions.decide("ann", approval_id, "accept")
    await h.state(session.task_id, TaskState.COMPLETED)
    await h.idle()
    assert h.runtime.decisions == ["accept"]
    assert request.text == "accept by Ann"  # the request, edited in place
    outcomes = [
        e.data["outcome"]
        for e in await h.store.read_events(session.task_id)
        if e.type == "chat.approval_action"
    ]
    assert outcomes == ["refused", "decided"]

    await h.core.sessions.decide("ann", approval_id, "accept")  # once only
    await h.chat.wait_for(lambda: h.thread()[-1].startswith("@ann: "))


@pytest.mark.parametrize("script", [lambda p: fail if "break" in p else complete])
async def test_a_failed_task_is_replaced_by_a_fresh_one_for_the_same_thread(h: Harness) -> None:
    first = await h.start("break it")
    await h.state(first.task_id, TaskState.FAILED)
    await h.idle()
    assert "Failed: model refused: ann: break it" in h.thread()

    await h.say("try again")
    session = h.core.db.session(KEY)
    assert session is not None and session.task_id != first.task_id
    await h.idle()
    note = "(The previous Codex session for this thread ended: failed.)"
    assert h.thread()[-1] == f"done: {note}\nann: try again\n(session {KEY})"
    started = [
        e.data
        for e in await h.store.read_events(session.task_id)
        if e.type == "chat.session_started"
    ]
    assert started == [{"channel": CHANNEL, "thread": THREAD, "replaces_task": first.task_id}]


async def test_what_the_chat_did_not_take_is_delivered_once_after_a_restart(h: Harness) -> None:
    h.chat.down = 1_000
    session = await h.start("hello")
    await h.core.relay.wait_idle(5)
    await h.core.stop(5)
    assert h.thread() == []

    h.chat.down = 0
    h.core = new_core(h.service, h.chat, h.host, h.db_path)
    await h.core.start()
    await h.idle()
    assert h.thread() == ["Done (5 tokens)", "done: ann: hello"]
    assert (await h.types(session.task_id)).count(
        "chat.delivered"
    ) == 3  # the status, its edit, the answer


@pytest.mark.parametrize("script", [lambda _: gated])
async def test_only_the_named_queued_messages_are_dropped_and_the_rest_still_run(
    h: Harness,
) -> None:
    session = await h.start("first")
    await h.runtime.wait_started(1)
    for n in (2, 3, 4):
        await h.say(f"message {n}", message_id=f"c{n}")
    dropped = await h.core.sessions.drop_queued("ann", ["c3", "c9"])
    assert dropped == ["c3"]
    assert await h.core.sessions.drop_queued("ann", ["c3"]) == []  # gone already

    h.runtime.gate.set()
    await h.runtime.wait_started(3)
    await h.idle()
    assert [text for _, text in h.runtime.started][1:] == ["ann: message 2", "ann: message 4"]
    assert "Dropped 1 queued message." in h.thread()
    commands = [
        e.data
        for e in await h.store.read_events(session.task_id)
        if e.type == "chat.command" and e.data["command"] == "drop_queued"
    ]
    assert commands == [
        {"command": "drop_queued", "user": "ann", "message_id": ["c3"], "dropped": 1}
    ]


@pytest.mark.parametrize("script", [lambda _: ask])
async def test_a_decision_from_the_chat_says_what_became_of_it(h: Harness) -> None:
    await h.start("clean up")
    await h.chat.wait_for(lambda: h.chat.find("Approve rm -rf build") is not None)
    request = h.chat.find("Approve rm -rf build")
    assert request is not None
    approval_id = str(request.payload["ref"]).removeprefix("approval:")

    refused = await h.core.sessions.decide("bob", approval_id, "accept")
    assert refused.outcome == "refused" and "@ann" in refused.message
    assert (await h.core.sessions.decide("ann", approval_id, "accept")).outcome == "decided"
    again = await h.core.sessions.decide("ann", approval_id, "accept")
    assert again.outcome == "rejected" and again.message
    unknown = await h.core.sessions.decide("ann", "a_nope", "accept")
    assert unknown.outcome == "unknown"


async def test_a_new_session_starts_with_the_team_memory_once(tmp_path: Path) -> None:
    store = InMemoryStore()
    runtime = ScriptedRuntime(lambda _: complete)
    service = TaskService(
        store, runtime, DirectoryWorkspaces(), EventBus(), max_concurrent=2, approval_timeout_s=5
    )
    memory = ["# Team\nAsk before deploying."]
    core = ChatCore(
        db_path=tmp_path / "chat.sqlite",
        service=service,
        task_log=TaskLog(service.record_event, bridge="chat"),
        transport=InMemoryChat(),
        render=PlainRenderer(),
        host=InMemoryHost(tmp_path, names={}),
        approvers=frozenset(),
        retry_base_s=0.001,
        retry_max_s=0.01,
        live_interval_s=None,
        team_memory=lambda: memory[0],
    )
    await service.start()
    await core.start()
    h = Harness(service, runtime, store, InMemoryChat(), core, tmp_path, InMemoryHost(tmp_path))
    try:
        session = await h.start("fix the build")
        await h.state(session.task_id, TaskState.COMPLETED)
        await h.idle()
        await h.say("and the docs")
        await runtime.wait_started(2)
        await h.idle()
    finally:
        await core.stop(5)
        await service.stop()
    first, second = (prompt for _, prompt in runtime.started)
    assert first.startswith('<team_memory source="AGENT.md">\n# Team\nAsk before deploying.')
    assert "ann: fix the build" in first
    assert "Ask before deploying" not in second and "ann: and the docs" in second


async def test_a_follow_up_from_outside_the_chat_is_relayed_once_the_core_follows_again(
    h: Harness,
) -> None:
    session = await h.start("hello")
    await h.idle()  # the task settled: its follower stopped

    await h.service.message(session.task_id, "a background job ended")
    await h.core.follow_task(session.task_id)
    await h.state(session.task_id, TaskState.COMPLETED)
    await h.idle()

    assert h.thread()[-1] == "done: a background job ended"
