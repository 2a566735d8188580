"""What the agent's helper endpoints do, behind the HTTP routes (which only translate)."""

from __future__ import annotations

import asyncio
import secrets
import shutil
from pathlib import Path
from typing import Any

from codex_runner.bridges.chat.bridge_db import BridgeDb, Session
from codex_runner.bridges.chat.task_log import TaskLog
from codex_runner.bridges.slack import event_log, helper_rules
from codex_runner.bridges.slack.api import SlackApi, SlackRejected, SlackUnavailable
from codex_runner.bridges.slack.conversations import Conversations
from codex_runner.bridges.slack.helper_rules import HelperRefused
from codex_runner.bridges.slack.names import DisplayNames
from codex_runner.bridges.slack.rules import mentioned_users
from codex_runner.bridges.slack.session_files import SessionFiles


class HelperKeys:
    """Helper keys issued this daemon run: key -> session key."""

    def __init__(self) -> None:
        self._sessions: dict[str, str] = {}
        self._keys: dict[str, str] = {}

    def issue(self, session_key: str, helper_key: str) -> None:
        old = self._keys.pop(session_key, None)
        if old is not None:
            self._sessions.pop(old, None)
        self._sessions[helper_key] = session_key
        self._keys[session_key] = helper_key

    def session_key(self, helper_key: str) -> str | None:
        for known, session_key in self._sessions.items():
            if secrets.compare_digest(known, helper_key):
                return session_key
        return None


class AgentHelpers:
    def __init__(
        self,
        *,
        db: BridgeDb,
        api: SlackApi,
        names: DisplayNames,
        conversations: Conversations,
        keys: HelperKeys,
        task_log: TaskLog,
        sessions_dir: Path,
    ) -> None:
        self._db = db
        self._api = api
        self._names = names
        self._conversations = conversations
        self._keys = keys
        self._log = task_log
        self._sessions_dir = sessions_dir

    def session(self, helper_key: str | None) -> Session:
        """The session a helper key belongs to; refused (403) for anything else."""
        key = self._keys.session_key(helper_key) if helper_key else None
        session = self._db.session(key) if key else None
        if session is None:
            raise HelperRefused(403, "unknown or missing session key; read it from session.json")
        return session

    @staticmethod
    def check_thread(session: Session, channel_id: str | None, thread_ts: str | None) -> None:
        if channel_id not in (None, session.channel) or thread_ts not in (None, session.thread):
            raise HelperRefused(403, "a session may only use its own thread")

    async def history(
        self, session: Session, *, before_ts: str | None, limit: int | None
    ) -> list[dict[str, Any]]:
        count = helper_rules.clamp_limit(limit)
        try:
            messages = await self._api.replies(
                session.channel, session.thread, helper_rules.MAX_HISTORY
            )
        except SlackUnavailable as exc:
            raise HelperRefused(503, f"Slack is unavailable: {exc}") from None
        except SlackRejected as exc:
            raise HelperRefused(502, str(exc)) from None
        users = [str(m.get("user")) for m in messages if m.get("user")]
        for m in messages:
            users.extend(mentioned_users(str(m.get("text") or "")))
        names = await self._names.names(users)
        entries = helper_rules.history_entries(
            messages, before_ts=before_ts, limit=count, names=names
        )
        await self._log.record(
            session.task_id,
            event_log.HELPER_CALL,
            {"endpoint": "thread-history", "count": len(entries)},
        )
        return entries

    async def post_message(self, session: Session, text: str) -> int:
        if not text.strip():
            raise HelperRefused(400, "text is empty")
        count = self._conversations.post_markdown(session, text)
        await self._log.record(
            session.task_id,
            event_log.HELPER_CALL,
            {"endpoint": "post-message", "messages": count, "text": text[:500]},
        )
        return count

    async def post_file(
        self,
        session: Session,
        *,
        file_path: str | None,
        content_base64: str | None,
        filename: str | None,
        comment: str | None,
    ) -> str:
        files = SessionFiles.of(self._sessions_dir, session.key)
        files.spool.mkdir(parents=True, exist_ok=True)
        if file_path is not None:
            source = helper_rules.file_in_workspace(files.workspace, file_path)
            name = helper_rules.safe_filename(filename or source.name)
            spooled = files.spool / f"{secrets.token_hex(8)}-{name}"
            await asyncio.to_thread(shutil.copyfile, source, spooled)
        elif content_base64 is not None:
            data, name = helper_rules.decode_content(content_base64, filename or "file")
            spooled = files.spool / f"{secrets.token_hex(8)}-{name}"
            await asyncio.to_thread(spooled.write_bytes, data)
        else:
            raise HelperRefused(400, "give file_path, or content_base64 with filename")
        self._conversations.post_file(session, spooled, name, comment)
        await self._log.record(
            session.task_id, event_log.HELPER_CALL, {"endpoint": "post-file", "filename": name}
        )
        return name
