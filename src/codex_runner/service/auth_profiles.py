"""The auth profiles as the admin page and ``/v1/auth/profiles`` see them: each profile's
account and rate-limit use, uploading an ``auth.json``, activating and deleting one.

Switching is :class:`~codex_runner.service.profile_switch.ProfileSwitcher`'s (the same idle
rules as ``codex-runner auth profiles use``); the files are
:class:`~codex_runner.auth.profile_store.ProfileStore`'s. What this adds: what is known of
each profile's account, and the rules an upload or a delete must pass on a running runner.
No credential leaves this module: only the e-mail and plan are read from an ``auth.json``.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from codex_runner.auth.account import RateLimitWindow
from codex_runner.auth.profile_store import AUTH_FILE, ProfileError, ProfileInfo, check_name
from codex_runner.config import RunnerConfig
from codex_runner.service.metrics_snapshot import rate_limit_windows
from codex_runner.service.profile_switch import ProfileSwitcher, SwitchMode, SwitchOutcome

# An auth.json is a few kB; anything much larger is not one.
MAX_AUTH_JSON_BYTES = 64 * 1024
UPLOAD_SOURCE = "the uploaded auth.json"
# The claim of an OpenAI id_token that holds the ChatGPT plan.
_AUTH_CLAIM = "https://api.openai.com/auth"
_JWT_PARTS = 3  # header, claims, signature


class UnknownProfile(ProfileError):
    """No profile has that name."""


class ProfileConflict(ProfileError):
    """The profile's state forbids the change now (active, pending, already filled)."""


@dataclass(frozen=True)
class ProfileAccount:
    """What is known of a profile's account without asking Codex (both may be unknown)."""

    email: str | None = None
    plan_type: str | None = None


@dataclass(frozen=True)
class ProfileSummary:
    name: str
    active: bool
    pending: bool  # a when-idle switch to it waits for the running turns
    auth_mode: str  # apikey | chatgpt | none | unreadable, from its auth.json
    account: ProfileAccount
    # Codex's last rate-limit report; only the active profile's runtime reports one.
    rate_limits: tuple[RateLimitWindow, ...]


@dataclass(frozen=True)
class ProfilesView:
    active: str
    pending: str | None
    last_error: str | None
    profiles: tuple[ProfileSummary, ...]


def profiles_unavailable_reason(config: RunnerConfig) -> str:
    """Why a daemon on ``config`` has no profile switcher (see daemon/assembly.py)."""
    if not config.uses_profiles:
        return (
            f"codex.home is set in {config.home / 'config.toml'}, so auth profiles do not "
            "apply; remove codex.home to use them"
        )
    return (
        'this daemon runs Codex with `codex exec` per turn ([codex] runtime = "exec"), '
        "which it cannot switch while serving; use `codex-runner auth profiles` on this "
        "machine, or run the app-server runtime"
    )


class AuthProfiles:
    """The profiles of a running runner; every change goes through ``switcher``."""

    def __init__(
        self,
        switcher: ProfileSwitcher,
        *,
        rate_limits: Callable[[], dict[str, Any] | None] = lambda: None,
    ) -> None:
        """``rate_limits`` returns the runtime's last rate-limit report (its status)."""
        self._switcher = switcher
        self._store = switcher.store
        self._rate_limits = rate_limits

    def view(self) -> ProfilesView:
        """Every profile (``default`` first); ConfigError when profiles/active is damaged."""
        active = self._switcher.active
        pending = self._switcher.pending
        windows = rate_limit_windows(self._rate_limits())
        return ProfilesView(
            active=active,
            pending=pending,
            last_error=self._switcher.last_error,
            profiles=tuple(
                self._summary(info, pending, windows) for info in self._store.profiles()
            ),
        )

    def upload(self, name: str, text: str, *, replace: bool = False) -> ProfileSummary:
        """Store ``text`` as profile ``name``'s ``auth.json`` (0600; created if needed).

        ProfileError when the name, the size or the content is wrong, when the profile has
        one and ``replace`` is not set, or has one and is active (Codex runs on it and
        refreshes its tokens: switch away first)."""
        check_name(name)
        if len(text.encode("utf-8")) > MAX_AUTH_JSON_BYTES:
            raise ProfileError(
                f"{UPLOAD_SOURCE} is larger than {MAX_AUTH_JSON_BYTES // 1024} kB, so it is "
                "not a Codex auth.json; upload the auth.json of a logged-in Codex home"
            )
        has_one = (self._store.codex_home(name) / AUTH_FILE).exists()
        if has_one and name == self._switcher.active:
            raise ProfileConflict(
                f"profile {name!r} is active: Codex runs on its auth.json and refreshes it; "
                "activate another profile first, or upload under a new name"
            )
        if has_one and not replace:
            raise ProfileConflict(
                f"profile {name!r} already has an auth.json; upload with replace to "
                "overwrite it, or choose another name"
            )
        info = self._store.import_text(name, text, source=UPLOAD_SOURCE, replace=True)
        return self._summary(info, self._switcher.pending, ())

    async def activate(self, name: str, mode: SwitchMode = SwitchMode.NOW) -> SwitchOutcome:
        """Switch to ``name`` (SwitchRefused while turns run, unless ``mode`` allows;
        UnknownProfile when there is no such profile)."""
        self._require(name)
        return await self._switcher.switch(name, mode)

    def _require(self, name: str) -> None:
        check_name(name)
        try:
            self._store.require(name)
        except ProfileError as exc:
            raise UnknownProfile(str(exc)) from None

    def delete(self, name: str) -> None:
        """Remove profile ``name``: never ``default``, the active one or a pending switch's."""
        self._require(name)
        if name == self._switcher.pending:
            raise ProfileConflict(
                f"profile {name!r} is waiting to become active once the running turns "
                "finish; activate another profile first"
            )
        try:
            self._store.remove(name)
        except ProfileError as exc:  # default or active: the store's message says the fix
            raise ProfileConflict(str(exc)) from None

    def _summary(
        self, info: ProfileInfo, pending: str | None, windows: tuple[RateLimitWindow, ...]
    ) -> ProfileSummary:
        account = account_of(info.codex_home / AUTH_FILE)
        return ProfileSummary(
            name=info.name,
            active=info.active,
            pending=info.name == pending,
            auth_mode=info.auth_mode,
            account=account,
            rate_limits=windows if info.active else (),
        )


def account_of(auth_file: Path) -> ProfileAccount:
    """The e-mail and ChatGPT plan in an ``auth.json``'s id_token, when it has one.

    The token's claims are read, not verified: they label the profile, nothing trusts
    them. Any other field of the file (tokens, keys) is never returned."""
    try:
        raw = json.loads(auth_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return ProfileAccount()
    tokens = raw.get("tokens") if isinstance(raw, dict) else None
    id_token = tokens.get("id_token") if isinstance(tokens, dict) else None
    claims = _jwt_claims(id_token) if isinstance(id_token, str) else None
    if claims is None:
        return ProfileAccount()
    auth = claims.get(_AUTH_CLAIM)
    plan = auth.get("chatgpt_plan_type") if isinstance(auth, dict) else None
    email = claims.get("email")
    return ProfileAccount(
        email=email if isinstance(email, str) and email else None,
        plan_type=plan if isinstance(plan, str) and plan else None,
    )


def _jwt_claims(token: str) -> dict[str, Any] | None:
    parts = token.split(".")
    if len(parts) != _JWT_PARTS:
        return None
    payload = parts[1] + "=" * (-len(parts[1]) % 4)
    try:
        claims = json.loads(base64.urlsafe_b64decode(payload))
    except (ValueError, binascii.Error):
        return None
    return claims if isinstance(claims, dict) else None
