"""Slack threads as Codex sessions: what happens with each message and button click.

Handlers hand parsed Slack payloads to :class:`Conversations`; the decisions themselves are
the pure rules of :mod:`~codex_runner.bridges.slack.rules`. Everything said to Slack goes
through the outbox; everything that happens is recorded in the task's event log.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from codex_runner.bridges.chat import task_log as event_log
from codex_runner.bridges.chat.bridge_db import BridgeDb, Post, Session
from codex_runner.bridges.chat.session_locks import SessionLocks
from codex_runner.bridges.chat.task_log import TaskLog
from codex_runner.bridges.slack import rules
from codex_runner.bridges.slack.api import SlackApi, SlackRejected, SlackUnavailable
from codex_runner.bridges.slack.mrkdwn import split_message, to_mrkdwn
from codex_runner.bridges.slack.names import DisplayNames
from codex_runner.bridges.slack.rules import Delivery, IncomingMessage, Route
from codex_runner.bridges.slack.sessions import SessionFiles, session_notes
from codex_runner.bridges.slack.settings import BridgeSettings
from codex_runner.bridges.slack.transport import FILE, REACT
from codex_runner.domain.approval import ApprovalError
from codex_runner.domain.task import Task, WorkspaceRequest
from codex_runner.domain.transitions import FINAL_STATES, InvalidTransition
from codex_runner.service.errors import IdempotencyKeyReused
from codex_runner.service.tasks import TaskService
from codex_runner.store.errors import ApprovalNotFound

log = logging.getLogger(__name__)

QUEUED_REACTION = "hourglass_flowing_sand"
MAX_IMAGES = 10
REFUSAL = (
    "Sorry, I can't take requests from you here. Ask a workspace admin to add you "
    "(or this channel) to the Codex bot's allowed list."
)


class Conversations:
    def __init__(
        self,
        *,
        settings: BridgeSettings,
        db: BridgeDb,
        api: SlackApi,
        service: TaskService,
        task_log: TaskLog,
        names: DisplayNames,
        notify_outbox: Callable[[], None],
        watch: Callable[[str], None],
        follow_again: Callable[[str], Awaitable[None]],
        issue_credentials: Callable[[Session], None],
    ) -> None:
        self._settings = settings
        self._db = db
        self._api = api
        self._service = service
        self._log = task_log
        self._names = names
        self._notify = notify_outbox
        self._watch = watch
        self._follow_again = follow_again
        self._issue_credentials = issue_credentials
        self._access = rules.AccessPolicy(settings.allowed_users, settings.allowed_channels)
        self._locks = SessionLocks()
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
        key = rules.session_key(message.channel, message.root_ts)
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
            await self._reply_to(message, key, None, REFUSAL)
            return
        try:
            if route is Route.START or session is None:
                await self._start(message, key)
            elif route is Route.STOP:
                await self._stop(message, session)
            elif route is Route.STATUS:
                await self._status(message, session)
            else:
                await self._continue(message, session)
        except Exception as exc:
            # Marked as seen already (nothing runs twice), so say what went wrong instead.
            log.exception("Slack message %s in %s could not be handled", message.ts, key)
            task_id = session.task_id if session else None
            await self._reply_to(message, key, task_id, f"Sorry, that did not work: {exc}")

    async def _start(self, message: IncomingMessage, key: str) -> None:
        files = SessionFiles.of(self._settings.sessions_dir, key)
        files.create()
        session = Session(key, message.channel, message.root_ts, "", message.user)
        self._issue_credentials(session)
        text = await self._speaker_text(message)
        if message.is_thread_reply:
            earlier = await self._backfill(message)
            if earlier:
                text = (
                    "Earlier messages in this Slack thread:\n" + "\n".join(earlier) + "\n\n" + text
                )
        images = await self._save_images(message, files)
        prompt = text + session_notes(files, self._settings.repos_dir)
        try:
            task = await self._submit(prompt, files, images, idempotency_key=f"slack:{key}")
        except IdempotencyKeyReused as reused:
            # The thread already has its task but lost its session row (the bridge stopped
            # between the two writes): adopt that task and take this message as its next.
            adopted = Session(key, message.channel, message.root_ts, reused.task_id, message.user)
            self._db.add_session(adopted)
            self._watch(key)
            await self._continue(message, adopted)
            return
        self._db.add_session(Session(key, message.channel, message.root_ts, task.id, message.user))
        await self._log.record(
            task.id,
            event_log.SESSION_STARTED,
            {"channel": message.channel, "thread_ts": message.root_ts, "user": message.user},
        )
        await self._record_message(task.id, message, images)
        self._watch(key)

    async def _continue(self, message: IncomingMessage, session: Session) -> None:
        files = SessionFiles.of(self._settings.sessions_dir, session.key)
        text = await self._speaker_text(message)
        images = await self._save_images(message, files)
        async with self._locks.hold(session.key):
            task = await self._service.get(session.task_id)
            depth = self._db.queue_depth(session.key)
            plan = rules.plan_delivery(task.state, depth)
            if plan is Delivery.NOW:
                try:
                    await self._message(task.id, text, images)
                except InvalidTransition:
                    plan = Delivery.QUEUE  # a turn started meanwhile
                else:
                    await self._follow_again(session.key)
                    await self._record_message(task.id, message, images)
            elif plan is Delivery.NEW_TASK:
                fresh = await self._restart(session, task, text, images)
                await self._record_message(fresh.id, message, images)
            if plan is Delivery.QUEUE:
                depth = self._db.enqueue_message(
                    session.key, message.user, message.ts, text, images
                )
                self._enqueue(
                    [self._post(session, REACT, {"ts": message.ts, "name": QUEUED_REACTION})]
                )
                await self._log.record(
                    task.id,
                    event_log.MESSAGE_QUEUED,
                    {"ts": message.ts, "user": message.user, "text": text, "queue_depth": depth},
                )

    async def dispatch_next(self, key: str) -> None:
        """After a turn: run the oldest queued message of the session, if any."""
        async with self._locks.hold(key):
            session = self._db.session(key)
            queued = self._db.next_queued(key)
            if session is None or queued is None:
                return
            task = await self._service.get(session.task_id)
            if not rules.can_take_next(task.state):
                return
            try:
                if task.state in FINAL_STATES:
                    await self._restart(session, task, queued.text, list(queued.images))
                else:
                    await self._message(task.id, queued.text, list(queued.images))
                    await self._follow_again(key)
            except InvalidTransition:
                return  # someone else started a turn; the next turn end tries again
            self._db.remove_queued(queued.id)
            current = self._db.session(key)
            await self._log.record(
                current.task_id if current else task.id,
                event_log.MESSAGE_DISPATCHED,
                {
                    "ts": queued.message_id,
                    "user": queued.user,
                    "queue_depth": self._db.queue_depth(key),
                },
            )

    async def _stop(self, message: IncomingMessage, session: Session) -> None:
        async with self._locks.hold(session.key):
            dropped = self._db.clear_queue(session.key)
        try:
            await self._service.interrupt(session.task_id)
            reply = "Stopping the current turn."
        except InvalidTransition:
            reply = "Nothing is running right now."
        if dropped:
            reply += f" Dropped {dropped} queued message{'s' if dropped != 1 else ''}."
        await self._log.record(
            session.task_id,
            event_log.COMMAND,
            {"command": "stop", "user": message.user, "ts": message.ts, "dropped": dropped},
        )
        await self._reply(session, reply)

    async def _status(self, message: IncomingMessage, session: Session) -> None:
        task = await self._service.get(session.task_id)
        line = rules.status_line(
            task.state, self._db.queue_depth(session.key), task.usage.total_tokens
        )
        await self._log.record(
            session.task_id,
            event_log.COMMAND,
            {"command": "status", "user": message.user, "ts": message.ts},
        )
        await self._reply(session, line)

    # --- approvals -------------------------------------------------------------------------

    def deciders(self, session: Session) -> list[str]:
        return sorted(self._settings.approvers) or [session.requester]

    async def handle_approval_action(self, user: str, approval_id: str, decision: str) -> None:
        """A click on an approval button."""
        try:
            approval = await self._service.approval(approval_id)
        except ApprovalNotFound:
            approval = None
        session = self._db.session_by_task(approval.task_id) if approval else None
        if approval is None or session is None:
            log.warning("approval action for unknown approval %s ignored", approval_id)
            return
        data = {"approval_id": approval_id, "user": user, "decision": decision}
        if not rules.may_decide(
            user, approvers=self._settings.approvers, requester=session.requester
        ):
            who = ", ".join(f"<@{u}>" for u in self.deciders(session))
            await self._log.record(
                session.task_id, event_log.APPROVAL_ACTION, {**data, "outcome": "refused"}
            )
            await self._reply(session, f"Sorry <@{user}>, only {who} can decide this approval.")
            return
        try:
            await self._service.decide_approval(approval_id, decision, by=f"slack:{user}")
        except ApprovalError as exc:
            await self._log.record(
                session.task_id,
                event_log.APPROVAL_ACTION,
                {**data, "outcome": "rejected", "error": str(exc)},
            )
            await self._reply(session, f"<@{user}>: {exc}")
            return
        await self._log.record(
            session.task_id, event_log.APPROVAL_ACTION, {**data, "outcome": "decided"}
        )

    # --- posting ---------------------------------------------------------------------------

    async def post_markdown(self, session: Session, markdown: str) -> int:
        """Queue ``markdown`` for the session's thread; returns how many messages it takes."""
        pieces = split_message(to_mrkdwn(markdown))
        self._enqueue([self._post(session, "post", {"text": p}) for p in pieces])
        return len(pieces)

    def post_file(self, session: Session, path: Path, filename: str, comment: str | None) -> None:
        payload = {"path": str(path), "filename": filename, "comment": comment, "spooled": True}
        self._enqueue([self._post(session, FILE, payload)])

    async def _reply(self, session: Session, text: str) -> None:
        self._enqueue([self._post(session, "post", {"text": text})])

    async def _reply_to(
        self, message: IncomingMessage, key: str, task_id: str | None, text: str
    ) -> None:
        post = Post(
            lane=key,
            channel=message.channel,
            thread=message.root_ts,
            op="post",
            payload={"text": text},
            task_id=task_id,
        )
        self._enqueue([post])

    def _post(self, session: Session, op: str, payload: dict[str, Any]) -> Post:
        return Post(
            lane=session.key,
            channel=session.channel,
            thread=session.thread,
            op=op,
            payload=payload,
            task_id=session.task_id or None,
        )

    def _enqueue(self, posts: Sequence[Post]) -> None:
        self._db.enqueue_posts(posts)
        self._notify()

    # --- helpers ---------------------------------------------------------------------------

    async def _speaker_text(self, message: IncomingMessage) -> str:
        text = rules.strip_mentions(message.text, self.bot_user_id)
        names = await self._names.names([message.user, *rules.mentioned_users(text)])
        return f"{names[message.user]}: {rules.replace_mentions(text, names)}"

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

    async def _submit(
        self, prompt: str, files: SessionFiles, images: Sequence[str], *, idempotency_key: str
    ) -> Task:
        workspace = WorkspaceRequest.directory(str(files.workspace))
        return await self._service.submit(
            prompt, workspace, idempotency_key=idempotency_key, images=images
        )

    async def _message(self, task_id: str, text: str, images: Sequence[str]) -> Task:
        return await self._service.message(task_id, text, images=images)

    async def _restart(self, session: Session, old: Task, text: str, images: Sequence[str]) -> Task:
        """The session's task is final: continue the thread on a fresh task."""
        files = SessionFiles.of(self._settings.sessions_dir, session.key)
        note = f"(The previous Codex session for this thread ended: {old.state.value}.)\n"
        prompt = note + text + session_notes(files, self._settings.repos_dir)
        task = await self._submit(
            prompt, files, images, idempotency_key=f"slack:{session.key}:{old.id}"
        )
        self._db.replace_task(session.key, task.id)
        await self._log.record(
            task.id,
            event_log.SESSION_STARTED,
            {"channel": session.channel, "thread_ts": session.thread, "replaces_task": old.id},
        )
        self._watch(session.key)
        return task

    async def _record_message(
        self, task_id: str, message: IncomingMessage, images: Sequence[str]
    ) -> None:
        await self._log.record(
            task_id,
            event_log.MESSAGE_RECEIVED,
            {"ts": message.ts, "user": message.user, "text": message.text, "images": list(images)},
        )
