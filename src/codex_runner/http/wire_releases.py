"""The JSON of Codex releases (``/v1/codex/releases``, ``/v1/codex/use``,
``/v1/codex/rollback``; docs/releases.md)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class ReleaseOut(BaseModel):
    name: str = Field(description="`pinned` (the wheel installed with the runner) or a version.")
    version: str
    binary: str
    current: bool
    previous: bool
    failed: bool


class SwitchRecordOut(BaseModel):
    at: str
    who: str
    action: str = Field(description="use or rollback.")
    from_release: str
    to_release: str
    result: str = Field(description="switched, rolled_back (the check failed), refused, failed.")
    message: str
    check: list[str] = Field(description="The readiness check's lines, `ok: …` or `FAILED: …`.")


class InstallJobOut(BaseModel):
    id: str
    version: str
    state: str = Field(description="running, succeeded or failed.")
    lines: list[str] = Field(description="pip's progress, the last 200 lines.")
    error: str | None = None
    started_at: float
    finished_at: float | None = None


class ReleasesOut(BaseModel):
    releases: list[ReleaseOut]
    current: str
    previous: str | None
    failed: str | None
    pending: str | None = Field(description="A when-idle switch waiting for running turns.")
    not_switchable: str | None = Field(description="Why this daemon cannot switch, if it cannot.")
    switches: list[SwitchRecordOut] = Field(description="The last switches, newest first.")
    jobs: list[InstallJobOut] = Field(description="Install jobs, newest first.")


class InstallBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: str = Field(description="A version of openai-codex-cli-bin, e.g. 0.162.1.")


class UseBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: str = Field(description="An installed version, or `pinned`.")
    allow_active: bool = Field(False, description="Switch even while turns run (interrupted).")
    when_idle: bool = Field(False, description="Wait for running turns, then switch.")
    who: str | None = Field(None, max_length=200, description="Who asks (recorded).")


class RollbackBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    allow_active: bool = False
    when_idle: bool = False
    who: str | None = Field(None, max_length=200)


class SwitchOut(BaseModel):
    switch: SwitchRecordOut | None = Field(description="The switch made (None when pending).")
    pending: str | None = Field(description="The release a when-idle switch waits to run.")
    current: str
