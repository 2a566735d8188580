"""The link's ChatTransport: the contract every transport passes, and the pushes it makes."""

from __future__ import annotations

from typing import Any

import pytest

from codex_runner.bridges.chat.bridge_db import POST, UPDATE, Post
from codex_runner.bridges.link.phoenix import ConnectionLost, PushRefused, PushTimeout
from codex_runner.bridges.link.transport import (
    APPROVAL_REQUEST,
    CHAT_REPLY,
    MESSAGE_QUEUED,
    QUEUED,
    LinkRejected,
    LinkTransport,
    LinkUnavailable,
)

from ..chat.transport_contract import REFUSED, ChatTransportContract


class FakeServer:
    """The link's push as the chat server answers it: down for ``down`` more pushes, a
    refusal for texts starting with REFUSED, ok otherwise."""

    def __init__(self) -> None:
        self.down = 0
        self.pushed: list[tuple[str, dict[str, Any]]] = []

    async def push(self, event: str, payload: dict[str, Any]) -> dict[str, Any]:
        if self.down:
            self.down -= 1
            raise ConnectionLost("the socket closed")
        if str(payload.get("text", "")).startswith(REFUSED):
            raise PushRefused("refused", status="error", response={"reason": "nope"})
        self.pushed.append((event, payload))
        return {}


class TestLinkTransport(ChatTransportContract):
    def setup_method(self) -> None:
        self.server = FakeServer()
        self.transport = LinkTransport(self.server.push, "inst_1")

    def take_down(self, calls: int) -> None:
        self.server.down = calls


def queued(post: Post, outbox_id: int) -> Post:
    return Post(
        post.lane, post.channel, post.op, post.payload, post.thread, post.task_id, outbox_id
    )


def a_post(op: str, **payload: Any) -> Post:
    return Post("k", "ws/general", op, payload, thread="th-1", task_id="t1")


async def test_a_reply_carries_its_outbox_id_so_a_resend_is_recognisable() -> None:
    server = FakeServer()
    transport = LinkTransport(server.push, "inst_1")
    post = queued(a_post(POST, text="hello", ref="status:3"), 7)
    server.down = 1
    with pytest.raises(LinkUnavailable):
        await transport.send(post)
    reply_id = await transport.send(post)  # the resend
    assert reply_id == "inst_1:7"
    event, payload = server.pushed[0]
    assert event == CHAT_REPLY
    assert payload == {
        "instanceId": "inst_1",
        "channel": "ws/general",
        "chatThreadId": "th-1",
        "replyId": "inst_1:7",
        "taskId": "t1",
        "text": "hello",
    }


async def test_an_edit_names_the_reply_it_replaces() -> None:
    server = FakeServer()
    transport = LinkTransport(server.push, "inst_1")
    await transport.edit(queued(a_post(UPDATE, text="done", ref="status:3"), 9), "inst_1:7")
    event, payload = server.pushed[0]
    assert event == CHAT_REPLY
    assert payload["replaces"] == "inst_1:7" and payload["replyId"] == "inst_1:9"
    assert "ref" not in payload


async def test_an_approval_goes_out_as_an_approval_request_and_a_queued_mark_as_such() -> None:
    server = FakeServer()
    transport = LinkTransport(server.push, "inst_1")
    approval = a_post(POST, text="Run ls?", approvalId="a_1", decisions=["accept", "decline"])
    assert await transport.send(queued(approval, 1)) == "inst_1:1"
    assert await transport.send(queued(a_post(QUEUED, messageId="m-2"), 2)) is None
    assert [event for event, _ in server.pushed] == [APPROVAL_REQUEST, MESSAGE_QUEUED]
    assert server.pushed[0][1]["decisions"] == ["accept", "decline"]
    assert server.pushed[1][1]["messageId"] == "m-2"


async def test_a_push_with_no_reply_in_time_is_tried_again_and_a_refusal_is_not() -> None:
    async def silent(event: str, payload: dict[str, Any]) -> dict[str, Any]:
        raise PushTimeout("no reply to chat_reply within 10 s")

    with pytest.raises(LinkUnavailable):
        await LinkTransport(silent, "inst_1").send(a_post(POST, text="hi"))
    server = FakeServer()
    with pytest.raises(LinkRejected):
        await LinkTransport(server.push, "inst_1").send(a_post(POST, text=REFUSED + "!"))
