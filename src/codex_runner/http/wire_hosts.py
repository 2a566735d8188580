"""The JSON of the hosts sharing the store (``GET /v1/hosts``)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from codex_runner.domain.hosts import Host


class HostOut(BaseModel):
    id: str
    hostname: str
    version: str
    capacity: int = Field(description="How many tasks it runs at once.")
    started_at: datetime
    heartbeat_at: datetime
    heartbeat_age_s: float = Field(description="Seconds since its last heartbeat.")
    draining: bool = Field(description="It claims no new work (hosts drain).")
    dead_at: datetime | None = Field(description="When another host took over its tasks.")
    running: int = Field(description="Its running or awaiting-approval tasks.")
    this_host: bool = Field(description="The host that answered this request.")

    @classmethod
    def of(cls, host: Host, *, now: datetime, running: int, this_host: bool) -> HostOut:
        return cls(
            id=host.id,
            hostname=host.hostname,
            version=host.version,
            capacity=host.capacity,
            started_at=host.started_at,
            heartbeat_at=host.heartbeat_at,
            heartbeat_age_s=max(0.0, (now - host.heartbeat_at).total_seconds()),
            draining=host.draining,
            dead_at=host.dead_at,
            running=running,
            this_host=this_host,
        )


class HostList(BaseModel):
    hosts: list[HostOut]
