"""Reading the chat server's chat_message pushes, and how replies read."""

from __future__ import annotations

from typing import Any

import pytest

from codex_runner.bridges.link.chat_messages import (
    BadChatMessage,
    Route,
    parse_chat_message,
    route,
)
from codex_runner.bridges.link.rendering import LinkRenderer, split_reply


def message(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "author": {"id": "u1", "name": "Ann"},
        "text": "fix the test",
        "chatThreadId": "th-1",
        "messageId": "m-1",
    }
    return {**base, **changes}


def test_a_chat_message_names_its_author_thread_and_id() -> None:
    parsed = parse_chat_message(message())
    assert (parsed.author_id, parsed.author, parsed.text) == ("u1", "Ann", "fix the test")
    assert (parsed.chat_thread_id, parsed.message_id) == ("th-1", "m-1")
    unnamed = parse_chat_message(message(author={"id": "u2"}, messageId=42))
    assert unnamed.author == "u2" and unnamed.message_id == "42"


@pytest.mark.parametrize(
    ("changes", "named"),
    [
        ({"author": "u1"}, "author"),
        ({"author": {"name": "Ann"}}, "author.id"),
        ({"text": None}, "text"),
        ({"chatThreadId": ""}, "chatThreadId"),
        ({"messageId": None}, "messageId"),
    ],
)
def test_a_malformed_chat_message_is_refused_naming_the_field(
    changes: dict[str, Any], named: str
) -> None:
    with pytest.raises(BadChatMessage, match=named):
        parse_chat_message(message(**changes))


def test_a_long_answer_is_split_at_line_ends_below_the_limit() -> None:
    text = "\n".join(f"line {i}" for i in range(100))
    pieces = split_reply(text, limit=50)
    assert all(len(p) <= 50 for p in pieces)
    assert "\n".join(pieces) == text
    assert split_reply("") == [""]


def test_an_approval_request_carries_the_decisions_offered_and_who_may_decide() -> None:
    data = {"kind": "command", "command": "rm -rf build", "available_decisions": ["accept"]}
    payload = LinkRenderer().approval_request("a_1", data, ["u1"])
    assert payload["approvalId"] == "a_1" and payload["decisions"] == ["accept"]
    assert payload["deciders"] == ["u1"] and "rm -rf build" in payload["text"]
    decided = LinkRenderer().approval_decided(data, "accept", "Ann")
    assert decided["outcome"] == "decided" and decided["decidedBy"] == "Ann"


@pytest.mark.parametrize(
    ("text", "has_session", "expected"),
    [
        ("fix it", False, Route.START),
        ("-stop", False, Route.NO_SESSION),
        ("  ", True, Route.IGNORE),
        ("fix it", True, Route.CONTINUE),
        ("-stop", True, Route.STOP),
        ("Stop!", True, Route.STOP),
        ("-status", True, Route.STATUS),
        ("stop the build when it fails", True, Route.CONTINUE),
    ],
)
def test_every_message_of_the_channel_is_for_codex_and_commands_need_a_session(
    text: str, has_session: bool, expected: Route
) -> None:
    assert route(parse_chat_message(message(text=text)), has_session=has_session) is expected
