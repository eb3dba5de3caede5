"""The authorisation matrix: EVERY endpoint of the app x {anonymous, requester A, requester B,
agent, admin}. Each case runs in a fresh desk (one rolled-back transaction) holding requester A's
ticket with a public reply, an internal note, files on both, a CC, a pending upload, and the mail
log, outbound log, job runs, SLA policies and calendars an admin manages.

The endpoint list comes from the app's routes, so a router another helper adds later is covered
automatically: a route with no row in EXPECTATIONS fails `test_every_route_has_expectations`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from starlette.routing import Route

from api.app import create_app
from core.attachments import service as attachments
from core.config import get_settings
from core.models import (
    BusinessCalendar,
    CalendarHoliday,
    CannedResponse,
    Category,
    InboundMessage,
    JobRun,
    MagicLinkToken,
    Notification,
    OutboundEmail,
    Role,
    SlaPolicy,
    Team,
    TeamMember,
    Visibility,
)
from core.storage import get_storage
from core.tickets import service as tickets
from tests.api.conftest import MakePerson, Person

ROLES = ("anonymous", "requester_a", "requester_b", "agent", "admin")
PASSWORD = "matrix password"
RAW_MAIL = (
    b"From: Outsider <outsider@elsewhere.example>\r\n"
    b"To: help@test.ac.kr\r\n"
    b"Subject: =?utf-8?b?7ZSE66aw7YSwIOusuOydmA==?=\r\n"
    b"Message-ID: <matrix-1@elsewhere.example>\r\n"
    b"Date: Sat, 28 Nov 2026 10:00:00 +0900\r\n"
    b"MIME-Version: 1.0\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n\r\n"
    b"Hello, the printer is broken.\r\n"
)


# --- the desk every case starts from -------------------------------------------------------------


@dataclass
class World:
    people: dict[str, Person]
    ids: dict[str, Any] = field(default_factory=dict)

    def headers(self, role: str) -> dict[str, str]:
        return {} if role == "anonymous" else self.people[role].headers


async def build_world(session: AsyncSession, make_person: MakePerson) -> World:
    people = {
        "requester_a": await make_person(Role.requester, password=PASSWORD),
        "requester_b": await make_person(Role.requester),
        "agent": await make_person(Role.agent),
        "admin": await make_person(Role.admin),
    }
    cc = await make_person(Role.requester)
    world = World(people)
    a, agent = people["requester_a"].user, people["agent"].user
    team = Team(name="매트릭스팀")
    session.add(team)
    await session.flush()
    session.add(TeamMember(team_id=team.id, user_id=agent.id))
    category = Category(name="매트릭스 분류", default_team_id=team.id)
    canned = CannedResponse(title="안내", body="재부팅해 보세요", team_id=team.id)
    session.add_all([category, canned])
    await session.flush()

    ticket_a, _ = await tickets.open_ticket(
        session, requester=a, subject="A의 문의", body_text="본문"
    )
    other_a, _ = await tickets.open_ticket(
        session, requester=a, subject="A의 다른 문의", body_text="x"
    )
    ticket_b, _ = await tickets.open_ticket(
        session, requester=people["requester_b"].user, subject="B의 문의", body_text="비밀"
    )
    await tickets.add_participant(session, ticket=ticket_a, user=cc.user)
    public = await tickets.add_comment(session, ticket=ticket_a, author=agent, body_text="답변")
    internal = await tickets.add_comment(
        session,
        ticket=ticket_a,
        author=agent,
        body_text="내부 메모",
        visibility=Visibility.internal,
    )
    public_file = await attachments.store_bytes(
        session,
        data=b"public",
        filename="public.txt",
        content_type="text/plain",
        ticket_id=ticket_a.id,
        comment_id=public.id,
        uploader_id=agent.id,
    )
    internal_file = await attachments.store_bytes(
        session,
        data=b"internal",
        filename="internal.txt",
        content_type="text/plain",
        ticket_id=ticket_a.id,
        comment_id=internal.id,
        uploader_id=agent.id,
    )
    pending, _ = await attachments.begin_upload(
        session, uploader_id=a.id, filename="mine.txt", size=4, content_type="text/plain"
    )
    await get_storage().put(pending.storage_key, b"mine", content_type="text/plain")
    loose, _ = await attachments.begin_upload(
        session, uploader_id=a.id, filename="loose.txt", size=5, content_type="text/plain"
    )
    await get_storage().put(loose.storage_key, b"loose", content_type="text/plain")
    await attachments.complete_upload(session, attachment_id=loose.id, uploader_id=a.id)
    unsent, _ = await attachments.begin_upload(
        session, uploader_id=a.id, filename="later.txt", size=5, content_type="text/plain"
    )

    session.add(
        MagicLinkToken(
            user_id=a.id,
            token_hash=hashlib.sha256(b"matrix-token").hexdigest(),
            expires_at=datetime.now(UTC) + timedelta(minutes=5),
        )
    )
    notification = Notification(user_id=a.id, ticket_id=ticket_a.id, kind="test", title="알림")
    outbound = OutboundEmail(
        kind="test",
        event_key="matrix",
        recipient=a.email,
        from_address="help@test.ac.kr",
        subject="s",
        message_id="<matrix-out@test>",
        body_text="b",
        status="failed",
    )
    inbound = InboundMessage(
        raw=RAW_MAIL,
        raw_size=len(RAW_MAIL),
        raw_sha256=hashlib.sha256(RAW_MAIL).hexdigest(),
        mail_from="outsider@elsewhere.example",
        rcpt_to=["help@test.ac.kr"],
        from_address="outsider@elsewhere.example",
        subject="프린터 문의",
        message_id="<matrix-1@elsewhere.example>",
        status="quarantined",
        reason="matrix",
    )
    run = JobRun(job_id="purge_stale_uploads", status="failed", error="boom")
    calendar = BusinessCalendar(name="매트릭스 달력")
    session.add_all([notification, outbound, inbound, run, calendar])
    await session.flush()
    holiday = CalendarHoliday(calendar_id=calendar.id, day=date(2026, 12, 31), name="종무")
    policy = SlaPolicy(name="매트릭스 SLA", first_response_minutes=60, resolution_minutes=480)
    session.add_all([holiday, policy])
    await session.commit()

    storage = get_storage()
    download = await storage.presign_download(
        public_file.storage_key, filename="public.txt", content_type="text/plain"
    )
    upload = await storage.presign_upload(unsent.storage_key, size=5, content_type="text/plain")
    world.ids = {
        "ticket_a": ticket_a.id,
        "other_a": other_a.id,
        "ticket_b": ticket_b.id,
        "cc": cc.id,
        "public_file": public_file.id,
        "internal_file": internal_file.id,
        "pending_upload": pending.id,
        "loose_upload": loose.id,
        "team": team.id,
        "category": category.id,
        "canned": canned.id,
        "notification": notification.id,
        "outbound": outbound.id,
        "inbound": inbound.id,
        "run": run.id,
        "calendar": calendar.id,
        "holiday": holiday.id,
        "policy": policy.id,
        "local_get": urlsplit(download),
        "local_put": urlsplit(upload.url),
        "unsent_key": unsent.storage_key,
        "a_email": a.email,
        "b_user": people["requester_b"].id,
        "agent_user": agent.id,
    }
    return world


# --- expectations -----------------------------------------------------------------------------

ALLOW = "allow"  # 2xx or 3xx
NOT_FOUND = 404  # may not see it: it does not exist for them
FORBIDDEN = 403
UNAUTHENTICATED = 401

PUBLIC = dict.fromkeys(ROLES, ALLOW)
SIGNED_IN = {**dict.fromkeys(ROLES, ALLOW), "anonymous": UNAUTHENTICATED}
STAFF = {
    "anonymous": UNAUTHENTICATED,
    "requester_a": FORBIDDEN,
    "requester_b": FORBIDDEN,
    "agent": ALLOW,
    "admin": ALLOW,
}
ADMIN = {**STAFF, "agent": FORBIDDEN}
# Requester A's ticket: A and the desk; B must not learn it exists.
OWNER = {**STAFF, "requester_a": ALLOW, "requester_b": NOT_FOUND}
ONLY_A = {**OWNER, "agent": NOT_FOUND, "admin": NOT_FOUND}
# Internal: the desk only, and requesters get the same 404 as for a missing id.
DESK_ONLY = {**OWNER, "requester_a": NOT_FOUND}


@dataclass
class Case:
    expect: dict[str, Any]
    path: Callable[[dict[str, Any]], dict[str, Any]] = lambda ids: {}
    body: Callable[[dict[str, Any]], Any] | None = None
    query: Callable[[dict[str, Any]], dict[str, Any]] = lambda ids: {}
    check: Callable[[str, httpx.Response, World], None] | None = None
    variant: str = ""
    raw_url: Callable[[dict[str, Any]], str] | None = None
    content: bytes | None = None
    extra_headers: dict[str, str] = field(default_factory=dict)
    # Storage is not transactional: undo what a role's request stored before the next role.
    stored_key: Callable[[dict[str, Any]], str] | None = None


def ticket(ids):
    return {"ticket_id": ids["ticket_a"]}


def no_b_ticket_for_a(role: str, response: httpx.Response, world: World) -> None:
    listed = {t["id"] for t in response.json()["items"]}
    if role.startswith("requester"):
        own = "ticket_a" if role == "requester_a" else "ticket_b"
        other = "ticket_b" if role == "requester_a" else "ticket_a"
        assert world.ids[own] in listed and world.ids[other] not in listed, listed
    else:
        assert {world.ids["ticket_a"], world.ids["ticket_b"]} <= listed


def internal_hidden(role: str, response: httpx.Response, world: World) -> None:
    visibilities = {c["visibility"] for c in response.json()}
    files = {a["id"] for c in response.json() for a in c["attachments"]}
    if role.startswith("requester"):
        assert visibilities == {"public"} and world.ids["internal_file"] not in files
    else:
        assert "internal" in visibilities and world.ids["internal_file"] in files


def detail_files(role: str, response: httpx.Response, world: World) -> None:
    files = {a["id"] for a in response.json()["attachments"]}
    assert world.ids["public_file"] in files
    assert (world.ids["internal_file"] in files) == (role in ("agent", "admin"))


def search_no_leak(role: str, response: httpx.Response, world: World) -> None:
    # "비밀" is only in B's ticket; "내부" only in A's internal note.
    assert all(t["id"] != world.ids["ticket_b"] for t in response.json()["items"]) or role in (
        "requester_b",
        "agent",
        "admin",
    )


def requester_events(role: str, response: httpx.Response, world: World) -> None:
    kinds = {e["kind"] for e in response.json()}
    if role == "requester_a":
        assert "participant_added" not in kinds


def notifications_own(role: str, response: httpx.Response, world: World) -> None:
    items = response.json()["items"] if isinstance(response.json(), dict) else response.json()
    ids = {n["id"] for n in items}
    assert (world.ids["notification"] in ids) == (role == "requester_a")


EXPECTATIONS: dict[str, list[Case]] = {
    # --- documentation and operations
    "GET /openapi.json": [Case(PUBLIC)],
    "GET /docs": [Case(PUBLIC)],
    "GET /docs/oauth2-redirect": [Case(PUBLIC)],
    "GET /redoc": [Case(PUBLIC)],
    "GET /healthz": [Case(PUBLIC)],
    "GET /readyz": [Case(PUBLIC)],
    "GET /metrics": [Case(PUBLIC)],
    # --- local storage "presigned" URLs: the signed token is the capability, not a login
    "GET /api/v1/storage/local/{key}": [
        Case(PUBLIC, raw_url=lambda ids: ids["local_get"].path + "?" + ids["local_get"].query),
        Case(
            dict.fromkeys(ROLES, FORBIDDEN),
            variant="tampered token",
            raw_url=lambda ids: ids["local_get"].path + "?token=forged",
        ),
    ],
    "PUT /api/v1/storage/local/{key}": [
        Case(
            PUBLIC,
            raw_url=lambda ids: ids["local_put"].path + "?" + ids["local_put"].query,
            content=b"later",
            extra_headers={"Content-Type": "text/plain"},
            stored_key=lambda ids: ids["unsent_key"],
        ),
        Case(
            dict.fromkeys(ROLES, FORBIDDEN),
            variant="tampered token",
            raw_url=lambda ids: ids["local_put"].path + "?token=forged",
            content=b"later",
            extra_headers={"Content-Type": "text/plain"},
        ),
    ],
    # --- auth
    "POST /api/v1/auth/login": [
        Case(PUBLIC, body=lambda ids: {"email": ids["a_email"], "password": PASSWORD})
    ],
    "POST /api/v1/auth/logout": [Case(PUBLIC)],
    "POST /api/v1/auth/magic-link": [Case(PUBLIC, body=lambda ids: {"email": ids["a_email"]})],
    "POST /api/v1/auth/magic-link/verify": [
        Case(PUBLIC, body=lambda ids: {"token": "matrix-token"})
    ],
    "GET /api/v1/auth/me": [Case(SIGNED_IN)],
    "PATCH /api/v1/auth/me": [Case(SIGNED_IN, body=lambda ids: {"locale": "en"})],
    # --- tickets
    "GET /api/v1/tickets": [
        Case(SIGNED_IN, check=no_b_ticket_for_a),
        Case(SIGNED_IN, variant="search", query=lambda ids: {"q": "비밀"}, check=search_no_leak),
    ],
    "GET /api/v1/tickets/counts": [Case(STAFF)],
    "POST /api/v1/tickets": [
        Case(SIGNED_IN, body=lambda ids: {"subject": "새 문의", "body": "내용"})
    ],
    "POST /api/v1/tickets/bulk": [
        Case(STAFF, body=lambda ids: {"ticket_ids": [ids["ticket_a"]], "priority": "high"})
    ],
    "GET /api/v1/tickets/{ticket_id}": [
        Case(OWNER, path=ticket, check=detail_files),
        Case(
            {**OWNER, "requester_a": NOT_FOUND, "requester_b": ALLOW},
            variant="B's ticket",
            path=lambda ids: {"ticket_id": ids["ticket_b"]},
        ),
    ],
    "PATCH /api/v1/tickets/{ticket_id}": [
        Case(OWNER, path=ticket, body=lambda ids: {"status": "closed"}),
        Case(
            {**OWNER, "requester_a": FORBIDDEN},
            variant="assign",
            path=ticket,
            body=lambda ids: {"assignee_id": ids["agent_user"]},
        ),
    ],
    "POST /api/v1/tickets/{ticket_id}/merge": [
        Case(STAFF, path=ticket, body=lambda ids: {"into_ticket_id": ids["other_a"]})
    ],
    "GET /api/v1/tickets/{ticket_id}/comments": [Case(OWNER, path=ticket, check=internal_hidden)],
    "POST /api/v1/tickets/{ticket_id}/comments": [
        Case(OWNER, path=ticket, body=lambda ids: {"body": "답장"}),
        Case(
            {**OWNER, "requester_a": FORBIDDEN},
            variant="internal note",
            path=ticket,
            body=lambda ids: {"body": "메모", "visibility": "internal"},
        ),
    ],
    "GET /api/v1/tickets/{ticket_id}/events": [Case(OWNER, path=ticket, check=requester_events)],
    "POST /api/v1/tickets/{ticket_id}/participants": [
        Case(OWNER, path=ticket, body=lambda ids: {"email": "new.cc@test.ac.kr"})
    ],
    "DELETE /api/v1/tickets/{ticket_id}/participants/{user_id}": [
        Case(OWNER, path=lambda ids: {"ticket_id": ids["ticket_a"], "user_id": ids["cc"]})
    ],
    # --- files
    "POST /api/v1/uploads": [
        Case(
            SIGNED_IN,
            body=lambda ids: {"filename": "a.txt", "size": 3, "content_type": "text/plain"},
        )
    ],
    "POST /api/v1/uploads/{attachment_id}/complete": [
        Case(ONLY_A, path=lambda ids: {"attachment_id": ids["pending_upload"]})
    ],
    "GET /api/v1/attachments/{attachment_id}": [
        Case(OWNER, path=lambda ids: {"attachment_id": ids["public_file"]}),
        Case(
            DESK_ONLY,
            variant="internal note's file",
            path=lambda ids: {"attachment_id": ids["internal_file"]},
        ),
        Case(
            {**ONLY_A, "admin": ALLOW},
            variant="completed, not yet attached",
            path=lambda ids: {"attachment_id": ids["loose_upload"]},
        ),
    ],
    # --- directory and configuration
    "GET /api/v1/users": [Case(STAFF)],
    "POST /api/v1/users": [Case(ADMIN, body=lambda ids: {"email": "made@test.ac.kr"})],
    "GET /api/v1/users/{user_id}": [
        # Anyone may read their own record; other people's are for the desk.
        Case({**STAFF, "requester_b": ALLOW}, path=lambda ids: {"user_id": ids["b_user"]}),
    ],
    "PATCH /api/v1/users/{user_id}": [
        Case(ADMIN, path=lambda ids: {"user_id": ids["b_user"]}, body=lambda ids: {"role": "agent"})
    ],
    "GET /api/v1/teams": [Case(STAFF)],
    "POST /api/v1/teams": [Case(ADMIN, body=lambda ids: {"name": "새 팀"})],
    "PATCH /api/v1/teams/{team_id}": [
        Case(ADMIN, path=lambda ids: {"team_id": ids["team"]}, body=lambda ids: {"name": "바뀐 팀"})
    ],
    "DELETE /api/v1/teams/{team_id}": [Case(ADMIN, path=lambda ids: {"team_id": ids["team"]})],
    "PUT /api/v1/teams/{team_id}/members": [
        Case(
            ADMIN,
            path=lambda ids: {"team_id": ids["team"]},
            body=lambda ids: {"user_ids": [ids["agent_user"]]},
        )
    ],
    "GET /api/v1/categories": [Case(SIGNED_IN)],
    "POST /api/v1/categories": [Case(ADMIN, body=lambda ids: {"name": "새 분류"})],
    "PATCH /api/v1/categories/{category_id}": [
        Case(
            ADMIN,
            path=lambda ids: {"category_id": ids["category"]},
            body=lambda ids: {"active": False},
        )
    ],
    "GET /api/v1/canned-responses": [Case(STAFF)],
    "POST /api/v1/canned-responses": [
        Case(ADMIN, body=lambda ids: {"title": "새 답변", "body": "본문"})
    ],
    "PATCH /api/v1/canned-responses/{canned_id}": [
        Case(
            ADMIN,
            path=lambda ids: {"canned_id": ids["canned"]},
            body=lambda ids: {"title": "바뀐 답변"},
        )
    ],
    "DELETE /api/v1/canned-responses/{canned_id}": [
        Case(ADMIN, path=lambda ids: {"canned_id": ids["canned"]})
    ],
    # --- notifications (the outbound helper's routes): each user's own only
    "GET /api/v1/notifications": [Case(SIGNED_IN, check=notifications_own)],
    "GET /api/v1/notifications/unread-count": [Case(SIGNED_IN)],
    "POST /api/v1/notifications/read-all": [Case(SIGNED_IN)],
    "POST /api/v1/notifications/{notification_id}/read": [
        Case(ONLY_A, path=lambda ids: {"notification_id": ids["notification"]})
    ],
    "GET /api/v1/notifications/stream": [Case(SIGNED_IN)],
    # --- outbound mail log (admins)
    "GET /api/v1/admin/outbound": [Case(ADMIN)],
    "GET /api/v1/admin/outbound/{email_id}": [
        Case(ADMIN, path=lambda ids: {"email_id": ids["outbound"]})
    ],
    "POST /api/v1/admin/outbound/{email_id}/retry": [
        Case(ADMIN, path=lambda ids: {"email_id": ids["outbound"]})
    ],
    # --- inbound mail log (admins)
    "GET /api/v1/admin/inbound": [Case(ADMIN)],
    "GET /api/v1/admin/inbound/{message_id}": [
        Case(ADMIN, path=lambda ids: {"message_id": ids["inbound"]})
    ],
    "GET /api/v1/admin/inbound/{message_id}/raw": [
        Case(ADMIN, path=lambda ids: {"message_id": ids["inbound"]})
    ],
    "POST /api/v1/admin/inbound/{message_id}/reprocess": [
        Case(ADMIN, path=lambda ids: {"message_id": ids["inbound"]})
    ],
    "POST /api/v1/admin/inbound/{message_id}/release": [
        Case(ADMIN, path=lambda ids: {"message_id": ids["inbound"]})
    ],
    "POST /api/v1/admin/inbound/{message_id}/discard": [
        Case(ADMIN, path=lambda ids: {"message_id": ids["inbound"]})
    ],
    "POST /api/v1/admin/inbound/release-bulk": [
        Case(ADMIN, body=lambda ids: {"ids": [ids["inbound"]], "mode": "plain"})
    ],
    # --- jobs (admins)
    "GET /api/v1/admin/jobs": [Case(ADMIN)],
    "GET /api/v1/admin/jobs/{job_id}/runs": [
        Case(ADMIN, path=lambda ids: {"job_id": "purge_stale_uploads"})
    ],
    "GET /api/v1/admin/job-runs/{run_id}": [Case(ADMIN, path=lambda ids: {"run_id": ids["run"]})],
    "POST /api/v1/admin/jobs/{job_id}/run": [
        Case(ADMIN, path=lambda ids: {"job_id": "purge_stale_uploads"})
    ],
    # --- SLA policies and calendars (admins)
    "GET /api/v1/admin/sla-policies": [Case(ADMIN)],
    "POST /api/v1/admin/sla-policies": [
        Case(
            ADMIN,
            body=lambda ids: {
                "name": "새 SLA",
                "first_response_minutes": 30,
                "resolution_minutes": 240,
            },
        )
    ],
    "PATCH /api/v1/admin/sla-policies/{policy_id}": [
        Case(
            ADMIN,
            path=lambda ids: {"policy_id": ids["policy"]},
            body=lambda ids: {"resolution_minutes": 600},
        )
    ],
    "DELETE /api/v1/admin/sla-policies/{policy_id}": [
        Case(ADMIN, path=lambda ids: {"policy_id": ids["policy"]})
    ],
    "GET /api/v1/admin/calendars": [Case(ADMIN)],
    "POST /api/v1/admin/calendars": [Case(ADMIN, body=lambda ids: {"name": "새 달력"})],
    "PATCH /api/v1/admin/calendars/{calendar_id}": [
        Case(
            ADMIN,
            path=lambda ids: {"calendar_id": ids["calendar"]},
            body=lambda ids: {"name": "바뀐 달력"},
        )
    ],
    "DELETE /api/v1/admin/calendars/{calendar_id}": [
        Case(ADMIN, path=lambda ids: {"calendar_id": ids["calendar"]})
    ],
    "GET /api/v1/admin/calendars/{calendar_id}/holidays": [
        Case(ADMIN, path=lambda ids: {"calendar_id": ids["calendar"]})
    ],
    "POST /api/v1/admin/calendars/{calendar_id}/holidays": [
        Case(
            ADMIN,
            path=lambda ids: {"calendar_id": ids["calendar"]},
            body=lambda ids: {"day": "2026-12-30", "name": "휴무"},
        )
    ],
    "DELETE /api/v1/admin/calendars/{calendar_id}/holidays/{holiday_id}": [
        Case(
            ADMIN,
            path=lambda ids: {"calendar_id": ids["calendar"], "holiday_id": ids["holiday"]},
        )
    ],
}


# --- the routes of the app ----------------------------------------------------------------------


def _walk(routes: list[Any]) -> list[tuple[str, str]]:
    found = []
    for route in routes:
        if hasattr(route, "original_router"):  # FastAPI's included router
            found += _walk(route.original_router.routes)
        elif isinstance(route, APIRoute | Route):
            path = route.path.replace("{key:path}", "{key}")
            found += [(m, path) for m in sorted(route.methods or ()) if m != "HEAD"]
    return found


def app_endpoints(app: FastAPI) -> list[str]:
    return sorted({f"{method} {path}" for method, path in _walk(app.routes)})


ENDPOINTS = app_endpoints(create_app(manage_engine=False))
CASES = [
    pytest.param(endpoint, index, id=f"{endpoint}{f' [{case.variant}]' if case.variant else ''}")
    for endpoint in ENDPOINTS
    for index, case in enumerate(EXPECTATIONS.get(endpoint, []))
]


def test_every_route_has_expectations() -> None:
    missing = [e for e in ENDPOINTS if e not in EXPECTATIONS]
    assert not missing, f"routes without authorisation expectations: {missing}"
    stale = [e for e in EXPECTATIONS if e not in ENDPOINTS]
    assert not stale, f"expectations for routes that no longer exist: {stale}"


@pytest.fixture(autouse=True)
def local_storage(tmp_path, monkeypatch):
    monkeypatch.setenv("STORAGE_BACKEND", "local")
    monkeypatch.setenv("LOCAL_UPLOAD_ROOT", str(tmp_path / "uploads"))
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


async def _send_stream_request(app: FastAPI, path: str, headers: dict[str, str]) -> int:
    """Server-Sent Events never end: call the ASGI app directly and disconnect at once."""
    sent: list[dict[str, Any]] = []
    requested = False

    async def receive() -> dict[str, Any]:
        nonlocal requested
        if not requested:
            requested = True
            return {"type": "http.request", "body": b"", "more_body": False}
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": ("127.0.0.1", 1234),
        "server": ("t", 80),
    }
    await app(scope, receive, send)
    return next(m["status"] for m in sent if m["type"] == "http.response.start")


async def _call(
    case: Case, endpoint: str, role: str, world: World, api_app: FastAPI, client: httpx.AsyncClient
) -> str | None:
    """One request as `role`; a description of the failure, or None if it went as expected."""
    method, template = endpoint.split(" ", 1)
    headers = {**world.headers(role), **case.extra_headers}
    url = case.raw_url(world.ids) if case.raw_url else template.format(**case.path(world.ids))
    response = None
    if template.endswith("/stream"):
        status = await _send_stream_request(api_app, url, headers)
    else:
        response = await client.request(
            method,
            url,
            params=None if case.raw_url else case.query(world.ids),
            json=case.body(world.ids) if case.body else None,
            content=case.content,
            headers=headers,
        )
        status = response.status_code
    expected = case.expect[role]
    detail = response.text[:200] if response is not None else ""
    if expected == ALLOW:
        if status >= 400:
            return f"{role}: expected success, got {status} {detail}"
        if case.check is not None and response is not None:
            try:
                case.check(role, response, world)
            except AssertionError as exc:
                return f"{role}: {status} but {exc}"
    elif status != expected:
        return f"{role}: expected {expected}, got {status} {detail}"
    return None


@pytest.mark.parametrize(("endpoint", "index"), CASES)
async def test_authorisation(
    endpoint: str,
    index: int,
    connection: AsyncConnection,
    session: AsyncSession,
    make_person: MakePerson,
    api_app: FastAPI,
    client: httpx.AsyncClient,
) -> None:
    """Each role's request runs on the same desk and is then undone (a savepoint), so a
    successful delete by one role does not change what the next role finds."""
    case = EXPECTATIONS[endpoint][index]
    world = await build_world(session, make_person)
    failures = []
    for role in ROLES:
        await connection.execute(text("SAVEPOINT matrix_role"))
        try:
            failure = await _call(case, endpoint, role, world, api_app, client)
        finally:
            if session.in_transaction():
                await session.rollback()
            await connection.execute(text("ROLLBACK TO SAVEPOINT matrix_role"))
            session.expire_all()
            client.cookies.clear()
            if case.stored_key is not None:
                await get_storage().delete(case.stored_key(world.ids))
        if failure:
            failures.append(failure)
    assert not failures, f"{endpoint}: " + "; ".join(failures)
