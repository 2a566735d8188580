"""Slack threads as Codex sessions: what happens with each Slack message and button click.

Slack's own part is here: reading an event (once), routing it (mentions, DMs, commands),
wording a turn (display names, the thread's earlier messages, saved images) and Slack's marks
and posts. The session itself (a turn now or a place in the queue, ``-stop``, ``-status``,
approvals, a fresh task after a failed one) is the chat core's
:class:`~codex_runner.bridges.chat.sessions.ChatSessions`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any

from codex_runner.bridges.chat.bridge_db import POST, BridgeDb, Post, Session
from codex_runner.bridges.chat.rules import AccessPolicy, session_key
from codex_runner.bridges.chat.sessions import ChatInput, ChatSessions
from codex_runner.bridges.slack import rules
from codex_runner.bridges.slack.api import SlackApi, SlackRejected, SlackUnavailable
from codex_runner.bridges.slack.mrkdwn import split_message, to_mrkdwn
from codex_runner.bridges.slack.names import DisplayNames
from codex_runner.bridges.slack.rules import IncomingMessage, Route
from codex_runner.bridges.slack.session_files import SessionFiles, session_notes
from codex_runner.bridges.slack.settings import BridgeSettings
from codex_runner.bridges.slack.transport import FILE, REACT
from codex_runner.domain.task import WorkspaceRequest

log = logging.getLogger(__name__)

QUEUED_REACTION = "hourglass_flowing_sand"
MAX_IMAGES = 10
REFUSAL = (
    "Sorry, I can't take requests from you here. Ask a workspace admin to add you "
    "(or this channel) to the Codex bot's allowed list."
)


class SlackHost:
    """:class:`~codex_runner.bridges.chat.sessions.ChatHost` for Slack: a session's files
    under ``sessions/``, its notes, ``<@user>`` mentions and display names, and the
    reaction on a queued message."""

    def __init__(self, settings: BridgeSettings, names: DisplayNames) -> None:
        self._settings = settings
        self._names = names

    def files(self, session_key: str) -> SessionFiles:
        return SessionFiles.of(self._settings.sessions_dir, session_key)

    def workspace(self, session_key: str) -> WorkspaceRequest:
        return WorkspaceRequest.directory(str(self.files(session_key).workspace))

    def notes(self, session_key: str) -> str:
        return session_notes(self.files(session_key), self._settings.repos_dir)

    def mention(self, user: str) -> str:
        return f"<@{user}>"

    async def display_name(self, user: str) -> str:
        return await self._names.name(user)

    def queued_marks(self, session: Session, message_id: str) -> list[Post]:
        return [session.post(REACT, {"ts": message_id, "name": QUEUED_REACTION})]


class Conversations:
    def __init__(
        self,
        *,
        settings: BridgeSettings,
        db: BridgeDb,
        api: SlackApi,
        sessions: ChatSessions,
        host: SlackHost,
        names: DisplayNames,
        issue_credentials: Callable[[Session], None],
        asked: Callable[[str, str, str], Awaitable[None]] | None = None,
    ) -> None:
        """``asked(user, channel, thread_ts)`` after a person asks for work (co-authors)."""
        self._asked = asked
        self._settings = settings
        self._db = db
        self._api = api
        self.sessions = sessions
        self._host = host
        self._names = names
        self._issue_credentials = issue_credentials
        self._access = AccessPolicy(settings.allowed_users, settings.allowed_channels)
        self.bot_user_id = ""

    # --- messages --------------------------------------------------------------------------

    async def handle_event(self, event_id: str, event: Mapping[str, Any]) -> None:
        """A ``message`` or ``app_mention`` event; each message is handled once."""
        message = rules.parse_message_event(event, self.bot_user_id)
        if message is None:
            return
        # Slack retries carry the same event id; a mention arrives both as ``app_mention``
        # and as ``message``, with different event ids but the same message ts.
        ids = (f"event:{event_id}", f"message:{message.channel}:{message.ts}")
        if not self._db.first_sighting(*ids):
            return
        key = session_key(message.channel, message.root_ts)
        session = self._db.session(key)
        route = rules.route(
            message,
            bot_user_id=self.bot_user_id,
            has_session=session is not None,
            access=self._access,
        )
        if route is Route.IGNORE:
            return
        if route is Route.REFUSE:
            self.sessions.reply_in(key, message.channel, message.root_ts, None, REFUSAL)
            return
        try:
            if route is Route.START or session is None:
                await self._start(message, key)
            elif route is Route.STOP:
                await self.sessions.stop(session, message.user, message.ts)
            elif route is Route.STATUS:
                await self.sessions.status(session, message.user, message.ts)
            else:
                files = self._host.files(session.key)
                await self.sessions.deliver(session, await self._input(message, files))
            if self._asked is not None and route not in (Route.STOP, Route.STATUS):
                await self._asked(message.user, message.channel, message.root_ts)
        except Exception as exc:
            # Marked as seen already (nothing runs twice), so say what went wrong instead.
            log.exception("Slack message %s in %s could not be handled", message.ts, key)
            task_id = session.task_id if session else None
            self.sessions.reply_in(
                key, message.channel, message.root_ts, task_id, f"Sorry, that did not work: {exc}"
            )

    async def _start(self, message: IncomingMessage, key: str) -> None:
        files = self._host.files(key)
        files.create()
        self._issue_credentials(Session(key, message.channel, message.root_ts, "", message.user))
        given = await self._input(message, files)
        text = given.turn_text
        if message.is_thread_reply:
            earlier = await self._backfill(message)
            if earlier:
                text = (
                    "Earlier messages in this Slack thread:\n" + "\n".join(earlier) + "\n\n" + text
                )
        prompt = text + self._host.notes(key)
        await self.sessions.start(key, message.channel, message.root_ts, given, prompt)

    async def handle_approval_action(self, user: str, approval_id: str, decision: str) -> None:
        """A click on an approval button."""
        await self.sessions.decide(user, approval_id, decision)

    # --- posting ---------------------------------------------------------------------------

    def post_markdown(self, session: Session, markdown: str) -> int:
        """Queue ``markdown`` for the session's thread; returns how many messages it takes."""
        pieces = split_message(to_mrkdwn(markdown))
        self.sessions.enqueue([session.post(POST, {"text": p}) for p in pieces])
        return len(pieces)

    def post_file(self, session: Session, path: Path, filename: str, comment: str | None) -> None:
        payload = {"path": str(path), "filename": filename, "comment": comment, "spooled": True}
        self.sessions.enqueue([session.post(FILE, payload)])

    # --- wording a turn --------------------------------------------------------------------

    async def _input(self, message: IncomingMessage, files: SessionFiles) -> ChatInput:
        """The message as the session takes it: "name: text", its images saved."""
        text = rules.strip_mentions(message.text, self.bot_user_id)
        names = await self._names.names([message.user, *rules.mentioned_users(text)])
        images = await self._save_images(message, files)
        return ChatInput(
            user=message.user,
            message_id=message.ts,
            text=message.text,
            turn_text=f"{names[message.user]}: {rules.replace_mentions(text, names)}",
            images=tuple(images),
        )

    async def _backfill(self, message: IncomingMessage) -> list[str]:
        limit = self._settings.backfill_messages
        if not limit or message.thread_ts is None:
            return []
        try:
            earlier = await self._api.replies(message.channel, message.thread_ts, limit + 50)
        except (SlackUnavailable, SlackRejected) as exc:
            log.warning("no backfill for %s: %s", message.thread_ts, exc)
            return []
        users = [str(m.get("user")) for m in earlier if m.get("user")]
        for m in earlier:
            users.extend(rules.mentioned_users(str(m.get("text") or "")))
        names = await self._names.names(users)
        return rules.backfill_lines(earlier, before_ts=message.ts, limit=limit, names=names)

    async def _save_images(self, message: IncomingMessage, files: SessionFiles) -> list[str]:
        saved: list[str] = []
        for image in message.images[:MAX_IMAGES]:
            if not image.url:
                continue
            try:
                data = await self._api.download(image.url)
            except (SlackUnavailable, SlackRejected) as exc:
                log.warning("image %s of message %s not saved: %s", image.id, message.ts, exc)
                continue
            suffix = Path(image.name).suffix or "." + image.mimetype.rsplit("/", 1)[-1]
            path = files.images / f"{message.ts}-{image.id}{suffix}"
            await asyncio.to_thread(path.write_bytes, data)
            saved.append(str(path))
        return saved
