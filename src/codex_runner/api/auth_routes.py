"""``/v1/auth/profile``: which auth profile the daemon's Codex runtime uses, and switching it.

The daemon mounts this router behind its bearer auth; it does no auth itself.
"""

from __future__ import annotations

from starlette.responses import Response

from codex_runner.auth.profile_store import ProfileError, check_name
from codex_runner.codex.errors import CodexError
from codex_runner.config import ConfigError
from codex_runner.http.errors import error_response
from codex_runner.http.routing import Router
from codex_runner.http.wire import (
    ErrorOut,
    ProfileOut,
    ProfileStateOut,
    ProfileSwitchBody,
    ProfileSwitchOut,
)
from codex_runner.service.profile_switch import ProfileSwitcher, SwitchMode, SwitchRefused


def auth_router(switcher: ProfileSwitcher) -> Router:
    router = Router(tags=["auth"])

    @router.get("/v1/auth/profile", responses={500: {"model": ErrorOut}})
    async def get_profile() -> ProfileStateOut | Response:
        try:
            active = switcher.active
        except ConfigError as exc:  # profiles/active is damaged; the message says the fix
            return error_response(500, "misconfigured", str(exc))
        return ProfileStateOut(
            active=active,
            pending=switcher.pending,
            last_error=switcher.last_error,
            profiles=[
                ProfileOut(name=p.name, auth_mode=p.auth_mode, active=p.active)
                for p in switcher.store.profiles()
            ],
        )

    @router.post(
        "/v1/auth/profile",
        response=ProfileSwitchOut,
        responses={
            404: {"model": ErrorOut},
            409: {"model": ErrorOut},
            422: {"model": ErrorOut},
            500: {"model": ErrorOut},
            503: {"model": ErrorOut},
        },
    )
    async def switch_profile(body: ProfileSwitchBody) -> ProfileSwitchOut | Response:
        try:
            check_name(body.name)
        except ProfileError as exc:
            return error_response(422, "invalid_request", str(exc), field="name")
        try:
            outcome = await switcher.switch(body.name, SwitchMode(body.mode))
        except ProfileError as exc:
            return error_response(404, "not_found", str(exc))
        except ConfigError as exc:  # profiles/active is damaged; the message says the fix
            return error_response(500, "misconfigured", str(exc))
        except SwitchRefused as exc:
            return error_response(409, "turns_running", str(exc))
        except CodexError as exc:
            return error_response(
                503, "runtime_unavailable", f"the Codex runtime did not restart: {exc}"
            )
        return ProfileSwitchOut(**outcome.to_dict())

    return router
