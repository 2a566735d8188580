"""Hosts: each ``serve`` is one, several share a PostgreSQL store (one with SQLite).

A host heartbeats its row; one whose heartbeat is older than the lease is dead, and any live
host takes over its active tasks. A task's ``lease`` grows by one on every claim and every
takeover: a write made on an older lease is refused (fencing), so a host that was paused or
cut off cannot touch a task once another has it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

HOST_LOST = "host_lost"


@dataclass(frozen=True)
class Host:
    id: str
    hostname: str
    version: str
    capacity: int
    started_at: datetime
    heartbeat_at: datetime
    draining: bool = False
    dead_at: datetime | None = None  # set by the host that took over its tasks

    def stale(self, now: datetime, lease_s: float) -> bool:
        """Its heartbeat is older than the lease: it is dead unless it beats again first."""
        return self.dead_at is None and now - self.heartbeat_at > timedelta(seconds=lease_s)


@dataclass(frozen=True)
class Rollout:
    """A copy of a thread's Codex session file: ``path`` relative to the Codex home,
    ``content`` compressed (zlib) from ``size`` bytes."""

    thread_id: str
    path: str
    content: bytes
    size: int
    updated_at: datetime


def host_lost_reason(host_id: str, lease_s: float) -> str:
    return f"{HOST_LOST}: host {host_id} sent no heartbeat for {lease_s:g}s; another host took over"
