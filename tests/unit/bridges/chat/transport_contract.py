"""What every ChatTransport does, whichever chat it talks to: one contract, run against the
in-memory chat here and against each bridge's transport beside that bridge's tests.

A subclass named ``Test...`` sets ``self.transport`` in ``setup_method`` and implements
:meth:`take_down` (the chat fails the next calls as unavailable); the chat refuses every
text starting with ``REFUSED``.
"""

from __future__ import annotations

import pytest

from codex_runner.bridges.chat.bridge_db import POST, UPDATE, Post
from codex_runner.bridges.chat.errors import ChatRejected, ChatUnavailable
from codex_runner.bridges.chat.transport import ChatTransport

REFUSED = "bad"


def post(text: str, op: str = POST, **extra: object) -> Post:
    return Post("k", "C1", op, {"text": text, **extra}, thread="1.1", task_id="t1")


class ChatTransportContract:
    transport: ChatTransport

    def take_down(self, calls: int) -> None:
        raise NotImplementedError

    async def test_a_post_makes_a_message_that_can_be_edited(self) -> None:
        message_id = await self.transport.send(post("hello", ref="status:1"))
        assert message_id
        await self.transport.edit(post("hello again", UPDATE, ref="status:1"), message_id)
        other = await self.transport.send(post("second"))
        assert other and other != message_id

    async def test_a_chat_that_is_down_says_try_again_later(self) -> None:
        self.take_down(2)
        with pytest.raises(ChatUnavailable):
            await self.transport.send(post("hello"))
        with pytest.raises(ChatUnavailable):
            await self.transport.send(post("hello"))
        assert await self.transport.send(post("hello"))

    async def test_a_refusal_is_for_good(self) -> None:
        with pytest.raises(ChatRejected):
            await self.transport.send(post(REFUSED + " text"))

    async def test_an_op_the_transport_does_not_know_is_refused_as_bad_input(self) -> None:
        with pytest.raises((ValueError, ChatRejected)):
            await self.transport.send(post("x", op="no-such-op"))

    def test_a_receipt_names_the_op_and_keeps_texts_short(self) -> None:
        receipt = self.transport.receipt(post("a" * 5_000), "m1")
        assert receipt["op"] == POST
        assert all(len(str(v)) <= 500 for v in receipt.values())
