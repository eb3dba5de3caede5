"""The other ends the experiments need: an API client that records every answer, a fake
outbound relay that records every mail handed to it, and the people who sign in."""

from __future__ import annotations

import asyncio
import email
import time
from collections import Counter
from dataclasses import dataclass, field

import httpx
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from bench.chaos import harness

PASSWORD = "chaos-password-123"
AGENT = "agent@chaos.ac.kr"
ADMIN = "admin@chaos.ac.kr"
REQUESTER = "requester@chaos.ac.kr"
OTHER_REQUESTER = "other@chaos.ac.kr"


PEOPLE = (
    (ADMIN, "admin"),
    (AGENT, "agent"),
    (REQUESTER, "requester"),
    (OTHER_REQUESTER, "requester"),
)


async def create_users(database_url: str) -> dict[str, int]:
    """The admin, agent and two requesters every API experiment signs in as; their ids."""
    from sqlalchemy.ext.asyncio import AsyncSession

    from core import db
    from core.models import Role
    from core.users import passwords, service

    engine = db.create_engine("chaos-setup", url=database_url)
    ids: dict[str, int] = {}
    # One argon2 hash (most of a second each) shared by everyone: they have the same password.
    password_hash = await asyncio.to_thread(passwords.hash_password, PASSWORD)
    try:
        async with AsyncSession(engine, expire_on_commit=False) as session:
            for address, role in PEOPLE:
                user = await service.create_user(
                    session, email=address, name=address.split("@")[0], role=Role(role)
                )
                user.password_hash = password_hash
                ids[address] = user.id
            await session.commit()
    finally:
        await engine.dispose()
    return ids


async def login(base_url: str, address: str, password: str = PASSWORD) -> str:
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
        for _ in range(60):
            try:
                response = await client.post(
                    "/api/v1/auth/login", json={"email": address, "password": password}
                )
            except httpx.TransportError:
                await asyncio.sleep(0.5)
                continue
            if response.status_code == 200:
                return str(response.json()["access_token"])
            if response.status_code != 503:
                raise RuntimeError(f"login {address}: {response.status_code} {response.text}")
            await asyncio.sleep(0.5)
    raise RuntimeError(f"login {address}: the API never answered")


@dataclass
class Call:
    at: float
    phase: str
    name: str
    status: int  # 0: no answer (connection refused, reset, timeout)
    seconds: float
    error: str = ""


@dataclass
class ApiRecorder:
    """Every API call an experiment makes, with the phase it was made in."""

    calls: list[Call] = field(default_factory=list)
    phase: str = "before"

    async def call(
        self,
        client: httpx.AsyncClient,
        method: str,
        url: str,
        *,
        name: str | None = None,
        **kwargs: object,
    ) -> httpx.Response | None:
        phase, began = self.phase, time.monotonic()
        try:
            response = await client.request(method, url, **kwargs)  # type: ignore[arg-type]
        except httpx.HTTPError as exc:
            self.calls.append(
                Call(began, phase, name or url, 0, time.monotonic() - began, type(exc).__name__)
            )
            return None
        # A call that started in one phase and ended in another counts for the earlier phase
        # only if the phase did not change while it ran (the boundary is ambiguous otherwise).
        if self.phase != phase:
            phase = f"{phase}->{self.phase}"
        self.calls.append(
            Call(
                began,
                phase,
                name or url,
                response.status_code,
                time.monotonic() - began,
                response.text[:200] if response.status_code >= 500 else "",
            )
        )
        return response

    def statuses(self, phase: str | None = None) -> Counter[str]:
        return Counter(
            f"{c.name} {c.status}" for c in self.calls if phase is None or c.phase == phase
        )

    def by_phase(self) -> dict[str, Counter[int]]:
        out: dict[str, Counter[int]] = {}
        for call in self.calls:
            out.setdefault(call.phase, Counter())[call.status] += 1
        return out


@dataclass
class RelayMail:
    message_id: str
    recipients: list[str]
    subject: str
    headers: dict[str, str]


class _RelayHandler:
    def __init__(self, sink: RelaySink) -> None:
        self.sink = sink

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        message = email.message_from_bytes(raw if isinstance(raw, bytes) else raw.encode())
        self.sink.mails.append(
            RelayMail(
                message_id=str(message.get("Message-ID", "")).strip(),
                recipients=list(envelope.rcpt_tos),
                subject=str(message.get("Subject", "")),
                headers={k: str(v) for k, v in message.items()},
            )
        )
        return "250 2.0.0 Ok: queued"


class RelaySink:
    """The institution's outbound relay, played by aiosmtpd on 127.0.0.1: it keeps what it got."""

    def __init__(self) -> None:
        self.mails: list[RelayMail] = []
        self.port = harness.free_port()
        self._controller = Controller(
            _RelayHandler(self), hostname="127.0.0.1", port=self.port, ready_timeout=10
        )

    def start(self) -> None:
        self._controller.start()

    def stop(self) -> None:
        self._controller.stop()

    def duplicates(self) -> dict[str, int]:
        """Message-IDs handed over more than once, per recipient."""
        seen = Counter((m.message_id, r.lower()) for m in self.mails for r in m.recipients)
        return {f"{mid} -> {rcpt}": n for (mid, rcpt), n in seen.items() if n > 1}
