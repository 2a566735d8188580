"""A model alias ([codex.models]) on the real Codex: Codex is asked for the real model."""

from __future__ import annotations

from pathlib import Path

import pytest

from codex_runner.mockmodel import MockModelServer

from .conftest import StartDaemon
from .harness import TERMINAL, wait_state

pytestmark = pytest.mark.acceptance


async def test_a_model_alias_reaches_codex_as_the_model_it_stands_for(
    start_daemon: StartDaemon, daemon_model: MockModelServer, tmp_path: Path
) -> None:
    daemon = await start_daemon(codex={"models": {"fast": "mock-model-mini"}})
    async with daemon.client() as client:
        body = {"prompt": "quick", "cwd": str(tmp_path), "model": "fast"}
        response = await client.post("/v1/tasks", json=body)
        assert response.status_code == 201, response.text
        assert response.json()["model"] == "mock-model-mini"
        done = await wait_state(client, response.json()["id"], TERMINAL)
        assert done["state"] == "completed", done
    (request,) = [r for r in daemon_model.requests if r.last_user_text == "quick"]
    assert request.body["model"] == "mock-model-mini"
