"""The agent's helper endpoints on the daemon (``/slack/...``).

These routes authenticate with the session's helper key (header ``X-Codex-Runner-Session``)
instead of the daemon's API token, and a session may only read and post in its own thread.
The agent never holds the API token: it would open the whole API to whatever the agent runs
(submitting tasks, deciding approvals), and a command that prints it would put it in the
task's events and the Slack thread.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException
from starlette.responses import PlainTextResponse, Response

from codex_runner.bridges.slack.helper_rules import HelperRefused, history_text
from codex_runner.bridges.slack.session_files import SESSION_HEADER
from codex_runner.http.routing import Header, Router

if TYPE_CHECKING:
    from codex_runner.bridges.slack.bridge import SlackBridge

SessionKey = Annotated[str | None, Header(SESSION_HEADER)]


class PostMessage(BaseModel):
    text: str = Field(max_length=40_000, description="Markdown; converted to Slack mrkdwn.")
    channel_id: str | None = None
    thread_ts: str | None = None


class PostFile(BaseModel):
    file_path: str | None = Field(default=None, description="A file inside the workspace.")
    content_base64: str | None = None
    filename: str | None = Field(default=None, max_length=255)
    comment: str | None = Field(default=None, max_length=4_000)
    channel_id: str | None = None
    thread_ts: str | None = None


def slack_router(bridge: SlackBridge) -> Router:
    router = Router(prefix="/slack", tags=["slack"], authenticates_itself=True)

    def helpers_or_503() -> Any:
        if bridge.helpers is None:
            raise HTTPException(503, "the Slack bridge is not running")
        return bridge.helpers

    @router.get("/thread-history")
    async def thread_history(
        session_key: SessionKey = None,
        channel_id: str | None = None,
        thread_ts: str | None = None,
        before_ts: str | None = None,
        limit: Annotated[int | None, Field(ge=1)] = None,
        format: Literal["text", "json"] = "text",
    ) -> Response | dict[str, Any]:
        helpers = helpers_or_503()
        try:
            session = helpers.session(session_key)
            helpers.check_thread(session, channel_id, thread_ts)
            entries = await helpers.history(session, before_ts=before_ts, limit=limit)
        except HelperRefused as exc:
            raise HTTPException(exc.status, str(exc)) from None
        if format == "json":
            return {
                "channel_id": session.channel,
                "thread_ts": session.thread,
                "messages": entries,
            }
        return PlainTextResponse(history_text(entries))

    @router.post("/post-message")
    async def post_message(body: PostMessage, session_key: SessionKey = None) -> dict[str, Any]:
        helpers = helpers_or_503()
        try:
            session = helpers.session(session_key)
            helpers.check_thread(session, body.channel_id, body.thread_ts)
            count = await helpers.post_message(session, body.text)
        except HelperRefused as exc:
            raise HTTPException(exc.status, str(exc)) from None
        return {"ok": True, "queued_messages": count}

    @router.post("/post-file")
    async def post_file(body: PostFile, session_key: SessionKey = None) -> dict[str, Any]:
        helpers = helpers_or_503()
        try:
            session = helpers.session(session_key)
            helpers.check_thread(session, body.channel_id, body.thread_ts)
            name = await helpers.post_file(
                session,
                file_path=body.file_path,
                content_base64=body.content_base64,
                filename=body.filename,
                comment=body.comment,
            )
        except HelperRefused as exc:
            raise HTTPException(exc.status, str(exc)) from None
        return {"ok": True, "filename": name}

    return router
