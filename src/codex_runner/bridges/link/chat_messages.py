"""The chat server's ``chat_message`` push, read, checked and routed: no I/O.

    {"author": {"id": "u1", "name": "Ann"}, "text": "fix the test",
     "chatThreadId": "th-42", "messageId": "m-1001"}

``author.name`` is optional (the id stands in for it); the rest is required. A message id
names one message for good: the runner handles each once, however often it comes.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from codex_runner.bridges.chat.rules import Command, parse_command

MAX_TEXT_CHARS = 100_000


class BadChatMessage(ValueError):
    """A ``chat_message`` the runner cannot read; the message says which field and how."""


@dataclass(frozen=True)
class ChatMessage:
    author_id: str
    author_name: str | None
    text: str
    chat_thread_id: str
    message_id: str

    @property
    def author(self) -> str:
        """Who wrote it, for people to read."""
        return self.author_name or self.author_id


def parse_chat_message(payload: dict[str, Any]) -> ChatMessage:
    """The message in ``payload``; :class:`BadChatMessage` naming what is wrong."""
    author = payload.get("author")
    if not isinstance(author, dict):
        raise BadChatMessage('chat_message needs author: {"id": ..., "name": ...}')
    name = author.get("name")
    text = payload.get("text")
    if not isinstance(text, str):
        raise BadChatMessage("chat_message needs text: a string")
    if len(text) > MAX_TEXT_CHARS:
        raise BadChatMessage(f"chat_message text is over {MAX_TEXT_CHARS:,} characters")
    return ChatMessage(
        author_id=_required(author, "id", "author.id"),
        author_name=name.strip() if isinstance(name, str) and name.strip() else None,
        text=text,
        chat_thread_id=_required(payload, "chatThreadId", "chatThreadId"),
        message_id=_required(payload, "messageId", "messageId"),
    )


class Route(StrEnum):
    IGNORE = "ignore"  # nothing to do (no text)
    NO_SESSION = "no_session"  # a command in a thread with no session yet
    START = "start"  # the thread's first message: a new session
    STOP = "stop"
    STATUS = "status"
    CONTINUE = "continue"  # the session's next message


def route(message: ChatMessage, *, has_session: bool) -> Route:
    """What a message of the link's channel asks for: every message there is for Codex
    (no mention needed), but a command needs a session to act on."""
    if not message.text.strip():
        return Route.IGNORE
    command = parse_command(message.text)
    if not has_session:
        return Route.START if command is None else Route.NO_SESSION
    if command is Command.STOP:
        return Route.STOP
    if command is Command.STATUS:
        return Route.STATUS
    return Route.CONTINUE


def _required(data: dict[str, Any], key: str, name: str) -> str:
    value = data.get(key)
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)  # a server numbering its ids
    if not isinstance(value, str) or not value.strip():
        raise BadChatMessage(f"chat_message needs {name}: a non-empty string")
    return value.strip()
