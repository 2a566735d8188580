"""Two hosts on one PostgreSQL: each serve registers and heartbeats; a host killed with
kill -9 under a running turn is found dead within its lease and its task continues on the
other host, on a new lease (the real Codex against the scripted model)."""

from __future__ import annotations

import asyncio
import json
import signal
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import tomli_w

from codex_runner.mockmodel import MockModelServer

from ...support.cuttable_proxy import CuttableProxy
from ...support.postgres import PostgresServer
from .harness import TERMINAL, Daemon, wait_state, write_config

pytestmark = pytest.mark.acceptance

CLUSTER = {"heartbeat_s": 0.5, "lease_s": 2.0}


def host_home(
    base: Path, name: str, model: MockModelServer, url: str, *, approvals: str = "never"
) -> Path:
    home = base / name
    write_config(
        home,
        model,
        service={"max_concurrent_tasks": 2, "auto_resume": True},
        codex={"sandbox": "workspace-write", "approval_policy": approvals},
    )
    config = home / "config.toml"
    extra = tomli_w.dumps({"store": {"url": url}, "cluster": CLUSTER})
    config.write_text(config.read_text() + extra)
    return home


Hosts = tuple[Daemon, Daemon]


async def two_hosts(
    model: MockModelServer, postgres: PostgresServer, base: Path, approvals: str
) -> AsyncIterator[Hosts]:
    """Two hosts on one fresh database, the first started (a test starts the second when
    it wants it there); both stopped after the test."""
    url = postgres.new_database()
    first = Daemon(host_home(base, "a", model, url, approvals=approvals))
    second = Daemon(host_home(base, "b", model, url, approvals=approvals))
    await first.start()
    try:
        yield first, second
    finally:
        first.stop()
        second.stop()


@pytest.fixture
async def hosts(
    daemon_model: MockModelServer, postgres: PostgresServer, tmp_path: Path
) -> AsyncIterator[Hosts]:
    async for pair in two_hosts(daemon_model, postgres, tmp_path, "never"):
        yield pair


@pytest.fixture
async def hosts_asking(
    daemon_model: MockModelServer, postgres: PostgresServer, tmp_path: Path
) -> AsyncIterator[Hosts]:
    """Hosts whose Codex asks before every command (approval policy untrusted)."""
    async for pair in two_hosts(daemon_model, postgres, tmp_path, "untrusted"):
        yield pair


async def test_a_killed_hosts_task_continues_on_another_host(hosts: Hosts, tmp_path: Path) -> None:
    first, second = hosts
    async with first.client() as client:
        created = await client.post(
            "/v1/tasks", json={"prompt": "hold the line", "cwd": str(tmp_path)}
        )
        assert created.status_code == 201, created.text
        task_id = created.json()["id"]
        running = await wait_state(client, task_id, {"running"})
    first_host = (first.home / "host-id").read_text().strip()
    assert running["host_id"] == first_host and running["lease"] == 1
    await second.start()
    second_host = (second.home / "host-id").read_text().strip()
    async with second.client() as client:
        hosts = (await client.get("/v1/hosts")).json()["hosts"]
        assert {h["id"] for h in hosts} == {first_host, second_host}
        first.kill9()  # mid-turn: its shell command sleeps for 30 s
        done = await wait_state(client, task_id, TERMINAL, timeout=60)
        assert done["state"] == "completed", done
        assert done["final_message"] == "carried on"
        assert done["host_id"] == second_host and done["lease"] == 3
        events = (await client.get(f"/v1/tasks/{task_id}/events")).json()["events"]
        reasons = [e["data"].get("reason") or "" for e in events]
        assert any(r.startswith(f"host_lost: host {first_host}") for r in reasons), reasons
        hosts = {h["id"]: h for h in (await client.get("/v1/hosts")).json()["hosts"]}
        assert hosts[first_host]["dead_at"] is not None
        assert hosts[second_host]["dead_at"] is None
    code, table, _ = await second.cli("hosts")
    assert code == 0 and "dead" in table and f"{second_host} *" in table, table
    code, drained, err = await second.cli("hosts", "drain", second_host, "--json")
    assert code == 0, err
    listed = {h["id"]: h for h in json.loads(drained)["hosts"]}
    assert listed[second_host]["draining"] is True
    code, _, err = await second.cli("hosts", "drain", "no-such-host")
    assert code != 0 and "no host" in err


async def test_a_paused_host_is_fenced_off_and_stops_its_turn_when_it_wakes(
    hosts: Hosts, tmp_path: Path
) -> None:
    first, second = hosts
    async with first.client() as client:
        created = await client.post(
            "/v1/tasks", json={"prompt": "hold the line", "cwd": str(tmp_path)}
        )
        task_id = created.json()["id"]
        await wait_state(client, task_id, {"running"})
    await second.start()
    second_host = (second.home / "host-id").read_text().strip()
    assert first.proc is not None
    first.proc.send_signal(signal.SIGSTOP)  # paused past its lease, not dead
    try:
        async with second.client() as client:
            done = await wait_state(client, task_id, TERMINAL, timeout=60)
    finally:
        first.proc.send_signal(signal.SIGCONT)
    assert done["state"] == "completed" and done["host_id"] == second_host
    async with first.client() as client:
        # Awake again, it finds it was taken over: it re-registers and writes nothing
        # more for the task (its late turn end is refused on the old lease).
        hosts = await wait_hosts_alive(client)
        assert len(hosts) == 2
        after = (await client.get(f"/v1/tasks/{task_id}")).json()
    assert (after["state"], after["host_id"], after["lease"]) == ("completed", second_host, 3)
    assert after["final_message"] == "carried on"


async def wait_hosts_alive(client: httpx.AsyncClient) -> list[dict[str, Any]]:
    """The hosts once none is dead (the woken host registered again); polled: another
    process's heartbeat has no event to wait on."""
    for _ in range(100):
        hosts: list[dict[str, Any]] = (await client.get("/v1/hosts")).json()["hosts"]
        if all(h["dead_at"] is None for h in hosts):
            return hosts
        await asyncio.sleep(0.1)
    raise AssertionError(f"a host stayed dead: {hosts}")


async def test_controls_and_approval_decisions_reach_the_host_running_the_task(
    hosts_asking: Hosts, tmp_path: Path
) -> None:
    first, second = hosts_asking
    async with first.client() as client:
        asking = (
            await client.post("/v1/tasks", json={"prompt": "touch approved", "cwd": str(tmp_path)})
        ).json()
        await wait_state(client, asking["id"], {"awaiting_approval"})
        body = {"prompt": "hold the line", "cwd": str(tmp_path), "approval_policy": "never"}
        holding = (await client.post("/v1/tasks", json=body)).json()
        await wait_state(client, holding["id"], {"running"})
    await second.start()
    async with second.client() as client:
        (approval,) = (await client.get("/v1/approvals", params={"state": "pending"})).json()[
            "approvals"
        ]
        decided = await client.post(f"/v1/approvals/{approval['id']}", json={"decision": "accept"})
        assert decided.status_code == 200, decided.text
        done = await wait_state(client, asking["id"], TERMINAL, timeout=60)
        assert done["state"] == "completed", done
        assert (tmp_path / "approved.txt").exists()  # Codex on the first host ran it
        interrupted = await client.post(f"/v1/tasks/{holding['id']}/interrupt")
        assert interrupted.status_code == 200, interrupted.text
        assert interrupted.json()["state"] == "interrupted"


async def test_a_follow_up_on_another_host_resumes_the_same_thread_with_its_history(
    hosts: Hosts, daemon_model: MockModelServer, tmp_path: Path
) -> None:
    first, second = hosts
    async with first.client() as client:
        created = await client.post("/v1/tasks", json={"prompt": "quick", "cwd": str(tmp_path)})
        task_id = created.json()["id"]
        done = await wait_state(client, task_id, TERMINAL)
    first.stop()  # its Codex home (and the thread's session file in it) is out of reach
    await second.start()
    async with second.client() as client:
        sent = await client.post(f"/v1/tasks/{task_id}/message", json={"prompt": "what did I say"})
        assert sent.status_code == 200, sent.text
        again = await wait_state(client, task_id, TERMINAL)
        events = (await client.get(f"/v1/tasks/{task_id}/events")).json()["events"]
    assert again["state"] == "completed" and again["thread_id"] == done["thread_id"]
    assert not [e for e in events if e["type"] == "codex.thread.replaced"]
    (request,) = [r for r in daemon_model.requests if r.last_user_text == "what did I say"]
    assert "quick" in request.user_texts  # the earlier turn came along with the thread


async def test_an_interrupted_turns_work_goes_on_with_the_task_to_another_host(
    hosts: Hosts, repo: Path
) -> None:
    first, second = hosts
    first_id = (first.home / "host-id").read_text().strip()
    async with first.client() as client:
        body = {"prompt": "write then hold", "repo": str(repo)}
        task_id = (await client.post("/v1/tasks", json=body)).json()["id"]
        await wait_state(client, task_id, {"running"})
        worktree = first.home / "worktrees" / task_id
        for _ in range(100):  # Codex's command runs in the worktree: polled, another process
            if (worktree / "wip.txt").exists():
                break
            await asyncio.sleep(0.1)
        interrupted = (await client.post(f"/v1/tasks/{task_id}/interrupt")).json()
        assert interrupted["state"] == "interrupted"
        assert interrupted["diff_summary"], interrupted  # committed on the task branch
        await client.post(f"/v1/hosts/{first_id}/drain")
    first.stop()
    await second.start()
    async with second.client() as client:
        sent = await client.post(f"/v1/tasks/{task_id}/message", json={"prompt": "quick"})
        assert sent.status_code == 200, sent.text
        done = await wait_state(client, task_id, TERMINAL)
    assert done["state"] == "completed" and done["host_id"] != first_id
    assert (second.home / "worktrees" / task_id / "wip.txt").read_text() == "wip\n"


async def test_a_host_cut_off_from_the_database_is_fenced_off_when_it_reaches_it_again(
    daemon_model: MockModelServer, postgres: PostgresServer, tmp_path: Path
) -> None:
    """A partition: the first host reaches the database through a proxy the test cuts (its
    model server and everything else stay reachable); the second takes its task over, and
    once the link is back the first writes nothing more for it."""
    url = postgres.new_database()
    name = url.split("@/", 1)[1].split("?")[0]
    proxy = CuttableProxy(postgres.socket_dir / ".s.PGSQL.5432")
    await proxy.start()
    behind = f"postgresql+psycopg://postgres@127.0.0.1:{proxy.port}/{name}"
    first = Daemon(host_home(tmp_path, "a", daemon_model, behind))
    second = Daemon(host_home(tmp_path, "b", daemon_model, url))
    try:
        await first.start()
        async with first.client() as client:
            body = {"prompt": "hold the line", "cwd": str(tmp_path)}
            task_id = (await client.post("/v1/tasks", json=body)).json()["id"]
            await wait_state(client, task_id, {"running"})
        await second.start()
        second_host = (second.home / "host-id").read_text().strip()
        await proxy.cut()
        async with second.client() as client:
            done = await wait_state(client, task_id, TERMINAL, timeout=60)
            assert done["state"] == "completed" and done["host_id"] == second_host
            await proxy.restore()
            hosts = await wait_hosts_alive(client)  # the first came back and registered again
            assert len(hosts) == 2
            after = (await client.get(f"/v1/tasks/{task_id}")).json()
        assert (after["state"], after["host_id"], after["lease"]) == ("completed", second_host, 3)
        assert after["final_message"] == "carried on"
    finally:
        await asyncio.to_thread(first.stop)  # the proxy runs on this loop: stop off it
        await asyncio.to_thread(second.stop)
        await proxy.close()


async def test_a_failed_turns_work_is_kept_on_the_task_branch_for_the_next_host(
    hosts: Hosts, repo: Path
) -> None:
    first, _ = hosts
    async with first.client() as client:
        body = {"prompt": "write then break", "repo": str(repo)}
        task_id = (await client.post("/v1/tasks", json=body)).json()["id"]
        failed = await wait_state(client, task_id, TERMINAL)
    assert failed["state"] == "failed", failed
    assert failed["diff_summary"] and "wip.txt" in failed["diff_summary"], failed
