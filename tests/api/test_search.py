from __future__ import annotations

import httpx
import pytest

from core.models import Role
from core.tickets.search import build_tsquery, document_terms
from tests.api.conftest import MakePerson


def test_hangul_is_indexed_as_bigrams_and_english_as_words() -> None:
    terms = document_terms("HP프린터가 인쇄되지 않습니다. Printer ERROR 301")
    assert {"프린", "린터", "터가", "인쇄", "쇄되", "되지", "않습", "습니", "니다"} <= terms
    assert {"hp", "printer", "error", "301"} <= terms
    assert build_tsquery("프린터") == "'프린' & '린터'"
    assert build_tsquery("프") == "'프':*"
    assert build_tsquery("%'\\&|!:*") is None


async def _search(client: httpx.AsyncClient, who, q: str) -> list[str]:
    response = await client.get("/api/v1/tickets", params={"q": q}, headers=who.headers)
    assert response.status_code == 200, response.text
    return [t["subject"] for t in response.json()["items"]]


@pytest.fixture
async def desk(client: httpx.AsyncClient, make_person: MakePerson):
    alice = await make_person()
    agent = await make_person(Role.agent)
    korean = await client.post(
        "/api/v1/tickets",
        json={"subject": "연구실 장비 문의", "body": "공학관 301호 기기 점검 요청"},
        headers=alice.headers,
    )
    ticket_id = korean.json()["id"]
    reply = await client.post(
        f"/api/v1/tickets/{ticket_id}/comments",
        json={"body": "프린터가 인쇄되지 않습니다"},
        headers=alice.headers,
    )
    assert reply.status_code == 201
    await client.post(
        "/api/v1/tickets",
        json={"subject": "VPN access for sabbatical", "body": "I need VPN access while abroad."},
        headers=alice.headers,
    )
    await client.post(
        "/api/v1/tickets",
        json={"subject": "Wi-Fi drops in lecture hall", "body": "eduroam disconnects often"},
        headers=alice.headers,
    )
    note = await client.post(
        f"/api/v1/tickets/{ticket_id}/comments",
        json={"body": "토너 카트리지 교체 필요", "visibility": "internal"},
        headers=agent.headers,
    )
    assert note.status_code == 201
    return alice, agent


async def test_korean_substrings_find_the_comment(client: httpx.AsyncClient, desk) -> None:
    alice, agent = desk
    for who in (alice, agent):
        assert await _search(client, who, "프린터") == ["연구실 장비 문의"]
        assert await _search(client, who, "인쇄") == ["연구실 장비 문의"]
        assert await _search(client, who, "인쇄되지") == ["연구실 장비 문의"]
    assert await _search(client, agent, "프린트") == []


async def test_english_words_find_english_tickets(client: httpx.AsyncClient, desk) -> None:
    alice, _ = desk
    assert await _search(client, alice, "vpn") == ["VPN access for sabbatical"]
    assert await _search(client, alice, "EDUROAM") == ["Wi-Fi drops in lecture hall"]
    assert await _search(client, alice, "access abroad") == ["VPN access for sabbatical"]
    assert await _search(client, alice, "access eduroam") == []


async def test_internal_notes_are_searchable_by_agents_only(
    client: httpx.AsyncClient, desk
) -> None:
    alice, agent = desk
    assert await _search(client, agent, "카트리지") == ["연구실 장비 문의"]
    assert await _search(client, alice, "카트리지") == []


@pytest.mark.parametrize(
    "q",
    [
        "%",
        "'",
        "\\",
        "&|!:*",
        "' OR 1=1 --",
        "%' OR ''='",
        "프린터' & '",
        "a:*",
        "!vpn",
        "(",
        "<->",
        "_",
    ],
)
async def test_metacharacters_are_inert(client: httpx.AsyncClient, desk, q: str) -> None:
    _, agent = desk
    response = await client.get("/api/v1/tickets", params={"q": q}, headers=agent.headers)
    assert response.status_code == 200, response.text
    subjects = [t["subject"] for t in response.json()["items"]]
    if q == "!vpn":  # the word is searched, the operator is not
        assert subjects == ["VPN access for sabbatical"]
    elif q == "프린터' & '":
        assert subjects == ["연구실 장비 문의"]
    else:
        assert subjects == []
