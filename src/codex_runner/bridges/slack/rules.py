"""Slack's own rules, free of I/O: which events are a person's message, what a message
means (mentions, DMs, commands), and how a thread's earlier messages read.

The rules every chat shares (access, commands, approvers, queueing) are the chat core's
(:mod:`codex_runner.bridges.chat.rules`); Slack handlers only parse and hand over.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from codex_runner.bridges.chat.rules import AccessPolicy, Command, parse_command

# Message subtypes that carry a person's words; edits, joins, bot posts and the rest do not.
_HUMAN_SUBTYPES = frozenset({None, "file_share", "thread_broadcast"})
_MENTION = re.compile(r"<@([A-Z0-9]+)(?:\|[^>]*)?>")
IMAGE_MIMETYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})


@dataclass(frozen=True)
class SlackFile:
    id: str
    name: str
    mimetype: str
    url: str
    size: int


@dataclass(frozen=True)
class IncomingMessage:
    """A person's message, as far as the bridge cares."""

    channel: str
    ts: str
    user: str
    text: str
    thread_ts: str | None = None  # set for a reply inside a thread
    is_dm: bool = False
    files: tuple[SlackFile, ...] = ()

    @property
    def root_ts(self) -> str:
        """The thread this message belongs to (its own ts when it starts one)."""
        return self.thread_ts or self.ts

    @property
    def is_thread_reply(self) -> bool:
        return self.thread_ts is not None and self.thread_ts != self.ts

    def mentions(self, user_id: str) -> bool:
        return user_id in _MENTION.findall(self.text)

    @property
    def images(self) -> tuple[SlackFile, ...]:
        return tuple(f for f in self.files if f.mimetype in IMAGE_MIMETYPES)


def parse_message_event(event: Mapping[str, Any], bot_user_id: str) -> IncomingMessage | None:
    """The person's message in a Slack ``message``/``app_mention`` event; None for the rest
    (the bot's own posts, other bots, edits, deletions, joins)."""
    if event.get("subtype") not in _HUMAN_SUBTYPES or event.get("bot_id"):
        return None
    user, channel, ts = event.get("user"), event.get("channel"), event.get("ts")
    if not isinstance(user, str) or not isinstance(channel, str) or not isinstance(ts, str):
        return None
    if user == bot_user_id:
        return None
    files = tuple(
        SlackFile(
            id=str(f.get("id", "")),
            name=str(f.get("name") or f.get("id") or "file"),
            mimetype=str(f.get("mimetype", "")),
            url=str(f.get("url_private_download") or f.get("url_private") or ""),
            size=int(f.get("size") or 0),
        )
        for f in event.get("files") or ()
        if isinstance(f, Mapping)
    )
    thread_ts = event.get("thread_ts")
    return IncomingMessage(
        channel=channel,
        ts=ts,
        user=user,
        text=str(event.get("text") or ""),
        thread_ts=thread_ts if isinstance(thread_ts, str) else None,
        is_dm=event.get("channel_type") == "im",
        files=files,
    )


def strip_mentions(text: str, bot_user_id: str) -> str:
    """The text without mentions of the bot (other people's mentions stay)."""
    stripped = re.sub(rf"<@{re.escape(bot_user_id)}(?:\|[^>]*)?>", "", text)
    return stripped.strip()


class Route(StrEnum):
    IGNORE = "ignore"  # not for the bot
    REFUSE = "refuse"  # for the bot, from someone not allowed: a polite refusal
    START = "start"  # first message of a new session
    STOP = "stop"
    STATUS = "status"
    CONTINUE = "continue"  # the next input of an existing session


def route(
    message: IncomingMessage, *, bot_user_id: str, has_session: bool, access: AccessPolicy
) -> Route:
    """What to do with a person's message."""
    addressed = has_session or message.mentions(bot_user_id) or message.is_dm
    if not addressed:
        return Route.IGNORE
    if not access.allows(message.user, message.channel):
        return Route.REFUSE
    text = strip_mentions(message.text, bot_user_id)
    if not has_session:
        if not text and not message.images:
            return Route.IGNORE  # a bare mention with nothing to do
        # A DM reply in a thread the bot never saw, or a root DM: both start a session.
        return Route.START
    command = parse_command(text)
    if command is Command.STOP:
        return Route.STOP
    if command is Command.STATUS:
        return Route.STATUS
    if not text and not message.images:
        return Route.IGNORE
    return Route.CONTINUE


def backfill_lines(
    messages: Sequence[Mapping[str, Any]], *, before_ts: str, limit: int, names: Mapping[str, str]
) -> list[str]:
    """The last ``limit`` thread messages before ``before_ts`` as "name: text" lines."""
    earlier = [
        m for m in messages if ts_key(str(m.get("ts", "0"))) < ts_key(before_ts) and m.get("text")
    ]
    lines = []
    for m in earlier[-limit:] if limit else []:
        who = str(m.get("user") or m.get("username") or m.get("bot_id") or "someone")
        lines.append(f"{names.get(who, who)}: {replace_mentions(str(m['text']), names)}")
    return lines


def replace_mentions(text: str, names: Mapping[str, str]) -> str:
    """``<@U123>`` as ``@name`` where the name is known."""
    return _MENTION.sub(lambda m: "@" + names.get(m.group(1), m.group(1)), text)


def mentioned_users(text: str) -> list[str]:
    return _MENTION.findall(text)


def ts_key(ts: str) -> tuple[int, int]:
    """A Slack ts as a sortable value (exact, unlike a float)."""
    whole, _, frac = ts.partition(".")
    try:
        return int(whole), int(frac or 0)
    except ValueError:
        return 0, 0
