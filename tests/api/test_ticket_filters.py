from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from core.models import Role, Ticket
from tests.api.conftest import MakePerson


async def test_filters_combine(
    client: httpx.AsyncClient, make_person: MakePerson, session: AsyncSession
) -> None:
    alice = await make_person()
    bob = await make_person()
    agent = await make_person(Role.agent)
    admin = await make_person(Role.admin)
    team = (await client.post("/api/v1/teams", json={"name": "T"}, headers=admin.headers)).json()
    ids = {}
    for name, who in (("a1", alice), ("a2", alice), ("b1", bob), ("b2", bob)):
        response = await client.post(
            "/api/v1/tickets", json={"subject": name, "body": "x"}, headers=who.headers
        )
        ids[name] = response.json()["id"]
    h = agent.headers
    await client.patch(
        f"/api/v1/tickets/{ids['a1']}", json={"assignee_id": agent.id, "status": "open"}, headers=h
    )
    await client.patch(
        f"/api/v1/tickets/{ids['b1']}",
        json={"team_id": team["id"], "priority": "urgent"},
        headers=h,
    )
    await client.patch(f"/api/v1/tickets/{ids['b2']}", json={"status": "pending"}, headers=h)
    now = datetime.now(UTC)
    await session.execute(
        update(Ticket)
        .where(Ticket.id == ids["a2"])
        .values(
            first_response_due_at=now - timedelta(minutes=5), created_at=now - timedelta(days=10)
        )
    )
    await session.execute(
        update(Ticket)
        .where(Ticket.id == ids["b1"])
        .values(resolution_due_at=now + timedelta(minutes=20))
    )
    await session.commit()

    async def subjects(**params) -> list[str]:
        response = await client.get(
            "/api/v1/tickets", params={"sort": "created", **params}, headers=h
        )
        assert response.status_code == 200, response.text
        return [t["subject"] for t in response.json()["items"]]

    assert await subjects(status=["new", "pending"]) == ["a2", "b1", "b2"]
    assert await subjects(assignee="me") == ["a1"]
    assert await subjects(assignee="none") == ["a2", "b1", "b2"]
    assert await subjects(assignee=str(agent.id)) == ["a1"]
    assert await subjects(team=str(team["id"])) == ["b1"]
    assert await subjects(team="none") == ["a2", "a1", "b2"]
    assert await subjects(priority="urgent") == ["b1"]
    assert await subjects(requester=str(bob.id)) == ["b1", "b2"]
    assert await subjects(sla="breached") == ["a2"]
    assert await subjects(sla="at_risk") == ["b1"]
    since = (now - timedelta(days=1)).isoformat()
    assert await subjects(created_from=since) == ["a1", "b1", "b2"]
    assert await subjects(created_to=since) == ["a2"]
    assert await subjects(updated_from=(now + timedelta(days=1)).isoformat()) == []
    summaries = (await client.get("/api/v1/tickets", params={"sla": "breached"}, headers=h)).json()
    assert summaries["items"][0]["sla_state"] == "breached"
    # A requester's filters never widen their scope.
    assert [
        t["subject"]
        for t in (
            await client.get(
                "/api/v1/tickets", params={"requester": str(bob.id)}, headers=alice.headers
            )
        ).json()["items"]
    ] == []
