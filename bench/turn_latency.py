"""Turn latency: the codex-runner engine vs raw JSON-RPC vs ``codex exec`` per turn.

All three run in one process, in one run, against the same scripted model (one assistant
message per turn), the same codex binary and the same Codex home. Each turn runs on a fresh
thread (thread creation is not timed) so history growth does not skew later turns. The engine
and raw JSON-RPC are measured in alternating blocks so machine drift hits both alike.

Run: ``make bench`` or ``.venv/bin/python bench/turn_latency.py [--turns N]``.
Target: engine median within 1.10x of raw JSON-RPC.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import tomli_w

from codex_runner.codex.app_server import AppServerRuntime
from codex_runner.codex.binary import bundled_path_dir, find_codex_binary
from codex_runner.codex.home import child_environment, prepare_codex_home
from codex_runner.codex.runtime import ThreadOptions
from codex_runner.config import RunnerConfig, load_config
from codex_runner.mockmodel import MockModelServer, Script
from verdicts import report

PROMPT = "hello"
SCRIPT = {"rules": [{"match": "hello", "responses": [[{"message": "hi"}]]}]}


class RawAppServer:
    """The least a client can do: write JSON lines, read until turn/completed."""

    def __init__(self, config: RunnerConfig) -> None:
        self.config = config
        self.next_id = 0
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        binary = find_codex_binary(self.config.codex.bin)
        self.proc = await asyncio.create_subprocess_exec(
            str(binary),
            "app-server",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
            env=child_environment(self.config, bundled_path_dir()),
            limit=64 * 1024 * 1024,
        )
        await self.call("initialize", {"clientInfo": {"name": "bench", "version": "0"}})
        await self.send({"jsonrpc": "2.0", "method": "initialized"})

    async def send(self, message: dict[str, Any]) -> None:
        assert self.proc is not None and self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(message).encode() + b"\n")
        await self.proc.stdin.drain()

    async def read(self) -> dict[str, Any]:
        assert self.proc is not None and self.proc.stdout is not None
        line = await asyncio.wait_for(self.proc.stdout.readline(), 60)
        if not line:
            raise RuntimeError("app-server exited")
        message: dict[str, Any] = json.loads(line)
        return message

    async def call(self, method: str, params: dict[str, Any]) -> Any:
        self.next_id += 1
        request_id = self.next_id
        await self.send({"jsonrpc": "2.0", "id": request_id, "method": method, "params": params})
        while True:
            message = await self.read()
            if message.get("id") == request_id and "method" not in message:
                return message.get("result")

    async def new_thread(self, cwd: Path) -> str:
        result = await self.call(
            "thread/start",
            {"cwd": str(cwd), "sandbox": "workspace-write", "approvalPolicy": "never"},
        )
        return str(result["thread"]["id"])

    async def turn(self, thread_id: str) -> None:
        await self.call(
            "turn/start", {"threadId": thread_id, "input": [{"type": "text", "text": PROMPT}]}
        )
        while True:
            message = await self.read()
            if message.get("method") == "turn/completed":
                return

    async def close(self) -> None:
        if self.proc is not None:
            assert self.proc.stdin is not None
            self.proc.stdin.close()
            try:
                await asyncio.wait_for(self.proc.wait(), 5)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()


async def engine_turns(runtime: AppServerRuntime, cwd: Path, n: int) -> list[float]:
    samples = []
    for _ in range(n):
        thread = await runtime.start_thread(ThreadOptions(cwd=cwd))
        started = time.perf_counter()
        turn = await runtime.start_turn(thread.id, PROMPT)
        result = await turn.wait(60)
        samples.append(time.perf_counter() - started)
        assert result.ok, result.error
    return samples


async def raw_turns(raw: RawAppServer, cwd: Path, n: int) -> list[float]:
    samples = []
    for _ in range(n):
        thread_id = await raw.new_thread(cwd)
        started = time.perf_counter()
        await raw.turn(thread_id)
        samples.append(time.perf_counter() - started)
    return samples


async def exec_turns(config: RunnerConfig, cwd: Path, n: int) -> list[float]:
    binary = find_codex_binary(config.codex.bin)
    env = child_environment(config, bundled_path_dir())
    samples = []
    for _ in range(n):
        started = time.perf_counter()
        proc = await asyncio.create_subprocess_exec(
            str(binary),
            "exec",
            "--json",
            "--skip-git-repo-check",
            "-s",
            "workspace-write",
            "-C",
            str(cwd),
            PROMPT,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
            env=env,
        )
        out, _ = await asyncio.wait_for(proc.communicate(), 60)
        samples.append(time.perf_counter() - started)
        assert b"turn.completed" in out, out[-500:]
    return samples


def _ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


async def main(turns: int, blocks: int) -> None:
    os.environ.setdefault("MOCK_API_KEY", "bench")
    root = Path(tempfile.mkdtemp(prefix="codex-runner-bench-"))
    cwd = root / "work"
    cwd.mkdir()
    async with MockModelServer(Script.from_dict(SCRIPT), port=0) as server:
        home = root / "home"
        home.mkdir()
        codex = {"config": server.codex_config(), "approval_policy": "never"}
        (home / "config.toml").write_text(tomli_w.dumps({"codex": codex}))
        config = load_config(home)
        prepare_codex_home(config)
        raw = RawAppServer(config)
        await raw.start()
        engine_samples: list[float] = []
        raw_samples: list[float] = []
        async with AppServerRuntime(config) as runtime:
            await engine_turns(runtime, cwd, 3)  # warm-up
            await raw_turns(raw, cwd, 3)
            per_block = max(1, turns // blocks)
            for _ in range(blocks):
                engine_samples += await engine_turns(runtime, cwd, per_block)
                raw_samples += await raw_turns(raw, cwd, per_block)
        await raw.close()
        exec_samples = await exec_turns(config, cwd, max(5, turns // 4))

    raw_ms = _ms(raw_samples)
    rows = [
        ("raw JSON-RPC (limit)", raw_samples),
        ("codex-runner engine", engine_samples),
        ("codex exec per turn", exec_samples),
    ]
    print(f"\ntrivial turn latency, median of n turns (this machine, {os.cpu_count()} cores)\n")
    print(f"| {'path':<22} | {'n':>4} | {'median ms':>9} | {'p90 ms':>7} | {'vs raw':>6} |")
    print(f"|{'-' * 24}|{'-' * 6}|{'-' * 11}|{'-' * 9}|{'-' * 8}|")
    for name, samples in rows:
        p90 = sorted(samples)[int(len(samples) * 0.9) - 1] * 1000
        ratio = _ms(samples) / raw_ms
        median = _ms(samples)
        print(f"| {name:<22} | {len(samples):>4} | {median:>9.1f} | {p90:>7.1f} | {ratio:>5.2f}x |")
    ratio = _ms(engine_samples) / raw_ms
    report("turn latency", "engine / raw JSON-RPC", f"{ratio:.3f}x", "<= 1.10x", ratio <= 1.10)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=60, help="turns per path (engine, raw)")
    parser.add_argument("--blocks", type=int, default=6, help="alternating blocks")
    args = parser.parse_args()
    asyncio.run(main(args.turns, args.blocks))
