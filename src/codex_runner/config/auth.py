"""The ``[auth]`` section: which accounts Codex may use, and the team home every profile
shares (docs/auth.md)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from codex_runner.config.base import Strict as _Strict


class AuthSettings(_Strict):
    """Auth profiles (``[auth]``): which accounts Codex may use."""

    failover: bool = Field(
        default=False,
        description="On a usage-limit or quota error, switch to the next allowed profile and "
        "retry the turn.",
    )
    failover_profiles: tuple[str, ...] = Field(
        default=(),
        description="Profiles failover may switch to, in order; empty: every profile by name.",
    )
    team_home: Path | None = Field(
        default=None,
        description="The team home every profile links to (AGENT.md, memory.md, skills...); "
        "default: team-codex-home in the runner home. A relative path is the runner home's.",
    )
    import_from: Path | None = Field(
        default=None,
        description="An auth.json imported once at start as an auth profile (or "
        "CODEX_AUTH_JSON_PATH); a later start with the same file imports nothing.",
    )
