"""Model-level rules that the database itself enforces."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from core.models import Comment, Ticket, TicketEvent, TicketParticipant, User


async def _user(session: AsyncSession, email: str, **kw) -> User:
    user = User(email=email, name=email.split("@")[0], **kw)
    session.add(user)
    await session.flush()
    return user


async def test_email_is_unique_ignoring_case(session: AsyncSession) -> None:
    await _user(session, "Kim.Minsu@Univ.ac.kr")
    with pytest.raises(IntegrityError):
        async with session.begin_nested():
            await _user(session, "kim.minsu@univ.AC.KR")
    found = await session.scalar(select(User).where(User.email == "KIM.MINSU@UNIV.AC.KR"))
    assert found is not None and found.email == "Kim.Minsu@Univ.ac.kr"


async def test_role_and_locale_are_checked(session: AsyncSession) -> None:
    with pytest.raises(IntegrityError):
        async with session.begin_nested():
            await _user(session, "x@univ.ac.kr", role="superuser")
    with pytest.raises(IntegrityError):
        async with session.begin_nested():
            await _user(session, "y@univ.ac.kr", locale="jp")


async def test_ticket_numbers_are_unique_and_increasing_under_concurrency(
    committed_db: AsyncEngine,
) -> None:
    async with AsyncSession(committed_db, expire_on_commit=False) as s:
        requester = await _user(s, "concurrent@univ.ac.kr")
        await s.commit()
        requester_id = requester.id

    async def open_tickets(worker: int) -> list[int]:
        numbers = []
        async with AsyncSession(committed_db, expire_on_commit=False) as s:
            for i in range(10):
                ticket = Ticket(subject=f"w{worker}-{i}", requester_id=requester_id)
                s.add(ticket)
                await s.flush()
                await s.refresh(ticket, ["number"])
                numbers.append(ticket.number)
                await s.commit()
        return numbers

    results = await asyncio.gather(*(open_tickets(w) for w in range(8)))
    every = [n for numbers in results for n in numbers]
    assert len(every) == len(set(every)) == 80
    for numbers in results:  # each writer sees its own numbers grow
        assert numbers == sorted(numbers)
    async with AsyncSession(committed_db, expire_on_commit=False) as s:
        assert await s.scalar(select(func.count(Ticket.id))) == 80


async def test_deleting_a_ticket_cascades_to_its_thread(session: AsyncSession) -> None:
    requester = await _user(session, "cascade@univ.ac.kr")
    ticket = Ticket(subject="cascade", requester_id=requester.id)
    session.add(ticket)
    await session.flush()
    session.add_all(
        [
            Comment(ticket_id=ticket.id, author_id=requester.id, body_text="hello"),
            TicketEvent(ticket_id=ticket.id, kind="created"),
            TicketParticipant(ticket_id=ticket.id, user_id=requester.id),
        ]
    )
    await session.flush()
    await session.delete(ticket)
    await session.flush()
    for model in (Comment, TicketEvent, TicketParticipant):
        count = await session.scalar(select(func.count()).select_from(model))
        assert count == 0, model.__name__


async def test_deleting_an_agent_unassigns_but_a_requester_cannot_vanish(
    session: AsyncSession,
) -> None:
    requester = await _user(session, "req@univ.ac.kr")
    agent = await _user(session, "agent@univ.ac.kr", role="agent")
    ticket = Ticket(subject="assigned", requester_id=requester.id, assignee_id=agent.id)
    session.add(ticket)
    await session.flush()
    await session.delete(agent)
    await session.flush()
    await session.refresh(ticket)
    assert ticket.assignee_id is None
    with pytest.raises(IntegrityError):
        async with session.begin_nested():
            await session.delete(requester)
            await session.flush()
