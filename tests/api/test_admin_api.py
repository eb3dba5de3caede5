from __future__ import annotations

import httpx

from core.models import Role
from tests.api.conftest import MakePerson


async def test_admin_manages_users(client: httpx.AsyncClient, make_person: MakePerson) -> None:
    admin = await make_person(Role.admin)
    agent = await make_person(Role.agent)
    created = await client.post(
        "/api/v1/users",
        json={
            "email": "New.Person@Test.ac.kr",
            "name": "새 사람",
            "role": "agent",
            "password": "long enough",
        },
        headers=admin.headers,
    )
    assert created.status_code == 201, created.text
    user_id = created.json()["id"]
    dup = await client.post(
        "/api/v1/users", json={"email": "new.person@test.ac.kr"}, headers=admin.headers
    )
    assert dup.status_code == 409
    found = await client.get("/api/v1/users", params={"q": "새 사"}, headers=agent.headers)
    assert [u["id"] for u in found.json()["items"]] == [user_id]
    wildcard = await client.get("/api/v1/users", params={"q": "%"}, headers=agent.headers)
    assert wildcard.json()["items"] == []
    demoted = await client.patch(
        f"/api/v1/users/{user_id}",
        json={"role": "requester", "active": False},
        headers=admin.headers,
    )
    assert demoted.json()["role"] == "requester" and demoted.json()["active"] is False
    assert (
        await client.patch(
            f"/api/v1/users/{user_id}", json={"role": "admin"}, headers=agent.headers
        )
    ).status_code == 403
    selfdemote = await client.patch(
        f"/api/v1/users/{admin.id}", json={"role": "agent"}, headers=admin.headers
    )
    assert selfdemote.status_code == 400
    login = await client.post(
        "/api/v1/auth/login", json={"email": "new.person@test.ac.kr", "password": "long enough"}
    )
    assert login.status_code == 401  # deactivated


async def test_teams_categories_canned(client: httpx.AsyncClient, make_person: MakePerson) -> None:
    admin = await make_person(Role.admin)
    agent = await make_person(Role.agent)
    requester = await make_person()
    team = await client.post(
        "/api/v1/teams",
        json={"name": "네트워크팀", "email": "net@test.ac.kr"},
        headers=admin.headers,
    )
    assert team.status_code == 201, team.text
    team_id = team.json()["id"]
    members = await client.put(
        f"/api/v1/teams/{team_id}/members", json={"user_ids": [agent.id]}, headers=admin.headers
    )
    assert members.json()["member_ids"] == [agent.id]
    refused = await client.put(
        f"/api/v1/teams/{team_id}/members", json={"user_ids": [requester.id]}, headers=admin.headers
    )
    assert refused.status_code == 400
    category = await client.post(
        "/api/v1/categories",
        json={"name": "프린터", "name_en": "Printers", "default_team_id": team_id},
        headers=admin.headers,
    )
    assert category.status_code == 201
    ticket = await client.post(
        "/api/v1/tickets",
        json={"subject": "인쇄 안 됨", "body": "도와주세요", "category_id": category.json()["id"]},
        headers=requester.headers,
    )
    assert ticket.json()["team"]["id"] == team_id
    mine = await client.get("/api/v1/tickets", params={"team": "mine"}, headers=agent.headers)
    assert [t["id"] for t in mine.json()["items"]] == [ticket.json()["id"]]
    hidden = await client.patch(
        f"/api/v1/categories/{category.json()['id']}", json={"active": False}, headers=admin.headers
    )
    assert hidden.json()["active"] is False
    assert (await client.get("/api/v1/categories", headers=requester.headers)).json() == []
    canned = await client.post(
        "/api/v1/canned-responses",
        json={"title": "재부팅 안내", "body": "재부팅해 주세요", "team_id": team_id},
        headers=admin.headers,
    )
    assert canned.status_code == 201
    listed = await client.get("/api/v1/canned-responses", headers=agent.headers)
    assert [c["title"] for c in listed.json()] == ["재부팅 안내"]
    deleted = await client.delete(f"/api/v1/teams/{team_id}", headers=admin.headers)
    assert deleted.status_code == 204
    detail = await client.get(f"/api/v1/tickets/{ticket.json()['id']}", headers=agent.headers)
    assert detail.json()["team"] is None
