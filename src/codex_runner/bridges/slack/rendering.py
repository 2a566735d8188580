"""How a task's progress reads in Slack: the chat core's renderer, in mrkdwn and Block Kit."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from codex_runner.bridges.slack import blocks
from codex_runner.bridges.slack.mrkdwn import split_message, to_mrkdwn

RESTARTED_TEXT = (
    ":warning: The runner restarted while this turn was running. Reply to continue where it "
    "left off."
)
APPROVAL_TEXT = "Codex asks for an approval"  # the notification's text; the blocks show it


class SlackRenderer:
    """:class:`~codex_runner.bridges.chat.relay_plan.ChatRenderer` for Slack."""

    def working(self) -> str:
        return blocks.WORKING

    def running(self, command: str) -> str:
        return blocks.running_text(command)

    def waiting(self) -> str:
        return blocks.WAITING

    def writing(self, answer: str) -> str:
        return blocks.writing_text(answer)

    def done(self, total_tokens: int) -> str:
        return blocks.done_text(total_tokens)

    def stopped(self) -> str:
        return blocks.STOPPED

    def cancelled(self) -> str:
        return blocks.CANCELLED

    def failed(self, reason: str | None) -> str:
        return blocks.failed_text(reason)

    def restarted(self) -> str:
        return RESTARTED_TEXT

    def answer(self, markdown: str) -> list[str]:
        return split_message(to_mrkdwn(markdown))

    def approval_request(
        self, approval_id: str, data: dict[str, Any], deciders: Sequence[str]
    ) -> dict[str, Any]:
        return {
            "text": APPROVAL_TEXT,
            "blocks": blocks.approval_blocks(approval_id, data, deciders),
        }

    def approval_decided(self, data: dict[str, Any], decision: str, by: str) -> dict[str, Any]:
        outcome = blocks.decided_text(decision, by)
        return {"text": outcome, "blocks": blocks.settled_blocks(data, outcome)}

    def approval_expired(self, data: dict[str, Any]) -> dict[str, Any]:
        return {
            "text": blocks.EXPIRED_TEXT,
            "blocks": blocks.settled_blocks(data, blocks.EXPIRED_TEXT),
        }
