"""The Slack co-author offer over a fake Slack API: inferred from the email, offered once,
offered again when posting the offer failed, and the form's answer saved or refused."""

from __future__ import annotations

from typing import Any

import pytest

from codex_runner.bridges.slack.api import SlackUnavailable
from codex_runner.bridges.slack.coauthor_api import SlackProfile
from codex_runner.bridges.slack.coauthor_prompt import SET_ACTION, CoauthorPrompt
from codex_runner.service.coauthors import Coauthors
from codex_runner.store.coauthors import CoauthorSource
from codex_runner.store.memory import InMemoryStore


class FakeApi:
    def __init__(self, emails: dict[str, str]) -> None:
        self.emails = emails
        self.offers: list[tuple[str, str, str | None]] = []
        self.down = False

    async def user_profile(self, user_id: str) -> SlackProfile:
        return SlackProfile(name=f"Person {user_id}", email=self.emails.get(user_id))

    async def post_ephemeral(
        self, channel: str, user: str, thread_ts: str | None, text: str, blocks: list[Any]
    ) -> None:
        if self.down:
            raise SlackUnavailable("chat.postEphemeral: HTTP 503")
        assert any(e["action_id"] == SET_ACTION for b in blocks for e in b.get("elements", []))
        self.offers.append((channel, user, thread_ts))

    async def open_view(self, trigger_id: str, view: dict[str, Any]) -> None:
        raise AssertionError("not opened in these tests")


@pytest.fixture
def coauthors() -> Coauthors:
    return Coauthors(InMemoryStore())


async def test_an_email_in_the_profile_is_inferred_and_nobody_is_asked(
    coauthors: Coauthors,
) -> None:
    api = FakeApi({"U1": "ann@example.com"})
    await CoauthorPrompt(coauthors, api).asked("U1", "C1", "1.0")
    entry = await coauthors.entry("slack", "U1")
    assert entry is not None and entry.author == "Person U1 <ann@example.com>"
    assert entry.source is CoauthorSource.INFERRED and api.offers == []


async def test_a_person_without_one_is_offered_once_even_by_a_new_bridge_run(
    coauthors: Coauthors,
) -> None:
    api = FakeApi({})
    await CoauthorPrompt(coauthors, api).asked("U2", "C1", "1.0")
    await CoauthorPrompt(coauthors, api).asked("U2", "C1", "2.0")  # as after a restart
    assert api.offers == [("C1", "U2", "1.0")]


async def test_an_offer_that_did_not_reach_slack_is_made_on_the_next_message(
    coauthors: Coauthors,
) -> None:
    api = FakeApi({})
    prompt = CoauthorPrompt(coauthors, api)
    api.down = True
    await prompt.asked("U2", "C1", "1.0")  # logged, not raised
    api.down = False
    await prompt.asked("U2", "C1", "2.0")
    assert api.offers == [("C1", "U2", "2.0")]


async def test_the_forms_answer_is_a_manual_entry_or_the_problem_to_show(
    coauthors: Coauthors,
) -> None:
    prompt = CoauthorPrompt(coauthors, FakeApi({}))
    problem = await prompt.submit("U2", "bob at example", "bob")
    assert problem is not None and "Name <email>" in problem
    assert await prompt.submit("U2", "Bob <bob@example.com>", "bob") is None
    entry = await coauthors.entry("slack", "U2")
    assert entry is not None and entry.source is CoauthorSource.MANUAL
    assert (entry.author, entry.display_name) == ("Bob <bob@example.com>", "bob")
