"""Each benchmark's verdict on its target: printed, and kept for ``summary.py``.

With ``BENCH_RESULTS`` naming a file (``make bench`` sets it), every verdict is also
appended to it as a JSON line, so one run ends with one table of every target.
"""

from __future__ import annotations

import json
import os


def report(bench: str, what: str, measured: str, target: str, met: bool) -> None:
    """Print ``what: measured (meets|MISSES the target)`` and keep it for the summary."""
    verdict = "meets" if met else "MISSES"
    print(f"\n{what}: {measured} ({verdict} the {target} target)")
    path = os.environ.get("BENCH_RESULTS")
    if path:
        entry = {"bench": bench, "what": what, "measured": measured, "target": target, "met": met}
        with open(path, "a", encoding="utf-8") as out:
            out.write(json.dumps(entry) + "\n")
