"""The fake Slack, plus what the co-author form needs: profile emails in ``users.info``
(as with ``users:read.email``), ``chat.postEphemeral``, ``views.open``, and a person
sending a modal (``view_submission`` over Socket Mode)."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from typing import Any

from .fake_slack import TEAM_ID, FakeSlack, Reply


@dataclass
class Ephemeral:
    channel: str
    user: str
    thread_ts: str | None
    message: dict[str, Any]  # text and blocks, as a click needs them


@dataclass
class FakeSlackForms(FakeSlack):
    emails: dict[str, str] = field(default_factory=dict)
    ephemerals: list[Ephemeral] = field(default_factory=list)
    views: list[dict[str, Any]] = field(default_factory=list)  # views.open's

    def _m_users_info(self, params: dict[str, Any]) -> Reply:
        body, headers = super()._m_users_info(params)
        email = self.emails.get(str(params["user"]))
        if body.get("ok") and email is not None:
            body["user"]["profile"]["email"] = email
        return body, headers

    def _m_chat_postEphemeral(self, params: dict[str, Any]) -> Reply:
        blocks = params.get("blocks")
        if isinstance(blocks, str):
            blocks = json.loads(blocks)
        message = {"type": "message", "text": params.get("text", ""), "ts": self.next_ts()}
        message["blocks"] = blocks or []
        channel, user = str(params["channel"]), str(params["user"])
        self.ephemerals.append(Ephemeral(channel, user, params.get("thread_ts"), message))
        return {"ok": True, "message_ts": message["ts"]}, {}

    def _m_views_open(self, params: dict[str, Any]) -> Reply:
        view = params["view"]
        view = json.loads(view) if isinstance(view, str) else view
        if not params.get("trigger_id"):
            return {"ok": False, "error": "invalid_trigger_id"}, {}
        self.views.append(view)
        return {"ok": True, "view": {"id": f"V{len(self.views)}", **view}}, {}

    async def submit_view(
        self, user: str, view: dict[str, Any], values: dict[str, dict[str, str]]
    ) -> dict[str, Any]:
        """``user`` sends the modal ``view`` with ``values`` (block id -> action id ->
        text); returns the acknowledgement (its ``payload`` holds errors shown in the form)."""
        state = {
            block: {action: {"type": "plain_text_input", "value": text}}
            for block, fields in values.items()
            for action, text in fields.items()
        }
        payload = {
            "type": "view_submission",
            "team": {"id": TEAM_ID, "domain": "fake"},
            "user": {"id": user, "username": self.users.get(user, user), "team_id": TEAM_ID},
            "api_app_id": "A1",
            "token": "verification-token",
            "trigger_id": uuid.uuid4().hex,
            "view": {**view, "id": "V1", "team_id": TEAM_ID, "state": {"values": state}},
            "response_urls": [],
        }
        return await self._deliver(
            {"type": "interactive", "accepts_response_payload": True, "payload": payload}
        )
