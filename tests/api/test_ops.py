from __future__ import annotations

import json
import logging
import re

import httpx
import pytest
from sqlalchemy.ext.asyncio import create_async_engine

from api.app import create_app
from api.observability import JsonFormatter
from core import db
from core.config import get_settings
from core.models import InboundMessage, JobRun, OutboundEmail, Role
from tests.api.conftest import MakePerson


async def test_request_id_is_echoed_or_made(client: httpx.AsyncClient) -> None:
    given = await client.get("/healthz", headers={"X-Request-ID": "proxy-abc.123"})
    assert given.headers["x-request-id"] == "proxy-abc.123"
    made = await client.get("/healthz", headers={"X-Request-ID": "bad id\nwith junk"})
    assert re.fullmatch(r"[0-9a-f]{32}", made.headers["x-request-id"])
    error = await client.get("/api/v1/tickets/1")
    assert error.status_code == 401 and error.headers["x-request-id"]


async def test_metrics_by_route_template_and_queue_depths(
    client: httpx.AsyncClient, make_person: MakePerson, session
) -> None:
    agent = await make_person(Role.agent)
    for ticket_id in (101, 202, 303):  # three ids, one route template
        await client.get(f"/api/v1/tickets/{ticket_id}", headers=agent.headers)
    session.add_all(
        [
            InboundMessage(raw_sha256="0" * 64, status="received"),
            InboundMessage(raw_sha256="1" * 64, status="processed"),
            OutboundEmail(
                kind="test",
                event_key="k",
                recipient="a@test.ac.kr",
                from_address="help@test.ac.kr",
                subject="s",
                message_id="<m1@test>",
                body_text="b",
                status="queued",
            ),
            JobRun(job_id="sla_scan", status="failed"),
            JobRun(job_id="sla_scan", status="succeeded"),
        ]
    )
    await session.commit()
    text = (await client.get("/metrics")).text
    counts = [line for line in text.splitlines() if "duration_seconds_count" in line]
    assert (
        'servicedesk_http_request_duration_seconds_count{method="GET",'
        'route="/api/v1/tickets/{ticket_id}",status="404"} 3.0'
    ) in counts, counts
    assert "/api/v1/tickets/101" not in text
    assert "servicedesk_inbound_queue_depth 1.0" in text
    assert "servicedesk_outbox_depth 1.0" in text
    assert 'servicedesk_job_failures_24h{job="sla_scan"} 1.0' in text


def test_json_log_lines_carry_the_request_id() -> None:
    from api.observability import request_id_var

    token = request_id_var.set("rid-1")
    try:
        record = logging.makeLogRecord({"msg": "hello %s", "args": ("세계",), "levelname": "INFO"})
        record.route = "/x"
        line = json.loads(JsonFormatter().format(record))
    finally:
        request_id_var.reset(token)
    assert (
        line["message"] == "hello 세계" and line["request_id"] == "rid-1" and line["route"] == "/x"
    )


async def test_database_down_answers_503(engine, make_person: MakePerson) -> None:
    person = await make_person()
    dead = create_async_engine(
        "postgresql+psycopg://postgres@127.0.0.1:1/none", connect_args={"connect_timeout": 2}
    )
    db.use_engine(dead)
    try:
        app = create_app(manage_engine=False)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://t") as c:
            for path in ("/api/v1/tickets", "/api/v1/auth/me", "/readyz"):
                response = await c.get(path, headers=person.headers)
                assert response.status_code == 503, (path, response.text)
                assert response.json()["error"] == "unavailable"
            login = await c.post("/api/v1/auth/login", json={"email": "a@b.kr", "password": "x"})
            assert login.status_code == 503
    finally:
        await dead.dispose()
        db.use_engine(engine)


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/api/v1/tickets/99999999999999999999", None),
        ("GET", "/api/v1/tickets?created_from=not-a-date", None),
        ("GET", "/api/v1/tickets?status=bogus", None),
        ("POST", "/api/v1/tickets", {"subject": "a\u0000b", "body": "x"}),
        ("POST", "/api/v1/tickets", {"subject": "ok", "body": "x", "category_id": 2**63}),
        ("PATCH", "/api/v1/tickets/1", {"status": None}),
        ("POST", "/api/v1/tickets/bulk", {"ticket_ids": []}),
        ("GET", "/api/v1/users?q=%00", None),
        ("POST", "/api/v1/auth/login", {"email": "x" * 400, "password": "y"}),
    ],
)
async def test_hostile_input_never_500(
    client: httpx.AsyncClient, make_person: MakePerson, method: str, path: str, body
) -> None:
    agent = await make_person(Role.agent)
    response = await client.request(method, path, json=body, headers=agent.headers)
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        assert set(response.json()) == {"error", "detail"}


async def test_metrics_want_the_token_when_one_is_set(
    client: httpx.AsyncClient, monkeypatch
) -> None:
    monkeypatch.setenv("METRICS_TOKEN", "scrape-secret")
    get_settings.cache_clear()
    try:
        missing = await client.get("/metrics")
        assert missing.status_code == 401 and "METRICS_TOKEN" in missing.json()["detail"]
        wrong = await client.get("/metrics", headers={"Authorization": "Bearer guess"})
        assert wrong.status_code == 401
        odd = await client.get("/metrics", headers={"Authorization": b"Bearer caf\xe9"})
        assert odd.status_code == 401
        right = await client.get("/metrics", headers={"Authorization": "Bearer scrape-secret"})
        assert right.status_code == 200 and "servicedesk_outbox_depth" in right.text
    finally:
        monkeypatch.delenv("METRICS_TOKEN")
        get_settings.cache_clear()
