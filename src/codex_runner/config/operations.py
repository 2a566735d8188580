"""The configuration's operations sections: the store (``[store]``), several hosts on it
(``[cluster]``), metrics (``[metrics]``) and the layered logs (``[logs]``)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from codex_runner.config.base import Strict as _Strict


class ClusterSettings(_Strict):
    """Several hosts on one store (``[cluster]``; docs/cluster.md)."""

    heartbeat_s: float = Field(default=2.0, gt=0, description="How often this host beats.")
    lease_s: float = Field(
        default=10.0,
        gt=0,
        description="A host silent this long is dead; another host takes over its tasks.",
    )
    push_branches: bool = Field(
        default=False,
        description="Push each task commit to the repository's origin, and fetch a task's "
        "branch from it before running the task: for hosts with their own clones.",
    )

    @model_validator(mode="after")
    def _lease_spans_beats(self) -> ClusterSettings:
        if self.lease_s < 2 * self.heartbeat_s:
            raise ValueError(
                f"cluster.lease_s ({self.lease_s:g}) must be at least twice heartbeat_s "
                f"({self.heartbeat_s:g}), or a live host with one slow beat is taken over"
            )
        return self


class StoreSettings(_Strict):
    """The store (``[store]``): SQLite in the home by default, or a PostgreSQL database."""

    url: str | None = Field(
        default=None,
        description="postgresql+psycopg://USER[:PASSWORD]@HOST/DB (or CODEX_RUNNER_DATABASE_URL)"
        "; default: SQLite in the runner home. The password never reaches logs or errors.",
    )
    event_retention_s: float | None = Field(
        default=None,
        gt=0,
        description="Move the events of tasks finished longer ago than this into a compressed "
        "archive in the store (read back as before; docs/event-archive.md). Default: keep "
        "them in the event log.",
    )

    @field_validator("url")
    @classmethod
    def _postgres(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("postgresql://", "postgresql+psycopg://")):
            raise ValueError(
                "store.url is a PostgreSQL URL: postgresql+psycopg://USER@HOST/DB (omit it for "
                "SQLite in the runner home)"
            )
        return value


class MetricsSettings(_Strict):
    """``GET /metrics`` (``[metrics]``; docs/metrics.md)."""

    public: bool = Field(
        default=False,
        description="Serve /metrics without the API token (for a scraper on a trusted network).",
    )


class LogSettings(_Strict):
    """Layered logs (``[logs]``): hourly JSONL files under the home's ``logs/`` (docs/logs.md)."""

    level: Literal["debug", "info", "warning", "error"] = Field(
        default="info", description="The lowest level the daemon's records are written at."
    )
    retention_s: float = Field(
        default=14 * 24 * 3600.0,
        ge=0,
        description="Log files older than this are removed by the daemon (0: never).",
    )
    raw_codex_rpc: bool = Field(
        default=False, description="logs/raw/codex-rpc/: every JSON-RPC line to and from Codex."
    )
    raw_slack_events: bool = Field(
        default=False, description="logs/raw/slack-events/: the Slack bridge's incoming events."
    )
    raw_http: bool = Field(
        default=False,
        description="logs/raw/http/: method, path, status and duration of each API request.",
    )
    raw_max_bytes: int = Field(
        default=256 * 1024,
        ge=512,
        le=16 * 1024 * 1024,
        description="A raw record longer than this is cut (and says so).",
    )
    queue_size: int = Field(
        default=10_000,
        ge=100,
        le=1_000_000,
        description="Lines waiting for the log writer; past it lines are dropped and counted.",
    )
