"""The guards before anything leaves: the transactional outbox, our own addresses, bouncing
addresses, the loop-guard ladders, one mail per event per recipient, auto-replies."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.models import Channel, CommentSource, OutboundEmail, Role, Team, User, Visibility
from core.notifications.service import send_magic_link
from core.outbox import service as outbox
from core.tickets import service as tickets
from core.users import service as users


async def _person(session: AsyncSession, email: str, role: Role = Role.requester, **kw) -> User:
    return await users.create_user(session, email=email, name=email.split("@")[0], role=role, **kw)


async def _outbox(session: AsyncSession) -> list[OutboundEmail]:
    return list(await session.scalars(select(OutboundEmail).order_by(OutboundEmail.id)))


async def test_mail_is_written_in_the_changes_transaction(session: AsyncSession) -> None:
    requester = await _person(session, "tx@univ.ac.kr")
    savepoint = await session.begin_nested()
    await tickets.open_ticket(session, requester=requester, subject="rolled back", body_text="x")
    assert len(await _outbox(session)) == 1  # visible inside the transaction
    await savepoint.rollback()
    assert await _outbox(session) == []  # no change, no mail
    await tickets.open_ticket(session, requester=requester, subject="kept", body_text="x")
    [row] = await _outbox(session)
    assert row.status == "queued" and row.kind == "acknowledgement"


async def test_never_mails_our_own_addresses(session: AsyncSession) -> None:
    session.add(Team(name="Network", email="network@test.ac.kr"))
    loop_requesters = [
        await _person(session, "help@test.ac.kr"),
        await _person(session, "help+r-1-2-aaaaaaaaaaaaaaaa@test.ac.kr"),
        await _person(session, "Network@test.ac.kr"),
    ]
    for requester in loop_requesters:
        await tickets.open_ticket(session, requester=requester, subject="loop", body_text="x")
    rows = await _outbox(session)
    assert len(rows) == 3
    assert all(r.status == "suppressed" for r in rows)
    assert all("own addresses" in r.last_error for r in rows)


async def test_never_mails_a_bouncing_address(session: AsyncSession) -> None:
    requester = await _person(session, "bouncy@univ.ac.kr")
    requester.bouncing_since = datetime(2026, 11, 1, tzinfo=UTC)
    requester.bounce_reason = "5.1.1 mailbox unknown"
    await session.flush()
    await tickets.open_ticket(session, requester=requester, subject="hello", body_text="x")
    [row] = await _outbox(session)
    assert row.status == "suppressed"
    assert row.last_error == (
        "not sent: bouncy@univ.ac.kr is bouncing since 2026-11-01: 5.1.1 mailbox unknown"
    )


async def test_one_mail_per_event_and_recipient(session: AsyncSession) -> None:
    requester = await _person(session, "once@univ.ac.kr")
    ticket, _ = await tickets.open_ticket(
        session, requester=requester, subject="once", body_text="x"
    )
    again = await outbox.enqueue(
        session,
        kind="acknowledgement",
        event_key=f"ticket:{ticket.id}:created",
        recipient=requester,
        ticket=ticket,
    )
    assert again is None
    assert len(await _outbox(session)) == 1


async def test_loop_guard_ladder_per_recipient_and_ticket(session: AsyncSession) -> None:
    requester = await _person(session, "chatty@univ.ac.kr")
    agent = await _person(session, "agent@univ.ac.kr", Role.agent)
    ticket, _ = await tickets.open_ticket(
        session, requester=requester, subject="ping", body_text="x"
    )
    for n in range(12):
        await tickets.add_comment(
            session, ticket=ticket, author=agent, body_text=f"reply {n}", source=CommentSource.web
        )
    rows = [r for r in await _outbox(session) if r.recipient == "chatty@univ.ac.kr"]
    assert len(rows) == 13  # the acknowledgement and 12 replies
    # 10 mails in 10 minutes are allowed; the rest is held back with the reason.
    assert [r.status for r in rows].count("queued") == 10
    held = [r for r in rows if r.status == "suppressed"]
    assert len(held) == 3
    assert "loop guard: 10 mails" in held[0].last_error and "10 minutes" in held[0].last_error
    # Another recipient of the same ticket has their own budget.
    other = await _person(session, "cc@univ.ac.kr")
    await tickets.add_participant(session, ticket=ticket, user=other)
    await tickets.add_comment(session, ticket=ticket, author=agent, body_text="to both")
    latest = (await _outbox(session))[-2:]
    assert {(r.recipient, r.status) for r in latest} == {
        ("chatty@univ.ac.kr", "suppressed"),
        ("cc@univ.ac.kr", "queued"),
    }


async def test_the_older_windows_of_the_ladder_count_too(session: AsyncSession) -> None:
    requester = await _person(session, "slow@univ.ac.kr")
    agent = await _person(session, "agent2@univ.ac.kr", Role.agent)
    ticket, _ = await tickets.open_ticket(session, requester=requester, subject="s", body_text="x")
    for n in range(14):
        await tickets.add_comment(session, ticket=ticket, author=agent, body_text=f"r{n}")
    # Spread them out: 15 mails in the last 25 minutes, none in the last 10.
    await session.execute(
        update(OutboundEmail)
        .where(OutboundEmail.recipient == "slow@univ.ac.kr")
        .values(created_at=func.now() - func.make_interval(0, 0, 0, 0, 0, 25), status="sent")
    )
    await tickets.add_comment(session, ticket=ticket, author=agent, body_text="one more")
    newest = (await _outbox(session))[-1]
    assert newest.status == "suppressed"
    assert "15 mails" in newest.last_error and "30 minutes (limit 15)" in newest.last_error


async def test_acknowledgements_are_limited_per_requester_across_tickets(
    session: AsyncSession,
) -> None:
    """An auto-responder that opens a new ticket with every answer is not acknowledged forever."""
    robot = await _person(session, "robot@elsewhere.ac.kr")
    for n in range(7):
        await tickets.open_ticket(session, requester=robot, subject=f"auto {n}", body_text="x")
    statuses = [r.status for r in await _outbox(session)]
    assert statuses == ["queued"] * 5 + ["suppressed"] * 2


async def test_sign_in_links_are_limited_per_address(session: AsyncSession) -> None:
    person = await _person(session, "forgetful@univ.ac.kr")
    for n in range(6):
        await send_magic_link(session, user=person, url=f"http://portal/login/{n}")
    await send_magic_link(session, user=person, url="http://portal/login/0")  # same link: no-op
    rows = await _outbox(session)
    assert [r.status for r in rows] == ["queued"] * 5 + ["suppressed"]
    assert rows[0].ticket_id is None and rows[0].reply_to is None
    assert rows[0].subject == "[IT Service Desk] 로그인 링크"


async def test_auto_replies_get_no_acknowledgement_and_notify_nobody(
    session: AsyncSession,
) -> None:
    team = Team(name="Helpdesk")
    session.add(team)
    await session.flush()
    agent = await _person(session, "agent3@univ.ac.kr", Role.agent)
    from core.users import repository as users_repo

    await users_repo.add_member(session, team_id=team.id, user_id=agent.id)
    requester = await _person(session, "away@univ.ac.kr")
    ticket, _ = await tickets.open_ticket(
        session,
        requester=requester,
        subject="Out of office",
        body_text="I am away",
        channel=Channel.email,
        is_auto_reply=True,
        team_id=team.id,
    )
    await tickets.add_comment(
        session,
        ticket=ticket,
        author=requester,
        body_text="Still away",
        source=CommentSource.email,
        is_auto_reply=True,
    )
    assert await _outbox(session) == []
    # A real reply from the requester reaches the team (nobody is assigned).
    await tickets.add_comment(
        session, ticket=ticket, author=requester, body_text="Back now", source=CommentSource.email
    )
    [row] = await _outbox(session)
    assert (row.recipient, row.kind) == ("agent3@univ.ac.kr", "requester_reply")
    # Internal notes are never mailed.
    await tickets.add_comment(
        session, ticket=ticket, author=agent, body_text="note", visibility=Visibility.internal
    )
    assert len(await _outbox(session)) == 1


@pytest.mark.parametrize("locale", ["ko", "en"])
async def test_long_threads_keep_references_capped(committed_db, locale: str) -> None:
    """Each step in its own transaction, as in life: the thread is ordered by time."""
    from core import db
    from core.tickets import repository as tickets_repo

    async with db.session_scope() as session:
        requester = await _person(session, f"long-{locale}@univ.ac.kr", locale=locale)
        agent = await _person(session, f"agent-{locale}@univ.ac.kr", Role.agent)
        ticket, _ = await tickets.open_ticket(
            session,
            requester=requester,
            subject="long",
            body_text="x",
            channel=Channel.email,
            message_id=f"<root-{locale}@univ.ac.kr>",
        )
    for n in range(9):
        for author, source, message_id in (
            (agent, CommentSource.web, None),
            (requester, CommentSource.email, f"<q{n}-{locale}@univ.ac.kr>"),
        ):
            async with db.session_scope() as session:
                await tickets.add_comment(
                    session,
                    ticket=await tickets_repo.get_ticket(session, ticket.id),
                    author=author,
                    body_text=f"{n}",
                    source=source,
                    message_id=message_id,
                )
    async with db.session_scope() as session:
        await tickets.add_comment(
            session,
            ticket=await tickets_repo.get_ticket(session, ticket.id),
            author=agent,
            body_text="last",
        )
        last = (await _outbox(session))[-1]
    references = last.headers["References"].split()
    assert len(references) == outbox.MAX_REFERENCES
    assert references[0] == f"<root-{locale}@univ.ac.kr>"
    assert last.headers["In-Reply-To"] == references[-1] == f"<q8-{locale}@univ.ac.kr>"
