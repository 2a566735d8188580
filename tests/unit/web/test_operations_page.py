"""The Operations page drawn on the server: runtime and Codex release, each bridge with its
queued chat messages, the pending approvals with the oldest, and the disk bars."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from codex_runner.domain.approval import Approval, ApprovalKind
from codex_runner.domain.jobs import Job, JobState
from codex_runner.domain.task import Task, WorkspaceRequest
from codex_runner.service.metrics_disk import KindUsage
from codex_runner.service.operations import OperationsReader, ReleaseInUse
from codex_runner.web.operations import operations_context

from .conftest import Browser, Site


class Disk:
    def current(self) -> dict[str, KindUsage]:
        return {"logs": KindUsage(2048, 3), "worktrees": KindUsage(5 * 1024 * 1024, 40)}


async def approval_waiting(site: Site, task_id: str, command: str, age_s: float) -> None:
    now = datetime.now(UTC)
    await site.store.create_task(
        Task(
            id=task_id,
            prompt="deploy",
            workspace=WorkspaceRequest.directory(str(site.plain_dir)),
            created_at=now,
            updated_at=now,
        )
    )
    await site.store.create_approval(
        Approval(
            id=f"a_{task_id}",
            task_id=task_id,
            request_id="r1",
            kind=ApprovalKind.COMMAND,
            created_at=now - timedelta(seconds=age_s),
            command=command,
        )
    )


async def test_the_page_shows_runtime_bridges_approvals_and_disk(
    site: Site, browser: Browser
) -> None:
    await approval_waiting(site, "t_newer", "make test", 5)
    await approval_waiting(site, "t_older", "make deploy", 600)
    now = datetime.now(UTC)
    for job_id, state in (("j_running", JobState.RUNNING), ("j_done", JobState.SUCCEEDED)):
        await site.store.add_job(
            Job(
                job_id,
                "t_older",
                ("make", "e2e"),
                "e2e suite",
                "h1",
                now,
                3600.0,
                state=state,
                started_at=now - timedelta(seconds=90),
            )
        )
    reader = OperationsReader(
        site.service,
        disk=Disk(),  # type: ignore[arg-type]
        release=lambda: ReleaseInUse("0.63.0", "0.63.0"),
        bridges=lambda: {"slack": "connected", "link": "reconnecting"},
        chat_input=lambda: {"slack": 3, "link": 0},
    )
    context = operations_context(await reader.read(), None)
    assert ("Codex version", "0.63.0 (release 0.63.0)") in context["runtime_facts"]
    assert [(b["key"], b["state"], b["queued"]) for b in context["bridges"]] == [
        ("link", "reconnecting", 0),
        ("slack", "connected", 3),
    ]
    assert context["approvals_count"] == 2
    assert context["oldest_approval"]["task_id"] == "t_older"
    assert context["oldest_approval"]["waited"].startswith("10m")
    assert "worktrees" in str(context["disk_chart"])
    # Only the jobs under way, with how long they have run.
    assert [(j["id"], j["state"], j["running_for"][:2]) for j in context["jobs"]] == [
        ("j_running", "running", "1m")
    ]

    # The page as the browser gets it (over the service alone: no bridge runs).
    page = await browser.client.get("/admin/operations")
    assert page.status_code == 200, page.text
    assert 'id="ops-no-bridges"' in page.text
    assert '<a href="/admin/tasks/t_older">t_older</a>' in page.text
    assert "make deploy" in page.text and 'id="ops-log-level"' in page.text
    assert 'data-job="j_running"' in page.text and "j_done" not in page.text


@pytest.mark.parametrize("path", ["/admin/operations", "/admin/profiles"])
async def test_the_new_pages_are_in_the_nav(browser: Browser, path: str) -> None:
    page = await browser.client.get(path)
    assert page.status_code == 200
    assert f'href="{path}"' in page.text and 'class="active">' in page.text
