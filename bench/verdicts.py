"""Each benchmark's verdict on its target: printed, and kept for ``summary.py``.

With ``BENCH_RESULTS`` naming a file (``make bench`` sets it), every verdict is also
appended to it as a JSON line, so one run ends with one table of every target. Each verdict
carries the machine's speed at that moment (a fixed pure-Python loop, timed): this
machine's CPUs are shared and its speed drifts up to twofold, which moves every absolute
figure (turns/s, seconds, events/s) while the ratios hold.
"""

from __future__ import annotations

import json
import os
import time

SPEED_LOOP = 2_000_000


def speed_probe_ms() -> float:
    """Milliseconds for a fixed pure-Python loop: lower is a faster machine right now."""
    started = time.perf_counter()
    total = 0
    for i in range(SPEED_LOOP):
        total += i
    return (time.perf_counter() - started) * 1000


def report(bench: str, what: str, measured: str, target: str, met: bool) -> None:
    """Print ``what: measured (meets|MISSES the target)`` and keep it for the summary."""
    verdict = "meets" if met else "MISSES"
    print(f"\n{what}: {measured} ({verdict} the {target} target)")
    path = os.environ.get("BENCH_RESULTS")
    if path:
        entry = {
            "bench": bench,
            "what": what,
            "measured": measured,
            "target": target,
            "met": met,
            "speed_ms": round(speed_probe_ms(), 1),
        }
        with open(path, "a", encoding="utf-8") as out:
            out.write(json.dumps(entry) + "\n")
