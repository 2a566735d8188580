"""The status message grows with Codex's answer as it streams (real codex, scripted model
streaming in pieces, fake Slack with real slack_bolt/slack_sdk): edited with partial text
before the turn completes, at most once a second, then Done; the answer posted whole once."""

from __future__ import annotations

import itertools

import pytest

from codex_runner.bridges.chat.live_status import EDIT_INTERVAL_S
from codex_runner.bridges.slack.mrkdwn import to_mrkdwn
from codex_runner.domain.task import TaskState

from .conftest import SLACK_STREAMED_ANSWER, Factory
from .fake_slack import BOT_USER_ID

pytestmark = pytest.mark.acceptance

C = "C0GENERAL"
WRITING = ":writing_hand: Writing…\n"


async def test_the_status_message_grows_with_the_answer_at_most_once_a_second(
    harness: Factory,
) -> None:
    async with harness() as h:
        root = await h.slack.say(C, "U1", f"<@{BOT_USER_ID}> stream slowly")
        ts = root["ts"]
        task = await h.task_of(C, ts)
        await h.wait_state(task.id, TaskState.COMPLETED)
        await h.slack.wait_for(lambda: [t for t in h.slack.bot_texts(C, ts) if "Done" in t])
        await h.bridge.outbox.wait_idle(10)  # type: ignore[union-attr]

    answer = to_mrkdwn(SLACK_STREAMED_ANSWER)
    # The status message: the first post in the thread; every edit of it, in order.
    (status,) = [p for p in h.slack.calls_of("chat.postMessage") if "Working" in p.params["text"]]
    status_ts = next(
        m["ts"] for m in h.slack.bot_posts(C, ts) if m["text"].startswith(":white_check_mark:")
    )
    edits = [c for c in h.slack.calls_of("chat.update") if c.params["ts"] == status_ts]
    live = [c for c in edits if c.params["text"].startswith(WRITING)]
    assert live, [c.params["text"] for c in edits]
    shown = [c.params["text"].removeprefix(WRITING) for c in live]
    # Partial text, growing, each the beginning of the answer.
    assert all(answer.startswith(text) for text in shown), shown
    assert any(len(text) < len(answer) for text in shown), shown
    assert [len(text) for text in shown] == sorted(len(text) for text in shown)
    # Before the turn completed: the last edit of the status message is Done, after them all.
    assert edits[-1].params["text"].startswith(":white_check_mark: Done")
    assert max(c.at for c in live) < edits[-1].at
    assert status.at < live[0].at
    # Slack's rate limit: live edits at least a second apart, as Slack received them.
    gaps = [later.at - earlier.at for earlier, later in itertools.pairwise(live)]
    assert gaps, "one live edit: three seconds of writing should have made several"
    assert all(gap >= EDIT_INTERVAL_S for gap in gaps), gaps
    # The final answer is posted as before: one message of its own, whole.
    assert h.slack.bot_texts(C, ts).count(answer) == 1
