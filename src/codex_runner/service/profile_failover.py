"""Profile failover for the task service: on a usage-limit error, switch account and retry.

Off unless ``[auth] failover = true``. The decision is :func:`codex_runner.auth.failover_rules.
decide_failover` (pure); this class keeps which profiles each task's turn already failed on,
so a turn visits every profile at most once, and applies the switch. A switch forces other
running turns to end interrupted: they fail on the exhausted account anyway.
"""

from __future__ import annotations

import logging
from typing import Protocol

from codex_runner.auth.failover_rules import FailoverDecision, decide_failover
from codex_runner.auth.profile_store import ProfileStore
from codex_runner.config import AuthSettings
from codex_runner.domain.events import ErrorInfo
from codex_runner.service.profile_switch import ProfileSwitcher, SwitchMode

log = logging.getLogger(__name__)


class FailoverPolicy(Protocol):
    async def after_failure(self, task_id: str, error: ErrorInfo | None) -> FailoverDecision | None:
        """Switch profiles if the error calls for it; the decision made, or None."""

    def forget(self, task_id: str) -> None:
        """The task's turn ended another way: start afresh next time."""


class ProfileFailover:
    def __init__(
        self, settings: AuthSettings, profiles: ProfileStore, switcher: ProfileSwitcher
    ) -> None:
        self._settings = settings
        self._profiles = profiles
        self._switcher = switcher
        self._tried: dict[str, set[str]] = {}

    async def after_failure(self, task_id: str, error: ErrorInfo | None) -> FailoverDecision | None:
        current = self._profiles.active()
        tried = self._tried.setdefault(task_id, set())
        tried.add(current)
        decision = decide_failover(
            self._settings, error, current, self._profiles.names(), tried=tried
        )
        if decision is None:
            self._tried.pop(task_id, None)
            return None
        try:
            await self._switcher.switch(decision.to_profile, SwitchMode.FORCE)
        except Exception:
            log.exception("failover to auth profile %s failed", decision.to_profile)
            self._tried.pop(task_id, None)
            return None
        return decision

    def forget(self, task_id: str) -> None:
        self._tried.pop(task_id, None)
