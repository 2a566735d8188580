"""Ids for tasks, graphs and approvals: short, URL-safe, sortable by creation time.

An id is a prefix naming what it identifies (``t_`` task, ``g_`` graph, ``a_`` approval)
followed by a ULID-like body: 48 bits of milliseconds since the epoch and 80 random bits,
written as 26 characters of lowercase Crockford base32. The alphabet is in ASCII order, so
comparing two ids as strings compares their creation times; within one millisecond the
generator counts up instead of drawing fresh random bits, so ids made by one generator are
strictly increasing. Lowercase keeps ids safe in URLs and in git branch names on
case-insensitive file systems.
"""

from __future__ import annotations

import re
import secrets
import threading
import time
from collections.abc import Callable

TASK_PREFIX = "t_"
GRAPH_PREFIX = "g_"
APPROVAL_PREFIX = "a_"

ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"  # Crockford base32, lowercase
BODY_LENGTH = 26
_RANDOM_BITS = 80
_MAX_RANDOM = (1 << _RANDOM_BITS) - 1
_MAX_MS = (1 << 48) - 1
_ID_PATTERN = re.compile(r"^[a-z]{1,8}_[0-9a-hjkmnp-tv-z]{26}$")


def _default_clock_ms() -> int:
    return time.time_ns() // 1_000_000


def _default_random() -> int:
    return secrets.randbits(_RANDOM_BITS)


class IdGenerator:
    """Makes strictly increasing ids; the clock and randomness are injectable for tests.

    Thread-safe: one generator may be shared by every part of the process.
    """

    def __init__(
        self,
        clock_ms: Callable[[], int] = _default_clock_ms,
        random_bits: Callable[[], int] = _default_random,
    ) -> None:
        self._clock_ms = clock_ms
        self._random_bits = random_bits
        self._lock = threading.Lock()
        self._last_ms = -1
        self._last_random = 0

    def new(self, prefix: str) -> str:
        """A fresh id ``<prefix><26 chars>``; ``prefix`` is e.g. :data:`TASK_PREFIX`."""
        with self._lock:
            ms = self._clock_ms()
            if ms <= self._last_ms:
                # Same millisecond (or the clock stepped back): count up from the last id.
                ms = self._last_ms
                rand = self._last_random + 1
                if rand > _MAX_RANDOM:
                    ms, rand = ms + 1, 0
            else:
                rand = self._random_bits() & _MAX_RANDOM
            if not 0 <= ms <= _MAX_MS:
                raise ValueError(f"clock value {ms} ms does not fit in 48 bits")
            self._last_ms, self._last_random = ms, rand
        return prefix + _encode((ms << _RANDOM_BITS) | rand)

    def task_id(self) -> str:
        return self.new(TASK_PREFIX)

    def graph_id(self) -> str:
        return self.new(GRAPH_PREFIX)

    def approval_id(self) -> str:
        return self.new(APPROVAL_PREFIX)


def _encode(value: int) -> str:
    chars = []
    for _ in range(BODY_LENGTH):
        chars.append(ALPHABET[value & 31])
        value >>= 5
    return "".join(reversed(chars))


def is_id(value: str, prefix: str) -> bool:
    """True when ``value`` is well formed and starts with ``prefix`` (guards URL routes)."""
    return value.startswith(prefix) and bool(_ID_PATTERN.match(value))
