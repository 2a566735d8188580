"""Deltas: live, non-durable pieces of an item that is still streaming.

Codex sends an item's text in pieces before the item completes; the completed item stays
the durable record, so a delta is never stored. Pure values and the coalescing rule.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

# At most one delta per item in this window reaches a client, so a fast stream cannot
# flood a slow one.
COALESCE_WINDOW_S = 0.05


class DeltaKind(StrEnum):
    AGENT_MESSAGE = "agent_message"
    REASONING = "reasoning"
    COMMAND_OUTPUT = "command_output"
    PLAN = "plan"
    DIFF = "diff"


@dataclass(frozen=True)
class Delta:
    """A piece of item ``item_id``'s text. ``replaces`` marks a snapshot (Codex sends the
    turn's whole plan and diff each time) rather than text to append."""

    item_id: str
    kind: DeltaKind
    text: str
    replaces: bool = False

    def followed_by(self, later: Delta) -> Delta:
        """This delta and a later one of the same item as one: text appended, or the
        later snapshot."""
        if later.item_id != self.item_id or later.kind is not self.kind:
            raise ValueError("only deltas of one item and kind coalesce")
        if later.replaces:
            return later
        return Delta(self.item_id, self.kind, self.text + later.text, self.replaces)

    def to_dict(self) -> dict[str, str]:
        return {"item_id": self.item_id, "kind": self.kind.value, "text": self.text}
