from __future__ import annotations

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from core.models import Role
from tests.api.conftest import MakePerson


async def _open(client: httpx.AsyncClient, who, subject: str, body: str = "본문입니다") -> dict:
    response = await client.post(
        "/api/v1/tickets", json={"subject": subject, "body": body}, headers=who.headers
    )
    assert response.status_code == 201, response.text
    return response.json()


async def test_requester_opens_and_sees_own_ticket(
    client: httpx.AsyncClient, make_person: MakePerson
) -> None:
    alice = await make_person()
    bob = await make_person()
    ticket = await _open(
        client, alice, "프린터가 인쇄되지 않습니다", "첫 줄\n둘째 줄\n\n<b>새 문단</b>"
    )
    assert ticket["status"] == "new" and ticket["requester"]["id"] == alice.id
    assert ticket["channel"] == "web" and ticket["comment_count"] == 1

    mine = (await client.get("/api/v1/tickets", headers=alice.headers)).json()
    assert [t["id"] for t in mine["items"]] == [ticket["id"]]
    theirs = (await client.get("/api/v1/tickets", headers=bob.headers)).json()
    assert theirs["items"] == []
    assert (
        await client.get(f"/api/v1/tickets/{ticket['id']}", headers=bob.headers)
    ).status_code == 404

    comments = (
        await client.get(f"/api/v1/tickets/{ticket['id']}/comments", headers=alice.headers)
    ).json()
    assert comments[0]["body_html"] == "<p>첫 줄<br>둘째 줄</p><p>&lt;b&gt;새 문단&lt;/b&gt;</p>"


async def test_internal_notes_hidden_from_requester(
    client: httpx.AsyncClient, make_person: MakePerson
) -> None:
    alice = await make_person()
    agent = await make_person(Role.agent)
    ticket = await _open(client, alice, "VPN access")
    url = f"/api/v1/tickets/{ticket['id']}/comments"
    note = await client.post(
        url, json={"body": "secret", "visibility": "internal"}, headers=agent.headers
    )
    assert note.status_code == 201, note.text
    reply = await client.post(url, json={"body": "hello"}, headers=agent.headers)
    assert reply.status_code == 201
    seen = [c["body_text"] for c in (await client.get(url, headers=alice.headers)).json()]
    assert seen == ["본문입니다", "hello"]
    agent_seen = [c["body_text"] for c in (await client.get(url, headers=agent.headers)).json()]
    assert agent_seen == ["본문입니다", "secret", "hello"]
    refused = await client.post(
        url, json={"body": "x", "visibility": "internal"}, headers=alice.headers
    )
    assert refused.status_code == 403
    detail = (await client.get(f"/api/v1/tickets/{ticket['id']}", headers=alice.headers)).json()
    assert detail["status"] == "open" and detail["comment_count"] == 2


async def test_status_transitions_and_requester_limits(
    client: httpx.AsyncClient, make_person: MakePerson
) -> None:
    alice = await make_person()
    agent = await make_person(Role.agent)
    ticket = await _open(client, alice, "Wi-Fi drops")
    url = f"/api/v1/tickets/{ticket['id']}"
    assert (
        await client.patch(url, json={"priority": "high"}, headers=alice.headers)
    ).status_code == 403
    assert (
        await client.patch(url, json={"status": "pending"}, headers=alice.headers)
    ).status_code == 403
    closed = await client.patch(url, json={"status": "closed"}, headers=alice.headers)
    assert closed.status_code == 200 and closed.json()["status"] == "closed"
    bad = await client.patch(url, json={"status": "resolved"}, headers=agent.headers)
    assert bad.status_code == 400 and bad.json()["error"] == "invalid"
    reopened = await client.patch(url, json={"status": "open"}, headers=alice.headers)
    assert reopened.json()["status"] == "open"
    changed = await client.patch(
        url, json={"priority": "urgent", "assignee_id": agent.id}, headers=agent.headers
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["priority"] == "urgent" and changed.json()["assignee"]["id"] == agent.id
    cleared = await client.patch(url, json={"assignee_id": None}, headers=agent.headers)
    assert cleared.json()["assignee"] is None
    events = (await client.get(f"{url}/events", headers=agent.headers)).json()
    kinds = [e["kind"] for e in events]
    assert kinds.count("assigned") == 2 and "fields_changed" in kinds
    requester_kinds = {
        e["kind"] for e in (await client.get(f"{url}/events", headers=alice.headers)).json()
    }
    assert requester_kinds <= {"created", "status_changed", "merged", "merged_into"}


async def test_keyset_pagination_walks_every_ticket_once(
    client: httpx.AsyncClient, make_person: MakePerson, session: AsyncSession
) -> None:
    alice = await make_person()
    agent = await make_person(Role.agent)
    created = [(await _open(client, alice, f"ticket {i}"))["id"] for i in range(7)]
    for sort in ("-updated", "created", "-priority"):
        seen: list[int] = []
        cursor = None
        while True:
            params = {"limit": 3, "sort": sort}
            if cursor:
                params["cursor"] = cursor
            page = (
                await client.get("/api/v1/tickets", params=params, headers=agent.headers)
            ).json()
            seen += [t["id"] for t in page["items"]]
            cursor = page["next_cursor"]
            if not cursor:
                break
        assert sorted(seen) == sorted(created) and len(seen) == len(set(seen))
    bad = await client.get("/api/v1/tickets", params={"cursor": "garbage!!"}, headers=agent.headers)
    assert bad.status_code == 400


async def test_merge_closes_source_and_links_people(
    client: httpx.AsyncClient, make_person: MakePerson
) -> None:
    alice = await make_person()
    bob = await make_person()
    agent = await make_person(Role.agent)
    first = await _open(client, alice, "printer broken")
    second = await _open(client, bob, "printer still broken")
    merged = await client.post(
        f"/api/v1/tickets/{second['id']}/merge",
        json={"into_ticket_id": first["id"]},
        headers=agent.headers,
    )
    assert merged.status_code == 200, merged.text
    body = merged.json()
    assert body["source"]["status"] == "closed" and body["source"]["merged_into_id"] == first["id"]
    assert bob.id in [p["id"] for p in body["target"]["participants"]]
    again = await client.post(
        f"/api/v1/tickets/{second['id']}/merge",
        json={"into_ticket_id": first["id"]},
        headers=agent.headers,
    )
    assert again.status_code == 409
    # Bob, now copied on the target, can see it and its public thread.
    assert (
        await client.get(f"/api/v1/tickets/{first['id']}", headers=bob.headers)
    ).status_code == 200


async def test_bulk_update_all_or_nothing(
    client: httpx.AsyncClient, make_person: MakePerson
) -> None:
    alice = await make_person()
    agent = await make_person(Role.agent)
    ids = [(await _open(client, alice, f"bulk {i}"))["id"] for i in range(3)]
    ok = await client.post(
        "/api/v1/tickets/bulk", json={"ticket_ids": ids, "priority": "high"}, headers=agent.headers
    )
    assert ok.status_code == 200 and sorted(ok.json()["updated"]) == sorted(ids)
    closed = await client.patch(
        f"/api/v1/tickets/{ids[0]}", json={"status": "closed"}, headers=agent.headers
    )
    assert closed.status_code == 200
    refused = await client.post(
        "/api/v1/tickets/bulk", json={"ticket_ids": ids, "status": "pending"}, headers=agent.headers
    )
    assert refused.status_code == 400
    for ticket_id in ids[1:]:
        detail = (await client.get(f"/api/v1/tickets/{ticket_id}", headers=agent.headers)).json()
        assert detail["status"] == "new"
    assert (
        await client.post(
            "/api/v1/tickets/bulk",
            json={"ticket_ids": ids, "priority": "low"},
            headers=alice.headers,
        )
    ).status_code == 403


async def test_participants_add_remove(client: httpx.AsyncClient, make_person: MakePerson) -> None:
    alice = await make_person()
    carol = await make_person()
    ticket = await _open(client, alice, "shared drive")
    url = f"/api/v1/tickets/{ticket['id']}/participants"
    added = await client.post(url, json={"email": carol.email}, headers=alice.headers)
    assert added.status_code == 201, added.text
    assert (
        await client.get(f"/api/v1/tickets/{ticket['id']}", headers=carol.headers)
    ).status_code == 200
    listed = (await client.get("/api/v1/tickets", headers=carol.headers)).json()["items"]
    assert [t["id"] for t in listed] == [ticket["id"]]
    # A participant cannot add others, but can leave.
    assert (
        await client.post(url, json={"email": "x@test.ac.kr"}, headers=carol.headers)
    ).status_code == 403
    assert (await client.delete(f"{url}/{carol.id}", headers=carol.headers)).status_code == 204
    assert (
        await client.get(f"/api/v1/tickets/{ticket['id']}", headers=carol.headers)
    ).status_code == 404


async def test_counts_for_agents(client: httpx.AsyncClient, make_person: MakePerson) -> None:
    alice = await make_person()
    agent = await make_person(Role.agent)
    await _open(client, alice, "one")
    counts = (await client.get("/api/v1/tickets/counts", headers=agent.headers)).json()
    assert counts["unassigned"] == 1 and counts["open"] == 1 and counts["mine"] == 0
    assert (await client.get("/api/v1/tickets/counts", headers=alice.headers)).status_code == 403
