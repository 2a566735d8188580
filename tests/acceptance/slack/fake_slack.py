"""A fake Slack on 127.0.0.1 for the bridge's tests: the Web API methods the bridge uses and
a Socket Mode websocket that delivers event and interactive envelopes and checks their
acknowledgements. The real slack_sdk/slack_bolt talk to it through their base URL.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import struct
import time
import uuid
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from aiohttp import WSMsgType, web

BOT_USER_ID = "UBOT"
BOT_ID = "BBOT"
TEAM_ID = "T1"
BOT_TOKEN = "xoxb-fake-bot-token"
APP_TOKEN = "xapp-fake-app-token"
ALL_SCOPES = (
    "app_mentions:read,channels:history,groups:history,im:history,chat:write,"
    "reactions:write,users:read,files:read,files:write"
)
ACK_TIMEOUT_S = 10.0

T = TypeVar("T")
Reply = tuple[dict[str, Any], dict[str, str]]  # (JSON body, extra headers)


@dataclass
class ApiCall:
    method: str
    params: dict[str, Any]
    status: int
    # When the request arrived (time.monotonic()): rate limits are checked on these.
    at: float = field(default_factory=time.monotonic)


@dataclass
class Upload:
    file_id: str
    filename: str
    data: bytes = b""
    channel: str | None = None
    thread_ts: str | None = None
    comment: str | None = None


@dataclass
class Reaction:
    channel: str
    ts: str
    name: str


@dataclass
class FakeSlack:
    users: dict[str, str] = field(
        default_factory=lambda: {"U1": "Ann", "U2": "Bob", "U3": "Cid", BOT_USER_ID: "codex"}
    )
    scopes: str = ALL_SCOPES
    calls: list[ApiCall] = field(default_factory=list)
    messages: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    reactions: list[Reaction] = field(default_factory=list)
    uploads: dict[str, Upload] = field(default_factory=dict)
    acks: dict[str, dict[str, Any]] = field(default_factory=dict)
    down_methods: set[str] = field(default_factory=set)  # these answer HTTP 500

    def __post_init__(self) -> None:
        self._ts = itertools.count(1)
        self._changed = asyncio.Condition()
        self._sockets: list[web.WebSocketResponse] = []
        self._runner: web.AppRunner | None = None
        self.port = 0

    # --- lifecycle -------------------------------------------------------------------------

    async def __aenter__(self) -> FakeSlack:
        app = web.Application()
        app.router.add_route("*", "/api/{method}", self._api)
        app.router.add_get("/socket", self._socket)
        app.router.add_post("/upload/{file_id}", self._upload)
        app.router.add_get("/files/{name}", self._file)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def __aexit__(self, *exc: object) -> None:
        for ws in list(self._sockets):
            await ws.close()
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_url(self) -> str:
        return f"{self.base_url}/api/"

    # --- what tests look at ----------------------------------------------------------------

    async def wait_for(self, probe: Callable[[], T | None], timeout: float = 60.0) -> T:
        """Wait until ``probe()`` returns something truthy (re-checked on every change)."""
        async with asyncio.timeout(timeout), self._changed:
            while True:
                found = probe()
                if found:
                    return found
                await self._changed.wait()

    async def _touch(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    def thread(self, channel: str, thread_ts: str) -> list[dict[str, Any]]:
        return [
            m
            for m in self.messages.get(channel, [])
            if m.get("thread_ts") == thread_ts or m["ts"] == thread_ts
        ]

    def bot_posts(self, channel: str, thread_ts: str) -> list[dict[str, Any]]:
        """The bot's messages in a thread, as they read now (after edits)."""
        return [m for m in self.thread(channel, thread_ts) if m.get("user") == BOT_USER_ID]

    def bot_texts(self, channel: str, thread_ts: str) -> list[str]:
        return [str(m.get("text")) for m in self.bot_posts(channel, thread_ts)]

    def calls_of(self, method: str) -> list[ApiCall]:
        return [c for c in self.calls if c.method == method]

    # --- people talking --------------------------------------------------------------------

    def next_ts(self) -> str:
        n = next(self._ts)
        return f"{1700000000 + n}.{n:06d}"

    def add_message(
        self,
        channel: str,
        user: str,
        text: str,
        *,
        thread_ts: str | None = None,
        files: list[dict[str, Any]] | None = None,
    ) -> dict[str, Any]:
        """A message as Slack stores it (no event sent): history for backfill tests."""
        ts = self.next_ts()
        message: dict[str, Any] = {"type": "message", "user": user, "text": text, "ts": ts}
        if thread_ts is not None:
            message["thread_ts"] = thread_ts
            for m in self.messages.get(channel, []):
                if m["ts"] == thread_ts:
                    m["thread_ts"] = thread_ts
                    m["reply_count"] = m.get("reply_count", 0) + 1
        if files:
            message["files"] = files
            message["subtype"] = "file_share"
        self.messages.setdefault(channel, []).append(message)
        return message

    async def say(
        self,
        channel: str,
        user: str,
        text: str,
        *,
        thread_ts: str | None = None,
        channel_type: str = "channel",
        files: list[dict[str, Any]] | None = None,
    ) -> dict[str, Any]:
        """A person posts: stored, then delivered as a ``message`` event, plus an
        ``app_mention`` event when it mentions the bot (as Slack does)."""
        message = self.add_message(channel, user, text, thread_ts=thread_ts, files=files)
        event = {
            **message,
            "channel": channel,
            "channel_type": channel_type,
            "event_ts": message["ts"],
        }
        await self.send_event(event)
        if f"<@{BOT_USER_ID}>" in text:
            await self.send_event({**event, "type": "app_mention"})
        return message

    async def send_event(
        self, event: dict[str, Any], *, event_id: str | None = None, retry_attempt: int = 0
    ) -> dict[str, Any]:
        """Deliver an Events API envelope; returns the acknowledgement (fails without one)."""
        payload = {
            "token": "verification-token",
            "team_id": TEAM_ID,
            "api_app_id": "A1",
            "event": event,
            "type": "event_callback",
            "event_id": event_id or f"Ev{uuid.uuid4().hex[:12].upper()}",
            "event_time": 1700000000,
            "authorizations": [
                {
                    "team_id": TEAM_ID,
                    "user_id": BOT_USER_ID,
                    "is_bot": True,
                    "is_enterprise_install": False,
                }
            ],
        }
        return await self._deliver(
            {
                "type": "events_api",
                "accepts_response_payload": False,
                "retry_attempt": retry_attempt,
                "retry_reason": "timeout" if retry_attempt else "",
                "payload": payload,
            }
        )

    async def click(
        self, user: str, channel: str, message: dict[str, Any], action_id: str
    ) -> dict[str, Any]:
        """A person clicks the button ``action_id`` on a bot message."""
        button = next(
            e
            for block in message.get("blocks") or ()
            if block.get("type") == "actions"
            for e in block["elements"]
            if e["action_id"] == action_id
        )
        payload = {
            "type": "block_actions",
            "user": {"id": user, "username": self.users.get(user, user), "team_id": TEAM_ID},
            "api_app_id": "A1",
            "token": "verification-token",
            "team": {"id": TEAM_ID, "domain": "fake"},
            "container": {
                "type": "message",
                "message_ts": message["ts"],
                "channel_id": channel,
                "is_ephemeral": False,
                "thread_ts": message.get("thread_ts"),
            },
            "trigger_id": "trigger",
            "channel": {"id": channel, "name": "general"},
            "message": message,
            "response_url": f"{self.base_url}/response",
            "actions": [
                {
                    "type": "button",
                    "action_id": action_id,
                    "block_id": "b",
                    "value": button["value"],
                    "text": button["text"],
                    "action_ts": self.next_ts(),
                }
            ],
        }
        return await self._deliver(
            {"type": "interactive", "accepts_response_payload": False, "payload": payload}
        )

    async def _deliver(self, envelope: dict[str, Any]) -> dict[str, Any]:
        envelope_id = uuid.uuid4().hex
        envelope["envelope_id"] = envelope_id
        await self.wait_for(lambda: self._sockets, timeout=ACK_TIMEOUT_S)
        await self._sockets[-1].send_str(json.dumps(envelope))
        return await self.wait_for(lambda: self.acks.get(envelope_id), timeout=ACK_TIMEOUT_S)

    # --- Socket Mode -----------------------------------------------------------------------

    async def _socket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        await ws.send_str(json.dumps({"type": "hello", "num_connections": 1, "debug_info": {}}))
        self._sockets.append(ws)
        await self._touch()
        try:
            async for msg in ws:
                if msg.type is WSMsgType.TEXT:
                    data = json.loads(msg.data)
                    if "envelope_id" in data:
                        self.acks[data["envelope_id"]] = data
                        await self._touch()
        finally:
            self._sockets.remove(ws)
        return ws

    # --- Web API ---------------------------------------------------------------------------

    async def _api(self, request: web.Request) -> web.Response:
        arrived = time.monotonic()
        method = request.match_info["method"]
        params: dict[str, Any] = dict(request.query)
        if request.method == "POST":
            if request.content_type == "application/json":
                params.update(await request.json())
            else:
                params.update(dict(await request.post()))
        token = request.headers.get("Authorization", "").removeprefix("Bearer ") or params.get(
            "token"
        )
        if method in self.down_methods:
            self.calls.append(ApiCall(method, params, 500, arrived))
            await self._touch()
            return web.json_response({"ok": False, "error": "internal_error"}, status=500)
        expected = APP_TOKEN if method == "apps.connections.open" else BOT_TOKEN
        if token != expected:
            return self._answer(method, params, {"ok": False, "error": "invalid_auth"}, arrived)
        handler = getattr(self, "_m_" + method.replace(".", "_"), None)
        if handler is None:
            return self._answer(method, params, {"ok": False, "error": "unknown_method"}, arrived)
        body, headers = handler(params)
        response = self._answer(method, params, body, arrived)
        response.headers.update(headers)
        await self._touch()
        return response

    def _answer(
        self, method: str, params: dict[str, Any], body: dict[str, Any], arrived: float
    ) -> web.Response:
        self.calls.append(ApiCall(method, params, 200, arrived))
        return web.json_response(body)

    def _m_auth_test(self, params: dict[str, Any]) -> Reply:
        body = {
            "ok": True,
            "url": "https://fake.slack.com/",
            "team": "Fake",
            "user": "codex",
            "team_id": TEAM_ID,
            "user_id": BOT_USER_ID,
            "bot_id": BOT_ID,
        }
        return body, {"x-oauth-scopes": self.scopes}

    def _m_apps_connections_open(self, params: dict[str, Any]) -> Reply:
        return {"ok": True, "url": f"ws://127.0.0.1:{self.port}/socket"}, {}

    def _m_chat_postMessage(self, params: dict[str, Any]) -> Reply:
        channel = str(params["channel"])
        blocks = params.get("blocks")
        if isinstance(blocks, str):
            blocks = json.loads(blocks)
        message: dict[str, Any] = {
            "type": "message",
            "user": BOT_USER_ID,
            "bot_id": BOT_ID,
            "text": params.get("text", ""),
            "ts": self.next_ts(),
        }
        if params.get("thread_ts"):
            message["thread_ts"] = params["thread_ts"]
        if blocks:
            message["blocks"] = blocks
        self.messages.setdefault(channel, []).append(message)
        return {"ok": True, "channel": channel, "ts": message["ts"], "message": message}, {}

    def _m_chat_update(self, params: dict[str, Any]) -> Reply:
        channel = str(params["channel"])
        for m in self.messages.get(channel, []):
            if m["ts"] == params["ts"]:
                m["text"] = params.get("text", m.get("text"))
                blocks = params.get("blocks")
                if isinstance(blocks, str):
                    blocks = json.loads(blocks)
                if blocks is not None:
                    m["blocks"] = blocks
                m["edited"] = True
                return {"ok": True, "channel": channel, "ts": m["ts"]}, {}
        return {"ok": False, "error": "message_not_found"}, {}

    def _m_conversations_replies(self, params: dict[str, Any]) -> Reply:
        messages = self.thread(str(params["channel"]), str(params["ts"]))
        limit = int(params.get("limit", 1000))
        return {"ok": True, "messages": messages[:limit], "has_more": False}, {}

    def _m_users_info(self, params: dict[str, Any]) -> Reply:
        user = str(params["user"])
        if user not in self.users:
            return {"ok": False, "error": "user_not_found"}, {}
        name = self.users[user]
        profile = {"display_name": name, "real_name": name + " Example"}
        return {"ok": True, "user": {"id": user, "name": name.lower(), "profile": profile}}, {}

    def _m_reactions_add(self, params: dict[str, Any]) -> Reply:
        self.reactions.append(
            Reaction(str(params["channel"]), str(params["timestamp"]), str(params["name"]))
        )
        return {"ok": True}, {}

    def _m_files_getUploadURLExternal(self, params: dict[str, Any]) -> Reply:
        file_id = f"F{len(self.uploads) + 1:05d}"
        self.uploads[file_id] = Upload(file_id, str(params["filename"]))
        return {
            "ok": True,
            "upload_url": f"{self.base_url}/upload/{file_id}",
            "file_id": file_id,
        }, {}

    def _m_files_completeUploadExternal(self, params: dict[str, Any]) -> Reply:
        files = json.loads(params["files"]) if isinstance(params["files"], str) else params["files"]
        shared = []
        for f in files:
            upload = self.uploads[f["id"]]
            upload.channel = params.get("channel_id")
            upload.thread_ts = params.get("thread_ts")
            upload.comment = params.get("initial_comment")
            shared.append({"id": upload.file_id, "name": upload.filename, "title": f.get("title")})
        return {"ok": True, "files": shared}, {}

    async def _upload(self, request: web.Request) -> web.Response:
        upload = self.uploads[request.match_info["file_id"]]
        upload.data = await request.read()
        await self._touch()
        return web.Response(text="OK")

    async def _file(self, request: web.Request) -> web.Response:
        if request.headers.get("Authorization") != f"Bearer {BOT_TOKEN}":
            return web.Response(status=403)
        self.calls.append(ApiCall("file." + request.match_info["name"], {}, 200))
        return web.Response(body=tiny_png(), content_type="image/png")

    def image_file(self, name: str) -> dict[str, Any]:
        """A file object as Slack puts it on a message with an image attached."""
        return {
            "id": f"F{name.upper()}",
            "name": name,
            "mimetype": "image/png",
            "size": len(tiny_png()),
            "url_private_download": f"{self.base_url}/files/{name}",
        }


def tiny_png() -> bytes:
    """A valid 1x1 PNG."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00\xff\x00\x00")
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )
