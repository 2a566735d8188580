"""Slack's side of the co-author map (docs/coauthors.md): a person who asks for work gets
their git author inferred from their profile's email, or, without one, one ephemeral
message with a button that opens a form to set it. Who is offered, and when an inferred
author counts, is :class:`~codex_runner.service.coauthors.Coauthors`'; this is the wire.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp

from codex_runner.bridges.slack.api import SlackRejected, SlackUnavailable
from codex_runner.bridges.slack.coauthor_api import CoauthorSlack, SlackProfile
from codex_runner.service.coauthors import Coauthors
from codex_runner.service.errors import InvalidRequest

log = logging.getLogger(__name__)

BRIDGE = "slack"
SET_ACTION = "coauthor:set"  # the ephemeral message's button
FORM = "coauthor_form"  # the modal's callback_id
FIELD = "author"  # the modal's input block and action id
MAX_SETTLED = 10_000
OFFER = (
    "Your commits from Codex can credit you as a co-author, but I don't know your git "
    "author yet. Set it once and every task you ask for will carry it."
)


def offer_blocks(text: str = OFFER) -> list[dict[str, Any]]:
    """The ephemeral offer: the text and one button that opens the form."""
    button = {
        "type": "button",
        "action_id": SET_ACTION,
        "value": "set",
        "text": {"type": "plain_text", "text": "Set my git author"},
    }
    return [
        {"type": "section", "text": {"type": "mrkdwn", "text": text}},
        {"type": "actions", "block_id": "coauthor", "elements": [button]},
    ]


def form_view(suggestion: str = "") -> dict[str, Any]:
    """The modal: one plain-text input for ``Name <email>``."""
    element: dict[str, Any] = {
        "type": "plain_text_input",
        "action_id": FIELD,
        "placeholder": {"type": "plain_text", "text": "Ann Lee <ann@example.com>"},
    }
    if suggestion:
        element["initial_value"] = suggestion
    return {
        "type": "modal",
        "callback_id": FORM,
        "title": {"type": "plain_text", "text": "Git co-author"},
        "submit": {"type": "plain_text", "text": "Save"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": [
            {
                "type": "input",
                "block_id": FIELD,
                "label": {"type": "plain_text", "text": "Name <email>, as git writes it"},
                "element": element,
            }
        ],
    }


def submitted_author(view: dict[str, Any]) -> str:
    """What the person typed in the form ("" when Slack sent nothing)."""
    values = (view.get("state") or {}).get("values") or {}
    value = ((values.get(FIELD) or {}).get(FIELD) or {}).get("value")
    return value if isinstance(value, str) else ""


class CoauthorPrompt:
    """Settles each person who asks for work once per process: inferred, offered, or known."""

    def __init__(self, coauthors: Coauthors, api: CoauthorSlack) -> None:
        self._coauthors = coauthors
        self._api = api
        self._settled: set[str] = set()  # no need to look again while the bridge runs

    async def asked(self, user: str, channel: str, thread_ts: str | None) -> None:
        """``user`` asked for work in ``channel``; never raises (the work goes on)."""
        if user in self._settled:
            return
        try:
            await self._settle(user, channel, thread_ts)
        except (SlackRejected, SlackUnavailable) as exc:
            log.warning("no co-author offer for %s: %s", user, exc)
            return  # tried again on their next message
        except Exception:
            log.exception("no co-author offer for %s", user)
            return
        if len(self._settled) >= MAX_SETTLED:
            self._settled.clear()
        self._settled.add(user)

    async def _settle(self, user: str, channel: str, thread_ts: str | None) -> None:
        entry = await self._coauthors.entry(BRIDGE, user)
        if entry is not None and entry.source is not None:
            return  # an author (inferred or set), or none by a person's choice
        profile = await self._profile(user)
        if profile.email is not None:
            inferred = await self._coauthors.infer(
                BRIDGE, user, display_name=profile.name, email=profile.email
            )
            if inferred is not None and inferred.author is not None:
                return
        if await self._coauthors.offer_due(BRIDGE, user):
            await self._api.post_ephemeral(channel, user, thread_ts, OFFER, offer_blocks())
            await self._coauthors.offered(BRIDGE, user)

    async def _profile(self, user: str) -> SlackProfile:
        try:
            return await self._api.user_profile(user)
        except SlackRejected as exc:
            log.info("no Slack profile for %s: %s", user, exc)
            return SlackProfile(name="", email=None)

    async def open_form(self, trigger_id: str) -> None:
        """The button was clicked: open the form."""
        await self._api.open_view(trigger_id, form_view())

    async def submit(self, user: str, author: str, name: str = "") -> str | None:
        """The form was sent: save a manual entry; the problem to show, or None."""
        try:
            await self._coauthors.set(BRIDGE, user, author, display_name=name)
        except InvalidRequest as exc:
            return str(exc)
        self._settled.add(user)
        return None


def register(app: AsyncApp, prompt: CoauthorPrompt) -> None:
    """The button's and the form's handlers, on the bridge's bolt app."""

    @app.action(SET_ACTION)
    async def on_set(ack: AsyncAck, body: dict[str, Any]) -> None:
        await ack()
        trigger_id = body.get("trigger_id")
        if isinstance(trigger_id, str):
            try:
                await prompt.open_form(trigger_id)
            except (SlackRejected, SlackUnavailable) as exc:
                log.warning("the co-author form did not open: %s", exc)

    @app.view(FORM)
    async def on_form(ack: AsyncAck, body: dict[str, Any], view: dict[str, Any]) -> None:
        person = body.get("user") or {}
        user, name = person.get("id"), person.get("name") or person.get("username") or ""
        if not isinstance(user, str):
            await ack()
            return
        problem = await prompt.submit(user, submitted_author(view), str(name))
        if problem is not None:
            await ack(response_action="errors", errors={FIELD: problem})
        else:
            await ack()
