"""Prometheus metrics. Queue depths and job failures are counted at scrape time."""

from __future__ import annotations

import hmac

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from api.deps import SessionDep, bearer_header
from api.observability import Metrics
from core.config import get_settings
from core.errors import Unauthorized
from core.ops import service as ops

router = APIRouter(tags=["ops"])


def _check_token(request: Request, token: str) -> None:
    # Bytes: compare_digest refuses str with non-ASCII characters, which a header can carry.
    given = (bearer_header(request) or "").encode()
    if token and not hmac.compare_digest(given, token.encode()):
        raise Unauthorized("metrics need Authorization: Bearer <METRICS_TOKEN>")


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {"text/plain": {}}, "description": "Prometheus text format"}},
)
async def metrics(request: Request, session: SessionDep) -> Response:
    """Prometheus text: latency by route, inbound queue and outbox depth, job failures.
    With METRICS_TOKEN set, only for `Authorization: Bearer <METRICS_TOKEN>`."""
    _check_token(request, get_settings().metrics_token)
    registry: Metrics = request.app.state.metrics
    gauges = await ops.system_gauges(session)
    registry.inbound_depth.set(gauges.inbound_queue_depth)
    registry.outbox_depth.set(gauges.outbox_depth)
    registry.job_failures.clear()
    for job, count in gauges.job_failures_24h.items():
        registry.job_failures.labels(job).set(count)
    registry.job_failures_total.set(sum(gauges.job_failures_24h.values()))
    return Response(generate_latest(registry.registry), media_type=CONTENT_TYPE_LATEST)
