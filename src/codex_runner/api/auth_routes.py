"""``/v1/auth/profile``: which auth profile the daemon's Codex runtime uses, and switching it;
``/v1/auth/profiles``: the profiles with their accounts, uploading, activating, deleting.

The daemon mounts these routers behind its bearer auth; they do no auth themselves. An
uploaded ``auth.json`` is never echoed, logged or quoted in an error.
"""

from __future__ import annotations

import json

from pydantic import ValidationError
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import Response

from codex_runner.auth.profile_store import ProfileError, check_name
from codex_runner.codex.errors import CodexError
from codex_runner.config import ConfigError
from codex_runner.http.errors import error_response
from codex_runner.http.routing import InvalidInput, ResponsesDoc, Router
from codex_runner.http.wire import (
    ErrorOut,
    ProfileOut,
    ProfileStateOut,
    ProfileSwitchBody,
    ProfileSwitchOut,
)
from codex_runner.http.wire_profiles import (
    AuthProfileActivateBody,
    AuthProfileOut,
    AuthProfilesOut,
    AuthProfileUploadBody,
    RateLimitOut,
)
from codex_runner.service.auth_profiles import (
    MAX_AUTH_JSON_BYTES,
    UPLOAD_SOURCE,
    AuthProfiles,
    ProfileConflict,
    ProfileSummary,
    UnknownProfile,
)
from codex_runner.service.profile_switch import ProfileSwitcher, SwitchMode, SwitchRefused

PROFILES = "/v1/auth/profiles"
# The body of an upload: the auth.json, its name and the form's few fields.
MAX_UPLOAD_BYTES = MAX_AUTH_JSON_BYTES + 4096
_ERRORS: ResponsesDoc = {
    status: {"model": ErrorOut} for status in (404, 409, 413, 415, 422, 500, 503)
}


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
        except (ConfigError, SwitchRefused, CodexError) as exc:
            return _switch_failed(exc)
        return ProfileSwitchOut(**outcome.to_dict())

    return router


def _switch_failed(exc: ConfigError | SwitchRefused | CodexError) -> Response:
    """The answer to a profile switch that did not happen, by its cause."""
    if isinstance(exc, ConfigError):  # profiles/active is damaged; the message says the fix
        return error_response(500, "misconfigured", str(exc))
    if isinstance(exc, SwitchRefused):
        return error_response(409, "turns_running", str(exc))
    return error_response(503, "runtime_unavailable", f"the Codex runtime did not restart: {exc}")


class _BadUpload(Exception):
    def __init__(self, status: int, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.field = status, code, field


def auth_profiles_router(profiles: AuthProfiles | None, *, unavailable: str) -> Router:
    """``/v1/auth/profiles``; with no ``profiles`` (an exec runtime, a pinned codex.home)
    every route answers 409 saying ``unavailable``, the reason and the fix."""
    router = Router(tags=["auth"], responses=_ERRORS)

    def no_profiles() -> Response:
        return error_response(409, "profiles_unavailable", unavailable)

    @router.get(PROFILES)
    async def list_profiles() -> AuthProfilesOut | Response:
        """Every auth profile: its auth mode, account, plan and rate-limit use."""
        if profiles is None:
            return no_profiles()
        try:
            view = profiles.view()
        except ConfigError as exc:  # profiles/active is damaged; the message says the fix
            return error_response(500, "misconfigured", str(exc))
        return AuthProfilesOut(
            active=view.active,
            pending=view.pending,
            last_error=view.last_error,
            profiles=[_profile_out(p) for p in view.profiles],
        )

    @router.post(PROFILES, status=201)
    async def upload_profile(request: Request) -> AuthProfileOut | Response:
        """Store an ``auth.json`` as a profile's (0600): a JSON body (AuthProfileUploadBody)
        or a multipart form with ``name``, ``replace`` and the ``file``."""
        if profiles is None:
            return no_profiles()
        try:
            name, text, replace = await _read_upload(request)
            check_name(name)
        except _BadUpload as exc:
            return error_response(exc.status, exc.code, str(exc), field=exc.field)
        except ProfileError as exc:
            return error_response(422, "invalid_request", str(exc), field="name")
        try:
            return _profile_out(profiles.upload(name, text, replace=replace))
        except ProfileConflict as exc:
            return error_response(409, "conflict", str(exc))
        except ProfileError as exc:
            return error_response(422, "invalid_request", str(exc), field="auth_json")

    @router.post(f"{PROFILES}/{{name}}/activate")
    async def activate_profile(
        name: str, body: AuthProfileActivateBody | None = None
    ) -> ProfileSwitchOut | Response:
        """Make ``name`` active: refused while turns run unless ``when_idle`` or ``force``."""
        if profiles is None:
            return no_profiles()
        mode = SwitchMode(body.mode if body is not None else "now")
        try:
            outcome = await profiles.activate(name, mode)
        except UnknownProfile as exc:
            return error_response(404, "not_found", str(exc))
        except ProfileError as exc:
            return error_response(422, "invalid_request", str(exc), field="name")
        except (ConfigError, SwitchRefused, CodexError) as exc:
            return _switch_failed(exc)
        return ProfileSwitchOut(**outcome.to_dict())

    @router.route("DELETE", f"{PROFILES}/{{name}}", status=204)
    async def delete_profile(name: str) -> Response:
        """Remove ``name``: refused for ``default``, the active one and a pending switch's."""
        if profiles is None:
            return no_profiles()
        try:
            profiles.delete(name)
        except UnknownProfile as exc:
            return error_response(404, "not_found", str(exc))
        except ProfileConflict as exc:
            return error_response(409, "conflict", str(exc))
        except ProfileError as exc:
            return error_response(422, "invalid_request", str(exc), field="name")
        except ConfigError as exc:
            return error_response(500, "misconfigured", str(exc))
        return Response(status_code=204)

    return router


def _profile_out(summary: ProfileSummary) -> AuthProfileOut:
    return AuthProfileOut(
        name=summary.name,
        active=summary.active,
        pending=summary.pending,
        auth_mode=summary.auth_mode,
        email=summary.account.email,
        plan_type=summary.account.plan_type,
        rate_limits=[
            RateLimitOut(
                window=w.name,
                used_percent=w.used_percent,
                window_minutes=w.window_minutes,
                resets_at=w.resets_at,
            )
            for w in summary.rate_limits
        ],
    )


async def _read_upload(request: Request) -> tuple[str, str, bool]:
    """The name, the auth.json's text and ``replace``, from JSON or a multipart form."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_UPLOAD_BYTES:
        raise _too_large()
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind == "multipart/form-data":
        return await _read_form(request)
    if kind != "application/json":
        raise _BadUpload(
            415,
            "unsupported_media_type",
            'send the auth.json as application/json ({"name": ..., "auth_json": {...}}) '
            "or as multipart/form-data (name, file)",
        )
    raw = bytearray()
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > MAX_UPLOAD_BYTES:
            raise _too_large()
    try:
        body = AuthProfileUploadBody.model_validate_json(bytes(raw))
    except ValidationError as exc:
        # Locations only: pydantic's messages may quote the input, which holds tokens.
        raise InvalidInput(
            [{**e, "input": None, "loc": ("body", *e["loc"])} for e in exc.errors()]
        ) from None
    text = body.auth_json if isinstance(body.auth_json, str) else json.dumps(body.auth_json)
    return body.name, text, body.replace


async def _read_form(request: Request) -> tuple[str, str, bool]:
    async with request.form(max_files=1, max_fields=4, max_part_size=MAX_UPLOAD_BYTES) as form:
        name, upload, replace = form.get("name"), form.get("file"), form.get("replace")
        if not isinstance(name, str) or not name:
            raise _BadUpload(422, "invalid_request", "the form has no name field", "name")
        if not isinstance(upload, UploadFile):
            raise _BadUpload(422, "invalid_request", "the form has no file field", "file")
        data = await upload.read(MAX_UPLOAD_BYTES + 1)
    if len(data) > MAX_AUTH_JSON_BYTES:
        raise _too_large()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise _BadUpload(
            422, "invalid_request", f"{UPLOAD_SOURCE} is not text; upload a Codex auth.json"
        ) from None
    return name, text, replace in ("true", "on", "1")


def _too_large() -> _BadUpload:
    return _BadUpload(
        413,
        "too_large",
        f"{UPLOAD_SOURCE} is larger than {MAX_AUTH_JSON_BYTES // 1024} kB, so it is not a "
        "Codex auth.json",
    )
