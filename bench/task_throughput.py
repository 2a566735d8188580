"""Task throughput: the codex-runner daemon vs raw JSON-RPC on one default ``codex app-server``.

Each task is one Codex turn of a few tool calls against the scripted model: ``true``, then
``echo x``, then a final message (three model calls). For each concurrency N:

- raw default: one ``codex app-server`` with Codex's default configuration (the scripted
  model's provider, none of codex-runner's headless defaults), driven by a minimal JSON-RPC
  client: ``thread/start`` then ``turn/start`` for N threads at once, until every
  ``turn/completed``;
- raw headless: the same client on an app-server whose config carries codex-runner's
  headless defaults (what the daemon's own app-server runs with), to separate the daemon's
  overhead from the configuration's gain;
- codex-runner: ``codex-runner serve`` in a subprocess with ``max_concurrent_tasks = N``;
  N tasks submitted over HTTP at once; the wall time runs from the first submit to the last
  task's ``finished_at``.

Codex calls the scripted model over WebSockets (``--transport websocket``, the default), as
it calls OpenAI through its own provider: one connection per thread. ``--transport sse``
measures one HTTP request per model call instead; each such request makes Codex build an
HTTP client, which loads the system's root certificates (about a third of Codex's CPU per
task here). Every path of a run uses the same transport.

Turns are the model calls the scripted model served for the measured tasks. One warm-up
task/thread per path is not timed. Everything runs on 127.0.0.1 and is bounded: a run that
does not finish within ``--timeout`` seconds reports what completed.

Each size runs ``--rounds`` times with the paths interleaved; the table shows each row's
median round and every round's turns/s (this machine's speed drifts by 10-20% between runs).

Run: ``.venv/bin/python bench/task_throughput.py [--sizes 1,20,100] [--rounds 3] [--timeout 300]
[--transport websocket|sse] [--compare-stdio]``. ``--compare-stdio`` adds the daemon with its
app-server on stdio (``[codex] listen = "stdio"``) beside the default shared Unix socket.
Target: codex-runner at 100 tasks >= 20 turns/s (CODEX_NOTES: raw default 4.4 turns/s).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import tomli_w

from codex_runner.codex.binary import bundled_path_dir, find_codex_binary
from codex_runner.codex.home import child_environment, prepare_codex_home
from codex_runner.config import RunnerConfig, load_config
from codex_runner.mockmodel import MockModelServer, Script
from codex_runner.runner_home.daemon_info import read_info
from daemon_process import stop_daemon
from verdicts import report

PROMPT = "bench task"
WARMUP_PROMPT = "bench warmup"
SCRIPT = {
    "rules": [
        {
            "match": "bench",
            "responses": [[{"shell": "true"}], [{"shell": "echo x"}], [{"message": "done"}]],
        }
    ]
}
TERMINAL = ("completed", "failed", "cancelled")
BUSY = ("queued", "running", "awaiting_approval")
TARGET_TURNS_PER_S = 20.0
START_TIMEOUT_S = 60.0
RPC_TIMEOUT_S = 120.0
POLL_S = 1.0


@dataclass
class Outcome:
    path: str
    n: int
    completed: int
    failed: int
    seconds: float
    turns: int
    note: str = ""
    codex_cpu_s: float = 0.0  # the app-server and the commands it ran, while measured

    @property
    def codex_ms_per_task(self) -> float:
        return 1000 * self.codex_cpu_s / self.completed if self.completed else 0.0

    @property
    def tasks_per_s(self) -> float:
        return self.completed / self.seconds if self.seconds > 0 else 0.0

    @property
    def turns_per_s(self) -> float:
        return self.turns / self.seconds if self.seconds > 0 else 0.0


def count_turns(server: MockModelServer, since: int) -> int:
    """Model calls served for measured tasks since request number ``since``."""
    return sum(1 for r in server.requests[since:] if (r.last_user_text or "").startswith(PROMPT))


# --- raw JSON-RPC ------------------------------------------------------------------------------


class RawAppServer:
    """A minimal app-server client: requests by id, ``turn/completed`` by thread id."""

    def __init__(self, config: RunnerConfig) -> None:
        self.config = config
        self.proc: asyncio.subprocess.Process | None = None
        self.next_id = 0
        self.pending: dict[int, asyncio.Future[Any]] = {}
        self.turns: dict[str, asyncio.Future[str]] = {}
        self.reader: asyncio.Task[None] | None = None

    async def start(self) -> None:
        home = prepare_codex_home(self.config)
        self.proc = await asyncio.create_subprocess_exec(
            str(find_codex_binary(self.config.codex.bin)),
            "app-server",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
            env=child_environment(self.config, bundled_path_dir()),
            cwd=home,
            limit=64 * 1024 * 1024,
        )
        self.reader = asyncio.create_task(self._read_loop())
        await self.call(
            "initialize",
            {
                "clientInfo": {"name": "bench", "title": "bench", "version": "0"},
                "capabilities": {"experimentalApi": True},
            },
        )
        await self._send({"jsonrpc": "2.0", "method": "initialized"})

    async def _send(self, message: dict[str, Any]) -> None:
        assert self.proc is not None and self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(message).encode() + b"\n")
        await self.proc.stdin.drain()

    async def _read_loop(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        try:
            while line := await self.proc.stdout.readline():
                message: dict[str, Any] = json.loads(line)
                method = message.get("method")
                if method is None:
                    future = self.pending.pop(int(message.get("id", -1)), None)
                    if future is not None and not future.done():
                        if "error" in message:
                            future.set_exception(RuntimeError(str(message["error"])))
                        else:
                            future.set_result(message.get("result"))
                elif "id" in message:  # a server request (none expected with "never")
                    decision = {"decision": "accept"} if "Approval" in method else None
                    reply: dict[str, Any] = {"jsonrpc": "2.0", "id": message["id"]}
                    if decision is not None:
                        reply["result"] = decision
                    else:
                        reply["error"] = {"code": -32601, "message": "not supported"}
                    await self._send(reply)
                elif method == "turn/completed":
                    params = message.get("params") or {}
                    waiter = self.turns.get(str(params.get("threadId")))
                    if waiter is not None and not waiter.done():
                        waiter.set_result(str((params.get("turn") or {}).get("status")))
        finally:
            for future in [*self.pending.values(), *self.turns.values()]:
                if not future.done():
                    future.set_exception(RuntimeError("app-server exited"))

    async def call(self, method: str, params: dict[str, Any]) -> Any:
        self.next_id += 1
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.pending[self.next_id] = future
        await self._send({"jsonrpc": "2.0", "id": self.next_id, "method": method, "params": params})
        return await asyncio.wait_for(future, RPC_TIMEOUT_S)

    async def run_task(self, cwd: Path, prompt: str) -> str:
        """thread/start, turn/start, wait for turn/completed; the turn's status."""
        result = await self.call(
            "thread/start",
            {"cwd": str(cwd), "sandbox": "workspace-write", "approvalPolicy": "never"},
        )
        thread_id = str(result["thread"]["id"])
        done: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self.turns[thread_id] = done
        await self.call(
            "turn/start", {"threadId": thread_id, "input": [{"type": "text", "text": prompt}]}
        )
        return await done

    async def close(self) -> None:
        if self.proc is not None:
            with contextlib.suppress(Exception):
                assert self.proc.stdin is not None
                self.proc.stdin.close()
            try:
                await asyncio.wait_for(self.proc.wait(), 5)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    self.proc.kill()
                await asyncio.wait_for(self.proc.wait(), 10)
        if self.reader is not None:
            self.reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self.reader


def raw_config(home: Path, server: MockModelServer, headless: bool) -> RunnerConfig:
    home.mkdir(parents=True)
    codex = {"config": server.codex_config(), "headless_defaults": headless}
    (home / "config.toml").write_text(tomli_w.dumps({"codex": codex}))
    return load_config(home)


async def run_raw(
    name: str,
    root: Path,
    server: MockModelServer,
    cwd: Path,
    n: int,
    headless: bool,
    timeout: float,
    tag: str = "",
) -> Outcome:
    raw = RawAppServer(raw_config(root / f"raw-{name}-{tag}{n}", server, headless))
    try:
        await raw.start()
        await asyncio.wait_for(raw.run_task(cwd, WARMUP_PROMPT), RPC_TIMEOUT_S)
        since = len(server.requests)
        assert raw.proc is not None
        cpu_before = sum(cpu_seconds(raw.proc.pid))
        started = time.perf_counter()
        jobs = [asyncio.create_task(raw.run_task(cwd, f"{PROMPT} {i}")) for i in range(n)]
        finished: list[float] = []
        statuses: list[str] = []

        async def timed(job: asyncio.Task[str]) -> None:
            statuses.append(await job)
            finished.append(time.perf_counter())

        waiters = [asyncio.create_task(timed(job)) for job in jobs]
        _, late = await asyncio.wait(waiters, timeout=timeout)
        for job in [*jobs, *late]:
            job.cancel()
        codex_cpu = sum(cpu_seconds(raw.proc.pid)) - cpu_before
        completed = statuses.count("completed")
        seconds = (max(finished) if finished else time.perf_counter()) - started
        note = f"{len(late)} unfinished after {timeout:g}s" if late else ""
        turns = count_turns(server, since)
        return Outcome(
            name, n, completed, len(statuses) - completed, seconds, turns, note, codex_cpu
        )
    finally:
        await raw.close()


# --- the daemon ----------------------------------------------------------------------------


class DaemonProcess:
    """``codex-runner serve --port 0`` in its own home and process group."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.proc: subprocess.Popen[bytes] | None = None
        self.url = ""

    @property
    def token(self) -> str:
        return (self.home / "api-token").read_text().strip()

    async def start(self) -> None:
        env = {**os.environ, "CODEX_RUNNER_HOME": str(self.home), "MOCK_API_KEY": "bench"}
        with (self.home / "serve.log").open("ab") as log:
            self.proc = subprocess.Popen(  # noqa: ASYNC220 - killed synchronously in stop()
                [sys.executable, "-m", "codex_runner", "serve", "--port", "0"],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,
            )
        deadline = time.monotonic() + START_TIMEOUT_S
        async with httpx.AsyncClient(timeout=5) as client:
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"the daemon exited; see {self.home / 'serve.log'}")
                info = read_info(self.home)
                if info is not None and info.pid == self.proc.pid:
                    headers = {"Authorization": f"Bearer {self.token}"}
                    with contextlib.suppress(httpx.HTTPError):
                        ready = await client.get(f"{info.url}/readyz", headers=headers)
                        if ready.status_code == 200:
                            self.url = info.url
                            return
                await asyncio.sleep(0.05)
        raise RuntimeError(f"the daemon did not start in {START_TIMEOUT_S:g}s")

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            base_url=self.url,
            headers={"Authorization": f"Bearer {self.token}"},
            timeout=60,
            limits=httpx.Limits(max_connections=200),
        )

    def stop(self) -> None:
        if self.proc is not None:
            stop_daemon(self.proc)


def cpu_seconds(pid: int) -> tuple[float, float]:
    """CPU time of ``pid`` itself, and of its live children with what they reaped (/proc)."""
    tick = os.sysconf("SC_CLK_TCK")
    own = children = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(entry.name) == pid:
            own += sum(int(f) for f in fields[11:13]) / tick
            children += sum(int(f) for f in fields[13:15]) / tick
        elif int(fields[1]) == pid:
            children += sum(int(f) for f in fields[11:15]) / tick
    return own, children


async def wait_terminal(
    client: httpx.AsyncClient, ids: list[str], timeout: float
) -> list[dict[str, Any]]:
    """Wait until no task is queued or running (or ``timeout`` passes); ``ids``' last state.

    The wall time is taken from the tasks' own ``finished_at``, so a slow poll does not
    lengthen it. The poll reads ``/v1/status`` (counts by state) once a second and lists the
    tasks once at the end: listing 100 tasks every second cost the daemon about 3% of its
    CPU under load, which is the bench's load, not the daemon's.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        response = await client.get("/v1/status")
        response.raise_for_status()
        counts = response.json()["counts"]
        if not any(counts.get(state, 0) for state in BUSY):
            break
        await asyncio.sleep(POLL_S)
    response = await client.get("/v1/tasks", params={"limit": 1000})
    response.raise_for_status()
    wanted = set(ids)
    return [t for t in response.json()["tasks"] if t["id"] in wanted]


async def run_daemon(
    root: Path,
    server: MockModelServer,
    cwd: Path,
    n: int,
    timeout: float,
    tag: str = "",
    listen: str = "socket",
) -> Outcome:
    home = root / f"daemon-{listen}-{tag}{n}"
    home.mkdir()
    settings = {
        "codex": {
            "config": server.codex_config(),
            "sandbox": "workspace-write",
            "approval_policy": "never",
            "listen": listen,
        },
        "service": {"max_concurrent_tasks": n},
    }
    (home / "config.toml").write_text(tomli_w.dumps(settings))
    daemon = DaemonProcess(home)
    try:
        await daemon.start()
        async with daemon.client() as client:
            body = {"prompt": WARMUP_PROMPT, "cwd": str(cwd)}
            warm = (await client.post("/v1/tasks", json=body)).json()["id"]
            await wait_terminal(client, [warm], RPC_TIMEOUT_S)
            since = len(server.requests)
            assert daemon.proc is not None
            cpu_before = cpu_seconds(daemon.proc.pid), time.process_time()
            started = datetime.now().astimezone()
            perf_started = time.perf_counter()
            posts = [
                client.post("/v1/tasks", json={"prompt": f"{PROMPT} {i}", "cwd": str(cwd)})
                for i in range(n)
            ]
            ids = [r.json()["id"] for r in await asyncio.gather(*posts)]
            tasks = await wait_terminal(client, ids, timeout)
            cpu_after = cpu_seconds(daemon.proc.pid)
            daemon_cpu = cpu_after[0] - cpu_before[0][0]
            codex_cpu = cpu_after[1] - cpu_before[0][1]
            bench_cpu = time.process_time() - cpu_before[1]
        done = [t for t in tasks if t["state"] in TERMINAL]
        completed = sum(1 for t in done if t["state"] == "completed")
        ends = [datetime.fromisoformat(t["finished_at"]) for t in done if t["finished_at"]]
        if len(done) == n and ends:
            seconds = (max(ends) - started).total_seconds()
            note = ""
        else:
            seconds = time.perf_counter() - perf_started
            note = f"{n - len(done)} unfinished after {timeout:g}s; "
        note += (
            f"CPU s while measured: daemon {daemon_cpu:.1f}, its codex app-server + tools "
            f"{codex_cpu:.1f}, "
            f"this process (scripted model, client) {bench_cpu:.1f}"
        )
        return Outcome(
            "codex-runner daemon" if listen == "socket" else "codex-runner (stdio)",
            n,
            completed,
            len(done) - completed,
            seconds,
            count_turns(server, since),
            note,
            codex_cpu,
        )
    finally:
        daemon.stop()


# --- the report ----------------------------------------------------------------------------


def medians(outcomes: list[Outcome]) -> list[tuple[Outcome, list[float]]]:
    """Per (path, N) in first-seen order: the round with the median turns/s, and all rounds'."""
    groups: dict[tuple[str, int], list[Outcome]] = {}
    for o in outcomes:
        groups.setdefault((o.path, o.n), []).append(o)
    picked = []
    for rounds in groups.values():
        ranked = sorted(rounds, key=lambda o: o.turns_per_s)
        picked.append((ranked[(len(ranked) - 1) // 2], [o.turns_per_s for o in rounds]))
    return picked


def print_table(outcomes: list[Outcome], transport: str) -> None:
    rows = medians(outcomes)
    rounds = max((len(every) for _, every in rows), default=1)
    print(
        f"\ntask throughput, 3 model calls (2 shell tool calls) per task over {transport}, "
        f"this machine ({os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}); "
        f"median of {rounds} interleaved round(s)\n"
    )
    print(
        "| path                 |   N | done | failed | wall s | tasks/s | turns/s | vs raw "
        "| codex CPU ms/task | every round turns/s |"
    )
    print(
        "|----------------------|-----|------|--------|--------|---------|---------|--------"
        "|-------------------|---------------------|"
    )
    baseline = {o.n: o.turns_per_s for o, _ in rows if o.path == "raw default"}
    for o, every in rows:
        base = baseline.get(o.n, 0.0)
        ratio = f"{o.turns_per_s / base:>5.2f}x" if base else f"{'-':>6}"
        spread = " ".join(f"{t:.1f}" for t in every)
        print(
            f"| {o.path:<20} | {o.n:>3} | {o.completed:>4} | {o.failed:>6} | {o.seconds:>6.1f} "
            f"| {o.tasks_per_s:>7.2f} | {o.turns_per_s:>7.2f} | {ratio} "
            f"| {o.codex_ms_per_task:>17.0f} | {spread:<19} |"
        )
    outcomes = [o for o, _ in rows]
    for o in outcomes:
        if o.note:
            print(f"\n{o.path} at N={o.n}: {o.note}")
    ours = [o for o in outcomes if o.path == "codex-runner daemon"]
    if ours:
        top = max(ours, key=lambda o: o.n)
        report(
            "task throughput",
            f"codex-runner at {top.n} tasks ({transport})",
            f"{top.turns_per_s:.2f} turns/s",
            f">= {TARGET_TURNS_PER_S:g} turns/s",
            top.turns_per_s >= TARGET_TURNS_PER_S and "unfinished" not in top.note,
        )


async def main(
    sizes: list[int],
    timeout: float,
    skip_headless: bool,
    keep: bool,
    rounds: int,
    transport: str,
    compare_stdio: bool,
) -> None:
    os.environ.setdefault("MOCK_API_KEY", "bench")
    root = Path(tempfile.mkdtemp(prefix="codex-runner-throughput-"))
    outcomes: list[Outcome] = []
    try:
        cwd = root / "work"
        cwd.mkdir()
        script = Script.from_dict(SCRIPT)
        websockets = transport == "websocket"
        async with MockModelServer(script, port=0, websockets=websockets) as server:
            # Rounds interleave the paths, so a machine that slows down for a while (shared
            # CPUs) weighs on every path alike; each row reports its median round.
            for n in sizes:
                for r in range(rounds):
                    tag = f"{r}-"
                    outcomes.append(
                        await run_raw("raw default", root, server, cwd, n, False, timeout, tag)
                    )
                    if not skip_headless:
                        outcomes.append(
                            await run_raw("raw headless", root, server, cwd, n, True, timeout, tag)
                        )
                    outcomes.append(await run_daemon(root, server, cwd, n, timeout, tag))
                    last = outcomes[-1]
                    if compare_stdio:
                        outcomes.append(
                            await run_daemon(root, server, cwd, n, timeout, tag, "stdio")
                        )
                    print(
                        f"  N={n} round {r + 1}: daemon {last.turns_per_s:.2f} turns/s",
                        file=sys.stderr,
                    )
    finally:
        print_table(outcomes, transport)
        if keep:
            print(f"\nfiles kept in {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1,20,100", help="concurrent tasks, comma-separated")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds per run")
    parser.add_argument("--skip-headless", action="store_true", help="no raw headless row")
    parser.add_argument("--keep", action="store_true", help="keep the homes and logs")
    parser.add_argument(
        "--compare-stdio",
        action="store_true",
        help="also run the daemon with [codex] listen = stdio (its app-server on a pipe)",
    )
    parser.add_argument("--rounds", type=int, default=1, help="rounds per size (median)")
    parser.add_argument(
        "--transport",
        choices=("websocket", "sse"),
        default="websocket",
        help="how Codex calls the scripted model (default: websocket, as with OpenAI)",
    )
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    rounds = max(1, args.rounds)
    asyncio.run(
        main(
            sizes,
            args.timeout,
            args.skip_headless,
            args.keep,
            rounds,
            args.transport,
            args.compare_stdio,
        )
    )
