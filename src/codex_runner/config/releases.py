"""Codex releases' settings (``[releases]``; docs/releases.md): how ``codex install`` runs
pip and how long a switch may wait for turns and for its readiness check."""

from __future__ import annotations

from pydantic import Field

from codex_runner.config.base import Strict as _Strict


class ReleaseSettings(_Strict):
    """``[releases]``: pip's extra arguments and the bounds of an install and a switch."""

    pip_args: tuple[str, ...] = Field(
        default=(),
        description="Extra arguments for `pip install` of a Codex release, e.g. "
        '["--index-url", "https://mirror/simple"] or ["--no-index", "--find-links", "DIR"].',
    )
    install_timeout_s: float = Field(
        default=600.0, gt=0, description="An install still running after this is stopped."
    )
    idle_timeout_s: float = Field(
        default=1800.0,
        gt=0,
        description="`codex use --when-idle` waits at most this long for running turns.",
    )
    check_timeout_s: float = Field(
        default=120.0,
        gt=0,
        description="The readiness check (handshake, smoke turn, protocol methods) fails "
        "after this long.",
    )
