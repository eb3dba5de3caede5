"""Request ids, structured (JSON) logs and Prometheus metrics for the API process.

Every request gets an id: the caller's `X-Request-ID` if it looks like one (a proxy's), else a new
one; it is echoed in the response and attached to every log line written while serving it. The
latency histogram is labelled by route TEMPLATE (`/api/v1/tickets/{ticket_id}`), never by the raw
path, so a scan of ids cannot explode the number of series.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import time
import uuid
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

REQUEST_ID_HEADER = "x-request-id"
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")
request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "request_id", default=None
)
access_logger = logging.getLogger("api.access")

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics:
    """The API's metrics in their own registry (one per app: tests build many apps)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.latency = Histogram(
            "servicedesk_http_request_duration_seconds",
            "HTTP request latency by route template",
            ("method", "route", "status"),
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.requests = Counter(
            "servicedesk_http_requests",
            "HTTP requests by route template and status",
            ("method", "route", "status"),
            registry=self.registry,
        )
        self.inbound_depth = Gauge(
            "servicedesk_inbound_queue_depth",
            "Inbound messages waiting for the pipeline (received or processing)",
            registry=self.registry,
        )
        self.outbox_depth = Gauge(
            "servicedesk_outbox_depth",
            "Outbound mails waiting to be sent (queued or sending)",
            registry=self.registry,
        )
        self.job_failures = Gauge(
            "servicedesk_job_failures_24h",
            "Failed job runs in the last 24 hours, by job",
            ("job",),
            registry=self.registry,
        )
        self.job_failures_total = Gauge(
            "servicedesk_job_failures_24h_total",
            "Failed job runs in the last 24 hours, all jobs",
            registry=self.registry,
        )


def route_template(scope: Scope) -> str:
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else "unmatched"


class RequestContextMiddleware:
    """Pure ASGI (no BaseHTTPMiddleware): request id in and out, one access log line, latency."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = None
        for name, value in scope.get("headers", ()):
            if name == b"x-request-id":
                incoming = value.decode("latin-1")
                break
        request_id = (
            incoming if incoming and _VALID_REQUEST_ID.match(incoming) else uuid.uuid4().hex
        )
        token = request_id_var.set(request_id)
        status = 500
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", ()))
                headers.append((b"x-request-id", request_id.encode("latin-1")))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            route = route_template(scope)
            labels = (scope.get("method", ""), route, str(status))
            self.metrics.latency.labels(*labels).observe(elapsed)
            self.metrics.requests.labels(*labels).inc()
            access_logger.info(
                "request",
                extra={
                    "method": scope.get("method"),
                    "route": route,
                    "path": scope.get("path"),
                    "status": status,
                    "duration_ms": round(elapsed * 1000, 2),
                },
            )
            request_id_var.reset(token)


class JsonFormatter(logging.Formatter):
    """One JSON object per line, with the request id of the request being served."""

    _STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = getattr(record, "request_id", None) or request_id_var.get()
        if request_id:
            entry["request_id"] = request_id
        for key, value in vars(record).items():
            if key not in self._STANDARD and key != "request_id":
                entry[key] = value
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def configure_logging(level: str = "INFO") -> None:
    """JSON logs on stderr for the API's own loggers (api.*, core.*)."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter())
    for name in ("api", "core"):
        logger = logging.getLogger(name)
        logger.handlers = [handler]
        logger.setLevel(level.upper())
        logger.propagate = False


def install(app: Any) -> Metrics:
    """Add the request-context middleware (outermost) and the app's metrics registry."""
    metrics = Metrics()
    app.state.metrics = metrics
    app.add_middleware(RequestContextMiddleware, metrics=metrics)
    return metrics
