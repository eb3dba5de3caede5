from __future__ import annotations

import hashlib
from urllib.parse import urlsplit

import httpx
import pytest

from core.config import get_settings
from core.models import Role
from tests.api.conftest import MakePerson


@pytest.fixture(autouse=True)
def local_storage(tmp_path, monkeypatch):
    monkeypatch.setenv("STORAGE_BACKEND", "local")
    monkeypatch.setenv("LOCAL_UPLOAD_ROOT", str(tmp_path / "uploads"))
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


async def _upload(client: httpx.AsyncClient, who, data: bytes, name: str = "보고서.txt") -> dict:
    begun = await client.post(
        "/api/v1/uploads",
        json={"filename": name, "size": len(data), "content_type": "text/plain"},
        headers=who.headers,
    )
    assert begun.status_code == 201, begun.text
    plan = begun.json()
    target = urlsplit(plan["upload_url"])
    put = await client.request(
        plan["method"], f"{target.path}?{target.query}", content=data, headers=plan["headers"]
    )
    assert put.status_code in (200, 201), put.text
    done = await client.post(
        f"/api/v1/uploads/{plan['attachment_id']}/complete", headers=who.headers
    )
    assert done.status_code == 200, done.text
    return done.json()


async def test_upload_attach_and_download_with_permissions(
    client: httpx.AsyncClient, make_person: MakePerson
) -> None:
    alice = await make_person()
    bob = await make_person()
    agent = await make_person(Role.agent)
    data = "프린터 오류 로그".encode()
    attachment = await _upload(client, alice, data)
    assert attachment["sha256"] == hashlib.sha256(data).hexdigest()
    # Before it is attached only the uploader can fetch it.
    url = attachment["download_url"]
    assert (await client.get(url, headers=bob.headers)).status_code == 404
    created = await client.post(
        "/api/v1/tickets",
        json={"subject": "log", "body": "see file", "attachment_ids": [attachment["id"]]},
        headers=alice.headers,
    )
    assert created.status_code == 201, created.text
    assert [a["id"] for a in created.json()["attachments"]] == [attachment["id"]]
    for who, status in ((alice, 302), (agent, 302), (bob, 404)):
        assert (await client.get(url, headers=who.headers)).status_code == status
    redirect = await client.get(url, headers=alice.headers)
    fetched = await client.get(
        urlsplit(redirect.headers["location"]).path
        + "?"
        + urlsplit(redirect.headers["location"]).query
    )
    assert fetched.status_code == 200 and fetched.content == data
    # The same upload cannot be attached twice; someone else's upload not at all.
    reuse = await client.post(
        f"/api/v1/tickets/{created.json()['id']}/comments",
        json={"body": "again", "attachment_ids": [attachment["id"]]},
        headers=alice.headers,
    )
    assert reuse.status_code == 409
    other = await _upload(client, bob, b"bob's file")
    stolen = await client.post(
        f"/api/v1/tickets/{created.json()['id']}/comments",
        json={"body": "steal", "attachment_ids": [other["id"]]},
        headers=alice.headers,
    )
    assert stolen.status_code == 400


async def test_internal_note_files_are_invisible_to_requesters(
    client: httpx.AsyncClient, make_person: MakePerson
) -> None:
    alice = await make_person()
    agent = await make_person(Role.agent)
    ticket = (
        await client.post(
            "/api/v1/tickets", json={"subject": "s", "body": "b"}, headers=alice.headers
        )
    ).json()
    secret = await _upload(client, agent, b"internal", name="notes.txt")
    note = await client.post(
        f"/api/v1/tickets/{ticket['id']}/comments",
        json={"body": "see file", "visibility": "internal", "attachment_ids": [secret["id"]]},
        headers=agent.headers,
    )
    assert note.status_code == 201
    assert (await client.get(secret["download_url"], headers=alice.headers)).status_code == 404
    assert (await client.get(secret["download_url"], headers=agent.headers)).status_code == 302
    detail = (await client.get(f"/api/v1/tickets/{ticket['id']}", headers=alice.headers)).json()
    assert detail["attachments"] == [] and detail["attachment_count"] == 0
    agent_detail = (
        await client.get(f"/api/v1/tickets/{ticket['id']}", headers=agent.headers)
    ).json()
    assert [a["id"] for a in agent_detail["attachments"]] == [secret["id"]]
