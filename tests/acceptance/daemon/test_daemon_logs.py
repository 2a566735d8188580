"""The daemon's layered logs for real: its records under logs/runner/, a task's stream, the
raw http layer from [logs] raw_http, and GET /v1/logs and `codex-runner logs` reading them."""

from __future__ import annotations

import asyncio
import json
import tomllib
from pathlib import Path

import tomli_w

from codex_runner.mockmodel import MockModelServer

from .harness import TERMINAL, Daemon, wait_state, write_config


async def test_a_daemon_writes_its_layers_and_serves_them(
    tmp_path: Path, daemon_model: MockModelServer, repo: Path
) -> None:
    home = tmp_path / "home"
    write_config(home, daemon_model, service={}, codex={"approval_policy": "never"})
    config = tomllib.loads((home / "config.toml").read_text())
    config["logs"] = {"raw_http": True}
    (home / "config.toml").write_text(tomli_w.dumps(config))
    daemon = Daemon(home)
    try:
        await daemon.start()
        token = (home / "api-token").read_text().strip()
        async with daemon.client() as client:
            task = (await client.post("/v1/tasks", json={"prompt": "hi", "repo": str(repo)})).json()
            await wait_state(client, task["id"], TERMINAL)
            async with asyncio.timeout(30):  # the writer thread is behind by a moment at most
                while True:
                    answer = (await client.get("/v1/logs")).json()
                    if any(r["message"].startswith("daemon ready") for r in answer["records"]):
                        break
                    await asyncio.sleep(0.05)
            events = (await client.get("/v1/logs", params={"task": task["id"]})).json()
            assert events["records"][0]["message"] == "#1 task.created"
        code, out, err = await daemon.cli("logs", "--task", task["id"], "--json")
        assert code == 0, err
        assert json.loads(out.splitlines()[0])["type"] == "task.created"
    finally:
        daemon.stop()
    raw = "".join(f.read_text() for f in sorted((home / "logs" / "raw" / "http").glob("*")))
    paths = [json.loads(line)["path"] for line in raw.splitlines()]
    assert "/v1/tasks" in paths and "/v1/logs" in paths
    assert token not in raw and "hi" not in paths
    assert not (home / "logs" / "raw" / "codex-rpc").exists()  # off unless switched on
