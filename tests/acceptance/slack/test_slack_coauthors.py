"""Co-authors in Slack: an author inferred from the profile's email, and for a person
without one, one ephemeral offer whose button opens the form that sets theirs."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from codex_runner.service.coauthors import Coauthors
from codex_runner.store.coauthors import CoauthorSource

from .conftest import Factory
from .fake_slack import BOT_USER_ID
from .fake_slack_forms import FakeSlackForms

pytestmark = pytest.mark.acceptance

C = "C0GENERAL"
MENTION = f"<@{BOT_USER_ID}>"


@pytest.fixture
async def fake_slack() -> AsyncIterator[FakeSlackForms]:
    async with FakeSlackForms(emails={"U1": "ann@example.com"}) as slack:
        yield slack


async def test_a_profile_email_is_an_inferred_author_and_others_are_offered_the_form_once(
    harness: Factory, fake_slack: FakeSlackForms
) -> None:
    slack = fake_slack
    async with harness() as h:
        coauthors = Coauthors(h.store)
        ann = await slack.say(C, "U1", f"{MENTION} hello")
        bob = await slack.say(C, "U2", f"{MENTION} hello")
        (offer,) = await slack.wait_for(lambda: slack.ephemerals)
        assert (offer.channel, offer.user, offer.thread_ts) == (C, "U2", bob["ts"])
        (inferred,) = await coauthors.entries()  # U1 was settled before U2's message
        assert (inferred.user, inferred.author) == ("U1", "Ann Example <ann@example.com>")
        assert inferred.source is CoauthorSource.INFERRED
        # Bob asks again, then Cid: Cid's offer shows Bob's second message was handled.
        await slack.say(C, "U2", "what did I say", thread_ts=bob["ts"])
        await slack.say(C, "U3", f"{MENTION} hello")
        await slack.wait_for(lambda: len(slack.ephemerals) == 2)
        assert [e.user for e in slack.ephemerals] == ["U2", "U3"]
        assert ann["ts"] not in {e.thread_ts for e in slack.ephemerals}

        # The button opens the form; a malformed author is refused in the form itself.
        await slack.click("U2", C, offer.message, "coauthor:set")
        (view,) = await slack.wait_for(lambda: slack.views)
        assert view["callback_id"] == "coauthor_form"
        refused = await slack.submit_view("U2", view, {"author": {"author": "bob@example"}})
        errors = refused["payload"]["errors"]
        assert "Name <email>" in errors["author"] and refused["payload"]["response_action"]
        assert await coauthors.entry("slack", "U2") is not None  # offered, no author yet
        sent = await slack.submit_view("U2", view, {"author": {"author": "Bob <bob@x.io>"}})
        assert not sent.get("payload")
        bob_entry = await coauthors.entry("slack", "U2")
        assert bob_entry is not None and bob_entry.author == "Bob <bob@x.io>"
        assert bob_entry.source is CoauthorSource.MANUAL and bob_entry.display_name == "Bob"
