"""In-app notifications: who gets one, the API (list, unread count, read, read-all) and the live
Server-Sent Events stream over a real HTTP server."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator

import httpx
import pytest
import uvicorn

from api.app import create_app
from api.routers import notifications as notifications_router
from core import db
from core.auth.jwt import issue_access_token
from core.models import CommentSource, Role, User
from core.tickets import repository as tickets_repo
from core.tickets import service as tickets
from tests.outbound.support import free_port, make_user, wait_for


def _auth(user: User) -> dict[str, str]:
    return {"Authorization": f"Bearer {issue_access_token(user_id=user.id)}"}


@pytest.fixture
async def api(committed_db) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(manage_engine=False)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://t") as c:
        yield c


async def _desk() -> tuple[User, User, User, int]:
    requester = await make_user("n-req@univ.ac.kr", name="Requester")
    agent = await make_user("n-agent@univ.ac.kr", name="Agent", role=Role.agent, locale="en")
    lead = await make_user("n-lead@univ.ac.kr", name="Lead", role=Role.admin)
    async with db.session_scope() as session:
        ticket, _ = await tickets.open_ticket(
            session, requester=requester, subject="Projector", body_text="No signal."
        )
    return requester, agent, lead, ticket.id


async def _assign(ticket_id: int, assignee: User, actor: User) -> None:
    async with db.session_scope() as session:
        ticket = await tickets_repo.get_ticket(session, ticket_id)
        await tickets.assign(session, ticket=ticket, assignee=assignee, actor=actor)


async def _requester_writes(ticket_id: int, requester: User, text: str) -> None:
    async with db.session_scope() as session:
        ticket = await tickets_repo.get_ticket(session, ticket_id)
        await tickets.add_comment(
            session, ticket=ticket, author=requester, body_text=text, source=CommentSource.email
        )


async def test_agents_are_notified_in_app_and_can_read_them(api: httpx.AsyncClient) -> None:
    requester, agent, lead, ticket_id = await _desk()
    await _assign(ticket_id, agent, lead)
    await _requester_writes(ticket_id, requester, "Still no signal, room 301.")
    await _assign(ticket_id, lead, lead)  # self-assignment: nobody is told

    listed = (await api.get("/api/v1/notifications", headers=_auth(agent))).json()
    kinds = [n["kind"] for n in listed["items"]]
    assert kinds == ["requester_reply", "assigned"]  # newest first
    newest = listed["items"][0]
    assert newest["title"].endswith("Requester replied: Projector")
    assert newest["body"] == "Still no signal, room 301."
    assert newest["ticket_id"] == ticket_id and newest["read_at"] is None
    assert (await api.get("/api/v1/notifications", headers=_auth(lead))).json()["items"] == []
    assert (await api.get("/api/v1/notifications", headers=_auth(requester))).json()["items"] == []

    count = await api.get("/api/v1/notifications/unread-count", headers=_auth(agent))
    assert count.json() == {"count": 2}
    read = await api.post(f"/api/v1/notifications/{newest['id']}/read", headers=_auth(agent))
    assert read.status_code == 200 and read.json()["read_at"] is not None
    unread = await api.get("/api/v1/notifications?unread=true", headers=_auth(agent))
    assert [n["kind"] for n in unread.json()["items"]] == ["assigned"]
    # Someone else's notification does not exist for you.
    other = await api.post(f"/api/v1/notifications/{newest['id']}/read", headers=_auth(lead))
    assert other.status_code == 404 and other.json()["error"] == "not_found"
    done = await api.post("/api/v1/notifications/read-all", headers=_auth(agent))
    assert done.json() == {"updated": 1}
    count = await api.get("/api/v1/notifications/unread-count", headers=_auth(agent))
    assert count.json() == {"count": 0}
    assert (await api.get("/api/v1/notifications")).status_code == 401


async def test_notification_pages(api: httpx.AsyncClient) -> None:
    requester, agent, lead, ticket_id = await _desk()
    await _assign(ticket_id, agent, lead)
    for n in range(4):
        await _requester_writes(ticket_id, requester, f"message {n}")
    first = (await api.get("/api/v1/notifications?limit=3", headers=_auth(agent))).json()
    assert len(first["items"]) == 3 and first["next_cursor"] == first["items"][-1]["id"]
    rest = await api.get(
        f"/api/v1/notifications?limit=3&cursor={first['next_cursor']}", headers=_auth(agent)
    )
    assert len(rest.json()["items"]) == 2 and rest.json()["next_cursor"] is None
    bodies = [n["body"] for n in first["items"] + rest.json()["items"]]
    assert bodies == ["message 3", "message 2", "message 1", "message 0", "No signal."]


@contextlib.asynccontextmanager
async def live_api() -> AsyncIterator[str]:
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(manage_engine=False),
            host="127.0.0.1",
            port=port,
            log_level="warning",
            lifespan="off",
        )
    )
    task = asyncio.create_task(server.serve())
    await wait_for(lambda: server.started, deadline_s=20)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 20)


async def _next_event(lines: AsyncIterator[str], name: str) -> tuple[str | None, dict]:
    event_id, event = None, None
    async for line in lines:
        if line.startswith("id: "):
            event_id = line[4:]
        elif line.startswith("event: "):
            event = line[7:]
        elif line.startswith("data: ") and event == name:
            return event_id, json.loads(line[6:])
        elif not line:
            event_id, event = None, None
    raise AssertionError(f"stream ended before a {name} event")


async def test_live_stream_delivers_new_notifications_without_holding_a_connection(
    committed_db, monkeypatch
) -> None:
    monkeypatch.setattr(notifications_router, "POLL_SECONDS", 0.2)
    requester, agent, lead, ticket_id = await _desk()
    await _assign(ticket_id, agent, lead)  # one unread before the stream opens
    async with live_api() as base, httpx.AsyncClient(base_url=base, timeout=30) as client:
        async with client.stream(
            "GET", "/api/v1/notifications/stream", headers=_auth(agent)
        ) as response:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            lines = response.aiter_lines()
            _, first = await asyncio.wait_for(_next_event(lines, "unread_count"), 20)
            assert first == {"count": 1}
            # Between polls the stream holds no pooled database connection.
            assert committed_db.pool.checkedout() == 0
            await _requester_writes(ticket_id, requester, "Any update?")
            event_id, notification = await asyncio.wait_for(_next_event(lines, "notification"), 20)
            assert notification["kind"] == "requester_reply"
            assert notification["body"] == "Any update?"
            assert event_id == str(notification["id"])
            _, count = await asyncio.wait_for(_next_event(lines, "unread_count"), 20)
            assert count == {"count": 2}
        # A reconnect with Last-Event-ID gets what came after it.
        await _requester_writes(ticket_id, requester, "Hello?")
        async with client.stream(
            "GET",
            "/api/v1/notifications/stream",
            headers={**_auth(agent), "Last-Event-ID": event_id},
        ) as response:
            _, missed = await asyncio.wait_for(
                _next_event(response.aiter_lines(), "notification"), 20
            )
            assert missed["body"] == "Hello?"
        refused = await client.get("/api/v1/notifications/stream")
        assert refused.status_code == 401
