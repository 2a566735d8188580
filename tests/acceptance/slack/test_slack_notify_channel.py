"""[notify] slack_channel: a task that did not come from Slack is announced in the channel
when it ends; a Slack thread's own task is not (its thread already says so)."""

from __future__ import annotations

from pathlib import Path

import pytest

from codex_runner.domain.task import TaskState, WorkspaceRequest

from .conftest import Factory
from .fake_slack import BOT_USER_ID

pytestmark = pytest.mark.acceptance

C = "C0GENERAL"
CHANNEL = "C0NOTIFY"


async def test_tasks_not_from_slack_are_announced_in_the_notify_channel(
    harness: Factory, tmp_path: Path
) -> None:
    async with harness(notify={"slack_channel": CHANNEL}) as h:
        root = await h.slack.say(C, "U1", f"<@{BOT_USER_ID}> hello")
        from_slack = await h.task_of(C, root["ts"])
        await h.wait_state(from_slack.id, TaskState.COMPLETED)
        task = await h.service.submit("hello", WorkspaceRequest.directory(str(tmp_path)))
        await h.wait_state(task.id, TaskState.COMPLETED)
        posted = await h.slack.wait_for(lambda: h.slack.messages.get(CHANNEL))
        await h.bridge.wait_relay_idle(10)
        assert h.bridge.outbox is not None
        await h.bridge.outbox.wait_idle(10)
    assert len(h.slack.messages[CHANNEL]) == 1
    text = str(posted[0]["text"])
    assert text.startswith(f":white_check_mark: Task `{task.id}` completed: hello")
    assert "Hi there" in text  # its final message
    assert "thread_ts" not in posted[0] or not posted[0]["thread_ts"]
