"""The admin mail log over HTTP: list by status, one message with headers and parse result, the raw
download, reprocess, release (new ticket / onto a ticket), discard; admins only."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from api.app import create_app
from api.deps import get_session
from core.auth.jwt import issue_access_token
from core.config import Settings
from core.models import Comment, Role, Ticket, TicketParticipant, User
from core.users import service as users
from tests.inbound.conftest import Ingest
from tests.inbound.mails import make_mail


@pytest.fixture
async def client(
    session: AsyncSession, inbound_settings: Settings
) -> AsyncIterator[httpx.AsyncClient]:
    app: FastAPI = create_app(manage_engine=False)

    async def test_session() -> AsyncIterator[AsyncSession]:
        try:
            yield session
            await session.commit()  # a savepoint of the test's transaction
        except BaseException:
            await session.rollback()
            raise

    app.dependency_overrides[get_session] = test_session
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://t") as c:
        yield c


async def _headers(session: AsyncSession, role: Role, email: str) -> dict[str, str]:
    user = await users.create_user(session, email=email, name=email.split("@")[0], role=role)
    await session.commit()  # ends the savepoint: a later failed request cannot roll it back
    return {"Authorization": f"Bearer {issue_access_token(user_id=user.id)}"}


@dataclass
class TicketRef:
    id: int
    number: int


@pytest.fixture
async def admin(session: AsyncSession) -> dict[str, str]:
    return await _headers(session, Role.admin, "admin@test.ac.kr")


async def _quarantined_hijack(session: AsyncSession, ingest: Ingest) -> tuple[TicketRef, int]:
    first = await ingest(make_mail(message_id="<own@univ.ac.kr>", sender="owner@univ.ac.kr"))
    ticket = await session.get(Ticket, first.ticket_id)
    assert ticket is not None
    forged = await ingest(
        make_mail(
            subject=f"[#{ticket.number}] 저도 같은 문제",
            sender="Colleague <colleague@univ.ac.kr>",
            message_id="<colleague@univ.ac.kr>",
        )
    )
    assert forged.status == "quarantined"
    await session.commit()
    # Plain copies: a request that fails rolls back and expires the rows.
    return TicketRef(ticket.id, ticket.number), forged.id


async def test_list_get_and_raw(
    client: httpx.AsyncClient, admin: dict[str, str], session: AsyncSession, ingest: Ingest
) -> None:
    ticket, forged_id = await _quarantined_hijack(session, ingest)
    listed = await client.get("/api/v1/admin/inbound", headers=admin)
    assert listed.status_code == 200, listed.text
    assert [m["status"] for m in listed.json()["items"]] == ["quarantined", "processed"]
    only = await client.get("/api/v1/admin/inbound?status=quarantined", headers=admin)
    [item] = only.json()["items"]
    assert item["id"] == forged_id and item["reason"].startswith("possible hijack")
    searched = await client.get("/api/v1/admin/inbound?q=colleague", headers=admin)
    assert [m["id"] for m in searched.json()["items"]] == [forged_id]
    page = await client.get("/api/v1/admin/inbound?limit=1", headers=admin)
    assert page.json()["next_cursor"] == str(forged_id)
    rest = await client.get(
        f"/api/v1/admin/inbound?limit=1&cursor={page.json()['next_cursor']}", headers=admin
    )
    assert [m["status"] for m in rest.json()["items"]] == ["processed"]

    detail = (await client.get(f"/api/v1/admin/inbound/{forged_id}", headers=admin)).json()
    headers = {h["name"]: h["value"] for h in detail["headers"]}
    assert headers["Subject"] == f"[#{ticket.number}] 저도 같은 문제"
    assert detail["parse_result"]["steps"][-1]["step"] == "verdict"
    assert detail["ticket"] == {"id": ticket.id, "number": ticket.number}
    assert detail["rcpt_to"] == ["help@test.ac.kr"] and detail["mail_from"] == "sender@univ.ac.kr"

    raw = await client.get(f"/api/v1/admin/inbound/{forged_id}/raw", headers=admin)
    assert raw.status_code == 200 and raw.headers["content-type"] == "message/rfc822"
    assert b"Message-ID: <colleague@univ.ac.kr>" in raw.content


async def test_release_as_new_ticket_and_onto_a_ticket(
    client: httpx.AsyncClient, admin: dict[str, str], session: AsyncSession, ingest: Ingest
) -> None:
    ticket, forged_id = await _quarantined_hijack(session, ingest)
    onto = await client.post(
        f"/api/v1/admin/inbound/{forged_id}/release", json={"ticket_id": ticket.id}, headers=admin
    )
    assert onto.status_code == 200, onto.text
    assert onto.json()["status"] == "processed" and onto.json()["ticket_id"] == ticket.id
    comments = list(
        await session.scalars(
            select(Comment).where(Comment.ticket_id == ticket.id).order_by(Comment.id)
        )
    )
    assert [c.source for c in comments] == ["email", "email", "system"]
    # The release is on the ticket for every agent to see: who, which mail, how.
    assert f"inbound message #{forged_id}" in comments[-1].body_text
    assert "admin" in comments[-1].body_text and "as claimed" in comments[-1].body_text
    # Released once: a second release is a conflict, the mail is on a ticket now.
    again = await client.post(f"/api/v1/admin/inbound/{forged_id}/release", headers=admin)
    assert again.status_code == 409 and again.json()["error"] == "conflict"

    _, second_id = await _quarantined_hijack_again(session, ingest, ticket)
    new = await client.post(f"/api/v1/admin/inbound/{second_id}/release", headers=admin)
    assert new.status_code == 200, new.text
    assert new.json()["ticket_id"] not in (None, ticket.id)
    actions = new.json()["parse_result"]["admin_actions"]
    assert actions[0]["action"] == "release"
    # Released as a new ticket, the deciding rule is still recorded.
    assert new.json()["trust"]["standing"] == "released by an admin"


async def _quarantined_hijack_again(
    session: AsyncSession, ingest: Ingest, ticket: TicketRef
) -> tuple[TicketRef, int]:
    row = await ingest(
        make_mail(
            subject=f"[#{ticket.number}] another stranger",
            sender="stranger@other.ac.kr",
            message_id="<stranger@other.ac.kr>",
        )
    )
    assert row.status == "quarantined"
    await session.commit()
    return ticket, row.id


async def test_reprocess_after_the_cause_is_fixed_and_discard(
    client: httpx.AsyncClient, admin: dict[str, str], session: AsyncSession, ingest: Ingest
) -> None:
    ticket, forged_id = await _quarantined_hijack(session, ingest)
    # Still a stranger: reprocessing quarantines again.
    still = await client.post(f"/api/v1/admin/inbound/{forged_id}/reprocess", headers=admin)
    assert still.status_code == 200 and still.json()["status"] == "quarantined"
    # The admin adds the colleague as a participant: the From is still unproven, and a subject
    # tag alone threads only verified mail.
    colleague = await session.scalar(select(User).where(User.email == "colleague@univ.ac.kr"))
    if colleague is None:
        colleague = await users.create_user(session, email="colleague@univ.ac.kr", name="C")
    session.add(TicketParticipant(ticket_id=ticket.id, user_id=colleague.id))
    await session.flush()
    spoof = await client.post(f"/api/v1/admin/inbound/{forged_id}/reprocess", headers=admin)
    assert spoof.json()["status"] == "quarantined"
    assert spoof.json()["reason"].startswith("possible spoof, subject tag only")
    # The admin knows the colleague: released as a plain comment onto the ticket it named.
    done = await client.post(
        f"/api/v1/admin/inbound/{forged_id}/release",
        json={"ticket_id": ticket.id, "mode": "plain"},
        headers=admin,
    )
    assert done.json()["status"] == "processed" and done.json()["ticket_id"] == ticket.id
    assert done.json()["parse_result"]["admin_actions"][-1]["mode"] == "plain"
    conflict = await client.post(f"/api/v1/admin/inbound/{forged_id}/reprocess", headers=admin)
    assert conflict.status_code == 409

    _, other_id = await _quarantined_hijack_again(session, ingest, ticket)
    discarded = await client.post(f"/api/v1/admin/inbound/{other_id}/discard", headers=admin)
    assert discarded.status_code == 200
    assert discarded.json()["status"] == "ignored"
    assert discarded.json()["reason"] == "discarded by admin@test.ac.kr"
    twice = await client.post(f"/api/v1/admin/inbound/{other_id}/discard", headers=admin)
    assert twice.status_code == 409


async def test_admins_only_and_unknown_ids(
    client: httpx.AsyncClient, admin: dict[str, str], session: AsyncSession, ingest: Ingest
) -> None:
    _, forged_id = await _quarantined_hijack(session, ingest)
    agent = await _headers(session, Role.agent, "agent@test.ac.kr")
    for method, path in [
        ("GET", "/api/v1/admin/inbound"),
        ("GET", f"/api/v1/admin/inbound/{forged_id}"),
        ("GET", f"/api/v1/admin/inbound/{forged_id}/raw"),
        ("POST", f"/api/v1/admin/inbound/{forged_id}/reprocess"),
        ("POST", f"/api/v1/admin/inbound/{forged_id}/release"),
        ("POST", f"/api/v1/admin/inbound/{forged_id}/discard"),
    ]:
        assert (await client.request(method, path)).status_code == 401
        assert (await client.request(method, path, headers=agent)).status_code == 403
    assert (await client.get("/api/v1/admin/inbound/999999", headers=admin)).status_code == 404
    missing_ticket = await client.post(
        f"/api/v1/admin/inbound/{forged_id}/release", json={"ticket_id": 999999}, headers=admin
    )
    assert missing_ticket.status_code == 404
    bad = await client.get("/api/v1/admin/inbound?status=lost", headers=admin)
    assert bad.status_code == 422


async def test_forged_agent_mail_released_plain_is_an_internal_note_and_modes_are_checked(
    client: httpx.AsyncClient, admin: dict[str, str], session: AsyncSession, ingest: Ingest
) -> None:
    agent = await users.create_user(session, email="agent@test.ac.kr", name="A", role=Role.agent)
    first = await ingest(make_mail(message_id="<p0@univ.ac.kr>", sender="owner@univ.ac.kr"))
    ticket = await session.get(Ticket, first.ticket_id)
    assert ticket is not None
    claimed = make_mail(
        subject=f"Re: [#{ticket.number}] 답변",
        sender="agent@test.ac.kr",
        message_id="<p1@evil>",
        headers={"Cc": "attacker@evil.example"},
    )
    row = await ingest(claimed)
    assert row.status == "quarantined" and row.reason.startswith("unverified staff sender")
    ticket_id, agent_id, row_id = ticket.id, agent.id, row.id
    await session.commit()
    listed = await client.get("/api/v1/admin/inbound?trust_level=unverified", headers=admin)
    assert row_id in [m["id"] for m in listed.json()["items"]]
    assert {m["trust_level"] for m in listed.json()["items"]} == {"unverified"}
    none = await client.get("/api/v1/admin/inbound?trust_level=verified", headers=admin)
    assert none.json()["items"] == []
    odd = await client.get("/api/v1/admin/inbound?trust_level=trusted", headers=admin)
    assert odd.status_code == 422
    detail = (await client.get(f"/api/v1/admin/inbound/{row_id}", headers=admin)).json()
    assert detail["trust_level"] == "unverified" and detail["trust"]["header_from"] == (
        "agent@test.ac.kr"
    )
    bad = await client.post(
        f"/api/v1/admin/inbound/{row_id}/release", json={"mode": "as-is"}, headers=admin
    )
    assert bad.status_code == 422
    released = await client.post(
        f"/api/v1/admin/inbound/{row_id}/release",
        json={"ticket_id": ticket_id, "mode": "plain"},
        headers=admin,
    )
    assert released.status_code == 200, released.text
    comment = await session.get(Comment, released.json()["comment_id"])
    assert comment is not None and comment.author_id == agent_id
    # Plain: nothing reaches the requester in the agent's name, and the Cc subscribed nobody.
    assert comment.visibility == "internal"
    participants = await session.scalars(
        select(TicketParticipant).where(TicketParticipant.ticket_id == ticket_id)
    )
    assert list(participants) == []


async def test_repeated_headers_each_show_their_own_value(
    client: httpx.AsyncClient, admin: dict[str, str], session: AsyncSession, ingest: Ingest
) -> None:
    """Which Authentication-Results sits where is the evidence: each line is shown as it is."""
    mail = make_mail(message_id="<h0@univ.ac.kr>")
    raw = (
        b"Authentication-Results: mx.test.ac.kr; dmarc=none\r\n"
        b"Received: from a by mx.test.ac.kr; 2 Dec 2026\r\n"
        b"Authentication-Results: mx.test.ac.kr; dmarc=pass header.from=univ.ac.kr\r\n"
        b"Received: from b by mail.evil.example; 2 Dec 2026\r\n" + mail.as_bytes()
    )
    row = await ingest(raw)
    row_id = row.id
    await session.commit()
    detail = (await client.get(f"/api/v1/admin/inbound/{row_id}", headers=admin)).json()
    results = [h["value"] for h in detail["headers"] if h["name"] == "Authentication-Results"]
    assert results == [
        "mx.test.ac.kr; dmarc=none",
        "mx.test.ac.kr; dmarc=pass header.from=univ.ac.kr",
    ]
    received = [h["value"] for h in detail["headers"] if h["name"] == "Received"]
    assert len(set(received)) == 2
    # No trusted relay and no MAIL_AUTHSERV_ID in this setup: neither header counts.
    assert detail["trust"]["peer_trusted"] is False and detail["trust"]["results"] == []
