"""The cost of carrying a thread between hosts: keeping its Codex session file in the
database at a turn end, and restoring it into another host's Codex home before a resume.

Session files of 100 KB, 1 MB and 10 MB, made of JSON lines like Codex's, go through
``ThreadCarrier.keep`` (read, zlib, write to a throwaway PostgreSQL) and ``restore`` (read,
unzip, write where Codex looks); the baseline, measured in the same run, is copying the
file on this disk (``shutil.copyfile``), what the same move costs between two homes on one
machine with no database at all.

Run: ``.venv/bin/python bench/thread_carry.py [--rounds 5]``.
No target of its own in the issue: the figures say what each turn end and each move costs.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.support.postgres import running_postgres

from codex_runner.service.thread_carry import ThreadCarrier, rollout_file
from codex_runner.store.sql import SqlStore
from verdicts import report

SIZES = (100_000, 1_000_000, 10_000_000)


def session_text(size: int) -> str:
    """JSON lines of a conversation's shape: messages, tool calls and their output."""
    lines: list[str] = []
    total, n = 0, 0
    while total < size:
        item = {
            "timestamp": f"2026-12-03T17:00:{n % 60:02d}.000Z",
            "type": "response_item",
            "payload": {
                "type": "function_call_output" if n % 3 else "message",
                "call_id": f"call_{n}",
                "output": f"line {n}: " + "ok, compiled src/module_{n}.rs in 0.{n % 97}s; " * 6,
            },
        }
        line = json.dumps(item)
        lines.append(line)
        total += len(line) + 1
        n += 1
    return "\n".join(lines) + "\n"


def carrier(store: SqlStore, home: Path) -> ThreadCarrier:
    return ThreadCarrier(store, lambda: home, clock=lambda: datetime.now(UTC))


async def measure(url: str, base: Path, size: int, rounds: int) -> tuple[float, float, float]:
    """(keep ms, restore ms, copy ms), medians over ``rounds``."""
    keeps, restores, copies = [], [], []
    text = session_text(size)
    async with await SqlStore.open(url) as store:
        for n in range(rounds):
            thread = f"01a1ff78-7c7e-7fa2-9a97-{n:012d}"
            first, second = base / f"a{size}-{n}", base / f"b{size}-{n}"
            path = first / "sessions/2026/12/03" / f"rollout-2026-12-03T17-00-00-{thread}.jsonl"
            path.parent.mkdir(parents=True)
            path.write_text(text)
            keeper, restorer = carrier(store, first), carrier(store, second)
            started = time.perf_counter()
            await keeper.keep(thread)
            keeps.append(time.perf_counter() - started)
            started = time.perf_counter()
            assert await restorer.restore(thread)
            restores.append(time.perf_counter() - started)
            restored = rollout_file(second, thread)
            assert restored is not None and restored.read_text() == text
            target = base / f"copy{size}-{n}.jsonl"
            started = time.perf_counter()
            await asyncio.to_thread(shutil.copyfile, path, target)
            copies.append(time.perf_counter() - started)
    return tuple(statistics.median(v) * 1000 for v in (keeps, restores, copies))  # type: ignore[return-value]


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    base = Path(tempfile.mkdtemp(prefix="codex-runner-carry-"))
    rows: list[tuple[int, float, float, float]] = []
    try:
        with running_postgres() as server:
            url = server.new_database()
            for size in SIZES:
                keep, restore, copy = await measure(url, base, size, args.rounds)
                rows.append((size, keep, restore, copy))
    finally:
        shutil.rmtree(base, ignore_errors=True)
    print("| session file | keep (turn end) | restore (next host) | file copy | both / copy |")
    print("|-------------:|----------------:|--------------------:|----------:|------------:|")
    for size, keep, restore, copy in rows:
        print(
            f"| {size / 1e6:>9.1f} MB | {keep:>12.1f} ms | {restore:>16.1f} ms "
            f"| {copy:>6.2f} ms | {(keep + restore) / copy:>10.0f}x |"
        )
    one_mb = next(r for r in rows if r[0] == 1_000_000)
    report(
        "thread_carry",
        "carrying a 1 MB session file (keep + restore)",
        f"{one_mb[1] + one_mb[2]:.1f} ms",
        "report only",
        True,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
