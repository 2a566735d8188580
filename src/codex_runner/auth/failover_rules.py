"""Failover between auth profiles: pure decisions, no I/O.

When Codex reports a usage-limit or quota error and ``[auth] failover = true``, the task
service may switch to the next allowed profile and retry the turn. These functions decide
whether an error qualifies and which profile comes next; the service performs the switch
(:class:`codex_runner.service.profile_switch.ProfileSwitcher`) and records it as an event.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass

from codex_runner.config import AuthSettings
from codex_runner.domain.events import ErrorInfo, FailureClass

# Codex's usage-limit messages when no typed codexErrorInfo came with them (exec runtime,
# older versions), e.g. "You've hit your usage limit" or "Quota exceeded".
_QUOTA_MESSAGE = re.compile(
    r"usage limit|rate limit|quota|insufficient_quota|too many requests|\b429\b", re.I
)


@dataclass(frozen=True)
class FailoverDecision:
    """Switch from ``from_profile`` to ``to_profile`` and retry, because of ``reason``."""

    from_profile: str
    to_profile: str
    reason: str

    def event_message(self) -> str:
        return (
            f"auth profile {self.from_profile!r} hit a usage limit ({self.reason}); "
            f"switched to {self.to_profile!r} and retried the turn"
        )


def is_quota_error(error: ErrorInfo | None) -> bool:
    """A usage-limit, rate-limit or quota error: another account may still have room."""
    if error is None or error.will_retry:
        return False
    if error.failure_class is FailureClass.USAGE_LIMIT:
        return True
    text = f"{error.message} {error.detail or ''}"
    return error.failure_class is FailureClass.MODEL_ERROR and bool(_QUOTA_MESSAGE.search(text))


def failover_candidates(settings: AuthSettings, profiles: Sequence[str]) -> list[str]:
    """The profiles failover may use, in order: ``failover_profiles`` that exist, else all."""
    if settings.failover_profiles:
        existing = set(profiles)
        return [name for name in settings.failover_profiles if name in existing]
    return list(profiles)


def next_profile(current: str, candidates: Sequence[str], tried: Collection[str]) -> str | None:
    """The first candidate after ``current`` (wrapping round) not yet tried for this turn."""
    if not candidates:
        return None
    start = candidates.index(current) + 1 if current in candidates else 0
    for offset in range(len(candidates)):
        name = candidates[(start + offset) % len(candidates)]
        if name != current and name not in tried:
            return name
    return None


def decide_failover(
    settings: AuthSettings,
    error: ErrorInfo | None,
    current: str,
    profiles: Sequence[str],
    tried: Collection[str] = (),
) -> FailoverDecision | None:
    """Whether to switch profiles and retry after a failed turn, and to which profile.

    ``tried`` holds the profiles this turn already failed on (including ``current``), so a
    turn visits each profile at most once.
    """
    if not settings.failover or not is_quota_error(error):
        return None
    assert error is not None
    target = next_profile(current, failover_candidates(settings, profiles), tried)
    if target is None:
        return None
    return FailoverDecision(current, target, error.message)
