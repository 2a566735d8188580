"""The JSON of the chat server link's state (in ``/v1/status`` and on the admin page)."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from pydantic import BaseModel, ConfigDict, Field


class LinkState(Protocol):
    """What the link reports (bridges/link/link.py's LinkStatus; the API sits below it)."""

    @property
    def state(self) -> str: ...
    @property
    def url(self) -> str: ...
    @property
    def runner_id(self) -> str: ...
    @property
    def instance_id(self) -> str | None: ...
    @property
    def serving(self) -> bool: ...
    @property
    def connected_since(self) -> datetime | None: ...
    @property
    def last_heartbeat_at(self) -> datetime | None: ...
    @property
    def last_acked_seq(self) -> int: ...
    @property
    def last_seq(self) -> int: ...
    @property
    def last_error(self) -> str | None: ...
    @property
    def attempts(self) -> int: ...
    @property
    def thread_id(self) -> str | None: ...


class LinkOut(BaseModel):
    state: str = Field(
        description="starting, connecting, connected, disconnected, rejected or stopped."
    )
    url: str = Field(description="The chat server's socket (never with the token).")
    runner_id: str
    instance_id: str | None
    serving: bool
    connected_since: datetime | None
    last_heartbeat_at: datetime | None
    last_acked_seq: int
    last_seq: int
    last_error: str | None
    attempts: int
    thread_id: str | None = Field(
        default=None, description="The bound chat session's Codex thread, if any."
    )

    @classmethod
    def of(cls, status: LinkState) -> LinkOut:
        return cls(
            state=status.state,
            url=status.url,
            runner_id=status.runner_id,
            instance_id=status.instance_id,
            serving=status.serving,
            connected_since=status.connected_since,
            last_heartbeat_at=status.last_heartbeat_at,
            last_acked_seq=status.last_acked_seq,
            last_seq=status.last_seq,
            last_error=status.last_error,
            attempts=status.attempts,
            thread_id=status.thread_id,
        )


class LinkStart(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(description="The chat server's socket, e.g. wss://chat.example/socket.")
    runner_id: str
    cwd: str | None = None
    channel: str | None = None
    heartbeat_s: float = Field(default=15.0, gt=0, le=3600)
    token: str = Field(min_length=1, max_length=4096, description="Never stored or shown.")
