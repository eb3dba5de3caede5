"""The sender against a real SMTP server: outages, concurrency, refusals and crashes."""

from __future__ import annotations

import asyncio
import os
import signal
import sys

import httpx
import pytest
from sqlalchemy import select, text

from api.app import create_app
from core import db
from core.auth.jwt import issue_access_token
from core.models import OutboundEmail, OutboundStatus, Role
from core.outbox import repository
from core.outbox.delivery import SenderOptions, deliver_batch
from core.outbox.transport import Accepted, LeaseLost, SmtpTransport
from scheduler.mailsender import run_sender
from tests.outbound.support import (
    FAST,
    Captured,
    CaptureHandler,
    CaptureServer,
    capture_server,
    create_engine_like,
    drain,
    enqueue_sign_in_links,
    free_port,
    make_user,
    mark_lost,
    outbox_counts,
    send_one,
    smtp_settings,
    wait_for,
)


async def _rows(engine) -> list[OutboundEmail]:
    async with db.get_sessionmaker()() as session:
        return list(await session.scalars(select(OutboundEmail).order_by(OutboundEmail.id)))


async def test_relay_down_for_a_while_then_each_mail_exactly_once(committed_db) -> None:
    await enqueue_sign_in_links(12)
    port = free_port()  # nothing listens here yet: the relay is down
    settings = smtp_settings(port)
    stop = asyncio.Event()
    sender = asyncio.create_task(
        run_sender(stop, engine=committed_db, settings=settings, options=FAST)
    )
    try:

        async def everyone_retried_twice() -> bool:
            rows = await _rows(committed_db)
            return all(r.attempts >= 2 and r.status == "queued" for r in rows)

        await wait_for(everyone_retried_twice)
        waiting = await _rows(committed_db)
        assert all("unreachable" in (r.last_error or "") for r in waiting)
        relay = await CaptureServer(port=port).start()  # the relay comes back
        try:
            await wait_for(lambda: _all_sent(committed_db))
        finally:
            await relay.stop()
    finally:
        stop.set()
        await asyncio.wait_for(sender, 30)
    counts = relay.handler.by_message_id()
    assert len(counts) == 12 and set(counts.values()) == {1}
    rows = await _rows(committed_db)
    assert {r.message_id for r in rows} == set(counts)
    assert all(r.status == "sent" and r.sent_at is not None and r.attempts >= 3 for r in rows)


async def _all_sent(engine) -> bool:
    counts = await outbox_counts(engine)
    return set(counts) == {"sent"}


async def test_two_senders_at_once_send_no_duplicates(committed_db, database_url) -> None:
    await enqueue_sign_in_links(150)
    other_engine = create_engine_like(database_url)
    async with capture_server() as relay:
        settings = smtp_settings(relay.port)
        options = SenderOptions(**{**FAST.__dict__, "lanes": 3, "batch_size": 7})
        stop = asyncio.Event()
        senders = [
            asyncio.create_task(run_sender(stop, engine=e, settings=settings, options=options))
            for e in (committed_db, other_engine)
        ]
        try:
            await wait_for(lambda: _all_sent(committed_db))
        finally:
            stop.set()
            totals = await asyncio.wait_for(asyncio.gather(*senders), 30)
            await other_engine.dispose()
    counts = relay.handler.by_message_id()
    assert len(counts) == 150 and set(counts.values()) == {1}
    # Both senders did part of the work.
    assert all(t.sent > 0 for t in totals) and sum(t.sent for t in totals) == 150


async def test_refused_recipient_fails_with_the_reason_visible_in_the_api(committed_db) -> None:
    admin = await make_user("root@univ.ac.kr", role=Role.admin)
    agent = await make_user("agent9@univ.ac.kr", role=Role.agent)
    await enqueue_sign_in_links(3, prefix="ok")
    await enqueue_sign_in_links(1, prefix="gone")
    handler = CaptureHandler(
        refuse={"gone0@bulk.ac.kr": "550 5.1.1 <gone0@bulk.ac.kr>: no such user"}
    )
    async with capture_server(handler) as relay:
        await drain(committed_db, smtp_settings(relay.port))
    assert sorted(r for m in relay.messages for r in m.rcpt_tos) == [
        "ok0@bulk.ac.kr",
        "ok1@bulk.ac.kr",
        "ok2@bulk.ac.kr",
    ]
    app = create_app(manage_engine=False)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://t") as api:
        as_admin = {"Authorization": f"Bearer {issue_access_token(user_id=admin.id)}"}
        page = (await api.get("/api/v1/admin/outbound?status=failed", headers=as_admin)).json()
        [failed] = page["items"]
        assert failed["recipient"] == "gone0@bulk.ac.kr"
        assert failed["status"] == "failed" and failed["attempts"] == 1
        assert (
            failed["last_error"].startswith("550 5.1.1") and "no such user" in failed["last_error"]
        )
        sent = (await api.get("/api/v1/admin/outbound?status=sent", headers=as_admin)).json()
        assert len(sent["items"]) == 3
        detail = (await api.get(f"/api/v1/admin/outbound/{failed['id']}", headers=as_admin)).json()
        assert detail["headers"]["Auto-Submitted"] == "auto-generated"
        assert "/login/0" in detail["body_text"]
        as_agent = {"Authorization": f"Bearer {issue_access_token(user_id=agent.id)}"}
        refused = await api.get("/api/v1/admin/outbound?status=failed", headers=as_agent)
        assert refused.status_code == 403
        assert (await api.get("/api/v1/admin/outbound")).status_code == 401
        # Retry: queued again with attempts reset; retrying a queued mail is a conflict.
        retried = await api.post(f"/api/v1/admin/outbound/{failed['id']}/retry", headers=as_admin)
        assert retried.status_code == 200 and retried.json()["status"] == "queued"
        assert retried.json()["attempts"] == 0 and retried.json()["last_error"] is None
        again = await api.post(f"/api/v1/admin/outbound/{failed['id']}/retry", headers=as_admin)
        assert again.status_code == 409
        missing = await api.get("/api/v1/admin/outbound/999999", headers=as_admin)
        assert missing.status_code == 404 and missing.json()["error"] == "not_found"
    # The address was fixed on the relay's side: the retried mail goes out.
    async with capture_server() as relay:
        await drain(committed_db, smtp_settings(relay.port))
    assert [m.rcpt_tos for m in relay.messages] == [["gone0@bulk.ac.kr"]]


async def test_temporary_refusal_is_retried_with_backoff(committed_db) -> None:
    await enqueue_sign_in_links(1)
    handler = CaptureHandler(tempfail_data=2)
    async with capture_server(handler) as relay:
        await drain(committed_db, smtp_settings(relay.port))
    [row] = await _rows(committed_db)
    assert row.status == "sent" and row.attempts == 3
    assert len(relay.messages) == 1


async def test_gives_up_after_max_attempts_with_the_last_error(committed_db) -> None:
    await enqueue_sign_in_links(1)
    handler = CaptureHandler(tempfail_data=100)
    options = SenderOptions(**{**FAST.__dict__, "max_attempts": 3})
    async with capture_server(handler) as relay:
        await drain(committed_db, smtp_settings(relay.port), options=options)
    [row] = await _rows(committed_db)
    assert row.status == "failed" and row.attempts == 3
    assert row.last_error.startswith("gave up after 3 attempts") and "451 4.3.0" in row.last_error
    assert relay.messages == []


async def test_a_lease_run_out_before_the_hand_over_is_sent_again(committed_db) -> None:
    """A sender claimed the row and died before DATA: the next one sends it, once."""
    await enqueue_sign_in_links(1)
    async with committed_db.connect() as raw:
        conn = await raw.execution_options(isolation_level="AUTOCOMMIT")
        [claimed] = await repository.claim_due(conn, limit=10, lease_seconds=0.2)
    assert claimed.status == "sending"
    async with capture_server() as relay:
        await drain(committed_db, smtp_settings(relay.port))
    [row] = await _rows(committed_db)
    assert row.status == "sent" and row.last_error is None and row.attempts == 2
    assert len(relay.messages) == 1


async def test_a_lease_run_out_after_the_hand_over_is_not_sent_again(committed_db) -> None:
    """A sender marked the hand-over and died: the relay may have the mail, so it is settled as
    sent-unconfirmed (visible in last_error), not sent a second time."""
    await enqueue_sign_in_links(1)
    async with committed_db.connect() as raw:
        conn = await raw.execution_options(isolation_level="AUTOCOMMIT")
        [claimed] = await repository.claim_due(conn, limit=10, lease_seconds=0.2)
        marked = await repository.mark_handing(conn, marks=[(claimed.id, claimed.locked_until)])
        assert marked == {claimed.id}
    async with capture_server() as relay:
        await drain(committed_db, smtp_settings(relay.port))
    [row] = await _rows(committed_db)
    assert row.status == "sent" and row.last_error.startswith("unconfirmed:")
    assert relay.messages == []


async def test_a_killed_sender_process_causes_no_duplicate(committed_db, database_url) -> None:
    """`servicedesk mailsender` is SIGKILLed while the relay holds the 5th mail's 250 (the relay
    has stored it). A second sender takes over: all 10 mails arrive exactly once."""
    await enqueue_sign_in_links(10)
    holding = asyncio.Event()
    never = asyncio.Event()

    async def hold_the_fifth(captured: Captured) -> None:
        if len(handler.messages) == 5:
            holding.set()
            await never.wait()

    handler = CaptureHandler(after_store=hold_the_fifth)
    async with capture_server(handler) as relay:
        env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "SMTP_HOST": "127.0.0.1",
            "SMTP_PORT": str(relay.port),
        }
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "servicedesk",
            "mailsender",
            "--lanes",
            "1",
            env=env,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        try:
            await asyncio.wait_for(holding.wait(), 60)
        finally:
            process.send_signal(signal.SIGKILL)
            await asyncio.wait_for(process.wait(), 10)
        never.set()
        # Its lease would run out in 5 minutes; let the clock get there now.
        async with committed_db.begin() as conn:
            await conn.execute(
                text(
                    "UPDATE outbound_emails SET next_attempt_at = now(), locked_until = now() "
                    "WHERE status = 'sending'"
                )
            )
        await drain(committed_db, smtp_settings(relay.port))
    counts = relay.handler.by_message_id()
    assert len(counts) == 10 and set(counts.values()) == {1}, counts
    rows = await _rows(committed_db)
    assert all(r.status == OutboundStatus.sent.value for r in rows)
    unconfirmed = [r for r in rows if (r.last_error or "").startswith("unconfirmed:")]
    assert (
        len(unconfirmed) == 1
        and unconfirmed[0].message_id == relay.messages[4].message["Message-ID"]
    )


async def test_stopping_releases_claimed_rows_untried(committed_db) -> None:
    """A sender told to stop after claiming gives its rows back at once, attempts untouched."""
    await enqueue_sign_in_links(6)
    async with capture_server() as relay:
        report = await deliver_batch(
            committed_db,
            SmtpTransport(host="127.0.0.1", port=relay.port),
            envelope_sender="help@test.ac.kr",
            options=FAST,
            should_stop=lambda: True,
        )
    assert report.claimed == 6 and report.released == 6 and relay.messages == []
    assert await outbox_counts(committed_db) == {"queued": 6}
    assert all(r.attempts == 0 and r.locked_until is None for r in await _rows(committed_db))


async def test_the_content_goes_out_only_after_the_hand_over_mark_holds() -> None:
    """DATA is started while the mark is written; if the mark does not hold (another sender took
    the row), the transaction is abandoned mid-DATA and the relay delivers nothing."""
    async with capture_server() as relay:
        transport = SmtpTransport(host="127.0.0.1", port=relay.port, timeout=5)
        try:
            message = b"Subject: lost\r\nMessage-ID: <lost@t>\r\n\r\nnot to be delivered\r\n"
            result = await send_one(transport, message, before_data=mark_lost)
            assert isinstance(result, LeaseLost)

            async def database_down() -> bool:
                raise ConnectionError("database went away")

            with pytest.raises(ConnectionError):
                await send_one(transport, message, before_data=database_down)
            # The next mail on the same transport reconnects and goes through, exactly once.
            kept = b"Subject: kept\r\nMessage-ID: <kept@t>\r\n\r\ndelivered\r\n"
            result = await send_one(transport, kept)
            assert isinstance(result, Accepted) and result.detail.startswith("250")
        finally:
            await transport.close()
        await wait_for(lambda: len(relay.messages) >= 1)
        await asyncio.sleep(0.2)  # an abandoned transaction would have arrived by now
    assert [m.message["Message-ID"] for m in relay.messages] == ["<kept@t>"]


async def test_content_is_dot_stuffed_and_ends_in_crlf_on_the_wire() -> None:
    body = b"Subject: dots\r\n\r\n.one dot\r\n..two dots\r\n.\r\nbare lf\nlast line"
    async with capture_server() as relay:
        transport = SmtpTransport(host="127.0.0.1", port=relay.port, timeout=5)
        try:
            result = await send_one(transport, body)
        finally:
            await transport.close()
    assert isinstance(result, Accepted)
    [captured] = relay.messages
    # The relay un-stuffs the dots: the message arrives as it was, with CRLF line ends.
    assert captured.data == body.replace(b"bare lf\n", b"bare lf\r\n") + b"\r\n"


async def test_a_claim_made_ahead_that_failed_is_not_awaited_again(
    committed_db, monkeypatch
) -> None:
    """A lane claims its next batch while it sends the current one. When that claim failed (the
    database went away for a moment), the lane used to await the same failed claim on every
    retry and never send again until the process restarted."""
    from scheduler import mailsender

    await enqueue_sign_in_links(30)
    real_claim = mailsender.claim_batch
    calls = 0

    async def claim_fails_once(engine, options):  # type: ignore[no-untyped-def]
        nonlocal calls
        calls += 1
        if calls == 2:  # the first claim made ahead, while batch one is being sent
            raise ConnectionError("database went away")
        return await real_claim(engine, options)

    monkeypatch.setattr(mailsender, "claim_batch", claim_fails_once)
    one_lane = SenderOptions(**{**FAST.__dict__, "lanes": 1, "batch_size": 10})
    async with capture_server() as relay:
        await drain(committed_db, smtp_settings(relay.port), options=one_lane, deadline_s=20)
    assert calls > 3
    assert sorted(r for m in relay.messages for r in m.rcpt_tos) == sorted(
        f"user{n}@bulk.ac.kr" for n in range(30)
    )
