"""Block Kit for approvals and the texts of the per-turn status message."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from codex_runner.bridges.slack.mrkdwn import escape, to_mrkdwn

ACTION_PREFIX = "approval:"  # action_id = ACTION_PREFIX + decision; value = approval id
_SECTION_LIMIT = 2_900  # a section's text may hold 3,000 characters

_LABELS = {
    "accept": "Approve",
    "acceptForSession": "Approve for this session",
    "decline": "Decline",
    "cancel": "Decline and stop the turn",
}
_STYLES = {"accept": "primary", "acceptForSession": "primary", "cancel": "danger"}


def decision_label(decision: str) -> str:
    return _LABELS.get(decision, decision)


def _describe(data: dict[str, Any]) -> str:
    kind = str(data.get("kind", "command"))
    lines = []
    if kind == "command":
        lines.append("*Codex asks to run a command*")
        if command := data.get("command"):
            lines.append(f"```\n{escape(str(command))}\n```")
    elif kind == "file_change":
        lines.append("*Codex asks to change files*")
        for change in list(data.get("changes") or ())[:20]:
            kind_of = escape(str(change.get("kind", "update")))
            lines.append(f"• {kind_of} `{escape(str(change.get('path', '')))}`")
    else:
        lines.append(f"*Codex asks for approval ({escape(kind)})*")
    if cwd := data.get("cwd"):
        lines.append(f"in `{escape(str(cwd))}`")
    if reason := data.get("reason"):
        lines.append(f"_{escape(str(reason))}_")
    text = "\n".join(lines)
    return text if len(text) <= _SECTION_LIMIT else text[: _SECTION_LIMIT - 4] + "…```"


def approval_blocks(
    approval_id: str, data: dict[str, Any], deciders: Sequence[str]
) -> list[dict[str, Any]]:
    """A request with one button per decision Codex offered (and no other)."""
    decisions = [str(d) for d in data.get("available_decisions") or ()]
    who = ", ".join(f"<@{u}>" for u in deciders) or "the requester"
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": _describe(data)}},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": f"Can decide: {who}"}]},
    ]
    if decisions:
        buttons = []
        for decision in decisions[:25]:
            button: dict[str, Any] = {
                "type": "button",
                "action_id": ACTION_PREFIX + decision,
                "text": {"type": "plain_text", "text": decision_label(decision)},
                "value": approval_id,
            }
            if style := _STYLES.get(decision):
                button["style"] = style
            buttons.append(button)
        blocks.append(
            {"type": "actions", "block_id": f"approval-{approval_id}", "elements": buttons}
        )
    return blocks


def settled_blocks(data: dict[str, Any], outcome: str) -> list[dict[str, Any]]:
    """The request again, buttons replaced by its outcome ("Approved by Ann")."""
    return [
        {"type": "section", "text": {"type": "mrkdwn", "text": _describe(data)}},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": outcome}]},
    ]


def decided_text(decision: str, by: str) -> str:
    return f"{decision_label(decision)}: decided by {by}"


EXPIRED_TEXT = "Expired: the turn that asked has ended"
WORKING = ":hourglass_flowing_sand: Working on it…"
WAITING = ":raised_hand: Waiting for an approval"
STOPPED = ":black_square_for_stop: Stopped."
CANCELLED = ":no_entry_sign: Cancelled."


def running_text(command: str) -> str:
    short = command if len(command) <= 200 else command[:197] + "…"
    return f":hourglass_flowing_sand: Running `{escape(short)}`"


def writing_text(answer: str) -> str:
    """The status message while Codex writes its answer: the text so far (its end, if long)."""
    text = to_mrkdwn(answer)
    if len(text) > _SECTION_LIMIT:
        text = "…" + text[-_SECTION_LIMIT:]
    return f":writing_hand: Writing…\n{text}"


def done_text(total_tokens: int) -> str:
    return f":white_check_mark: Done · {total_tokens:,} tokens used so far"


def failed_text(reason: str | None) -> str:
    return f":x: Failed: {escape(reason or 'unknown error')}"
