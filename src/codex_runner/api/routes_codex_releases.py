"""``/v1/codex/releases`` (list, install as a background job, the job's progress),
``/v1/codex/use`` and ``/v1/codex/rollback``; behind the bearer token. The rules live in
service/codex_releases*.py."""

from __future__ import annotations

from collections.abc import Awaitable

from starlette.requests import Request
from starlette.responses import Response

from codex_runner.codex.errors import CodexError
from codex_runner.http.errors import ERROR_RESPONSES, error_response
from codex_runner.http.routing import Router
from codex_runner.http.wire_releases import (
    InstallBody,
    InstallJobOut,
    ReleaseOut,
    ReleasesOut,
    RollbackBody,
    SwitchOut,
    SwitchRecordOut,
    UseBody,
)
from codex_runner.service.codex_releases import ReleaseError, SwitchRecord
from codex_runner.service.codex_releases_install import InstallJob
from codex_runner.service.codex_releases_service import CodexReleases, ReleaseListing
from codex_runner.service.codex_releases_switch import SwitchAsk, SwitchOutcome, SwitchRefused


def releases_router(releases: CodexReleases) -> Router:
    router = Router(prefix="/v1/codex", tags=["codex releases"], responses=ERROR_RESPONSES)

    @router.get("/releases", response=ReleasesOut)
    async def listing() -> ReleasesOut:
        """The installed Codex releases, the pointers, the last switches and install jobs."""
        return releases_out(releases.listing())

    @router.post("/releases", status=202, response=InstallJobOut)
    async def install(body: InstallBody) -> InstallJobOut | Response:
        """Install a version in the background; poll ``/v1/codex/releases/jobs/{id}``."""
        try:
            return job_out(releases.install(body.version))
        except ReleaseError as exc:
            return error_response(409, "conflict", str(exc), field="version")

    @router.get("/releases/jobs/{job_id}", response=InstallJobOut)
    async def job(job_id: str) -> InstallJobOut | Response:
        """An install job's progress lines and result."""
        found = releases.jobs.get(job_id)
        if found is None:
            return error_response(404, "not_found", f"no install job {job_id!r}")
        return job_out(found)

    @router.post("/use", response=SwitchOut)
    async def use(body: UseBody, request: Request) -> SwitchOut | Response:
        """Switch to an installed release, check it, and switch back if the check fails."""
        ask = SwitchAsk(body.version, _who(body.who, request), body.allow_active, body.when_idle)
        return await _switched(releases, releases.use(ask))

    @router.post("/rollback", response=SwitchOut)
    async def rollback(body: RollbackBody, request: Request) -> SwitchOut | Response:
        """Switch back to the previous release (installed already: nothing is downloaded)."""
        ask = SwitchAsk("", _who(body.who, request), body.allow_active, body.when_idle)
        return await _switched(releases, releases.rollback(ask))

    return router


async def _switched(
    releases: CodexReleases, switching: Awaitable[SwitchOutcome]
) -> SwitchOut | Response:
    try:
        outcome = await switching
    except ReleaseError as exc:
        return error_response(409, "conflict", str(exc), field="version")
    except SwitchRefused as exc:
        return error_response(409, "turns_running", str(exc))
    except CodexError as exc:
        return error_response(503, "runtime_unavailable", str(exc))
    return SwitchOut(
        switch=record_out(outcome.record) if outcome.record is not None else None,
        pending=outcome.pending,
        current=releases.home.current().name,
    )


def _who(given: str | None, request: Request) -> str:
    """Who asked: what the caller says (the CLI sends its user), else the credential."""
    if given:
        return given
    return "api token" if "authorization" in request.headers else "admin page"


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
