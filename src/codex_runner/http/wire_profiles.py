"""The JSON of the auth profiles (``/v1/auth/profiles``; docs/auth.md). No field ever holds
a token or a key: an uploaded ``auth.json`` goes in, never out."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class RateLimitOut(BaseModel):
    window: str = Field(description="primary or secondary.")
    used_percent: int
    window_minutes: int | None
    resets_at: int | None = Field(description="Unix seconds.")


class AuthProfileOut(BaseModel):
    name: str
    active: bool
    pending: bool = Field(description="A when-idle switch to it waits for running turns.")
    auth_mode: str = Field(description="apikey, chatgpt, none or unreadable (its auth.json).")
    email: str | None = Field(description="The ChatGPT account's, when its auth.json says.")
    plan_type: str | None
    rate_limits: list[RateLimitOut] = Field(
        description="Codex's last report; only the active profile has one."
    )


class AuthProfilesOut(BaseModel):
    active: str
    pending: str | None
    last_error: str | None = Field(description="Why the last when-idle switch failed.")
    profiles: list[AuthProfileOut]


class AuthProfileUploadBody(BaseModel):
    """The JSON form of an upload; multipart takes ``name``, ``replace`` and a ``file``."""

    model_config = ConfigDict(extra="forbid")

    name: str
    auth_json: dict[str, Any] | str = Field(description="The auth.json, as JSON or as text.")
    replace: bool = False


class AuthProfileActivateBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    mode: Literal["now", "when_idle", "force"] = Field(
        "now",
        description="now: refused while turns run; when_idle: after they finish; "
        "force: interrupts them.",
    )
