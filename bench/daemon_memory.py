"""Memory over a long run: the daemon's and its Codex app-server's resident memory, batch by batch.

The daemon runs ``--batches`` batches of 100 tasks (the throughput bench's task: three
model calls, two shell commands) against the scripted model, one batch after another, and
after each batch reads the resident set size (RSS) of the daemon and of its Codex
processes from /proc. It does so twice:

- released (codex-runner's defaults, with a short ``[service] warm_thread_idle_s``): the
  runner keeps each task's thread warm after its turn and unsubscribes from it once it has
  been idle that long (memory is read after waiting past it), and Codex unloads it
  (``thread_unload_delay_secs = 0``);
- kept loaded (the baseline, measured in the same run): the same daemon with
  ``thread_unload_delay_secs = 1800``, so that every thread stays in Codex's memory, as it
  did before the runner released threads.

Growth is the RSS gained per 100 tasks (the slope after the first batch, which also holds
start-up and warm-up): a service that runs thousands of tasks must stay flat. Everything
runs on 127.0.0.1 and is bounded by ``--timeout`` per batch.

Run: ``.venv/bin/python bench/daemon_memory.py [--batches 5] [--timeout 300]``.
Target (codex-runner's own, no issue names one): Codex's growth with threads released is
at most a tenth of its growth with threads kept loaded.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import tomli_w

from codex_runner.mockmodel import MockModelServer, Script
from task_throughput import PROMPT, SCRIPT, DaemonProcess, wait_terminal
from verdicts import report

BATCH = 100
# Warm threads are released after this long idle; memory is read once it has passed.
WARM_IDLE_S = 2.0
IDLE_MARGIN_S = 2.0
PAGE = os.sysconf("SC_PAGE_SIZE")


@dataclass
class Run:
    name: str
    daemon_mb: list[float] = field(default_factory=list)
    codex_mb: list[float] = field(default_factory=list)
    completed: int = 0

    @staticmethod
    def growth(series: list[float]) -> float:
        """MB gained per batch of 100 tasks: the least-squares slope after the first batch
        (which also measures start-up and the allocators' warm-up)."""
        points = series[1:]
        if len(points) < 2:
            return 0.0
        mean_x = (len(points) - 1) / 2
        mean_y = sum(points) / len(points)
        num = sum((x - mean_x) * (y - mean_y) for x, y in enumerate(points))
        return num / sum((x - mean_x) ** 2 for x in range(len(points)))


def rss_mb(pid: int) -> float:
    try:
        return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE / 2**20
    except (OSError, IndexError, ValueError):
        return 0.0


def descendants(pid: int) -> list[int]:
    """Every live process under ``pid`` (its app-server and whatever that runs)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    found, frontier = [], [pid]
    while frontier:
        parent = frontier.pop()
        children = [p for p, pp in parents.items() if pp == parent]
        found += children
        frontier += children
    return found


async def run(
    name: str,
    root: Path,
    server: MockModelServer,
    extra: dict[str, object],
    args: argparse.Namespace,
) -> Run:
    """Both runs wait past the warm-thread idle window after each batch, so that they
    differ only in whether Codex unloads a released thread."""
    home = root / name.replace(" ", "-")
    home.mkdir()
    settings = {
        "codex": {"config": {**server.codex_config(), **extra}},
        "service": {"max_concurrent_tasks": BATCH, "warm_thread_idle_s": WARM_IDLE_S},
    }
    (home / "config.toml").write_text(tomli_w.dumps(settings))
    cwd = root / "work"
    cwd.mkdir(exist_ok=True)
    outcome = Run(name)
    daemon = DaemonProcess(home)
    try:
        await daemon.start()
        assert daemon.proc is not None
        async with daemon.client() as client:
            for batch in range(args.batches):
                posts = [
                    client.post(
                        "/v1/tasks", json={"prompt": f"{PROMPT} {batch}-{i}", "cwd": str(cwd)}
                    )
                    for i in range(BATCH)
                ]
                ids = [r.json()["id"] for r in await asyncio.gather(*posts)]
                tasks = await wait_terminal(client, ids, args.timeout)
                outcome.completed += sum(1 for t in tasks if t["state"] == "completed")
                await asyncio.sleep(WARM_IDLE_S + IDLE_MARGIN_S)  # the warm threads expire
                outcome.daemon_mb.append(rss_mb(daemon.proc.pid))
                outcome.codex_mb.append(sum(rss_mb(p) for p in descendants(daemon.proc.pid)))
                print(
                    f"  {name}: batch {batch + 1}/{args.batches}, daemon "
                    f"{outcome.daemon_mb[-1]:.0f} MB, codex {outcome.codex_mb[-1]:.0f} MB",
                    flush=True,
                )
    finally:
        daemon.stop()
    return outcome


def print_table(runs: list[Run], batches: int) -> None:
    print(f"\ndaemon memory: {batches} batches of {BATCH} tasks, RSS after each batch (MB)\n")
    head = " | ".join(f"after {BATCH * (i + 1)}" for i in range(batches))
    print(f"| path | process | {head} | growth per {BATCH} tasks |")
    print("|---|---|" + "---|" * batches + "---|")
    for r in runs:
        for label, series in (("codex", r.codex_mb), ("daemon", r.daemon_mb)):
            cells = " | ".join(f"{v:.0f}" for v in series)
            print(f"| {r.name} | {label} | {cells} | {r.growth(series):+.1f} MB |")
    released, kept = runs
    grown, baseline = released.growth(released.codex_mb), kept.growth(kept.codex_mb)
    report(
        "daemon_memory",
        f"codex memory growth per {BATCH} tasks",
        f"released {grown:+.1f} MB vs kept loaded {baseline:+.1f} MB "
        f"({released.completed} and {kept.completed} of {BATCH * batches} tasks completed)",
        "<= 0.1x kept loaded",
        grown <= 0.1 * baseline and released.completed == BATCH * batches,
    )


async def main(args: argparse.Namespace) -> None:
    os.environ.setdefault("MOCK_API_KEY", "bench")
    root = Path(tempfile.mkdtemp(prefix="codex-runner-memory-"))
    try:
        async with MockModelServer(Script.from_dict(SCRIPT), port=0) as server:
            released = await run("released", root, server, {}, args)
            kept = await run("kept loaded", root, server, {"thread_unload_delay_secs": 1800}, args)
        print_table([released, kept], args.batches)
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batches", type=int, default=5)
    parser.add_argument("--timeout", type=float, default=300.0)
    asyncio.run(main(parser.parse_args()))
