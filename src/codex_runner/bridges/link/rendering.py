"""How a task's progress reads in the chat server's threads: the chat core's renderer, in
Markdown (the chat server renders it), with an approval request's facts as fields of its
own so that the server can show buttons for the decisions Codex offered."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

MAX_REPLY_CHARS = 16_000  # one chat_reply's text; a longer answer takes several


class LinkRenderer:
    """:class:`~codex_runner.bridges.chat.relay_plan.ChatRenderer` for the chat server."""

    def working(self) -> str:
        return "Working…"

    def running(self, command: str) -> str:
        return f"Running `{command}`"

    def waiting(self) -> str:
        return "Waiting for an approval"

    def writing(self, answer: str) -> str:
        return f"Writing…\n\n{answer}"

    def done(self, total_tokens: int) -> str:
        return f"Done ({total_tokens:,} tokens)"

    def stopped(self) -> str:
        return "Stopped"

    def cancelled(self) -> str:
        return "Cancelled"

    def failed(self, reason: str | None) -> str:
        return f"Failed: {reason or 'unknown error'}"

    def restarted(self) -> str:
        return (
            "The runner restarted while this turn was running. Reply to continue where it left off."
        )

    def answer(self, markdown: str) -> list[str]:
        return split_reply(markdown)

    def approval_request(
        self, approval_id: str, data: dict[str, Any], deciders: Sequence[str]
    ) -> dict[str, Any]:
        return {
            "text": describe(data),
            "approvalId": approval_id,
            "kind": data.get("kind", "command"),
            "command": data.get("command"),
            "cwd": data.get("cwd"),
            "reason": data.get("reason"),
            "files": [
                {"path": c.get("path"), "kind": c.get("kind")} for c in data.get("changes") or ()
            ],
            "decisions": [str(d) for d in data.get("available_decisions") or ()],
            "deciders": list(deciders),
        }

    def approval_decided(self, data: dict[str, Any], decision: str, by: str) -> dict[str, Any]:
        return {
            "text": f"{describe(data)}\n\n**{decision}** by {by}",
            "outcome": "decided",
            "decision": decision,
            "decidedBy": by,
        }

    def approval_expired(self, data: dict[str, Any]) -> dict[str, Any]:
        return {
            "text": f"{describe(data)}\n\nExpired with no decision",
            "outcome": "expired",
        }


def describe(data: dict[str, Any]) -> str:
    """What an approval asks, in a line or a few."""
    kind = str(data.get("kind") or "command")
    if kind == "command":
        lines = ["Codex asks to run a command"]
        if command := data.get("command"):
            lines.append(f"```\n{command}\n```")
    elif kind == "file_change":
        lines = ["Codex asks to change files"]
        changes = data.get("changes") or ()
        lines += [f"- {c.get('kind', 'update')} `{c.get('path')}`" for c in changes]
    else:
        lines = [f"Codex asks for an approval ({kind})"]
    if cwd := data.get("cwd"):
        lines.append(f"in `{cwd}`")
    return "\n".join(lines)


def split_reply(markdown: str, limit: int = MAX_REPLY_CHARS) -> list[str]:
    """``markdown`` in pieces of at most ``limit`` characters, cut at line ends when it can."""
    pieces: list[str] = []
    rest = markdown
    while len(rest) > limit:
        cut = rest.rfind("\n", 0, limit)
        cut = cut if cut > 0 else limit
        pieces.append(rest[:cut])
        rest = rest[cut:].lstrip("\n")
    if rest or not pieces:
        pieces.append(rest)
    return pieces
