"""Restarts and attachments: what the bridge keeps in slack.sqlite, images to Codex."""

from __future__ import annotations

import json
import sqlite3

import pytest

from codex_runner.domain.task import TaskState

from .conftest import Factory
from .fake_slack import BOT_USER_ID

pytestmark = pytest.mark.acceptance

C = "C0GENERAL"


async def test_undelivered_posts_survive_a_bridge_restart_and_arrive_once_in_order(
    harness: Factory,
) -> None:
    async with harness() as h:
        h.slack.down_methods = {"chat.postMessage", "chat.update"}
        root = await h.slack.say(C, "U1", f"<@{BOT_USER_ID}> hello")
        ts = root["ts"]
        await h.slack.wait_for(lambda: len(h.slack.calls_of("chat.postMessage")) >= 2)
        session = h.bridge.session_for(C, ts)
        assert session is not None
        await h.wait_state(session.task_id, TaskState.COMPLETED)
        await h.bridge.stop()
        await h.bridge.start()  # a new bridge state, rebuilt from slack.sqlite
        await h.bridge.wait_connected(20)
        h.slack.down_methods = set()
        await h.slack.wait_for(lambda: [t for t in h.slack.bot_texts(C, ts) if "Done" in t])
        await h.bridge.outbox.wait_idle(10)  # type: ignore[union-attr]
        texts = h.slack.bot_texts(C, ts)
        assert len(texts) == 2 and texts[1] == "Hi there, *friend*"


async def test_an_attached_image_reaches_codex_as_an_image(harness: Factory) -> None:
    async with harness() as h:
        root = await h.slack.say(
            C,
            "U1",
            f"<@{BOT_USER_ID}> hello, see the screenshot",
            files=[h.slack.image_file("shot.png")],
        )
        ts = root["ts"]
        await h.slack.wait_for(lambda: [t for t in h.slack.bot_texts(C, ts) if "Hi there" in t])
        session = h.bridge.session_for(C, ts)
        assert session is not None
        images = list((h.home / "sessions" / session.key / "images").iterdir())
        assert [p.suffix for p in images] == [".png"]
        body = json.dumps(h.model.requests[0].body)
        assert "input_image" in body


async def test_a_thread_whose_session_row_was_lost_adopts_its_task_for_the_next_message(
    harness: Factory,
) -> None:
    async with harness() as h:
        root = await h.slack.say(C, "U1", f"<@{BOT_USER_ID}> hello")
        ts = root["ts"]
        first = await h.task_of(C, ts)
        await h.wait_state(first.id, TaskState.COMPLETED)
        # The bridge stopped between submitting the task and recording its session.
        assert h.bridge.settings is not None
        with sqlite3.connect(h.bridge.settings.db_path) as db:
            db.execute("DELETE FROM sessions")
        await h.slack.say(C, "U1", f"<@{BOT_USER_ID}> what did I say", thread_ts=ts)
        await h.slack.wait_for(
            lambda: [t for t in h.slack.bot_texts(C, ts) if "what did I say" in t]
        )
        session = h.bridge.session_for(C, ts)
        assert session is not None and session.task_id == first.id
        assert not [t for t in h.slack.bot_texts(C, ts) if "did not work" in t]
