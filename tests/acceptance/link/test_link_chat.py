"""Chat-bound sessions over the link: the chat server's threads in ``[link] channel`` as
Codex sessions, against the fake chat server, the real codex binary and the scripted model."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ...support.chat_server import FakeChatServer, Frame
from ..daemon.harness import TERMINAL, wait_state
from .conftest import TOPIC, StartLinked

pytestmark = pytest.mark.acceptance

CHANNEL = "acme/general"
WAIT_S = 60.0


async def _say(
    chat: FakeChatServer,
    text: str,
    message_id: str,
    *,
    thread: str = "th-1",
    author: str = "u1",
    name: str | None = "Ann",
) -> None:
    who: dict[str, Any] = {"id": author} | ({"name": name} if name else {})
    payload = {"author": who, "text": text, "chatThreadId": thread, "messageId": message_id}
    await chat.push(TOPIC, "chat_message", payload)


async def _reply(chat: FakeChatServer, text: str, *, thread: str = "th-1") -> Frame:
    """The next chat_reply in ``thread`` whose text holds ``text``."""

    def match(frame: Frame) -> bool:
        p = frame.payload
        return p.get("chatThreadId") == thread and text in str(p.get("text"))

    return await chat.wait_for("chat_reply", match, timeout=WAIT_S)


def _texts(chat: FakeChatServer, thread: str = "th-1") -> list[str]:
    return [
        str(f.payload.get("text"))
        for f in chat.received("chat_reply")
        if f.payload.get("chatThreadId") == thread
    ]


def _distinct(frames: list[Frame], keep: Callable[[Frame], bool] = lambda f: True) -> set[str]:
    return {f.payload["replyId"] for f in frames if keep(f)}


async def _control(chat: FakeChatServer, ref: str, **control: Any) -> Frame:
    await chat.push(TOPIC, "control", {"requestRef": ref, **control})

    def mine(frame: Frame) -> bool:
        return frame.payload.get("requestRef") == ref

    done, pending = await asyncio.wait(
        [
            asyncio.create_task(chat.wait_for("codex_response", mine, timeout=WAIT_S)),
            asyncio.create_task(chat.wait_for("codex_error", mine, timeout=WAIT_S)),
        ],
        return_when=asyncio.FIRST_COMPLETED,
    )
    for task in pending:
        task.cancel()
    return next(iter(done)).result()


async def test_a_chat_thread_is_one_session_on_one_codex_thread(
    start_linked: StartLinked, chat: FakeChatServer
) -> None:
    daemon = await start_linked(channel=CHANNEL)
    await chat.wait_for("instance_started")
    await _say(chat, "quick one", "m1")
    first = await _reply(chat, "quick done")
    task_id = first.payload["taskId"]
    assert first.payload["channel"] == CHANNEL and first.payload["replyId"]
    await _reply(chat, "Done (")  # the status message, edited in place
    async with daemon.client() as client:
        task = await wait_state(client, task_id, TERMINAL)

        # The same message again (a redelivery) runs nothing; the next one runs on the thread.
        await _say(chat, "quick one", "m1")
        await _say(chat, "quick two", "m2")
        second = await _reply(chat, "quick done")
        assert second.payload["taskId"] == task_id
        assert second.payload["replyId"] != first.payload["replyId"]
        await _say(chat, "-status", "m3")
        await _reply(chat, "State:")
        again = (await client.get(f"/v1/tasks/{task_id}")).json()
        events = (await client.get(f"/v1/tasks/{task_id}/events")).json()["events"]
    assert again["thread_id"] == task["thread_id"]
    handled = [
        e["data"]["message_id"]
        for e in events
        if e["type"] in ("link.message_received", "link.message_queued")
    ]
    assert handled == ["m1", "m2"]  # m1 once, though it came twice
    # The heartbeat names the thread and, once its task has one, the Codex thread.
    beat = await chat.wait_for(
        "heartbeat",
        lambda f: f.payload["chatThreadId"] == "th-1" and f.payload["threadId"] is not None,
        timeout=WAIT_S,
    )
    assert beat.payload["threadId"] == task["thread_id"]
    assert (beat.payload["workspace"], beat.payload["channel"]) == ("acme", "general")


async def test_a_message_during_a_turn_waits_and_runs_after_it(
    start_linked: StartLinked, chat: FakeChatServer
) -> None:
    await start_linked(channel=CHANNEL)
    await chat.wait_for("instance_started")
    await _say(chat, "long job", "m1")
    await _reply(chat, "Running")
    await _say(chat, "quick after", "m2")
    marked = await chat.wait_for("chat_message_queued", timeout=WAIT_S)
    assert marked.payload["messageId"] == "m2" and marked.payload["chatThreadId"] == "th-1"
    await _reply(chat, "quick done")
    texts = _texts(chat)
    assert texts.index("long job finished") < texts.index("quick done")


async def test_stop_interrupts_and_only_the_named_queued_messages_are_dropped(
    start_linked: StartLinked, chat: FakeChatServer
) -> None:
    daemon = await start_linked(channel=CHANNEL)
    await chat.wait_for("instance_started")
    await _say(chat, "long job", "m1")
    running = await _reply(chat, "Running")
    await _say(chat, "quick a", "m2")
    await _say(chat, "quick b", "m3")
    await chat.wait_for("chat_message_queued", lambda f: f.payload["messageId"] == "m3")
    dropped = await _control(
        chat, "q1", type="interrupt_queued_messages", messageIds=["m2", "m9"], by="u1"
    )
    assert dropped.payload["response"] == {"interrupted": ["m2"]}
    await _reply(chat, "Dropped 1 queued message.")
    await _reply(chat, "quick done")  # m3, after the long job
    assert _texts(chat).count("quick done") == 1

    await _say(chat, "long job", "m4")
    await _reply(chat, "Running")
    await _say(chat, "-stop", "m5")
    await _reply(chat, "Stopping the current turn.")
    await _reply(chat, "Stopped")
    async with daemon.client() as client:
        task = await wait_state(client, running.payload["taskId"], {"interrupted"})
    assert task["state"] == "interrupted"


async def test_an_approval_is_pushed_and_resolved_by_the_requester_only(
    start_linked: StartLinked, chat: FakeChatServer, repo: Path
) -> None:
    daemon = await start_linked(channel=CHANNEL, codex={"approval_policy": "untrusted"})
    await chat.wait_for("instance_started")
    await _say(chat, "touch approved", "m1")
    asked = await chat.wait_for("approval_request", timeout=WAIT_S)
    request = asked.payload
    assert request["chatThreadId"] == "th-1" and "accept" in request["decisions"]
    assert request["deciders"] == ["u1"] and "touch approved.txt" in str(request["command"])
    approval_id = request["approvalId"]

    other = await _control(
        chat,
        "a1",
        type="resolve_codex_approval_request",
        approvalId=approval_id,
        decision="accept",
        by="u2",
    )
    assert other.event == "codex_error" and "only @Ann" in other.payload["message"]
    decided = await _control(
        chat,
        "a2",
        type="resolve_codex_approval_request",
        approvalId=approval_id,
        decision="accept",
        by="u1",
    )
    assert decided.event == "codex_response", decided.payload
    assert decided.payload["response"]["decision"] == "accept"
    edit = await chat.wait_for(
        "chat_reply", lambda f: f.payload.get("replaces") == request["replyId"], timeout=WAIT_S
    )
    assert edit.payload["outcome"] == "decided" and edit.payload["decidedBy"] == "Ann"
    async with daemon.client() as client:
        done = await wait_state(client, request["taskId"], TERMINAL)
    assert done["state"] == "completed" and (repo / "approved.txt").exists()


async def test_a_reply_cut_off_by_a_drop_is_resent_with_its_reply_id(
    start_linked: StartLinked, chat: FakeChatServer
) -> None:
    await start_linked(channel=CHANNEL)
    await chat.wait_for("instance_started")
    chat.replies["chat_reply"] = lambda frame: None  # the server takes it but never says so
    await _say(chat, "quick one", "m1")
    unconfirmed = await chat.wait_for("chat_reply", timeout=WAIT_S)
    del chat.replies["chat_reply"]
    await chat.drop()
    await chat.wait_connected(2, timeout=WAIT_S)
    resent = await chat.wait_for(
        "chat_reply",
        lambda f: f.connection == 2 and f.payload["replyId"] == unconfirmed.payload["replyId"],
        timeout=WAIT_S,
    )
    assert resent.payload == unconfirmed.payload
    await _reply(chat, "quick done")
    frames = chat.received("chat_reply")
    assert len(_distinct(frames, lambda f: f.payload.get("text") == "quick done")) == 1
    for reply_id in _distinct(frames):  # a reply sent twice is the same reply
        same = [f.payload for f in frames if f.payload["replyId"] == reply_id]
        assert all(p == same[0] for p in same)


async def test_a_restart_resends_only_what_the_server_did_not_confirm(
    start_linked: StartLinked, chat: FakeChatServer
) -> None:
    daemon = await start_linked(channel=CHANNEL)
    await chat.wait_for("instance_started")
    await _say(chat, "quick one", "m1")
    first = await _reply(chat, "quick done")
    await _reply(chat, "Done (")
    confirmed = _distinct(chat.received("chat_reply"))

    chat.replies["chat_reply"] = lambda frame: None
    await _say(chat, "quick two", "m2")
    unconfirmed = await chat.wait_for(
        "chat_reply", lambda f: f.payload["replyId"] not in confirmed, timeout=WAIT_S
    )
    async with daemon.client() as client:
        await wait_state(client, first.payload["taskId"], TERMINAL)
    await asyncio.to_thread(daemon.stop)  # the fake chat server shares this loop
    del chat.replies["chat_reply"]
    await daemon.start()
    await chat.wait_connected(2, timeout=WAIT_S)
    resent = await chat.wait_for(
        "chat_reply",
        lambda f: f.connection == 2 and f.payload["replyId"] == unconfirmed.payload["replyId"],
        timeout=WAIT_S,
    )
    assert resent.payload == unconfirmed.payload
    second = await _reply(chat, "quick done")
    assert second.payload["taskId"] == first.payload["taskId"]  # the same session
    after = [f for f in chat.received("chat_reply") if f.connection == 2]
    assert not _distinct(after) & confirmed  # nothing confirmed before went out again

    # A message the server delivers again after the restart runs nothing twice.
    await _say(chat, "quick two", "m2")
    await _say(chat, "-status", "m3")
    await _reply(chat, "State:")
    frames = chat.received("chat_reply")
    assert len(_distinct(frames, lambda f: f.payload.get("text") == "quick done")) == 2
