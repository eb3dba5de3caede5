from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.auth import service as auth
from core.models import MagicLinkToken, Role
from tests.api.conftest import MakePerson


async def test_login_me_logout_with_cookie(
    client: httpx.AsyncClient, make_person: MakePerson
) -> None:
    await make_person(Role.agent, email="Kim@Test.ac.kr", password="correct horse")
    response = await client.post(
        "/api/v1/auth/login", json={"email": "kim@test.ac.kr", "password": "correct horse"}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"] == "bearer" and body["user"]["role"] == "agent"
    cookie = response.headers["set-cookie"]
    assert "sd_session=" in cookie and "HttpOnly" in cookie and "samesite=lax" in cookie.lower()
    me = await client.get("/api/v1/auth/me")  # the cookie alone authenticates
    assert me.status_code == 200 and me.json()["email"] == "Kim@test.ac.kr"
    bearer = await client.get(
        "/api/v1/auth/me", headers={"Authorization": f"Bearer {body['access_token']}"}
    )
    assert bearer.status_code == 200
    out = await client.post("/api/v1/auth/logout")
    assert out.status_code == 204 and 'sd_session=""' in out.headers["set-cookie"]
    client.cookies.clear()
    assert (await client.get("/api/v1/auth/me")).status_code == 401


async def test_unknown_address_and_wrong_password_answer_alike(
    client: httpx.AsyncClient, make_person: MakePerson
) -> None:
    await make_person(email="real@test.ac.kr", password="right password")
    wrong = await client.post(
        "/api/v1/auth/login", json={"email": "real@test.ac.kr", "password": "wrong password"}
    )
    unknown = await client.post(
        "/api/v1/auth/login", json={"email": "ghost@test.ac.kr", "password": "wrong password"}
    )
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()


async def test_repeated_failures_are_rate_limited(
    client: httpx.AsyncClient, make_person: MakePerson
) -> None:
    await make_person(email="target@test.ac.kr", password="right password")
    for _ in range(auth.LOGIN_FAILURES_PER_ADDRESS.max_count):
        failed = await client.post(
            "/api/v1/auth/login", json={"email": "target@test.ac.kr", "password": "guess"}
        )
        assert failed.status_code == 401
    blocked = await client.post(
        "/api/v1/auth/login", json={"email": "target@test.ac.kr", "password": "right password"}
    )
    assert blocked.status_code == 429 and blocked.json()["error"] == "rate_limited"
    # Another address from the same IP is still allowed.
    assert (
        await client.post("/api/v1/auth/login", json={"email": "other@test.ac.kr", "password": "x"})
    ).status_code == 401


async def test_profile_update(client: httpx.AsyncClient, make_person: MakePerson) -> None:
    alice = await make_person()
    response = await client.patch(
        "/api/v1/auth/me", json={"locale": "en", "name": "  Alice   Kim "}, headers=alice.headers
    )
    assert response.status_code == 200
    assert response.json()["locale"] == "en" and response.json()["name"] == "Alice Kim"
    bad = await client.patch("/api/v1/auth/me", json={"locale": "fr"}, headers=alice.headers)
    assert bad.status_code == 422


async def test_bad_tokens_are_refused(client: httpx.AsyncClient) -> None:
    for header in ("Bearer nonsense", "Bearer " + "a.b.c", "Basic Zm9vOmJhcg=="):
        response = await client.get("/api/v1/auth/me", headers={"Authorization": header})
        assert response.status_code == 401


async def test_magic_link_same_answer_for_unknown_address(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/v1/auth/magic-link", json={"email": "nobody@test.ac.kr"})
    assert response.status_code == 202


async def test_magic_link_verify_is_single_use_and_expires(
    client: httpx.AsyncClient, make_person: MakePerson, session: AsyncSession
) -> None:
    alice = await make_person()
    now = datetime.now(UTC)
    for token, expires in (("live-token", now + timedelta(minutes=5)), ("old-token", now)):
        session.add(
            MagicLinkToken(
                user_id=alice.id,
                token_hash=hashlib.sha256(token.encode()).hexdigest(),
                expires_at=expires,
            )
        )
    await session.flush()
    ok = await client.post("/api/v1/auth/magic-link/verify", json={"token": "live-token"})
    assert ok.status_code == 200 and ok.json()["user"]["id"] == alice.id
    again = await client.post("/api/v1/auth/magic-link/verify", json={"token": "live-token"})
    assert again.status_code == 401
    expired = await client.post("/api/v1/auth/magic-link/verify", json={"token": "old-token"})
    assert expired.status_code == 401


async def test_magic_link_request_sends_mail_through_outbox(
    client: httpx.AsyncClient, make_person: MakePerson, session: AsyncSession
) -> None:
    pytest.importorskip("core.notifications.service", reason="the outbound helper's module")
    from core.models import OutboundEmail

    alice = await make_person()
    response = await client.post("/api/v1/auth/magic-link", json={"email": alice.email})
    assert response.status_code == 202
    stored = (await session.scalars(select(MagicLinkToken))).all()
    assert len(stored) == 1 and len(stored[0].token_hash) == 64
    mails = (await session.scalars(select(OutboundEmail))).all()
    assert [m.recipient.lower() for m in mails] == [alice.email.lower()]
    assert "/auth/magic?token=" in mails[0].body_text
