"""Demo data for the quick start: a couple of teams, agents, an admin and tickets in Korean and
English. Running it twice changes nothing the second time."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession

from core.models import Channel, Locale, Role, Team, TicketPriority
from core.tickets import repository as tickets_repo
from core.tickets import service as tickets
from core.users import repository as users_repo
from core.users import service as users

DEMO_PASSWORD = "servicedesk"  # noqa: S105 - printed on purpose: a demo login for the quick start
DEMO_ADMIN_EMAIL = "admin@demo.ac.kr"

DEMO_TEAMS = [("네트워크팀", "network@demo.ac.kr"), ("계정·보안팀", "accounts@demo.ac.kr")]
DEMO_PEOPLE = [
    (DEMO_ADMIN_EMAIL, "관리자", Role.admin, Locale.ko, None),
    ("kim.agent@demo.ac.kr", "김상담", Role.agent, Locale.ko, "네트워크팀"),
    ("lee.agent@demo.ac.kr", "이지원", Role.agent, Locale.ko, "계정·보안팀"),
    ("jane.agent@demo.ac.kr", "Jane Park", Role.agent, Locale.en, "네트워크팀"),
    ("student@demo.ac.kr", "박학생", Role.requester, Locale.ko, None),
    ("professor@demo.ac.kr", "Prof. Choi", Role.requester, Locale.en, None),
]
DEMO_TICKETS = [
    (
        "student@demo.ac.kr",
        "연구실 프린터가 인쇄되지 않습니다",
        "공학관 301호 프린터가 인쇄 대기만 하고 출력되지 않습니다.",
        "네트워크팀",
        TicketPriority.high,
    ),
    (
        "student@demo.ac.kr",
        "포털 비밀번호 초기화 요청",
        "학사 포털 비밀번호를 잊어버렸습니다. 초기화 부탁드립니다.",
        "계정·보안팀",
        TicketPriority.normal,
    ),
    (
        "professor@demo.ac.kr",
        "Wi-Fi drops in lecture hall B",
        "eduroam disconnects every few minutes in lecture hall B.",
        "네트워크팀",
        TicketPriority.urgent,
    ),
    (
        "professor@demo.ac.kr",
        "VPN access for sabbatical",
        "I need VPN access to the library databases while abroad.",
        "계정·보안팀",
        TicketPriority.low,
    ),
]


@dataclass
class SeedResult:
    created: list[str] = field(default_factory=list)
    existing: list[str] = field(default_factory=list)


async def seed_demo(session: AsyncSession) -> SeedResult:
    result = SeedResult()
    teams: dict[str, Team] = {}
    for name, email in DEMO_TEAMS:
        team = await users_repo.get_team_by_name(session, name)
        if team is None:
            team = await users_repo.add_team(session, Team(name=name, email=email))
            result.created.append(f"team {name}")
        else:
            result.existing.append(f"team {name}")
        teams[name] = team
    people = {}
    for email, name, role, locale, team_name in DEMO_PEOPLE:
        user = await users_repo.get_by_email(session, email)
        if user is None:
            user = await users.create_user(
                session, email=email, name=name, role=role, locale=locale, password=DEMO_PASSWORD
            )
            result.created.append(f"user {email}")
        else:
            result.existing.append(f"user {email}")
        people[email] = user
        if team_name:
            await users_repo.add_member(session, team_id=teams[team_name].id, user_id=user.id)
    for requester_email, subject, body, team_name, priority in DEMO_TICKETS:
        requester = people[requester_email]
        existing = await tickets_repo.get_by_subject_and_requester(
            session, subject=subject, requester_id=requester.id
        )
        if existing is not None:
            result.existing.append(f"ticket {subject}")
            continue
        await tickets.open_ticket(
            session,
            requester=requester,
            subject=subject,
            body_text=body,
            channel=Channel.web,
            priority=priority,
            team_id=teams[team_name].id,
        )
        result.created.append(f"ticket {subject}")
    return result
