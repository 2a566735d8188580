"""Follow-up latency: a message to a task through the daemon vs the same turn as raw JSON-RPC.

Two comparisons, in one run, against the same scripted model (one assistant message per
turn) and the same codex binary:

- follow-up: ``POST /v1/tasks/{id}/message`` on a completed task, timed until
  ``codex.turn.completed`` arrives on the task's SSE stream (opened before the message is
  sent), vs ``turn/start`` to ``turn/completed`` on a raw app-server that keeps the thread
  loaded. Each task (and each raw thread) takes ``--followups`` follow-ups after its first
  turn, so both histories grow alike.
- first turn: ``POST /v1/tasks`` with a repository (so the task gets a git worktree), timed
  until ``codex.turn.completed`` on its SSE stream, vs a raw ``thread/start`` + turn.

The raw threads run in git worktrees of the same repository too (each made, untimed, before
its thread starts), as the daemon's tasks do: Codex itself spends more on a turn in a git
repository than in a plain directory (about 6 ms here), which is not the runner's overhead.
The daemon's first turn is timed with its worktree's creation included.

The scripted model runs in a process of its own (:mod:`model_process`): served from this
process's event loop, its answers would wait behind the client's work, and the daemon's
client (an HTTP request and an event stream to parse) does more of it than the raw one.

The daemon and the raw app-server are measured in alternating blocks so machine drift hits
both alike; medians are compared. The run also prints where a daemon follow-up's time goes,
phase by phase, from the timestamps of the task's own events.

Run: ``make bench`` or ``.venv/bin/python bench/followup_latency.py [--blocks 8]``
(``--warm-threads 0``: the daemon releases every thread after its turn, as it used to;
``--listen stdio``: the daemon talks to its app-server on stdio instead of the shared socket).
Targets (issue 16): follow-up <= 1.10x the raw warm turn; first turn <= 1.25x raw.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import tomli_w

from codex_runner.codex.home import prepare_codex_home
from codex_runner.config import load_config
from model_process import ModelProcess
from task_throughput import DaemonProcess
from turn_latency import PROMPT, SCRIPT, RawAppServer
from verdicts import report

TURN_TIMEOUT_S = 60.0


# Where a follow-up's time goes, from the task's own event timestamps (the daemon's clock, the
# wall clock the bench reads too; an event is stamped as the daemon builds it, just before its
# commit): each phase ends with the event named.
PHASES = (
    ("POST -> message taken", "task.message_received"),
    ("-> run started (running)", "task.state_changed:running"),
    ("-> codex.turn.started", "codex.turn.started"),
    ("-> codex.turn.completed", "codex.turn.completed"),
)
LAST_PHASE = "-> read from the SSE stream"


async def _until_event(
    lines: Any, wanted: str, deadline: float, seen: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """Read SSE lines until an event of type ``wanted``; that event (every event read is
    added to ``seen``)."""
    async with asyncio.timeout(deadline):
        async for line in lines:
            if line.startswith("data:"):
                event: dict[str, Any] = json.loads(line[5:].strip())
                if seen is not None:
                    seen.append(event)
                if event["type"] == wanted:
                    return event
    raise RuntimeError(f"the stream ended before {wanted}")


async def _last_seq(client: httpx.AsyncClient, task_id: str, after: int = 0) -> int:
    """The task's newest event seq from ``after`` on (read page by page: a page holds at most
    1000; from the last one known, so the reading does not grow with the task's history)."""
    last = after
    while True:
        response = await client.get(
            f"/v1/tasks/{task_id}/events", params={"after": last, "limit": 1000}
        )
        response.raise_for_status()
        page = response.json()
        if not page["events"]:
            return last
        last = int(page["last_seq"])


async def _settled(lines: Any) -> int:
    """Read on until the task completes (untimed: the next message needs it settled); the
    seq of its completion."""
    async with asyncio.timeout(TURN_TIMEOUT_S):
        async for line in lines:
            if line.startswith("data:"):
                event = json.loads(line[5:].strip())
                if event["type"] == "task.state_changed" and event["data"].get("to") in (
                    "completed",
                    "failed",
                    "cancelled",
                ):
                    if event["data"]["to"] != "completed":
                        raise RuntimeError(f"the task ended {event['data']['to']}")
                    return int(event["seq"])
    raise RuntimeError("the stream ended before the task settled")


async def daemon_first_turn(client: httpx.AsyncClient, repo: Path) -> tuple[str, float, int]:
    """A new task with a worktree, to its first ``codex.turn.completed``; (task id, seconds,
    the last event seq seen)."""
    started = time.perf_counter()
    response = await client.post("/v1/tasks", json={"prompt": PROMPT, "repo": str(repo)})
    response.raise_for_status()
    task_id = str(response.json()["id"])
    async with client.stream("GET", f"/v1/tasks/{task_id}/events/stream", timeout=None) as stream:
        lines = stream.aiter_lines()
        await _until_event(lines, "codex.turn.completed", TURN_TIMEOUT_S)
        elapsed = time.perf_counter() - started
        last = await _settled(lines)
    return task_id, elapsed, last


def _phases(posted: float, events: list[dict[str, Any]], received: float) -> dict[str, float]:
    """Seconds of each of PHASES and LAST_PHASE, from wall-clock ``posted`` to ``received``."""
    marks = [posted]
    for _, key in PHASES:
        type_, _, to = key.partition(":")
        event = next(
            e for e in events if e["type"] == type_ and (not to or e["data"].get("to") == to)
        )
        marks.append(datetime.fromisoformat(event["at"]).timestamp())
    marks.append(received)
    names = [name for name, _ in PHASES] + [LAST_PHASE]
    spans = zip(names, marks[:-1], marks[1:], strict=True)
    return {name: end - start for name, start, end in spans}


async def daemon_follow_up(
    client: httpx.AsyncClient, task_id: str, known: int = 0
) -> tuple[float, dict[str, float], int]:
    """A follow-up to its ``codex.turn.completed`` on the SSE stream, from the task's events
    after ``known``: (seconds, phases, the last event seq seen)."""
    after = await _last_seq(client, task_id, known)
    async with client.stream(
        "GET", f"/v1/tasks/{task_id}/events/stream", params={"after": after}, timeout=None
    ) as stream:
        lines = stream.aiter_lines()
        seen: list[dict[str, Any]] = []
        posted, started = time.time(), time.perf_counter()
        response = await client.post(f"/v1/tasks/{task_id}/message", json={"prompt": PROMPT})
        response.raise_for_status()
        await _until_event(lines, "codex.turn.completed", TURN_TIMEOUT_S, seen)
        elapsed = time.perf_counter() - started
        received = time.time()
        last = await _settled(lines)
    return elapsed, _phases(posted, seen, received), last


async def raw_first_turn(raw: RawAppServer, repo: Path, cwd: Path) -> tuple[str, float]:
    """A raw thread in a new worktree of ``repo`` at ``cwd`` (made untimed), and its turn."""
    add = ["git", "worktree", "add", "--quiet", "--detach", str(cwd)]
    await asyncio.to_thread(subprocess.run, add, cwd=repo, check=True)
    started = time.perf_counter()
    thread_id = await raw.new_thread(cwd)
    await raw.turn(thread_id)
    return thread_id, time.perf_counter() - started


async def raw_follow_up(raw: RawAppServer, thread_id: str) -> float:
    started = time.perf_counter()
    await raw.turn(thread_id)
    return time.perf_counter() - started


def _git_repo(path: Path) -> None:
    path.mkdir()
    identity = ["-c", "user.email=bench@example.invalid", "-c", "user.name=bench"]
    for args in (
        ["init", "-q", "-b", "main"],
        [*identity, "commit", "-q", "--allow-empty", "-m", "init"],
    ):
        subprocess.run(["git", *args], cwd=path, check=True)


def _ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def _row(name: str, samples: list[float], base_ms: float) -> str:
    p90 = sorted(samples)[max(0, int(len(samples) * 0.9) - 1)] * 1000
    median = _ms(samples)
    return (
        f"| {name:<30} | {len(samples):>4} | {median:>9.1f} | {p90:>7.1f} "
        f"| {median / base_ms:>5.2f}x |"
    )


async def main(
    blocks: int, followups: int, warm_threads: int | None, listen: str | None = None
) -> None:
    os.environ.setdefault("MOCK_API_KEY", "bench")
    root = Path(tempfile.mkdtemp(prefix="codex-runner-followup-"))
    try:
        repo, raw_worktrees = root / "repo", root / "raw-worktrees"
        _git_repo(repo)
        async with ModelProcess(SCRIPT) as server:
            codex = {"config": server.codex_config(), "approval_policy": "never"}
            raw_home, daemon_home = root / "raw", root / "daemon"
            service = {} if warm_threads is None else {"warm_threads": warm_threads}
            daemon_codex = codex if listen is None else {**codex, "listen": listen}
            for home, codex_settings, settings in (
                (raw_home, codex, {}),
                (daemon_home, daemon_codex, service),
            ):
                home.mkdir()
                config_toml = {"codex": codex_settings, "service": settings}
                (home / "config.toml").write_text(tomli_w.dumps(config_toml))
            config = load_config(raw_home)
            prepare_codex_home(config)
            raw = RawAppServer(config)
            daemon = DaemonProcess(daemon_home)
            first: dict[str, list[float]] = {"daemon": [], "raw": []}
            follow: dict[str, list[float]] = {"daemon": [], "raw": []}
            phases: list[dict[str, float]] = []
            try:
                await raw.start()
                await daemon.start()
                async with daemon.client() as client:
                    for block in range(blocks + 1):  # block 0 warms both up, untimed
                        task_id, d_first, known = await daemon_first_turn(client, repo)
                        d_timed = []
                        for _ in range(followups):
                            seconds, phases_of, known = await daemon_follow_up(
                                client, task_id, known
                            )
                            d_timed.append((seconds, phases_of))
                        d_follow = [seconds for seconds, _ in d_timed]
                        cwd = raw_worktrees / str(block)
                        thread_id, r_first = await raw_first_turn(raw, repo, cwd)
                        r_follow = [await raw_follow_up(raw, thread_id) for _ in range(followups)]
                        if block:
                            first["daemon"].append(d_first)
                            first["raw"].append(r_first)
                            follow["daemon"] += d_follow
                            follow["raw"] += r_follow
                            phases += [p for _, p in d_timed]
            finally:
                daemon.stop()
                await raw.close()
    finally:
        shutil.rmtree(root, ignore_errors=True)

    raw_follow_ms, raw_first_ms = _ms(follow["raw"]), _ms(first["raw"])
    print(f"\nfollow-up and first-turn latency, medians (this machine, {os.cpu_count()} cores)\n")
    print(f"| {'path':<30} | {'n':>4} | {'median ms':>9} | {'p90 ms':>7} | {'vs raw':>6} |")
    print(f"|{'-' * 32}|{'-' * 6}|{'-' * 11}|{'-' * 9}|{'-' * 8}|")
    print(_row("raw warm turn (limit)", follow["raw"], raw_follow_ms))
    print(_row("daemon follow-up (HTTP to SSE)", follow["daemon"], raw_follow_ms))
    print(_row("raw thread/start + turn", first["raw"], raw_first_ms))
    print(_row("daemon first turn, worktree", first["daemon"], raw_first_ms))
    print("\nwhere a daemon follow-up's time goes (medians, from the task's event timestamps)\n")
    for name in [n for n, _ in PHASES] + [LAST_PHASE]:
        print(f"  {name:<28} {_ms([p[name] for p in phases]):7.1f} ms")
    follow_ratio = _ms(follow["daemon"]) / raw_follow_ms
    first_ratio = _ms(first["daemon"]) / raw_first_ms
    report(
        "followup_latency",
        "follow-up / raw warm turn",
        f"{follow_ratio:.2f}x ({_ms(follow['daemon']):.0f} vs {raw_follow_ms:.0f} ms)",
        "<= 1.10x",
        follow_ratio <= 1.10,
    )
    report(
        "followup_latency",
        "first turn / raw start + turn",
        f"{first_ratio:.2f}x ({_ms(first['daemon']):.0f} vs {raw_first_ms:.0f} ms)",
        "<= 1.25x",
        first_ratio <= 1.25,
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--blocks", type=int, default=8, help="alternating timed blocks")
    parser.add_argument("--followups", type=int, default=4, help="follow-ups per task")
    parser.add_argument(
        "--warm-threads",
        type=int,
        default=None,
        help="the daemon's [service] warm_threads (0 shows follow-ups without warm threads)",
    )
    parser.add_argument(
        "--listen",
        choices=["socket", "stdio"],
        default=None,
        help="the daemon's [codex] listen (how it talks to its app-server; default its default)",
    )
    args = parser.parse_args()
    asyncio.run(main(args.blocks, args.followups, args.warm_threads, args.listen))
