"""SMTP abuse, over a real socket against the real listener: 10,000 RCPT, a 1 MB header line,
200,000 headers, bare-LF/bare-CR end-of-data smuggling, open relay, forged reply tokens, SIZE
and line-length limits, NUL in the envelope, early talkers and a crowd of idle connections, each
answered with the right code; afterwards the gateway still takes mail and every stored message
is worked to a verdict."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine

from bench.chaos import harness
from bench.chaos.smtp_abuse import run_abuse
from core.config import get_settings
from mailgateway.server import start_listener
from mailgateway.worker import drain


async def test_smtp_abuse_gets_the_right_answers(
    committed_db: AsyncEngine, database_url: str, tmp_path: Path
) -> None:
    settings = get_settings().model_copy(
        update={
            "helpdesk_addresses": harness.HELP,
            "local_upload_root": str(tmp_path / "uploads"),
            "storage_backend": "local",
            "mail_retry_base_seconds": 0,
        }
    )
    server, committer = await start_listener(settings, host="127.0.0.1", port=0)
    port = server.sockets[0].getsockname()[1]

    def stored(needles: list[str]) -> int:
        sql = "SELECT count(*) FROM inbound_messages WHERE " + " AND ".join(
            "position(%s::bytea in raw) > 0" for _ in needles
        )
        return int(harness.scalar(database_url, sql, [n.encode() for n in needles]) or 0)

    try:
        result = await run_abuse(
            port, max_recipients=settings.mail_max_recipients, inbound_count=stored
        )
    finally:
        server.close()
        await server.wait_closed()
        await committer.stop()
    assert not result.violations, [(c.name, c.expected, c.got) for c in result.violations]
    assert len(result.cases) >= 14
    # Whatever was taken (the 2.4 MB header flood included) is worked to a verdict.
    await drain(settings)
    statuses = dict(
        harness.query(database_url, "SELECT status, count(*) FROM inbound_messages GROUP BY 1")
    )
    assert set(statuses) <= {"processed", "ignored", "quarantined"}, statuses
    assert sum(statuses.values()) >= 35, statuses


async def test_nul_in_the_envelope_does_not_fail_the_group_commit(
    committed_db: AsyncEngine, database_url: str, tmp_path: Path
) -> None:
    """Found by bench/chaos/attack: `MAIL FROM:<a\\x00b@...>` (or NUL in EHLO) made the batch
    insert fail, so that mail got 451 for ever and every mail committed with it got 451 too."""
    settings = get_settings().model_copy(update={"helpdesk_addresses": harness.HELP})
    server, committer = await start_listener(settings, host="127.0.0.1", port=0)
    port = server.sockets[0].getsockname()[1]
    try:
        result = await run_abuse(port, only={"NUL in EHLO and MAIL FROM, amid 27 ordinary mails"})
    finally:
        server.close()
        await server.wait_closed()
        await committer.stop()
    [case] = result.cases
    assert case.ok, case.got
    rows = harness.query(
        database_url, "SELECT mail_from, helo FROM inbound_messages WHERE helo = 'abuse'"
    )
    assert rows and all(mail_from == "abuse@univ.ac.kr" for mail_from, _ in rows)
