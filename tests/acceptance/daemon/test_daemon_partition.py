"""A real partition: the first host runs in its own network namespace and reaches the
database and the model only through a veth link, which the test takes down (``ip link set
down``: packets are dropped and connections hang, nothing is refused or reset). The host
stops its own turn once its lease runs out, the second host takes the task over and
finishes it, and when the link is back the first host learns it was taken over, registers
again and writes nothing more for the task. The real Codex against the scripted model."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from codex_runner.mockmodel import MockModelServer

from ...support.cuttable_proxy import CuttableProxy
from ...support.netns import LinkedNamespace, namespace_unavailable
from ...support.postgres import PostgresServer
from .harness import TERMINAL, Daemon, wait_state
from .test_daemon_hosts import host_home

pytestmark = pytest.mark.acceptance


@pytest.fixture
def namespace() -> Iterator[LinkedNamespace]:
    why_not = namespace_unavailable()
    if why_not is not None:
        pytest.skip(why_not)
    linked = LinkedNamespace()
    try:
        linked.create()
    except RuntimeError as exc:  # e.g. a container without CAP_NET_ADMIN
        pytest.skip(f"no network namespace here: {exc}")
    try:
        yield linked
    finally:
        linked.delete()


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


async def _until(check: Any, what: str, timeout: float) -> None:
    """Poll ``check()`` (another process's state: there is no event to wait on)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not check():
        if loop.time() > deadline:
            raise AssertionError(f"{what} within {timeout:g} s")
        await asyncio.sleep(0.1)


async def _hosts_alive(client: httpx.AsyncClient, count: int, timeout: float) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        hosts = (await client.get("/v1/hosts")).json()["hosts"]
        if len(hosts) == count and all(h["dead_at"] is None for h in hosts):
            return
        if loop.time() > deadline:
            raise AssertionError(f"the hosts did not all come back: {hosts}")
        await asyncio.sleep(0.2)


async def test_a_partitioned_host_stops_its_turn_and_the_other_host_finishes_the_task(
    daemon_model: MockModelServer,
    postgres: PostgresServer,
    namespace: LinkedNamespace,
    tmp_path: Path,
) -> None:
    url = postgres.new_database()
    name = url.split("@/", 1)[1].split("?")[0]
    database = CuttableProxy(postgres.socket_dir / ".s.PGSQL.5432", host=namespace.near_ip)
    model = CuttableProxy(("127.0.0.1", daemon_model.port), host=namespace.near_ip)
    await database.start()
    await model.start()
    behind = f"postgresql+psycopg://postgres@{namespace.near_ip}:{database.port}/{name}"
    first = Daemon(host_home(tmp_path, "a", daemon_model, behind))
    config = first.home / "config.toml"
    config.write_text(
        config.read_text().replace(
            daemon_model.base_url, f"http://{namespace.near_ip}:{model.port}/v1"
        )
    )
    first.wrapper = namespace.prefix
    first.serve_args = ["--host", namespace.far_ip, "--allow-remote"]
    second = Daemon(host_home(tmp_path, "b", daemon_model, url))
    cut = False
    try:
        await first.start()
        async with first.client() as client:
            body = {"prompt": "hold the line", "cwd": str(tmp_path)}
            task_id = (await client.post("/v1/tasks", json=body)).json()["id"]
            await wait_state(client, task_id, {"running"})

        def commands_running() -> bool:  # its turn's `sleep 30`, in the namespace
            return any("sleep 30" in _cmdline(pid) for pid in namespace.pids())

        await _until(commands_running, "the first host's turn did not run its command", 30)
        await second.start()
        second_host = (second.home / "host-id").read_text().strip()
        namespace.cut()
        cut = True
        # Cut off, the first host stops its turn itself (its lease ran out); Codex ends the
        # turn's command. The second host takes the task over and finishes it.
        await _until(lambda: not commands_running(), "the cut-off host's turn ran on", 30)
        async with second.client() as client:
            done = await wait_state(client, task_id, TERMINAL, timeout=60)
            assert done["state"] == "completed" and done["host_id"] == second_host
            namespace.restore()
            cut = False
            await _hosts_alive(client, 2, timeout=60)  # the first is back, registered again
            after = (await client.get(f"/v1/tasks/{task_id}")).json()
        assert (after["state"], after["host_id"], after["lease"]) == ("completed", second_host, 3)
        assert after["final_message"] == "carried on"
        log = "".join(p.read_text() for p in (first.home / "logs" / "runner").glob("*.jsonl"))
        assert "could not renew its lease" in log, log[-3000:]
    finally:
        if cut:
            namespace.restore()
        await asyncio.to_thread(first.stop)  # the proxies run on this loop: stop off it
        await asyncio.to_thread(second.stop)
        await database.close()
        await model.close()
