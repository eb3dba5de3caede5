"""Attacks on the HTTP API, over real HTTP against a running `servicedesk api`.

* injection: every query parameter of every GET operation in the API's own OpenAPI document,
  with SQL, LIKE, tsquery, NUL, overflow and type-confusion payloads, as a requester and as an
  admin: never a 5xx, never a slow answer (pg_sleep), never a requester seeing a ticket that is
  not theirs, and the tables intact afterwards;
* tokens: `alg: none`, a wrong key, expired, no expiry, wrong audience, HS512, a tampered
  payload, garbage, a deactivated user's token, each as bearer and as cookie: 401 every time;
* another user's things by id: tickets, comments, events, history, participants, merge, bulk,
  attachments, internal notes, agent/admin lists: refused (403/404), never served;
* brute force: password guessing against one address and credential stuffing from one address
  answered 429, and a correct password during the lock does not get in.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
import warnings
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import jwt

from bench.chaos import harness, peers

INJECTION = [
    "' OR '1'='1",
    "' OR 1=1--",
    "1 OR 1=1",
    "1; DROP TABLE tickets;--",
    "'; DROP TABLE users;--",
    "%",
    "_",
    "%' OR '1'='1' --",
    "\\",
    "'",
    '"',
    "1' AND pg_sleep(3)--",
    "1)); SELECT pg_sleep(3);--",
    "'||pg_sleep(3)||'",
    "' UNION SELECT password_hash FROM users--",
    "$1",
    "::text",
    "0",
    "-1",
    "9223372036854775808",
    "1e309",
    "NaN",
    "\x00",
    "%00",
    "a" * 5000,
    "😀한글",
    "& | ! ( ) : * <-> \\:",
    "[]",
    "{}",
    "null",
    "true",
    "2026-13-45T99:99:99",
    "../../etc/passwd",
    "<script>alert(1)</script>",
    "${jndi:ldap://127.0.0.1/a}",
]
TIMING_PAYLOADS = {p for p in INJECTION if "pg_sleep" in p}
SLOW_SECONDS = 2.5
SKIP_PATHS = ("/stream", "/raw")  # server-sent events never end; raw is a download


@dataclass
class Check:
    name: str
    expected: str
    got: str
    ok: bool


@dataclass
class InjectionResult:
    requests: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    parameters: list[str] = field(default_factory=list)
    server_errors: list[str] = field(default_factory=list)
    slow: list[str] = field(default_factory=list)
    leaks: list[str] = field(default_factory=list)
    tables_intact: bool = True

    @property
    def ok(self) -> bool:
        return not (self.server_errors or self.slow or self.leaks) and self.tables_intact


@dataclass
class Target:
    """The running system as the attacks see it."""

    api: str
    database_url: str
    jwt_secret: str
    tokens: dict[str, str]  # address -> bearer token
    ids: dict[str, int]  # address -> user id
    mine: int = 0  # a ticket of REQUESTER
    theirs: int = 0  # a ticket of OTHER_REQUESTER
    their_attachment: int = 0
    internal_comment: int = 0


def _headers(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# --- arrangement -----------------------------------------------------------------------------


async def arrange(target: Target) -> None:
    """Tickets on both sides, an attachment on the other requester's, an internal note."""
    async with httpx.AsyncClient(base_url=target.api, timeout=30) as client:
        other = _headers(target.tokens[peers.OTHER_REQUESTER])
        upload = await client.post(
            "/api/v1/uploads",
            json={"filename": "급여명세.pdf", "size": 11, "content_type": "application/pdf"},
            headers=other,
        )
        upload.raise_for_status()
        info = upload.json()
        put = await client.request(
            info["method"], info["upload_url"], content=b"%PDF-secret", headers=info["headers"]
        )
        put.raise_for_status()
        done = await client.post(f"/api/v1/uploads/{info['attachment_id']}/complete", headers=other)
        done.raise_for_status()
        target.their_attachment = info["attachment_id"]
        theirs = await client.post(
            "/api/v1/tickets",
            json={
                "subject": "다른 사람의 비밀 요청",
                "body": "급여 문의",
                "attachment_ids": [target.their_attachment],
            },
            headers=other,
        )
        theirs.raise_for_status()
        target.theirs = theirs.json()["id"]
        mine = await client.post(
            "/api/v1/tickets",
            json={"subject": "내 요청", "body": "모니터가 꺼집니다"},
            headers=_headers(target.tokens[peers.REQUESTER]),
        )
        mine.raise_for_status()
        target.mine = mine.json()["id"]
        note = await client.post(
            f"/api/v1/tickets/{target.mine}/comments",
            json={"body": "INTERNAL-ONLY 요청자에게 보이면 안 됨", "visibility": "internal"},
            headers=_headers(target.tokens[peers.AGENT]),
        )
        note.raise_for_status()
        target.internal_comment = note.json()["id"]


# --- injection -------------------------------------------------------------------------------


def _path_values(target: Target) -> dict[str, str]:
    return {
        "ticket_id": str(target.mine),
        "user_id": str(target.ids[peers.REQUESTER]),
        "job_id": "sla_scan",
        "run_id": "1",
        "message_id": "1",
        "email_id": "1",
        "calendar_id": "1",
        "attachment_id": str(target.their_attachment),
        "notification_id": "1",
        "team_id": "1",
        "policy_id": "1",
        "holiday_id": "1",
        "category_id": "1",
        "canned_id": "1",
        "response_id": "1",
    }


async def get_operations(api: str) -> list[tuple[str, list[str]]]:
    """(path, query parameter names) of every GET operation the API documents."""
    async with httpx.AsyncClient(base_url=api, timeout=30) as client:
        spec = (await client.get("/openapi.json")).json()
    out = []
    for path, item in sorted(spec["paths"].items()):
        operation = item.get("get")
        if operation is None or any(skip in path for skip in SKIP_PATHS):
            continue
        params = [p["name"] for p in operation.get("parameters", []) if p.get("in") == "query"]
        out.append((path, params))
    return out


def _visible_to(database_url: str, user_id: int) -> set[int]:
    rows = harness.query(
        database_url,
        "SELECT id FROM tickets WHERE requester_id = %s UNION "
        "SELECT ticket_id FROM ticket_participants WHERE user_id = %s",
        [user_id, user_id],
    )
    return {row[0] for row in rows}


def _table_counts(database_url: str) -> dict[str, int]:
    return {
        table: int(harness.scalar(database_url, f"SELECT count(*) FROM {table}") or 0)
        for table in ("tickets", "users", "comments", "attachments")
    }


async def injection(
    target: Target,
    *,
    payloads: list[str] | None = None,
    concurrency: int = 8,
    only_path: str | None = None,
) -> InjectionResult:
    result = InjectionResult()
    payloads = payloads if payloads is not None else INJECTION
    operations = await get_operations(target.api)
    values = _path_values(target)
    requester_id = target.ids[peers.REQUESTER]
    visible = await asyncio.to_thread(_visible_to, target.database_url, requester_id)
    before = await asyncio.to_thread(_table_counts, target.database_url)
    roles = {"requester": target.tokens[peers.REQUESTER], "admin": target.tokens[peers.ADMIN]}
    jobs: list[tuple[str, str, str, str, str]] = []
    for path, params in operations:
        if only_path is not None and path != only_path:
            continue
        url = path.format(**{k: values.get(k, "1") for k in _placeholders(path)})
        for param in params:
            result.parameters.append(f"GET {path} ?{param}")
            for payload in payloads:
                for role in roles:
                    jobs.append((role, path, url, param, payload))
    queue: asyncio.Queue[tuple[str, str, str, str, str]] = asyncio.Queue()
    for job in jobs:
        queue.put_nowait(job)

    async def lane() -> None:
        async with httpx.AsyncClient(base_url=target.api, timeout=30) as client:
            while not queue.empty():
                role, path, url, param, payload = queue.get_nowait()
                began = time.monotonic()
                try:
                    response = await client.get(
                        url, params={param: payload}, headers=_headers(roles[role])
                    )
                except httpx.HTTPError as exc:
                    result.server_errors.append(f"{role} {path}?{param}={payload[:30]!r}: {exc!r}")
                    continue
                took = time.monotonic() - began
                result.requests += 1
                result.statuses[response.status_code] += 1
                where = f"{role} GET {path}?{param}={payload[:40]!r}"
                if response.status_code >= 500:
                    result.server_errors.append(
                        f"{where} -> {response.status_code} {response.text[:120]}"
                    )
                if payload in TIMING_PAYLOADS and took > SLOW_SECONDS:
                    result.slow.append(f"{where} took {took:.1f} s")
                if (
                    role == "requester"
                    and path == "/api/v1/tickets"
                    and response.status_code == 200
                ):
                    leaked = {i["id"] for i in response.json()["items"]} - visible
                    if leaked:
                        result.leaks.append(f"{where} showed tickets {sorted(leaked)[:5]}")

    await asyncio.gather(*(lane() for _ in range(concurrency)))
    after = await asyncio.to_thread(_table_counts, target.database_url)
    result.tables_intact = before == after
    return result


def _placeholders(path: str) -> list[str]:
    import re

    return re.findall(r"{(\w+)}", path)


# --- tokens ----------------------------------------------------------------------------------


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def forged_tokens(target: Target) -> dict[str, str]:
    admin = str(target.ids[peers.ADMIN])
    now = datetime.now(UTC)
    claims = {"sub": admin, "aud": "servicedesk", "iat": now, "exp": now + timedelta(hours=1)}
    valid = target.tokens[peers.REQUESTER]
    head, body, signature = valid.split(".")
    tampered_body = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    tampered_body["sub"] = admin
    return {
        "alg none": _b64({"alg": "none", "typ": "JWT"})
        + "."
        + _b64({**claims, "iat": int(now.timestamp()), "exp": int(claims["exp"].timestamp())})
        + ".",
        "alg None, signature kept": _b64({"alg": "None", "typ": "JWT"})
        + "."
        + _b64({"sub": admin, "aud": "servicedesk", "exp": int(claims["exp"].timestamp())})
        + "."
        + signature,
        "wrong key": jwt.encode(claims, "not-the-secret-" + "z" * 40, algorithm="HS256"),
        "expired": jwt.encode(
            {**claims, "iat": now - timedelta(days=2), "exp": now - timedelta(days=1)},
            target.jwt_secret,
            algorithm="HS256",
        ),
        "no expiry": jwt.encode(
            {"sub": admin, "aud": "servicedesk"}, target.jwt_secret, algorithm="HS256"
        ),
        "wrong audience": jwt.encode(
            {**claims, "aud": "someone-else"}, target.jwt_secret, algorithm="HS256"
        ),
        "HS512 with the right key": _hs512(claims, target.jwt_secret),
        "payload swapped to admin, signature kept": f"{head}.{_b64(tampered_body)}.{signature}",
        "garbage": "abc.def.ghi",
        "empty": "",
        "10,000 characters": "x" * 10_000,
        "sub not a number": jwt.encode({**claims, "sub": "1 OR 1=1"}, target.jwt_secret),
        "sub of no user": jwt.encode({**claims, "sub": "987654321"}, target.jwt_secret),
    }


def _hs512(claims: dict[str, Any], secret: str) -> str:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # PyJWT warns that the key is short for SHA-512
        return jwt.encode(claims, secret, algorithm="HS512")


async def token_attacks(target: Target) -> list[Check]:
    checks: list[Check] = []
    tokens = forged_tokens(target)
    async with httpx.AsyncClient(base_url=target.api, timeout=30) as client:
        # A deactivated user's genuine token.
        temp = await client.post(
            "/api/v1/users",
            json={"email": "leaver@chaos.ac.kr", "name": "leaver", "role": "agent"},
            headers=_headers(target.tokens[peers.ADMIN]),
        )
        if temp.status_code == 201:
            leaver = temp.json()["id"]
            now = datetime.now(UTC)
            tokens["deactivated user"] = jwt.encode(
                {"sub": str(leaver), "aud": "servicedesk", "exp": now + timedelta(hours=1)},
                target.jwt_secret,
            )
            off = await client.patch(
                f"/api/v1/users/{leaver}",
                json={"active": False},
                headers=_headers(target.tokens[peers.ADMIN]),
            )
            if off.status_code != 200:
                checks.append(Check("deactivate a user", "200", str(off.status_code), False))
        for name, token in tokens.items():
            for carrier in ("bearer", "cookie"):
                if carrier == "cookie" and not token:
                    continue  # an empty cookie is no cookie
                for url in ("/api/v1/auth/me", "/api/v1/users", "/api/v1/tickets"):
                    try:
                        if carrier == "bearer":
                            value = f"Bearer {token}" if token else "Bearer"
                            response = await client.get(url, headers={"Authorization": value})
                        else:
                            client.cookies.clear()
                            client.cookies.set("sd_session", token)
                            response = await client.get(url)
                            client.cookies.clear()
                        got = str(response.status_code)
                    except httpx.HTTPError as exc:
                        got = f"no answer: {exc!r}"[:120]
                    checks.append(Check(f"{name} ({carrier}) GET {url}", "401", got, got == "401"))
    return checks


# --- other people's things -------------------------------------------------------------------


async def idor(target: Target) -> list[Check]:
    checks: list[Check] = []
    me = _headers(target.tokens[peers.REQUESTER])
    theirs, attachment = target.theirs, target.their_attachment

    def check(name: str, response: httpx.Response, allowed: tuple[int, ...] = (403, 404)) -> None:
        checks.append(
            Check(
                name,
                "/".join(map(str, allowed)),
                str(response.status_code),
                response.status_code in allowed,
            )
        )

    async with httpx.AsyncClient(base_url=target.api, timeout=30) as c:
        check("GET another's ticket", await c.get(f"/api/v1/tickets/{theirs}", headers=me))
        check(
            "GET another's comments", await c.get(f"/api/v1/tickets/{theirs}/comments", headers=me)
        )
        check("GET another's history", await c.get(f"/api/v1/tickets/{theirs}/events", headers=me))
        check(
            "PATCH another's ticket",
            await c.patch(f"/api/v1/tickets/{theirs}", json={"status": "closed"}, headers=me),
        )
        check(
            "comment on another's ticket",
            await c.post(
                f"/api/v1/tickets/{theirs}/comments",
                json={"body": "끼어들기", "visibility": "public"},
                headers=me,
            ),
        )
        check(
            "join another's ticket as participant",
            await c.post(
                f"/api/v1/tickets/{theirs}/participants",
                json={"email": peers.REQUESTER},
                headers=me,
            ),
        )
        check(
            "merge another's ticket into mine",
            await c.post(
                f"/api/v1/tickets/{theirs}/merge", json={"into_ticket_id": target.mine}, headers=me
            ),
        )
        check(
            "merge mine into another's",
            await c.post(
                f"/api/v1/tickets/{target.mine}/merge", json={"into_ticket_id": theirs}, headers=me
            ),
        )
        check(
            "bulk-close including another's",
            await c.post(
                "/api/v1/tickets/bulk",
                json={"ticket_ids": [target.mine, theirs], "status": "closed"},
                headers=me,
            ),
        )
        response = await c.get(f"/api/v1/attachments/{attachment}", headers=me)
        check("download another's attachment", response)
        response = await c.get(f"/api/v1/attachments/{attachment}?inline=1", headers=me)
        check("preview another's attachment", response)
        check(
            "complete another's upload",
            await c.post(f"/api/v1/uploads/{attachment}/complete", headers=me),
            (403, 404, 409),
        )
        stolen = await c.post(
            "/api/v1/tickets",
            json={"subject": "첨부 훔치기", "body": "x", "attachment_ids": [attachment]},
            headers=me,
        )
        check("attach another's file to my new ticket", stolen, (400, 403, 404, 409, 422))
        listing = await c.get(
            "/api/v1/tickets",
            params={"requester": target.ids[peers.OTHER_REQUESTER]},
            headers=me,
        )
        leaked = (
            [i["id"] for i in listing.json().get("items", [])] if listing.status_code == 200 else []
        )
        checks.append(
            Check(
                "list with requester=<another>",
                "no items",
                f"{listing.status_code} items {leaked}",
                listing.status_code in (200, 403) and not leaked,
            )
        )
        comments = await c.get(f"/api/v1/tickets/{target.mine}/comments", headers=me)
        internal = [x["id"] for x in comments.json()] if comments.status_code == 200 else []
        checks.append(
            Check(
                "internal note on my ticket",
                "hidden",
                f"{comments.status_code}, visible internal ids "
                f"{[i for i in internal if i == target.internal_comment]}",
                comments.status_code == 200 and target.internal_comment not in internal,
            )
        )
        for url in (
            "/api/v1/tickets/counts",
            "/api/v1/users",
            "/api/v1/admin/inbound",
            "/api/v1/admin/outbound",
            "/api/v1/admin/jobs",
            "/api/v1/admin/sla-policies",
            "/api/v1/admin/inbound/1/raw",
        ):
            check(f"requester GET {url}", await c.get(url, headers=me))
        agent = _headers(target.tokens[peers.AGENT])
        for url in ("/api/v1/admin/jobs", "/api/v1/admin/inbound/1/raw"):
            check(f"agent GET {url}", await c.get(url, headers=agent))
        check(
            "requester makes themself admin",
            await c.patch(
                f"/api/v1/users/{target.ids[peers.REQUESTER]}", json={"role": "admin"}, headers=me
            ),
        )
        check("no token at all", await c.get(f"/api/v1/tickets/{theirs}"), (401,))
    return checks


# --- brute force -----------------------------------------------------------------------------


@dataclass
class BruteForce:
    guesses: list[int] = field(default_factory=list)
    first_429: int | None = None
    correct_during_lock: int = 0
    stuffing: list[int] = field(default_factory=list)
    stuffing_first_429: int | None = None

    @property
    def ok(self) -> bool:
        return (
            self.first_429 is not None
            and self.first_429 <= 10
            and all(s == 429 for s in self.guesses[self.first_429 - 1 :])
            and self.correct_during_lock == 429
            and self.stuffing_first_429 is not None
        )


async def brute_force(api: str, victim: str, *, stuffing: int = 110) -> BruteForce:
    """Run last: the per-address lock and the per-IP limit it trips last 15 minutes. The limits
    are fixed 15-minute windows, so a run that straddles a window boundary may see up to twice
    the per-IP limit (50) before its first 429: hence 110 stuffing attempts."""
    out = BruteForce()
    async with httpx.AsyncClient(base_url=api, timeout=30) as client:
        for n in range(1, 21):
            response = await client.post(
                "/api/v1/auth/login", json={"email": victim, "password": f"guess-{n:04d}"}
            )
            out.guesses.append(response.status_code)
            if response.status_code == 429 and out.first_429 is None:
                out.first_429 = n
        response = await client.post(
            "/api/v1/auth/login", json={"email": victim, "password": peers.PASSWORD}
        )
        out.correct_during_lock = response.status_code
        for n in range(1, stuffing + 1):
            response = await client.post(
                "/api/v1/auth/login",
                json={"email": f"stuffed{n:03d}@univ.ac.kr", "password": "password123"},
            )
            out.stuffing.append(response.status_code)
            if response.status_code == 429 and out.stuffing_first_429 is None:
                out.stuffing_first_429 = n
    return out
