"""A small desk for SLA tests: a team with a lead and an agent, an admin, a requester, and two
policies (everything: 4h/16h; urgent: 1h/4h; reminders at 75%)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from core.models import Role, SlaPolicy, Team, TeamMember, Ticket, User
from core.sla import clock
from core.tickets import service as tickets

KST = ZoneInfo("Asia/Seoul")


def kst(*args: int) -> datetime:
    return datetime(*args, tzinfo=KST)


@dataclass
class Desk:
    session: AsyncSession
    admin: User
    lead: User
    agent: User
    requester: User
    team: Team
    default_policy: SlaPolicy
    urgent_policy: SlaPolicy

    async def open(self, at: datetime, *, subject: str = "VPN 접속 불가", **fields) -> Ticket:  # type: ignore[no-untyped-def]
        with clock.frozen(at):
            ticket, _ = await tickets.open_ticket(
                self.session,
                requester=self.requester,
                subject=subject,
                body_text="연구실에서 VPN이 연결되지 않습니다.",
                team_id=self.team.id,
                **fields,
            )
        return ticket


async def _user(session: AsyncSession, email: str, role: Role, name: str) -> User:
    user = User(email=email, name=name, role=role.value)
    session.add(user)
    await session.flush()
    return user


@pytest.fixture
async def desk(session: AsyncSession) -> Desk:
    admin = await _user(session, "admin@sla.ac.kr", Role.admin, "관리자")
    lead = await _user(session, "lead@sla.ac.kr", Role.agent, "팀장")
    agent = await _user(session, "agent@sla.ac.kr", Role.agent, "상담원")
    requester = await _user(session, "student@sla.ac.kr", Role.requester, "학생")
    team = Team(name="네트워크팀 SLA", lead_id=lead.id)
    session.add(team)
    await session.flush()
    session.add_all(
        [
            TeamMember(team_id=team.id, user_id=lead.id),
            TeamMember(team_id=team.id, user_id=agent.id),
        ]
    )
    default_policy = SlaPolicy(
        name="기본", first_response_minutes=240, resolution_minutes=960, reminder_percent=75
    )
    urgent_policy = SlaPolicy(
        name="긴급",
        priority="urgent",
        first_response_minutes=60,
        resolution_minutes=240,
        reminder_percent=75,
    )
    session.add_all([default_policy, urgent_policy])
    await session.flush()
    return Desk(session, admin, lead, agent, requester, team, default_policy, urgent_policy)
