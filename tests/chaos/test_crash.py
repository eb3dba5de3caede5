"""Crash, light: real `servicedesk mailgateway` and `servicedesk mailworker` processes are
SIGKILLed and restarted a few times while a real SMTP client sends mail and retries whatever got
no 250; every accepted mail must end as exactly one ticket or comment. The full run is
`python -m bench.chaos.crash` (10,000 mails, kills every 1-5 s until the queue is empty)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

from bench.chaos.crash import CrashConfig, run_crash


async def test_sigkilled_gateway_and_worker_lose_and_duplicate_nothing(
    committed_db: AsyncEngine, database_url: str
) -> None:
    cfg = CrashConfig(
        n=100,
        connections=8,
        seed=7,
        min_gap=0.5,
        max_gap=1.5,
        max_kills=4,
        rate=40,  # 2.5 s of sending: the first kills land while mail is arriving
        lease_seconds=5,
        kill_after_accept_seconds=0,
        drain_stall_seconds=60,
        max_seconds=120,
    )
    result = await run_crash(cfg, database_url=database_url, log=lambda *_: None)
    ledger = result.ledger
    assert not result.unexpected_exits, result.unexpected_exits[0]
    assert sum(result.kills.values()) >= 4 and result.kills["mailgateway"] >= 1, result.kills
    assert ledger.accepted == 100 and result.bounced == 0, (ledger.accepted, result.bounced)
    assert ledger.missing == 0, ledger.examples
    assert ledger.duplicates == 0, ledger.examples
    assert ledger.stuck == 0 and ledger.quarantined == 0, ledger.statuses
    assert ledger.processed == 100 and ledger.wrong_body == 0
