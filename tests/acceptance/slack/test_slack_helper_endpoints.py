"""The agent's helper endpoints: own thread only, files only from inside the workspace."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from codex_runner.domain.task import TaskState

from .conftest import API_TOKEN, Factory, Harness
from .fake_slack import BOT_USER_ID

pytestmark = pytest.mark.acceptance

C = "C0GENERAL"


async def _session(h: Harness) -> tuple[str, Path, dict[str, Any]]:
    root = await h.slack.say(C, "U1", f"<@{BOT_USER_ID}> hello")
    ts = str(root["ts"])
    task = await h.task_of(C, ts)
    await h.wait_state(task.id, TaskState.COMPLETED)
    assert task.workspace.cwd is not None
    workspace = Path(task.workspace.cwd)
    creds = json.loads((workspace.parent / "session.json").read_text())
    return ts, workspace, creds


async def test_post_file_refuses_paths_and_symlinks_out_of_the_workspace(
    harness: Factory, tmp_path: Path
) -> None:
    async with harness() as h:
        ts, workspace, creds = await _session(h)
        secret = tmp_path / "secret.txt"
        secret.write_text("not for Slack")
        (workspace / "link").symlink_to(secret)
        (workspace / "dir").mkdir()
        (workspace / "dir" / "escape").symlink_to(tmp_path)
        (workspace / "report.md").write_text("# results\n")
        headers = {creds["header"]: creds["session_key"]}
        async with httpx.AsyncClient(base_url=creds["url"], headers=headers, timeout=30) as http:
            for path in (
                "../session.json",
                "../../runner.sqlite",
                "link",
                "dir/escape/secret.txt",
                str(secret),
            ):
                resp = await http.post("/slack/post-file", json={"file_path": path})
                assert resp.status_code == 403, (path, resp.text)
                assert "outside" in resp.json()["error"]["message"]
            missing = await http.post("/slack/post-file", json={"file_path": "nope.txt"})
            assert missing.status_code == 404
            ok = await http.post(
                "/slack/post-file", json={"file_path": "report.md", "comment": "here"}
            )
            assert ok.status_code == 200, ok.text
            inline = await http.post(
                "/slack/post-file",
                json={
                    "content_base64": base64.b64encode(b"a,b\n1,2\n").decode(),
                    "filename": "../../data.csv",
                },
            )
            assert inline.status_code == 200 and inline.json()["filename"] == "data.csv"

        def shared() -> list[Any] | None:
            done = [u for u in h.slack.uploads.values() if u.channel]
            return done if len(done) == 2 else None

        uploads = await h.slack.wait_for(shared)
        assert [(u.filename, u.data, u.thread_ts) for u in uploads] == [
            ("report.md", b"# results\n", ts),
            ("data.csv", b"a,b\n1,2\n", ts),
        ]
        assert uploads[0].comment == "here"


async def test_a_session_may_only_use_its_own_thread(harness: Factory) -> None:
    async with harness() as h:
        ts, _, creds = await _session(h)
        good = {creds["header"]: creds["session_key"]}
        async with httpx.AsyncClient(base_url=creds["url"], timeout=30) as http:
            no_key = await http.post("/slack/post-message", json={"text": "hi"})
            assert no_key.status_code == 403
            bad_key = await http.post(
                "/slack/post-message",
                json={"text": "hi"},
                headers={creds["header"]: "sk_guess"},
            )
            assert bad_key.status_code == 403
            elsewhere = await http.post(
                "/slack/post-message",
                json={"text": "hi", "channel_id": "C0OTHER", "thread_ts": ts},
                headers=good,
            )
            assert elsewhere.status_code == 403
            posted = await http.post(
                "/slack/post-message", json={"text": "**Build** is `green`"}, headers=good
            )
            assert posted.status_code == 200, posted.text
            await h.slack.wait_for(lambda: "*Build* is `green`" in h.slack.bot_texts(C, ts))
            history = await http.get(
                "/slack/thread-history", params={"limit": 500, "format": "text"}, headers=good
            )
            assert history.status_code == 200
            assert "Ann: @codex hello" in history.text and "codex: Hi there" in history.text
            as_json = await http.get(
                "/slack/thread-history",
                params={"format": "json", "before_ts": ts, "channel_id": C, "thread_ts": ts},
                headers=good,
            )
            assert as_json.json()["messages"] == []  # nothing before the thread's root
            other = await http.get(
                "/slack/thread-history", params={"thread_ts": "1.000001"}, headers=good
            )
            assert other.status_code == 403


async def test_the_agent_holds_a_session_key_and_never_the_api_token(harness: Factory) -> None:
    async with harness() as h:
        _, _, creds = await _session(h)
        assert set(creds) == {"url", "session_key", "header", "channel_id", "thread_ts"}
        assert API_TOKEN not in json.dumps(creds)
        async with httpx.AsyncClient(base_url=creds["url"], timeout=30) as http:
            # The session key alone opens the helper routes...
            history = await http.get(
                "/slack/thread-history", headers={creds["header"]: creds["session_key"]}
            )
            assert history.status_code == 200, history.text
            # ...nothing else: no key, a wrong key, or the API token in its place.
            for headers in (
                {},
                {creds["header"]: "sk_wrong"},
                {"Authorization": f"Bearer {API_TOKEN}"},
            ):
                refused = await http.post(
                    "/slack/post-message", json={"text": "x"}, headers=headers
                )
                assert refused.status_code == 403, (headers, refused.text)
                assert "session key" in refused.json()["error"]["message"]
            # The rest of the API still wants the token.
            other = await http.get("/openapi.json", headers={creds["header"]: creds["session_key"]})
            assert other.status_code == 401
