"""``GET /metrics``: the runner's metrics in the Prometheus text format (docs/metrics.md).

Behind the API token like every route, unless ``[metrics] public = true`` opens this one
path to a scraper that holds no token.
"""

from __future__ import annotations

from starlette.responses import Response

from codex_runner.http.errors import ERROR_RESPONSES, error_response
from codex_runner.http.routing import Router
from codex_runner.service.metrics import CONTENT_TYPE, RunnerMetrics


def metrics_router(metrics: RunnerMetrics, *, public: bool = False) -> Router:
    """The ``/metrics`` route; ``public`` serves it without the API token."""
    router = Router(tags=["daemon"], responses=ERROR_RESPONSES, authenticates_itself=public)

    @router.get("/metrics")
    async def scrape() -> Response:
        """Every metric, read now, in the Prometheus text format."""
        try:
            body = await metrics.render()
        except TimeoutError:
            return error_response(
                503, "metrics_unavailable", "the store did not answer in time; scrape again"
            )
        return Response(body, media_type=CONTENT_TYPE)

    return router
