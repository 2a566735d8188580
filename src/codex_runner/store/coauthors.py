"""Co-authors every store keeps (part of the Store protocol; service.coauthors).

One row per chat user (a bridge and its user id): the git author their work is credited
to, whether it was inferred (from their chat profile) or set by a person, and whether they
were offered to set it. Rules every implementation keeps: a row is keyed by (bridge, user);
a write with ``over_manual=False`` leaves a manual row alone; :meth:`mark_coauthor_offered`
answers True once per person, whoever asks.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol


class CoauthorSource(StrEnum):
    INFERRED = "inferred"  # from the chat profile's email
    MANUAL = "manual"  # set by a person (panel, API, the chat's form); inference keeps off


@dataclass(frozen=True)
class Coauthor:
    """A chat user's git author. ``author`` is ``Name <email>``, or None for a person who
    has none (only offered, or removed by hand: then ``source`` is manual)."""

    bridge: str
    user: str
    author: str | None
    source: CoauthorSource | None
    updated_at: datetime
    display_name: str = ""
    offered_at: datetime | None = None


class CoauthorStore(Protocol):
    async def coauthor(self, bridge: str, user: str) -> Coauthor | None:
        """The row of one chat user, None when there is none."""

    async def put_coauthor(self, entry: Coauthor, *, over_manual: bool = True) -> bool:
        """Write ``entry``'s author, source, name and time (its offer is kept); with
        ``over_manual=False`` a manual row is left as it is. True when written."""

    async def mark_coauthor_offered(self, bridge: str, user: str, at: datetime) -> bool:
        """Note that the user was offered to set their author; True only the first time."""

    async def list_coauthors(self) -> list[Coauthor]:
        """Every row, by bridge and user."""
