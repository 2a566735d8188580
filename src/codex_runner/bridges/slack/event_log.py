"""The Slack bridge's events in the task's log: the chat core's, named ``slack.<what>``
(:mod:`~codex_runner.bridges.chat.task_log`), and the agent's helper calls."""

from __future__ import annotations

from codex_runner.bridges.chat.task_log import RecordEvent, TaskLog

BRIDGE = "slack"
HELPER_CALL = "helper_call"  # recorded as slack.helper_call


def slack_task_log(record_event: RecordEvent) -> TaskLog:
    """The task log that records this bridge's ``slack.*`` events."""
    return TaskLog(record_event, bridge=BRIDGE, message_key="ts", thread_key="thread_ts")
