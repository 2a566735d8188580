"""What Codex says about its account (``account/read``, ``account/rateLimits/read``).

Only safe metadata is kept: the mode, the e-mail and plan of a ChatGPT account, and usage
windows. Tokens and keys never pass through here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

NO_ACCOUNT = "none"


@dataclass(frozen=True)
class RateLimitWindow:
    name: str  # primary | secondary
    used_percent: int
    window_minutes: int | None
    resets_at: int | None  # unix seconds


@dataclass(frozen=True)
class AccountInfo:
    mode: str  # apiKey | chatgpt | none, or another mode Codex reports
    requires_openai_auth: bool
    email: str | None = None
    plan_type: str | None = None
    rate_limits: tuple[RateLimitWindow, ...] = ()
    limit_reached: str | None = None  # Codex's rateLimitReachedType, e.g. rate_limit_reached

    @property
    def authenticated(self) -> bool:
        return self.mode != NO_ACCOUNT

    @property
    def usable(self) -> bool:
        """Codex can run turns: it is logged in, or its model provider needs no OpenAI auth."""
        return self.authenticated or not self.requires_openai_auth

    def with_rate_limits(self, result: Any) -> AccountInfo:
        snapshot = result.get("rateLimits") if isinstance(result, dict) else None
        if not isinstance(snapshot, dict):
            return self
        windows = tuple(
            RateLimitWindow(
                name,
                int(raw.get("usedPercent") or 0),
                _int_or_none(raw.get("windowDurationMins")),
                _int_or_none(raw.get("resetsAt")),
            )
            for name in ("primary", "secondary")
            if isinstance(raw := snapshot.get(name), dict)
        )
        reached = snapshot.get("rateLimitReachedType")
        return AccountInfo(
            self.mode,
            self.requires_openai_auth,
            self.email,
            self.plan_type or _str_or_none(snapshot.get("planType")),
            windows,
            reached if isinstance(reached, str) else None,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "requires_openai_auth": self.requires_openai_auth,
            "email": self.email,
            "plan_type": self.plan_type,
            "rate_limits": [
                {
                    "window": w.name,
                    "used_percent": w.used_percent,
                    "window_minutes": w.window_minutes,
                    "resets_at": w.resets_at,
                }
                for w in self.rate_limits
            ],
            "limit_reached": self.limit_reached,
        }


def account_from_wire(result: Any) -> AccountInfo:
    """Parse an ``account/read`` result."""
    result = result if isinstance(result, dict) else {}
    account = result.get("account")
    requires = bool(result.get("requiresOpenaiAuth", True))
    if not isinstance(account, dict):
        return AccountInfo(NO_ACCOUNT, requires)
    return AccountInfo(
        str(account.get("type") or "unknown"),
        requires,
        email=_str_or_none(account.get("email")),
        plan_type=_str_or_none(account.get("planType")),
    )


def describe_mode(mode: str) -> str:
    """A person's words for an auth mode."""
    return {
        "apiKey": "API key",
        "apikey": "API key",
        "chatgpt": "ChatGPT",
        NO_ACCOUNT: "none",
    }.get(mode, mode)


def _str_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _int_or_none(value: Any) -> int | None:
    return int(value) if isinstance(value, int | float) else None
