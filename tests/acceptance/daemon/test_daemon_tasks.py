"""The daemon end to end: HTTP API and CLI, real codex, the scripted model, a git repo."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest

from codex_runner.mockmodel import MockModelServer

from .conftest import StartDaemon
from .harness import TERMINAL, git, wait_event, wait_state

pytestmark = pytest.mark.acceptance


async def test_requests_without_the_token_get_401_and_healthz_is_open(
    start_daemon: StartDaemon,
) -> None:
    daemon = await start_daemon(service={"rpc_log": True})
    async with daemon.client(token="wrong") as client:
        assert (await client.get("/healthz")).status_code == 200
        for path in ("/v1/status", "/v1/tasks", "/readyz", "/openapi.json"):
            response = await client.get(path)
            assert response.status_code == 401, path
            assert response.json()["error"]["code"] == "unauthorized"
    async with daemon.client() as client:
        status = (await client.get("/v1/status")).json()
        assert status["runtime"]["state"] == "ready"
        assert status["runtime"]["codex_version"]
        profile = await client.get("/v1/auth/profile")
        assert profile.status_code == 200 and profile.json()["active"] == "default"
    rpc_files = sorted((daemon.home / "logs" / "raw" / "codex-rpc").glob("*.jsonl"))
    rpc_log = "".join(f.read_text() for f in rpc_files)
    assert '"method":"initialize"' in rpc_log


async def test_a_pinned_codex_home_runs_tasks_there_and_offers_no_profile_switch(
    start_daemon: StartDaemon, tmp_path: Path
) -> None:
    pinned = tmp_path / "pinned-codex-home"
    daemon = await start_daemon(codex={"home": str(pinned)})
    async with daemon.client() as client:
        # Switching would move Codex off the pinned home onto a profile's (no credentials).
        switch = await client.post("/v1/auth/profile", json={"name": "default"})
        assert switch.status_code == 404
        profiles = (await client.get("/v1/auth/profiles")).json()
        assert profiles["error"]["code"] == "profiles_unavailable"
        assert "remove codex.home" in profiles["error"]["message"]
        response = await client.post("/v1/tasks", json={"prompt": "hello", "cwd": str(tmp_path)})
        done = await wait_state(client, response.json()["id"], TERMINAL)
        assert done["state"] == "completed", done
    assert (pinned / "config.toml").exists()
    assert not (daemon.home / "codex-home").exists()


async def test_a_repo_task_gets_a_worktree_and_its_work_is_committed_on_its_branch(
    start_daemon: StartDaemon, repo: Path
) -> None:
    daemon = await start_daemon()
    async with daemon.client() as client:
        response = await client.post("/v1/tasks", json={"prompt": "write notes", "repo": str(repo)})
        assert response.status_code == 201, response.text
        task = response.json()
        done = await wait_state(client, task["id"], TERMINAL)
        assert done["state"] == "completed", done
        branch = f"codex-runner/{task['id']}"
        assert done["branch"] == branch
        assert done["diff_summary"] is not None and "notes.txt" in done["diff_summary"]
        worktree = daemon.home / "worktrees" / task["id"]
        assert (worktree / "notes.txt").read_text() == "notes\n"
        committed = git(repo, "show", "--name-only", "--format=%s", branch).split()
        assert "notes.txt" in committed
        for sandbox_artifact in (".codex", ".agents", ".aws"):
            assert sandbox_artifact not in committed
        diff = (await client.get(f"/v1/tasks/{task['id']}/diff")).json()
        assert "+notes" in diff["diff"]
    code, out, err = await daemon.cli("task", "diff", task["id"])
    assert code == 0, err
    assert "notes.txt" in out
    per_task_logs = sorted((daemon.home / "logs" / "tasks" / task["id"]).glob("*.jsonl"))
    lines = [line for f in per_task_logs for line in f.read_text().splitlines()]
    seqs = [json.loads(line)["seq"] for line in lines if "seq" in json.loads(line)]
    assert seqs == list(range(1, len(seqs) + 1))


async def test_priorities_and_the_concurrency_cap_decide_start_order(
    start_daemon: StartDaemon, repo: Path
) -> None:
    daemon = await start_daemon(service={"max_concurrent_tasks": 1})
    async with daemon.client() as client:
        blocker = (
            await client.post("/v1/tasks", json={"prompt": "long job", "cwd": str(repo)})
        ).json()
        await wait_state(client, blocker["id"], {"running"})
        ids = {}
        for name, priority in (("low", 0), ("high", 9), ("mid", 5)):
            body = {"prompt": f"quick {name}", "cwd": str(repo), "priority": priority}
            ids[name] = (await client.post("/v1/tasks", json=body)).json()["id"]
        tasks = [await wait_state(client, i, TERMINAL) for i in (blocker["id"], *ids.values())]
        assert all(t["state"] == "completed" for t in tasks), tasks
        by_start = sorted(tasks, key=lambda t: t["started_at"])
        assert [t["prompt"] for t in by_start] == [
            "long job",
            "quick high",
            "quick mid",
            "quick low",
        ]
        # The cap: each task started only after the previous one finished.
        for earlier, later in itertools.pairwise(by_start):
            assert earlier["finished_at"] <= later["started_at"]


async def test_interrupt_then_resume_completes_on_the_same_thread(
    start_daemon: StartDaemon, repo: Path, daemon_model: MockModelServer
) -> None:
    daemon = await start_daemon()
    async with daemon.client() as client:
        task = (await client.post("/v1/tasks", json={"prompt": "slow", "repo": str(repo)})).json()
        await wait_event(client, task["id"], "codex.turn.started")
        code, _, err = await daemon.cli("task", "interrupt", task["id"])
        assert code == 0, err
        interrupted = (await client.get(f"/v1/tasks/{task['id']}")).json()
        assert interrupted["state"] == "interrupted"
        thread = interrupted["thread_id"]
        code, _, err = await daemon.cli("task", "resume", task["id"], "what did I say")
        assert code == 0, err
        done = await wait_state(client, task["id"], TERMINAL)
        assert done["state"] == "completed", done
        assert done["thread_id"] == thread
        assert done["final_message"].startswith("echo: what did I say")
        assert "slow" in done["final_message"]  # the model saw the earlier turn


async def test_steer_adds_input_to_the_running_turn(start_daemon: StartDaemon, repo: Path) -> None:
    daemon = await start_daemon()
    async with daemon.client() as client:
        task = (
            await client.post("/v1/tasks", json={"prompt": "long job", "cwd": str(repo)})
        ).json()
        await wait_event(client, task["id"], "codex.item.started")
        response = await client.post(
            f"/v1/tasks/{task['id']}/steer", json={"prompt": "steer-extra"}
        )
        assert response.status_code == 200, response.text
        done = await wait_state(client, task["id"], TERMINAL)
        assert done["final_message"] == "steered: extra seen"
        steer_done = await client.post(f"/v1/tasks/{task['id']}/steer", json={"prompt": "late"})
        assert steer_done.status_code == 409


async def test_an_approval_parks_the_task_until_decided_from_the_cli(
    start_daemon: StartDaemon, repo: Path
) -> None:
    daemon = await start_daemon(codex={"approval_policy": "untrusted"})
    async with daemon.client() as client:
        task = (
            await client.post("/v1/tasks", json={"prompt": "touch approved", "repo": str(repo)})
        ).json()
        await wait_state(client, task["id"], {"awaiting_approval"})
        pending = (await client.get("/v1/approvals", params={"state": "pending"})).json()
        (approval,) = pending["approvals"]
        assert "touch approved.txt" in (approval["command"] or "")
        assert approval["task_id"] == task["id"]
        bad = await client.post(f"/v1/approvals/{approval['id']}", json={"decision": "maybe"})
        assert bad.status_code == 422 and bad.json()["error"]["field"] == "decision"
        code, _out, err = await daemon.cli("approvals", "decide", approval["id"], "accept")
        assert code == 0, err
        again = await client.post(f"/v1/approvals/{approval['id']}", json={"decision": "accept"})
        assert again.status_code == 409  # decided once, from any interface
        done = await wait_state(client, task["id"], TERMINAL)
        assert done["state"] == "completed", done
        assert (daemon.home / "worktrees" / task["id"] / "approved.txt").exists()


async def test_an_undecided_approval_times_out_to_decline(
    start_daemon: StartDaemon, repo: Path
) -> None:
    daemon = await start_daemon(
        service={"approval_timeout_s": 2}, codex={"approval_policy": "untrusted"}
    )
    async with daemon.client() as client:
        task = (
            await client.post("/v1/tasks", json={"prompt": "touch declined", "repo": str(repo)})
        ).json()
        await wait_event(client, task["id"], "approval.expired")
        done = await wait_state(client, task["id"], {*TERMINAL, "interrupted"})
        assert not (daemon.home / "worktrees" / task["id"] / "declined.txt").exists()
        assert done["state"] in ("completed", "interrupted")


async def test_idempotent_submit_and_bad_input_name_the_field(
    start_daemon: StartDaemon, repo: Path, tmp_path: Path
) -> None:
    daemon = await start_daemon()
    async with daemon.client() as client:
        body = {"prompt": "quick", "cwd": str(repo), "idempotency_key": "req-7"}
        first = await client.post("/v1/tasks", json=body)
        second = await client.post("/v1/tasks", json=body)
        assert first.status_code == 201 and second.status_code == 200
        assert first.json()["id"] == second.json()["id"]
        reused = await client.post("/v1/tasks", json={**body, "prompt": "another"})
        assert reused.status_code == 409, reused.text
        assert reused.json()["error"]["field"] == "idempotency_key"
        plain = tmp_path / "plain"
        plain.mkdir()
        cases = [
            ({"prompt": "x", "cwd": str(repo), "priority": True}, "priority"),
            ({"prompt": "x", "cwd": str(repo), "effort": "ultra"}, "effort"),
            ({"prompt": "x", "cwd": str(repo), "model": "gpt\nx"}, "model"),
            ({"prompt": "x", "repo": str(tmp_path / "missing")}, "repo"),
            ({"prompt": "x", "repo": str(plain)}, "repo"),
            ({"prompt": "", "cwd": str(repo)}, "prompt"),
            ({"prompt": "x", "repo": str(repo), "base_ref": "no-such-ref"}, "base_ref"),
        ]
        for bad, field in cases:
            response = await client.post("/v1/tasks", json=bad)
            assert response.status_code == 422, (bad, response.text)
            assert response.json()["error"]["field"] == field
        listed = (await client.get("/v1/tasks")).json()["tasks"]
        assert [t["id"] for t in listed] == [first.json()["id"]]  # nothing half-created
    code, _, err = await daemon.cli("task", "show", "t_missing")
    assert code == 1 and "t_missing" in err
