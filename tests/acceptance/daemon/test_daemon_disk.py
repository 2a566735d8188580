"""The disk commands against a real daemon: `gc --dry-run` asks git what it would keep and
removes nothing, `gc` then removes and records it on the task, `disk` accounts for it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .conftest import StartDaemon
from .harness import TERMINAL, all_events, git, wait_state

pytestmark = pytest.mark.acceptance


async def test_gc_dry_run_keeps_unmerged_work_lists_merged_work_and_removes_nothing(
    start_daemon: StartDaemon, repo: Path
) -> None:
    daemon = await start_daemon()
    async with daemon.client() as client:
        response = await client.post("/v1/tasks", json={"prompt": "write notes", "repo": str(repo)})
        task = response.json()
        done = await wait_state(client, task["id"], TERMINAL)
        assert done["state"] == "completed", done
        worktree = daemon.home / "worktrees" / task["id"]

        code, out, err = await daemon.cli("disk", "--json")
        assert code == 0, err
        kinds = {k["kind"]: k for k in json.loads(out)["kinds"]}
        assert kinds["worktrees"]["bytes"] > 0 and kinds["worktrees"]["files"] > 0

        # notes.txt is committed on the task branch, not merged: gc keeps it, dry or not.
        code, out, err = await daemon.cli("gc", "--retention", "0", "--dry-run", "--json")
        assert code == 0, err
        unmerged = json.loads(out)
        assert unmerged["dry_run"] and unmerged["removed"] == []
        assert unmerged["kept"][0]["reason"] == "unmerged_work"

        git(repo, "merge", "--quiet", "--no-edit", done["branch"])
        code, out, err = await daemon.cli("gc", "--retention", "0", "--dry-run")
        assert code == 0, err
        assert out.splitlines()[0].startswith("would remove 1 worktree(s), ")
        assert str(worktree) in out
        assert (worktree / "notes.txt").exists()
        events = await all_events(client, task["id"])
        assert "workspace.removed" not in [e["type"] for e in events]

        code, out, err = await daemon.cli("gc", "--retention", "0")
        assert code == 0, err
        assert out.startswith("removed 1 worktree(s), ")
        assert not worktree.exists()
        removed = (await all_events(client, task["id"]))[-1]
        assert removed["type"] == "workspace.removed"
        assert removed["data"]["rule"] == "retention" and removed["data"]["bytes"] > 0

        code, out, err = await daemon.cli("disk", "--check", "--json")
        assert code == 0, err
        check = json.loads(out)
        # Whatever the machine's free space, the default policy only reports.
        assert check["dry_run"] and all(c["outcome"] != "removed" for c in check["candidates"])
