"""What [notify] slack_channel says of a finished task, and which tasks it leaves out."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from codex_runner.bridges.chat.bridge_db import BridgeDb
from codex_runner.bridges.slack.finished_tasks import announcement, came_from_slack
from codex_runner.domain.task import Task, TaskState, WorkspaceRequest

T0 = datetime(2026, 1, 1, tzinfo=UTC)
TASK = Task("t_1", "fix   the\nbuild " + "x" * 300, WorkspaceRequest.directory("/w"), T0, T0)


def test_a_failure_says_why_and_a_long_prompt_is_cut_to_one_line() -> None:
    failed = replace(TASK, state=TaskState.FAILED, reason="codex crashed 3 times")
    text = announcement(failed)
    head, why = text.split("\n")
    assert head.startswith(":x: Task `t_1` failed: fix the build xxx") and head.endswith("…")
    assert why == "codex crashed 3 times"


def test_a_task_a_slack_thread_started_is_left_to_its_thread(tmp_path: Path) -> None:
    db = BridgeDb(tmp_path / "bridge.sqlite")
    try:
        assert not came_from_slack(TASK, db)
        assert came_from_slack(replace(TASK, idempotency_key="slack:C1-1.2"), db)
    finally:
        db.close()
