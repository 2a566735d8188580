"""``/v1/link``: the running daemon's chat server link, read, started or stopped (what
``codex-runner link`` asks of a daemon that already runs)."""

from __future__ import annotations

from pydantic import ValidationError
from starlette.responses import Response

from codex_runner.bridges.link.holder import LinkHolder
from codex_runner.config import LinkSettings
from codex_runner.http.errors import ERROR_RESPONSES, error_response
from codex_runner.http.routing import Router, model_response
from codex_runner.http.wire_link import LinkOut, LinkStart
from codex_runner.service.errors import InvalidRequest


def link_router(holder: LinkHolder) -> Router:
    router = Router(prefix="/v1/link", tags=["link"], responses=ERROR_RESPONSES)

    @router.get("", response=LinkOut)
    async def get_link() -> Response:
        status = holder.status()
        if status is None:
            return error_response(404, "not_found", "this daemon runs no chat server link")
        return model_response(LinkOut.of(status))

    @router.route("PUT", "", response=LinkOut)
    async def start_link(body: LinkStart) -> LinkOut:
        """Run a link with these settings (it replaces the one running, if any)."""
        try:
            settings = LinkSettings(
                url=body.url,
                runner_id=body.runner_id,
                cwd=body.cwd,
                channel=body.channel,
                heartbeat_s=body.heartbeat_s,
            )
        except ValidationError as exc:
            first = exc.errors()[0]
            field = ".".join(str(p) for p in first["loc"]) or "link"
            raise InvalidRequest(field, str(first["msg"])) from None
        link = await holder.start(settings, body.token)
        return LinkOut.of(link.status)

    @router.route("DELETE", "", status=204)
    async def stop_link() -> Response:
        await holder.stop()
        return Response(status_code=204)

    return router
