"""GET /metrics over a real TaskService with the scripted Codex, parsed with
prometheus_client's own text parser."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from codex_runner.api.app import create_app
from codex_runner.api.routes_metrics import metrics_router
from codex_runner.domain.task import TaskState
from codex_runner.service.metrics import RunnerMetrics
from codex_runner.service.metrics_snapshot import MetricsProbes
from codex_runner.service.tasks import TaskService

from .conftest import AUTH, BASE_URL, TOKEN, make_service

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


@dataclass
class Scraper:
    client: httpx.AsyncClient
    metrics: RunnerMetrics
    service: TaskService
    plain: Path

    async def scrape(self) -> Samples:
        response = await self.client.get("/metrics", headers=AUTH)
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("text/plain")
        samples: Samples = {}
        for family in text_string_to_metric_families(response.text):
            for s in family.samples:
                samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
        return samples

    async def scrape_until(self, name: str, labels: dict[str, str], value: float) -> Samples:
        """Scrape until the sample has ``value`` (the observer runs beside the request)."""
        key = (name, tuple(sorted(labels.items())))
        async with asyncio.timeout(5):
            while True:
                samples = await self.scrape()
                if samples.get(key) == value:
                    return samples
                await asyncio.sleep(0.01)

    async def submit(self, prompt: str) -> str:
        response = await self.client.post(
            "/v1/tasks", json={"prompt": prompt, "cwd": str(self.plain)}, headers=AUTH
        )
        assert response.status_code == 201, response.text
        return str(response.json()["id"])


@pytest.fixture
async def scraper(tmp_path: Path) -> AsyncIterator[Scraper]:
    async with ScrapedService(tmp_path, public=False) as s:
        yield s


class ScrapedService:
    """A TaskService with /metrics mounted, started and stopped around a block."""

    def __init__(self, tmp_path: Path, *, public: bool) -> None:
        self.tmp_path = tmp_path
        self.public = public

    async def __aenter__(self) -> Scraper:
        service, self.runtime, _store, bus, _ws = make_service(self.tmp_path)
        self.service = service
        plain = self.tmp_path / "plain"
        plain.mkdir(parents=True)
        self.metrics = RunnerMetrics(
            service,
            bus,
            MetricsProbes(
                sse_streams=lambda: 2,
                bus_subscribers=bus.subscriber_count,
                bridges=lambda: {"slack": "connected", "link": "connecting"},
                auth_profile=lambda: "work",
            ),
        )
        app = create_app(
            service,
            token=TOKEN,
            ready=lambda: True,
            routers=[metrics_router(self.metrics, public=self.public)],
        )
        self.metrics.start()
        await service.start()
        self.client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE_URL)
        return Scraper(self.client, self.metrics, service, plain)

    async def __aexit__(self, *exc: object) -> None:
        self.runtime.gate.set()
        await self.client.aclose()
        await self.service.stop()
        await self.metrics.stop()


async def test_a_finished_task_shows_in_counts_durations_turns_and_tokens(
    scraper: Scraper,
) -> None:
    before = await scraper.scrape()
    assert before[("codex_runner_tasks", (("state", "completed"),))] == 0
    assert ("codex_runner_turns_total", (("outcome", "completed"),)) not in before

    task_id = await scraper.submit("fix it")
    after = await scraper.scrape_until("codex_runner_turns_total", {"outcome": "completed"}, 1.0)
    after = await scraper.scrape_until("codex_runner_tasks", {"state": "completed"}, 1.0)
    assert task_id
    assert after[("codex_runner_turn_duration_seconds_count", (("outcome", "completed"),))] == 1
    assert after[("codex_runner_queue_wait_seconds_count", ())] == 1
    assert after[("codex_runner_task_duration_seconds_count", (("state", "completed"),))] == 1
    # The scripted turn reports 3 input tokens; the task names no model.
    assert after[("codex_runner_tokens_total", (("kind", "input"), ("model", "default")))] == 3
    assert after[("codex_runner_events_total", (("type", "task.created"),))] == 1
    assert after[("codex_runner_codex_up", (("state", "ready"),))] == 1
    assert after[("codex_runner_event_streams", ())] == 2
    assert (
        after[("codex_runner_bridge_connected", (("bridge", "slack"), ("state", "connected")))] == 1
    )
    assert (
        after[("codex_runner_bridge_connected", (("bridge", "link"), ("state", "connecting")))] == 0
    )


async def test_a_pending_approval_is_counted_with_its_age(scraper: Scraper) -> None:
    await scraper.submit("ask first")
    samples = await scraper.scrape_until("codex_runner_pending_approvals", {}, 1.0)
    assert samples[("codex_runner_oldest_pending_approval_age_seconds", ())] >= 0
    assert samples[("codex_runner_tasks", (("state", TaskState.AWAITING_APPROVAL.value),))] == 1


async def test_rate_limits_are_labelled_by_profile_and_window(scraper: Scraper) -> None:
    status = scraper.service.runtime.status()
    status.rate_limits = {
        "primary": {"usedPercent": 42, "windowDurationMins": 300, "resetsAt": 1_800_000_000},
        "secondary": {"usedPercent": 7, "windowDurationMins": 10080},
    }
    scraper.service.runtime.status = lambda: status  # type: ignore[method-assign]
    samples = await scraper.scrape()
    labels = (("profile", "work"), ("window", "primary"))
    assert samples[("codex_runner_rate_limit_used_percent", labels)] == 42
    assert samples[("codex_runner_rate_limit_resets_at_seconds", labels)] == 1_800_000_000
    secondary = (("profile", "work"), ("window", "secondary"))
    assert samples[("codex_runner_rate_limit_window_minutes", secondary)] == 10080


async def test_metrics_need_the_token_unless_public(tmp_path: Path) -> None:
    async with ScrapedService(tmp_path / "private", public=False) as private:
        assert (await private.client.get("/metrics")).status_code == 401
        assert (await private.client.get("/metrics", headers=AUTH)).status_code == 200
    async with ScrapedService(tmp_path / "public", public=True) as public:
        response = await public.client.get("/metrics")
        assert response.status_code == 200
        assert "codex_runner_tasks" in response.text
        # Opening /metrics opens nothing else.
        assert (await public.client.get("/v1/tasks")).status_code == 401
