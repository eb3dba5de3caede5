"""Mail trust, tried as an attacker would (issue #15): forged From lines over real SMTP sockets,
checked afterwards in the database (comments, outbox, participants) and the verdict's evidence.

Peers are told apart by the loopback address the client connects from: RELAY_IP is the campus
relay whose Authentication-Results we believe, STRANGER_IP anyone else."""

from __future__ import annotations

import asyncio
import base64
import ipaddress
import os
import subprocess
import sys
import time
from collections.abc import Callable
from email.message import EmailMessage

import aiosmtplib
import dkim
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from core.inbound import maillog
from core.mail.tokens import make_reply_token, reply_address
from core.models import (
    Comment,
    InboundMessage,
    OutboundEmail,
    Role,
    Ticket,
    TicketParticipant,
    User,
)
from mailgateway.server import listener_refusal
from tests.mailgateway.conftest import (
    HELP,
    RELAY_IP,
    STRANGER_IP,
    TRUST_SETTINGS,
    Gateway,
    GatewayFactory,
    add_user,
    make_mail,
    relayed,
    rows,
)
from tests.mailgateway.dns_server import dns_server

AGENT = "agent@test.ac.kr"
VICTIM = "victim@univ.ac.kr"
ATTACKER = "attacker@evil.example"
PHISHING = "비밀번호가 만료되었습니다. http://evil.example/login 에서 다시 로그인하세요.\n"


async def _within_one_minute_window(needed: float = 20.0) -> None:
    """The caps count in fixed one-minute windows: start where the next `needed` seconds fall
    inside one, so a test's burst is not split by the minute turning."""
    left = 60 - time.time() % 60
    if left < needed:
        await asyncio.sleep(left + 0.05)


async def _count(engine: AsyncEngine, model: type, *where: object) -> int:
    async with AsyncSession(engine) as session:
        return int(await session.scalar(select(func.count()).select_from(model).where(*where)))


async def _inbound(engine: AsyncEngine, message_id: str) -> InboundMessage:
    [row] = await rows(
        engine, select(InboundMessage).where(InboundMessage.message_id == message_id)
    )
    return row


class Desk:
    """A ticket opened by VICTIM, an agent, and the counts an attacker must not change."""

    def __init__(self, gateway: Gateway, engine: AsyncEngine) -> None:
        self.gateway, self.engine = gateway, engine

    async def open(self, sign: Callable[[EmailMessage], bytes] | None = None) -> Desk:
        self.agent = await add_user(self.engine, AGENT, Role.agent)
        first = make_mail(message_id="<v0@univ.ac.kr>", sender=VICTIM)
        await self.gateway.send(sign(first) if sign else first)
        await self.gateway.process()
        [self.ticket] = await rows(self.engine, select(Ticket))
        return self

    async def snapshot(self) -> tuple[int, int, int, int]:
        return (
            await _count(self.engine, Comment),
            await _count(self.engine, OutboundEmail),
            await _count(self.engine, TicketParticipant),
            await _count(self.engine, User),
        )

    def tagged(self, **kwargs: object) -> object:
        return make_mail(subject=f"Re: [#{self.ticket.number}] 무선랜 문의", **kwargs)


@pytest.fixture
async def trusting_gateway(start_gateway: GatewayFactory) -> Gateway:
    return await start_gateway(**TRUST_SETTINGS)


@pytest.fixture
async def desk(trusting_gateway: Gateway, committed_db: AsyncEngine) -> Desk:
    return await Desk(trusting_gateway, committed_db).open()


async def test_forged_agent_from_with_a_subject_tag_posts_nothing(
    desk: Desk, committed_db: AsyncEngine
) -> None:
    before = await desk.snapshot()
    forged = desk.tagged(sender=f"IT 지원 <{AGENT}>", body=PHISHING, message_id="<f1@evil>")
    forged["Cc"] = ATTACKER
    await desk.gateway.send(forged, sender=ATTACKER, source=STRANGER_IP)
    await desk.gateway.process()
    row = await _inbound(committed_db, "<f1@evil>")
    assert row.status == "quarantined" and row.reason.startswith("unverified staff sender")
    assert row.trust_level == "unverified"
    # No comment, no outbound mail, no participant, no account for the attacker.
    assert await desk.snapshot() == before


async def test_forged_agent_note_writes_no_note(desk: Desk, committed_db: AsyncEngine) -> None:
    before = await desk.snapshot()
    forged = desk.tagged(sender=AGENT, body="#note\n환불 승인함\n", message_id="<f2@evil>")
    forged["In-Reply-To"] = "<v0@univ.ac.kr>"  # even knowing a Message-ID of the thread
    await desk.gateway.send(forged, sender=ATTACKER, source=STRANGER_IP)
    await desk.gateway.process()
    row = await _inbound(committed_db, "<f2@evil>")
    assert row.status == "quarantined" and row.reason.startswith("unverified staff sender")
    assert await desk.snapshot() == before


async def test_forged_requester_subject_tag_is_quarantined_unless_the_relay_verified_it(
    desk: Desk, committed_db: AsyncEngine
) -> None:
    before = await desk.snapshot()
    spoof = desk.tagged(sender=VICTIM, body=PHISHING, message_id="<f3@evil>")
    await desk.gateway.send(spoof, sender=ATTACKER, source=STRANGER_IP)
    await desk.gateway.process()
    row = await _inbound(committed_db, "<f3@evil>")
    assert row.status == "quarantined" and row.reason.startswith("possible spoof, subject tag")
    assert await desk.snapshot() == before

    # The student's real mail through the campus relay, which checked DMARC: appended.
    real = relayed(
        desk.tagged(sender=VICTIM, body="아직 안 됩니다\n", message_id="<v1@univ.ac.kr>"),
        "spf=pass smtp.mailfrom=univ.ac.kr; dkim=pass header.d=univ.ac.kr; "
        "dmarc=pass header.from=univ.ac.kr",
    )
    await desk.gateway.send(real, sender=VICTIM, source=RELAY_IP)
    await desk.gateway.process()
    row = await _inbound(committed_db, "<v1@univ.ac.kr>")
    assert row.status == "processed" and row.ticket_id == desk.ticket.id, row.reason
    assert row.trust_level == "verified"
    trust = row.parse_result["trust"]
    assert trust["peer_trusted"] is True and trust["verified_by"] == "dmarc=pass (univ.ac.kr)"
    [comment] = await rows(committed_db, select(Comment).where(Comment.id == row.comment_id))
    assert comment.mail_trust == "verified"


async def test_authentication_results_written_by_the_sender_are_ignored(
    desk: Desk, committed_db: AsyncEngine
) -> None:
    verdict = "dmarc=pass header.from=univ.ac.kr"
    # 1. The sender connects itself and brings the header our relay would write.
    direct = relayed(desk.tagged(sender=VICTIM, message_id="<f4@evil>"), verdict)
    await desk.gateway.send(direct, sender=ATTACKER, source=STRANGER_IP)
    # 2. Through the relay, the sender's copy sits below the relay's Received line; the relay's
    #    own verdict (on top) found nothing.
    below = desk.tagged(sender=VICTIM, message_id="<f5@evil>")
    below = relayed(below, verdict)  # what the attacker's own server "added"
    below["Received"] = "from attacker-pc by mail.evil.example; Wed, 2 Dec 2026 09:59:00 +0900"
    below = relayed(below, "spf=none smtp.mailfrom=evil.example; dkim=none; dmarc=none")
    await desk.gateway.send(below, sender=ATTACKER, source=RELAY_IP)
    # 3. A header that names another server is someone else's opinion, never ours to use.
    foreign = relayed(desk.tagged(sender=VICTIM, message_id="<f6@evil>"), verdict, authserv_id="x")
    await desk.gateway.send(foreign, sender=ATTACKER, source=RELAY_IP)
    await desk.gateway.process()
    for message_id, why in [
        ("<f4@evil>", "not a trusted relay"),
        ("<f5@evil>", "forged"),
        ("<f6@evil>", None),
    ]:
        row = await _inbound(committed_db, message_id)
        assert row.status == "quarantined", (message_id, row.reason)
        assert row.reason.startswith("possible spoof, subject tag only")
        assert row.trust_level == "unverified"
        ignored = row.parse_result["trust"]["ignored"]
        assert (why is None and ignored == []) or any(why in i for i in ignored), ignored
    # Sent from a trusted peer, yet both of the attacker's headers were below the relay's line.
    assert (await _inbound(committed_db, "<f5@evil>")).parse_result["trust"]["peer_trusted"]


async def test_reply_through_the_agents_token_is_the_agents_reply_and_only_theirs(
    desk: Desk, committed_db: AsyncEngine
) -> None:
    token_address = reply_address(
        HELP, make_reply_token(ticket_id=desk.ticket.id, user_id=desk.agent.id)
    )
    reply = make_mail(
        sender=AGENT, to=token_address, body="재부팅해 보세요.\n", message_id="<a1@t>"
    )
    await desk.gateway.send(reply, sender=AGENT, recipients=[token_address], source=STRANGER_IP)
    await desk.gateway.process()
    row = await _inbound(committed_db, "<a1@t>")
    assert row.status == "processed" and row.trust_level == "token", row.reason
    [comment] = await rows(committed_db, select(Comment).where(Comment.id == row.comment_id))
    assert comment.author_id == desk.agent.id and comment.visibility == "public"
    assert comment.mail_trust == "token"
    assert row.parse_result["trust"]["token_owner"] == AGENT
    replies = (OutboundEmail.kind == "agent_reply", OutboundEmail.recipient == VICTIM)
    assert await _count(committed_db, OutboundEmail, *replies) == 1

    # The same token under anyone else's From binds nobody: not an agent reply, nothing posted.
    before = await desk.snapshot()
    stolen = make_mail(sender=ATTACKER, to=token_address, body=PHISHING, message_id="<a2@evil>")
    await desk.gateway.send(stolen, sender=ATTACKER, recipients=[token_address], source=STRANGER_IP)
    # Another agent's From, unverified, with the first agent's token: not an agent reply either.
    await add_user(committed_db, "agent2@test.ac.kr", Role.agent)
    other = make_mail(sender="agent2@test.ac.kr", to=token_address, message_id="<a3@evil>")
    await desk.gateway.send(other, sender=ATTACKER, recipients=[token_address], source=STRANGER_IP)
    await desk.gateway.process()
    assert (await _inbound(committed_db, "<a2@evil>")).reason.startswith(
        f"reply address issued to agent {AGENT}"
    )
    assert (await _inbound(committed_db, "<a3@evil>")).reason.startswith("unverified staff sender")
    assert (await desk.snapshot())[:3] == before[:3]


async def test_cc_on_unverified_mail_subscribes_nobody(
    desk: Desk, committed_db: AsyncEngine
) -> None:
    # A legitimate reply (it knows the thread's Message-ID) that Ccs a stranger.
    reply = make_mail(sender=VICTIM, message_id="<v2@univ.ac.kr>", body="추가 정보입니다\n")
    reply["In-Reply-To"] = "<v0@univ.ac.kr>"
    reply["Cc"] = f"Helper <{ATTACKER}>"
    await desk.gateway.send(reply, sender=VICTIM, source=STRANGER_IP)
    # A new request Ccing a colleague, unverified: a ticket, but no participant.
    new = make_mail(sender="kim@univ.ac.kr", message_id="<k0@univ.ac.kr>")
    new["Cc"] = "park@univ.ac.kr"
    await desk.gateway.send(new, sender="kim@univ.ac.kr", source=STRANGER_IP)
    await desk.gateway.process()
    row = await _inbound(committed_db, "<v2@univ.ac.kr>")
    assert row.status == "processed" and row.ticket_id == desk.ticket.id
    assert (await _inbound(committed_db, "<k0@univ.ac.kr>")).status == "processed"
    assert await _count(committed_db, TicketParticipant) == 0
    assert await _count(committed_db, User, User.email.in_([ATTACKER, "park@univ.ac.kr"])) == 0

    # The same Cc through the relay with an aligned DKIM pass: the colleague is added.
    verified = relayed(
        make_mail(sender="kim@univ.ac.kr", message_id="<k1@univ.ac.kr>"),
        "dkim=pass header.d=mail.univ.ac.kr; spf=fail smtp.mailfrom=fwd.example",
    )
    verified["Cc"] = "park@univ.ac.kr"
    await desk.gateway.send(verified, sender="fwd@fwd.example", source=RELAY_IP)
    await desk.gateway.process()
    row = await _inbound(committed_db, "<k1@univ.ac.kr>")
    assert row.trust_level == "verified" and row.status == "processed"
    assert await _count(committed_db, TicketParticipant) == 1


async def test_dmarc_fail_with_p_reject_is_quarantined_and_never_acknowledged(
    desk: Desk, committed_db: AsyncEngine
) -> None:
    before = await desk.snapshot()
    forged = relayed(
        make_mail(sender="president@univ.ac.kr", message_id="<d1@evil>", body=PHISHING),
        "spf=fail smtp.mailfrom=evil.example; dkim=none; "
        "dmarc=fail (p=reject dis=none) header.from=univ.ac.kr",
    )
    await desk.gateway.send(forged, sender=ATTACKER, source=RELAY_IP)
    # rspamd's way of writing the policy, and p=none: that one is only "failed", not refused.
    soft = relayed(
        make_mail(sender="someone@lax.example", message_id="<d2@lax>"),
        'dmarc=fail reason="SPF not aligned" header.from=lax.example (policy=none); '
        "spf=fail smtp.mailfrom=lax.example",
    )
    await desk.gateway.send(soft, sender="someone@lax.example", source=RELAY_IP)
    await desk.gateway.process()
    row = await _inbound(committed_db, "<d1@evil>")
    assert row.status == "quarantined" and row.reason.startswith("DMARC fail for univ.ac.kr")
    assert "p=reject" in row.reason
    soft_row = await _inbound(committed_db, "<d2@lax>")
    assert soft_row.status == "processed" and soft_row.trust_level == "failed"
    comments, outbound, participants, _ = await desk.snapshot()
    # The p=none mail is a ticket, but neither sender got an acknowledgement.
    assert (comments, outbound, participants) == (before[0] + 1, before[1], before[2])


async def test_a_peer_outside_the_accept_list_is_refused_at_connect(
    start_gateway: GatewayFactory,
) -> None:
    gateway = await start_gateway(mailgateway_accept_from=f"{RELAY_IP}/32, 10.0.0.0/8")
    with pytest.raises(aiosmtplib.SMTPConnectResponseError) as refused:
        await gateway.send(make_mail(), source=STRANGER_IP)
    assert refused.value.code == 554 and "5.7.1" in refused.value.message
    errors, response = await gateway.send(make_mail(), source=RELAY_IP)
    assert errors == {} and "queued as" in response


def test_production_refuses_to_listen_without_an_accept_list() -> None:
    from core.config import Settings

    production = {"APP_ENV": "production", "JWT_SECRET": "x" * 40}
    assert listener_refusal(Settings(**production)) is not None
    assert listener_refusal(Settings(**production, MAILGATEWAY_ACCEPT_FROM="any")) is None
    assert listener_refusal(Settings()) is None  # the quick start listens on loopback as before
    # The command says so in one line, before it touches the database or the port.
    env = {**os.environ, **production, "MAILGATEWAY_ACCEPT_FROM": ""}
    done = subprocess.run(
        [sys.executable, "-m", "servicedesk", "mailgateway", "--port", "0"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert "MAILGATEWAY_ACCEPT_FROM is empty" in done.stderr and "Traceback" not in done.stderr
    with pytest.raises(ValueError, match="not an IP address or CIDR"):
        Settings(MAILGATEWAY_TRUSTED_RELAYS="10.0.0.0/8, campus-relay")


async def test_150_forged_senders_in_one_connection_are_bounded_by_the_caps(
    start_gateway: GatewayFactory, committed_db: AsyncEngine
) -> None:
    gateway = await start_gateway(
        mailgateway_peer_rate_limit=100,
        mail_new_ticket_rate_limit=40,
        mail_unverified_ack_limit=10,
    )
    await _within_one_minute_window()
    answers: list[int] = []
    async with aiosmtplib.SMTP(
        hostname=gateway.host, port=gateway.port, source_address=(STRANGER_IP, 0), timeout=60
    ) as client:
        for i in range(150):
            sender = f"student{i}@forged{i}.example"
            data = make_mail(sender=sender, message_id=f"<b{i}@forged>").as_bytes()
            try:
                await client.sendmail(sender, [HELP], data)
                answers.append(250)
            except aiosmtplib.SMTPSenderRefused as refused:
                assert refused.code == 451 and "4.7.1" in refused.message
                answers.append(refused.code)
                await client.rset()
    assert answers.count(250) == 100 and answers.count(451) == 50
    await gateway.process()
    received = await rows(committed_db, select(InboundMessage))
    # Nothing lost: every accepted mail ended in a final state.
    assert len(received) == 100
    statuses = [r.status for r in received]
    assert statuses.count("processed") == 40 and statuses.count("quarantined") == 60
    assert all(
        r.reason.startswith("flood: more than 40") for r in received if r.status == "quarantined"
    )
    acks = await _count(committed_db, OutboundEmail, OutboundEmail.kind == "acknowledgement")
    assert acks == 10
    assert await _count(committed_db, Ticket) == 40


async def test_a_flood_is_released_in_bulk(
    start_gateway: GatewayFactory, committed_db: AsyncEngine
) -> None:
    gateway = await start_gateway(mail_new_ticket_rate_limit=2, mail_unverified_ack_limit=3)
    await _within_one_minute_window()
    for i in range(5):
        await gateway.send(make_mail(sender=f"s{i}@univ.ac.kr", message_id=f"<r{i}@u>"))
    await gateway.process()
    quarantined = await rows(
        committed_db, select(InboundMessage.id).where(InboundMessage.status == "quarantined")
    )
    assert len(quarantined) == 3
    admin = await add_user(committed_db, "admin@test.ac.kr", Role.admin)
    async with AsyncSession(committed_db) as session:
        result = await maillog.release_many(
            session,
            message_ids=[*quarantined, 2**62],
            actor=await session.get(User, admin.id),
            settings=gateway.settings,
        )
        await session.commit()
    assert sorted(result.released) == sorted(quarantined)
    assert [i for i, _ in result.failed] == [2**62]
    assert await _count(committed_db, Ticket) == 5
    assert set(await rows(committed_db, select(InboundMessage.status))) == {"processed"}
    # Released, the senders are still unverified: acknowledged only up to the hourly cap.
    acks = await _count(committed_db, OutboundEmail, OutboundEmail.kind == "acknowledgement")
    assert acks == 3
    # Each release is on its ticket: who released which mail.
    notes = await rows(committed_db, select(Comment.body_text).where(Comment.source == "system"))
    assert len(notes) == 3 and all("admin@test.ac.kr" in n for n in notes)


# --- our own SPF / DKIM / DMARC check (MAIL_VERIFY_SELF), against a real DNS server -------------


def _dkim_key() -> tuple[bytes, str]:
    """A fresh RSA key: the PEM to sign with, and the DKIM TXT record that publishes it."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return pem, "v=DKIM1; k=rsa; p=" + base64.b64encode(public).decode()


def _signed(message: EmailMessage, pem: bytes, domain: str = "univ.ac.kr") -> bytes:
    raw = message.as_bytes()
    signature = dkim.sign(
        raw,
        b"s1",
        domain.encode(),
        pem,
        include_headers=[b"from", b"to", b"subject", b"message-id"],
    )
    return signature + raw


async def test_our_own_check_verifies_a_dkim_signed_mail_and_refuses_a_forged_one(
    start_gateway: GatewayFactory, committed_db: AsyncEngine
) -> None:
    pem, record = _dkim_key()
    zone = {
        ("s1._domainkey.univ.ac.kr", "TXT"): [record],
        ("univ.ac.kr", "TXT"): ["v=spf1 ip4:192.0.2.10 -all"],  # not our test client
        ("_dmarc.univ.ac.kr", "TXT"): ["v=DMARC1; p=reject; rua=mailto:dmarc@univ.ac.kr"],
    }
    with dns_server(zone) as (resolver_address, dns):
        gateway = await start_gateway(mail_verify_self=True, mail_dns_resolver=resolver_address)
        desk = await Desk(gateway, committed_db).open(sign=lambda m: _signed(m, pem))
        # The student's own signed mail, naming the ticket only in its subject: DKIM passes,
        # aligned with From, so DMARC passes although SPF fails (a forwarder, say).
        real = desk.tagged(sender=VICTIM, body="아직 안 됩니다\n", message_id="<s1@univ.ac.kr>")
        await gateway.send(_signed(real, pem), sender=VICTIM, source=STRANGER_IP)
        # The attacker's copy with the body changed after signing: DKIM fails, SPF fails,
        # DMARC fails under p=reject.
        forged = _signed(
            desk.tagged(sender=VICTIM, body="원본\n", message_id="<s2@evil>"), pem
        ).replace("원본".encode(), "변조".encode())
        await gateway.send(forged, sender=VICTIM, source=STRANGER_IP)
        await gateway.process()
    row = await _inbound(committed_db, "<s1@univ.ac.kr>")
    assert row.status == "processed" and row.ticket_id == desk.ticket.id, row.reason
    trust = row.parse_result["trust"]
    assert row.trust_level == "verified" and trust["checked_here"] is True
    assert trust["verified_by"] == "dmarc=pass (univ.ac.kr)"
    methods = {(r["method"], r["result"]) for r in trust["results"]}
    assert {("dkim", "pass"), ("spf", "fail"), ("dmarc", "pass")} <= methods
    bad = await _inbound(committed_db, "<s2@evil>")
    assert bad.status == "quarantined" and bad.reason.startswith("DMARC fail for univ.ac.kr")
    assert ("s1._domainkey.univ.ac.kr", "TXT") in dns.questions


async def test_without_a_dns_answer_nothing_is_proven_and_nothing_is_lost(
    start_gateway: GatewayFactory, committed_db: AsyncEngine
) -> None:
    with dns_server({}) as (resolver_address, _dns):
        pass  # the server is gone: its port answers nothing
    gateway = await start_gateway(mail_verify_self=True, mail_dns_resolver=resolver_address)
    await gateway.send(make_mail(message_id="<n1@univ.ac.kr>"), source=STRANGER_IP)
    await gateway.process()
    row = await _inbound(committed_db, "<n1@univ.ac.kr>")
    assert row.status == "processed" and row.trust_level == "unverified"


# --- what an attacker probe of this change found (each failed before its fix) ---------------


async def test_a_known_message_id_under_a_forged_from_subscribes_nobody(
    desk: Desk, committed_db: AsyncEngine
) -> None:
    # The attacker's own ticket gives them a Message-ID of ours to point at.
    await desk.gateway.send(
        make_mail(sender=ATTACKER, message_id="<own@evil>"), sender=ATTACKER, source=STRANGER_IP
    )
    await desk.gateway.process()
    forged = make_mail(sender="dean@univ.ac.kr", message_id="<p1@evil>", body="please add me\n")
    forged["In-Reply-To"] = "<own@evil>"
    await desk.gateway.send(forged, sender=ATTACKER, source=STRANGER_IP)
    await desk.gateway.process()
    row = await _inbound(committed_db, "<p1@evil>")
    assert row.status == "processed"  # appended by References, as a requester may
    assert await _count(committed_db, TicketParticipant) == 0
    steps = [s["result"] for s in row.parse_result["steps"] if s["step"] == "participants"]
    assert steps == ["the sender was not added: not verified"]


async def test_a_plain_release_subscribes_nobody_and_a_mail_without_sender_can_be_released(
    desk: Desk, committed_db: AsyncEngine
) -> None:
    hijack = desk.tagged(sender=ATTACKER, message_id="<pr1@evil>", body="I can help\n")
    await desk.gateway.send(hijack, sender=ATTACKER, source=STRANGER_IP)
    nobody = make_mail(message_id="<ns@evil>")
    del nobody["From"]
    await desk.gateway.send(nobody, sender="", source=STRANGER_IP)
    invalid = make_mail(message_id="<inv@evil>")
    invalid.replace_header("From", "root@localhost")
    await desk.gateway.send(invalid, sender="", source=STRANGER_IP)
    await desk.gateway.process()
    ids = [(await _inbound(committed_db, m)).id for m in ("<pr1@evil>", "<ns@evil>", "<inv@evil>")]
    admin = await add_user(committed_db, "admin@test.ac.kr", Role.admin)
    async with AsyncSession(committed_db) as session:
        result = await maillog.release_many(
            session,
            message_ids=ids,
            mode="plain",
            actor=await session.get(User, admin.id),
            settings=desk.gateway.settings,
        )
        await session.commit()
    assert sorted(result.released) == sorted(ids) and result.failed == []
    assert await _count(committed_db, TicketParticipant) == 0
    # Nobody to post as: the admin brought them in, with no powers.
    for message_id in ("<ns@evil>", "<inv@evil>"):
        row = await _inbound(committed_db, message_id)
        assert row.status == "processed", row.reason
        [author] = await rows(
            committed_db, select(Comment.author_id).where(Comment.id == row.comment_id)
        )
        assert author == admin.id


async def test_undecodable_bytes_in_a_claimed_header_do_not_break_the_verdict(
    start_gateway: GatewayFactory, committed_db: AsyncEngine
) -> None:
    gateway = await start_gateway(**TRUST_SETTINGS)
    poison = (
        b"Authentication-Results: mx.test.ac.kr; dkim=pass header.d=\xff\xfe\r\n"
        b"From: v@univ.ac.kr\r\nSubject: hi\r\nMessage-ID: <h4@x>\r\n\r\nx\r\n"
    )
    await gateway.send(poison, sender="x@evil.example", source=STRANGER_IP)
    await gateway.process()
    [row] = await rows(committed_db, select(InboundMessage))
    assert row.status == "processed" and row.attempts == 1, row.reason


async def test_a_senders_line_below_a_dmarc_checking_relay_verifies_nothing(
    desk: Desk, committed_db: AsyncEngine
) -> None:
    """The sender connects to the relay itself (no Received line of its own) and writes the
    DKIM line the relay leaves out for unsigned mail: the relay's DMARC verdict decides."""
    mail = make_mail(sender=AGENT, message_id="<ar@evil>", body="#note\n환불 승인\n")
    mail["In-Reply-To"] = "<v0@univ.ac.kr>"
    mail["Authentication-Results"] = "mx.test.ac.kr; dkim=pass header.d=test.ac.kr"
    mail = relayed(mail, "spf=none smtp.mailfrom=evil.example; dmarc=none header.from=test.ac.kr")
    await desk.gateway.send(mail, sender=ATTACKER, source=RELAY_IP)
    await desk.gateway.process()
    row = await _inbound(committed_db, "<ar@evil>")
    assert row.trust_level == "unverified" and row.status == "quarantined"
    assert await _count(committed_db, Comment, Comment.visibility == "internal") == 0


def test_an_ipv6_peer_is_counted_by_its_slash_64() -> None:
    from core.inbound.limits import peer_key

    one = peer_key(ipaddress.ip_address("2001:db8:1:2::1"))
    assert (
        one
        == peer_key(ipaddress.ip_address("2001:db8:1:2:ffff::9"))
        == ("mail:peer:2001:db8:1:2::/64")
    )
    assert one != peer_key(ipaddress.ip_address("2001:db8:1:3::1"))
    assert peer_key(ipaddress.ip_address("192.0.2.7")) == "mail:peer:192.0.2.7"
