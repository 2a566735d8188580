"""The chat core's rules, free of I/O: who may use a bridge, which words are commands, who
may decide an approval, and when a message runs now or waits in the session's queue.

A bridge's handlers only parse and hand over; these decisions are the same in every chat.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass, field
from enum import StrEnum

from codex_runner.domain.task import TaskState
from codex_runner.domain.transitions import FINAL_STATES, accepts_message


class Command(StrEnum):
    STOP = "stop"
    STATUS = "status"


def parse_command(text: str) -> Command | None:
    """``-stop`` / ``stop`` interrupt; ``-status`` reports. Anything else is for Codex."""
    word = text.strip().lower().rstrip(".!")
    if word in ("-stop", "stop"):
        return Command.STOP
    if word == "-status":
        return Command.STATUS
    return None


@dataclass(frozen=True)
class AccessPolicy:
    """Who may use the bridge; an empty set means everyone in the chat."""

    allowed_users: frozenset[str] = field(default_factory=frozenset)
    allowed_channels: frozenset[str] = field(default_factory=frozenset)

    def allows(self, user: str, channel: str) -> bool:
        if self.allowed_users and user not in self.allowed_users:
            return False
        return not self.allowed_channels or channel in self.allowed_channels


def may_decide(user: str, *, approvers: Collection[str], requester: str) -> bool:
    """Approvals are decided by the configured approvers, else by the thread's requester."""
    return user in approvers if approvers else user == requester


class Delivery(StrEnum):
    NOW = "now"  # hand it to Codex as the next turn
    QUEUE = "queue"  # a turn is running (or others wait): wait in line
    NEW_TASK = "new_task"  # the session's task is final (failed/cancelled): start afresh


def plan_delivery(state: TaskState, queue_depth: int) -> Delivery:
    """Messages run one turn each, in arrival order."""
    if state in FINAL_STATES:
        return Delivery.QUEUE if queue_depth else Delivery.NEW_TASK
    if queue_depth or not accepts_message(state):
        return Delivery.QUEUE
    return Delivery.NOW


def can_take_next(state: TaskState) -> bool:
    """After a turn: whether the next queued message may run now."""
    return state.is_idle


def status_line(state: TaskState, queue_depth: int, total_tokens: int) -> str:
    return (
        f"State: *{state.value}* · queued messages: {queue_depth} · tokens used: {total_tokens:,}"
    )


def session_key(channel: str, thread: str) -> str:
    """The session's key: channel + chat thread, safe as a directory name."""
    return re.sub(r"[^A-Za-z0-9_-]", "_", f"{channel}-{thread}")
