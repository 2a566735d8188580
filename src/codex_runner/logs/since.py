"""``--since 1h`` and ``?since=``: a duration back from now, or a point in time."""

from __future__ import annotations

import re
from datetime import UTC, datetime

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*$")
_UNIT_S = {"": 1.0, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 7 * 86400.0}


def parse_since(text: str, now: float) -> float:
    """Epoch seconds for ``text``: a duration back from ``now`` (``90s``, ``15m``, ``1h``,
    ``2d``, ``1w``; a bare number is seconds) or an ISO 8601 time (UTC unless it says)."""
    match = _DURATION.match(text)
    if match is not None:
        return now - float(match.group(1)) * _UNIT_S[match.group(2)]
    try:
        at = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(
            f"since {text!r} is neither a duration (90s, 15m, 1h, 2d, 1w) nor an ISO 8601 "
            "time (2026-03-01T10:00:00Z)"
        ) from None
    return (at if at.tzinfo else at.replace(tzinfo=UTC)).timestamp()
