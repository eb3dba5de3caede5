"""SMTP PIPELINING (RFC 2920) against a real server that offers it: MAIL, RCPT and DATA go out in
one write and their answers, which may arrive together, are matched to them in order."""

from __future__ import annotations

from sqlalchemy import select

from core import db
from core.models import OutboundEmail
from core.outbox.transport import Accepted, LeaseLost, Refused, SmtpTransport
from tests.outbound.support import (
    CaptureHandler,
    capture_server,
    drain,
    enqueue_sign_in_links,
    mark_lost,
    send_one,
    smtp_settings,
)


def _mail(n: int) -> bytes:
    return f"Subject: {n}\r\nMessage-ID: <p{n}@t>\r\n\r\nbody {n}\r\n".encode()


async def test_pipelined_sends_keep_every_answer_with_its_command() -> None:
    handler = CaptureHandler(
        pipelining=True, refuse={"gone@t.ac.kr": "550 5.1.1 <gone@t.ac.kr>: no such user"}
    )
    async with capture_server(handler) as relay:
        transport = SmtpTransport(host="127.0.0.1", port=relay.port, timeout=5)
        try:
            first = await send_one(transport, _mail(1))
            assert transport.pipelining_in_use
            # A refused recipient: its DATA is refused too; all three answers are read, so the
            # next mail on the same connection gets its own.
            refused = await send_one(transport, _mail(2), recipient="gone@t.ac.kr")
            # A mark that does not hold after the relay said 354: nothing is delivered.
            lost = await send_one(transport, _mail(3), recipient="b@t.ac.kr", before_data=mark_lost)
            last = await send_one(transport, _mail(4), recipient="c@t.ac.kr")
        finally:
            await transport.close()
    assert isinstance(first, Accepted) and first.detail.startswith("250")
    assert isinstance(refused, Refused) and refused.permanent
    assert refused.detail.startswith("550 5.1.1") and "(RCPT TO gone@t.ac.kr)" in refused.detail
    assert isinstance(lost, LeaseLost)
    assert isinstance(last, Accepted)
    assert [(m.rcpt_tos, m.message["Message-ID"]) for m in relay.messages] == [
        (["a@t.ac.kr"], "<p1@t>"),
        (["c@t.ac.kr"], "<p4@t>"),
    ]


async def test_the_sender_pipelines_when_offered_and_not_when_turned_off(committed_db) -> None:
    for pipelining in (True, False):
        await enqueue_sign_in_links(6, prefix=f"p{pipelining:d}-")
        async with capture_server(CaptureHandler(pipelining=True)) as relay:
            settings = smtp_settings(relay.port, smtp_pipelining=pipelining)
            await drain(committed_db, settings)
            probe = SmtpTransport.from_settings(settings)
            try:
                await send_one(probe, _mail(0), recipient="probe@t.ac.kr")
                assert probe.pipelining_in_use is pipelining
            finally:
                await probe.close()
        sent = sorted(r for m in relay.messages for r in m.rcpt_tos if r != "probe@t.ac.kr")
        assert sent == [f"p{pipelining:d}-{n}@bulk.ac.kr" for n in range(6)]
    async with db.get_sessionmaker()() as session:
        statuses = set(await session.scalars(select(OutboundEmail.status)))
    assert statuses == {"sent"}
