"""The SLA admin API: policies, calendars and closed days; validation; a calendar's closed day
moves the due times of tickets opened afterwards."""

from __future__ import annotations

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from core.models import Role, Team
from core.sla import clock
from core.tickets import service as tickets
from tests.api.conftest import MakePerson, api_app, client, make_person  # noqa: F401
from tests.sla.conftest import kst

BASE = "/api/v1/admin"


async def test_policies_calendars_and_holidays(
    client: httpx.AsyncClient,  # noqa: F811
    make_person: MakePerson,  # noqa: F811
    session: AsyncSession,
) -> None:
    admin = (await make_person(Role.admin)).headers
    agent = (await make_person(Role.agent)).headers
    requester = await make_person(Role.requester)
    assert (await client.get(f"{BASE}/sla-policies")).status_code == 401
    assert (await client.get(f"{BASE}/sla-policies", headers=agent)).status_code == 403

    calendar = await client.post(
        f"{BASE}/calendars",
        json={
            "name": "공대 전산실",
            "weekly_hours": {str(d): [["09:00", "12:00"], ["13:00", "18:00"]] for d in range(5)},
        },
        headers=admin,
    )
    assert calendar.status_code == 201, calendar.text
    cal = calendar.json()
    assert (cal["timezone"], cal["use_kr_holidays"]) == ("Asia/Seoul", True)
    bad = await client.post(
        f"{BASE}/calendars",
        json={"name": "겹침", "weekly_hours": {"0": [["09:00", "13:00"], ["12:00", "18:00"]]}},
        headers=admin,
    )
    assert bad.status_code == 400 and "overlap" in bad.json()["detail"]
    bad_tz = await client.post(
        f"{BASE}/calendars", json={"name": "화성", "timezone": "Mars/Base"}, headers=admin
    )
    assert bad_tz.status_code == 400
    dup = await client.post(f"{BASE}/calendars", json={"name": "공대 전산실"}, headers=admin)
    assert dup.status_code == 409

    closed = await client.post(
        f"{BASE}/calendars/{cal['id']}/holidays",
        json={"day": "2026-11-30", "name": "개교기념일"},
        headers=admin,
    )
    assert closed.status_code == 201
    again = await client.post(
        f"{BASE}/calendars/{cal['id']}/holidays", json={"day": "2026-11-30"}, headers=admin
    )
    assert again.status_code == 409
    listed = (
        await client.get(f"{BASE}/calendars/{cal['id']}/holidays?year=2026", headers=admin)
    ).json()
    sources = {(h["day"], h["source"]) for h in listed}
    assert ("2026-11-30", "custom") in sources
    assert ("2026-09-25", "kr") in sources and ("2026-10-05", "kr") in sources  # Chuseok, 대체

    team = Team(name="공대팀")
    session.add(team)
    await session.flush()
    team_id = team.id  # each request commits: rows read after one must be refreshed
    policy = await client.post(
        f"{BASE}/sla-policies",
        json={
            "name": "공대 기본",
            "team_id": team_id,
            "calendar_id": cal["id"],
            "first_response_minutes": 120,
            "resolution_minutes": 480,
        },
        headers=admin,
    )
    assert policy.status_code == 201, policy.text
    pol = policy.json()
    assert (pol["reminder_percent"], pol["priority"], pol["escalate_priority"]) == (75, None, True)
    missing_team = await client.post(
        f"{BASE}/sla-policies",
        json={
            "name": "없는 팀",
            "team_id": 999999,
            "first_response_minutes": 1,
            "resolution_minutes": 1,
        },
        headers=admin,
    )
    assert missing_team.status_code == 400
    invalid = await client.post(
        f"{BASE}/sla-policies",
        json={"name": "0분", "first_response_minutes": 0, "resolution_minutes": 1},
        headers=admin,
    )
    assert invalid.status_code == 422

    # Friday 17:00 + 2h on this calendar: Friday 17-18, Monday 30 is closed, Tuesday 09-10.
    await session.refresh(requester.user)
    with clock.frozen(kst(2026, 11, 27, 17, 0)):
        ticket, _ = await tickets.open_ticket(
            session,
            requester=requester.user,
            subject="실습실 PC",
            body_text="부팅이 안 됩니다.",
            team_id=team_id,
        )
    assert ticket.sla_policy_id == pol["id"]
    assert ticket.first_response_due_at == kst(2026, 12, 1, 10, 0)

    patched = await client.patch(
        f"{BASE}/sla-policies/{pol['id']}",
        json={"priority": "urgent", "reminder_percent": 50},
        headers=admin,
    )
    assert patched.status_code == 200
    assert (patched.json()["priority"], patched.json()["reminder_percent"]) == ("urgent", 50)
    cleared = await client.patch(
        f"{BASE}/sla-policies/{pol['id']}", json={"priority": None}, headers=admin
    )
    assert cleared.json()["priority"] is None
    refused = await client.patch(
        f"{BASE}/sla-policies/{pol['id']}", json={"name": None}, headers=admin
    )
    assert refused.status_code == 400

    in_use = await client.delete(f"{BASE}/calendars/{cal['id']}", headers=admin)
    assert in_use.status_code == 409
    holiday_id = closed.json()["id"]
    gone = await client.delete(f"{BASE}/calendars/{cal['id']}/holidays/{holiday_id}", headers=admin)
    assert gone.status_code == 204
    assert (
        await client.delete(f"{BASE}/sla-policies/{pol['id']}", headers=admin)
    ).status_code == 204
    assert (await client.delete(f"{BASE}/calendars/{cal['id']}", headers=admin)).status_code == 204
    assert (
        await client.get(f"{BASE}/calendars/{cal['id']}/holidays", headers=admin)
    ).status_code == 404
