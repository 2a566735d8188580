"""The JSON of Codex releases (``/v1/codex/releases``, ``/v1/codex/use``,
``/v1/codex/rollback``; docs/releases.md)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from codex_runner.service.codex_releases import SwitchRecord
from codex_runner.service.codex_releases_install import InstallJob
from codex_runner.service.codex_releases_service import ReleaseListing


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


def releases_out(listing: ReleaseListing) -> ReleasesOut:
    p = listing.pointers
    return ReleasesOut(
        releases=[
            ReleaseOut(
                name=r.name,
                version=r.version,
                binary=str(r.binary),
                current=r.name == listing.current,
                previous=r.name == p.previous,
                failed=r.name == p.failed,
            )
            for r in listing.releases
        ],
        current=listing.current,
        previous=p.previous,
        failed=p.failed,
        pending=listing.pending,
        not_switchable=listing.switchable,
        switches=[record_out(r) for r in listing.records],
        jobs=[job_out(j) for j in listing.jobs],
    )


def record_out(record: SwitchRecord) -> SwitchRecordOut:
    return SwitchRecordOut(
        at=record.at,
        who=record.who,
        action=record.action,
        from_release=record.from_release,
        to_release=record.to_release,
        result=record.result,
        message=record.message,
        check=list(record.check),
    )


def job_out(job: InstallJob) -> InstallJobOut:
    return InstallJobOut(
        id=job.id,
        version=job.version,
        state=job.state,
        lines=list(job.lines),
        error=job.error,
        started_at=job.started_at,
        finished_at=job.finished_at,
    )
