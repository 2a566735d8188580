"""Live sessions against the real codex binary: the daemon's app-server is shared on a Unix
socket, a second client's turn becomes the task's, an approval that client answers is not
answered again, attaching says what to run, and a killed daemon leaves nothing behind."""

from __future__ import annotations

import asyncio
import json
import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from codex_runner.codex.connection import AppServerConnection, unix_socket_launcher
from codex_runner.codex.endpoint import shared_socket_path
from codex_runner.config import load_config

from ..conftest import wants_websockets  # noqa: F401 - keeps the marker helpers importable
from .conftest import StartDaemon
from .harness import TERMINAL, Daemon, all_events, wait_state

pytestmark = __import__("pytest").mark.acceptance


def _socket(daemon: Daemon) -> Path:
    return shared_socket_path(load_config(daemon.home))


def _second_client(
    daemon: Daemon,
    *,
    answer: str | None = None,
    on_notification: Callable[[str, dict[str, Any]], None] | None = None,
) -> AppServerConnection:
    """A JSON-RPC client of the daemon's app-server, as a tool or the Codex TUI would be;
    it accepts or declines approval requests when ``answer`` says so."""

    async def on_request(method: str, params: dict[str, Any]) -> Any:
        if answer is None:
            await asyncio.Event().wait()
        return {"decision": answer}

    config = load_config(daemon.home)
    return AppServerConnection(
        unix_socket_launcher(_socket(daemon), config),
        on_notification=on_notification or (lambda method, params: None),
        on_server_request=on_request,
        request_timeout_s=30,
    )


async def _completed_task(client: httpx.AsyncClient, repo: Path, prompt: str) -> dict[str, Any]:
    task = (await client.post("/v1/tasks", json={"prompt": prompt, "repo": str(repo)})).json()
    done = await wait_state(client, task["id"], TERMINAL)
    assert done["state"] == "completed", done
    return done


def _rpc_log(daemon: Daemon) -> list[dict[str, Any]]:
    files = sorted((daemon.home / "logs" / "raw" / "codex-rpc").glob("*.jsonl"))
    return [json.loads(line) for f in files for line in f.read_text().splitlines() if line.strip()]


async def test_the_app_server_listens_on_a_private_socket(
    start_daemon: StartDaemon, repo: Path
) -> None:
    daemon = await start_daemon()
    path = _socket(daemon)
    real = Path(os.path.realpath(path))  # noqa: ASYNC240 - a local file, read once
    modes = {p: p.stat().st_mode for p in (path.parent, real, real.parent)}
    assert stat.S_IMODE(modes[path.parent]) == 0o700
    assert stat.S_ISSOCK(modes[real]) and stat.S_IMODE(modes[real]) == 0o600
    assert stat.S_IMODE(modes[real.parent]) == 0o700
    daemon.stop()
    assert not real.exists()  # noqa: ASYNC240 - Codex removes its socket when it stops


async def test_a_second_client_reads_the_thread_and_its_turn_becomes_the_tasks(
    start_daemon: StartDaemon, repo: Path
) -> None:
    daemon = await start_daemon()
    async with daemon.client() as client:
        task = await _completed_task(client, repo, "quick one")
        thread = task["thread_id"]
        async with _second_client(daemon) as tool:
            read = await tool.request("thread/read", {"threadId": thread, "includeTurns": True})
            assert read["thread"]["id"] == thread and len(read["thread"]["turns"]) == 1
            await tool.request(
                "turn/start",
                {"threadId": thread, "input": [{"type": "text", "text": "hello from the tui"}]},
            )
            async with asyncio.timeout(60):
                while True:  # the task runs the turn, then completes again
                    events = await all_events(client, task["id"])
                    started = [e for e in events if e["type"] == "codex.turn.started"]
                    moves = [e["data"]["to"] for e in events if e["type"] == "task.state_changed"]
                    if len(started) == 2 and moves[-1] == "completed" and len(moves) >= 4:
                        break
                    await asyncio.sleep(0.05)  # the daemon's state, polled over HTTP
        now = (await client.get(f"/v1/tasks/{task['id']}")).json()
        assert now["final_message"] == "Hi there"
        states = [
            e["data"]["to"]
            for e in events
            if e["type"] == "task.state_changed" and "to" in e["data"]
        ]
        assert states[-2:] == ["running", "completed"]
        messages = [
            e["data"]
            for e in events
            if e["type"] == "codex.item.completed"
            and e["data"].get("item", {}).get("type") == "user_message"
        ]
        assert any("hello from the tui" in json.dumps(m) for m in messages), messages


async def test_an_approval_the_second_client_answers_is_not_answered_again(
    start_daemon: StartDaemon, repo: Path
) -> None:
    daemon = await start_daemon(service={"rpc_log": True}, codex={"approval_policy": "untrusted"})
    async with daemon.client() as client:
        task = await _completed_task(client, repo, "quick one")
        async with _second_client(daemon, answer="accept") as tui:
            # Subscribed like the Codex TUI after `codex resume --remote`.
            await tui.request("thread/resume", {"threadId": task["thread_id"]})
            response = await client.post(
                f"/v1/tasks/{task['id']}/message", json={"prompt": "touch approved"}
            )
            assert response.status_code == 200, response.text
            done = await wait_state(client, task["id"], TERMINAL)
        assert done["state"] == "completed", done
        events = await all_events(client, task["id"])
        decided = [e["data"] for e in events if e["type"] == "approval.decided"]
        assert [d["decision"] for d in decided] == ["answered_elsewhere"], decided
    assert (Path(done["cwd"] or repo) / "approved.txt").exists() or any(
        (p / "approved.txt").exists() for p in (daemon.home / "worktrees").glob("*")
    )
    log = _rpc_log(daemon)
    asked = {
        e["msg"]["id"]
        for e in log
        if e["dir"] == "in" and str(e["msg"].get("method", "")).endswith("requestApproval")
    }
    assert asked, "Codex asked the runner too"
    answered = {
        e["msg"]["id"]
        for e in log
        if e["dir"] == "out" and "method" not in e["msg"] and e["msg"].get("id") in asked
    }
    assert answered == set()


async def test_attaching_says_what_to_run_and_refuses_a_thread_without_a_rollout(
    start_daemon: StartDaemon, repo: Path
) -> None:
    daemon = await start_daemon()
    async with daemon.client() as client:
        queued = (await client.post("/v1/tasks", json={"prompt": "slow", "repo": str(repo)})).json()
        early = await client.get(f"/v1/tasks/{queued['id']}/attach")
        if early.status_code != 200:  # it may have started already; then it has a rollout
            assert early.status_code == 409 and early.json()["error"]["code"] == "not_attachable"
            assert "attach once" in early.json()["error"]["message"]
        await client.post(f"/v1/tasks/{queued['id']}/cancel")
        task = await _completed_task(client, repo, "quick one")
        target = (await client.get(f"/v1/tasks/{task['id']}/attach")).json()
        assert target["thread_id"] == task["thread_id"]
        assert target["remote"] == f"unix://{_socket(daemon)}"
        assert target["command"][1:] == ["resume", "--remote", target["remote"], task["thread_id"]]
        assert not any(part == "-c" for part in target["command"])
        assert target["env"] == {"CODEX_HOME": str(load_config(daemon.home).codex_home)}
        # An attachment marks the task attached while its process lives.
        opened = await client.post(f"/v1/tasks/{task['id']}/attach", json={"pid": os.getpid()})
        assert opened.status_code == 201, opened.text
        assert (await client.get(f"/v1/tasks/{task['id']}")).json()["attached"] is True
        attachment = opened.json()["attachment_id"]
        closed = await client.delete(f"/v1/tasks/{task['id']}/attach/{attachment}")
        assert closed.status_code == 204
        assert (await client.get(f"/v1/tasks/{task['id']}")).json()["attached"] is False
        code, out, err = await daemon.cli("threads", "list", "--cwd", str(repo), "--json")
    assert code == 0, err
    listed = {t["id"]: t["task_id"] for t in json.loads(out)["threads"]}
    assert listed.get(task["thread_id"]) in (task["id"], None)


async def test_a_task_adopts_a_thread_another_client_started(
    start_daemon: StartDaemon, repo: Path
) -> None:
    daemon = await start_daemon()
    completed: set[str] = set()
    turn_over = asyncio.Event()

    def note(method: str, params: dict[str, Any]) -> None:
        if method == "turn/completed":
            completed.add(params["threadId"])
            turn_over.set()

    async with daemon.client() as client, _second_client(daemon, on_notification=note) as tool:
        started = await tool.request("thread/start", {"cwd": str(repo)})
        thread = started["thread"]["id"]
        await tool.request(
            "turn/start",
            {"threadId": thread, "input": [{"type": "text", "text": "quick from the tool"}]},
        )
        async with asyncio.timeout(60):  # until its turn is over (and in its rollout)
            while thread not in completed:
                await turn_over.wait()
                turn_over.clear()
        await tool.request("thread/unsubscribe", {"threadId": thread})
        body = {"prompt": "what did I say", "cwd": str(repo), "thread_id": thread}
        task = (await client.post("/v1/tasks", json=body)).json()
        assert task["thread_id"] == thread, task
        done = await wait_state(client, task["id"], TERMINAL)
        assert done["state"] == "completed" and done["thread_id"] == thread, done
        again = await client.post("/v1/tasks", json=body)
        assert again.status_code == 422 and task["id"] in again.json()["error"]["message"]
        bad = await client.post("/v1/tasks", json={**body, "thread_id": "not-a-thread"})
        assert bad.status_code == 422 and bad.json()["error"]["field"] == "thread_id"


async def test_a_daemon_killed_with_sigkill_leaves_no_socket_that_blocks_the_next_start(
    start_daemon: StartDaemon, repo: Path
) -> None:
    daemon = await start_daemon()
    async with daemon.client() as client:
        await _completed_task(client, repo, "quick one")
    daemon.kill9()
    assert _socket(daemon).is_symlink()  # what the killed daemon's Codex left
    await daemon.start()
    async with daemon.client() as client:
        await _completed_task(client, repo, "quick two")
    daemon.stop()
