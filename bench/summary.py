"""One table of every target from a ``make bench`` run (the verdicts in ``BENCH_RESULTS``).

Run: ``BENCH_RESULTS=FILE .venv/bin/python bench/summary.py``.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from verdicts import SPEED_LOOP


def main() -> int:
    path = os.environ.get("BENCH_RESULTS")
    if not path or not Path(path).is_file():
        print("no results: run the benchmarks with BENCH_RESULTS=FILE first", file=sys.stderr)
        return 2
    entries = [json.loads(line) for line in Path(path).read_text().splitlines() if line]
    print("\nsummary of this run\n")
    print(f"| {'benchmark':<18} | {'measured':<44} | {'target':<18} | verdict | speed probe ms |")
    print(f"|{'-' * 20}|{'-' * 46}|{'-' * 20}|---------|----------------|")
    for e in entries:
        verdict = "meets" if e["met"] else "MISSES"
        measured = f"{e['what']}: {e['measured']}"
        print(
            f"| {e['bench']:<18} | {measured:<44} | {e['target']:<18} | {verdict:<7} "
            f"| {e.get('speed_ms', 0):>14.0f} |"
        )
    print(
        f"\nspeed probe: {SPEED_LOOP:,} iterations of a Python loop, timed as each verdict "
        "was given (lower is faster; this machine's speed drifts up to twofold)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
