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
    ReleasesOut,
    RollbackBody,
    SwitchOut,
    UseBody,
    job_out,
    record_out,
    releases_out,
)
from codex_runner.service.codex_releases import PINNED, ReleaseError, check_version
from codex_runner.service.codex_releases_service import CodexReleases
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
        if (refused := _bad_version(body.version)) is not None:
            return refused
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
        if body.version != PINNED and (refused := _bad_version(body.version)) is not None:
            return refused
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


def _bad_version(version: str) -> Response | None:
    try:
        check_version(version)
    except ReleaseError as exc:
        return error_response(422, "invalid_request", str(exc), field="version")
    return None


def _who(given: str | None, request: Request) -> str:
    """Who asked: what the caller says (the CLI sends its user), else the credential."""
    if given:
        return given
    return "api token" if "authorization" in request.headers else "admin page"
