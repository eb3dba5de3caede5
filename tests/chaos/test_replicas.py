"""Replicas, light: two api, two mailgateway and two scheduler processes on one database, mail
spread over both gateways and an API client alternating between the replicas. Nothing doubled
(tickets, comments, outbox rows, relay hand-overs, notifications, job ticks), every read on the
other replica sees the write, both replicas count the same. The full run is
`python -m bench.chaos.replicas` (two of all five processes, SLA reminders and breaches)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

from bench.chaos.replicas import ReplicaConfig, run_replicas


async def test_two_of_each_process_double_nothing(
    committed_db: AsyncEngine, database_url: str
) -> None:
    cfg = ReplicaConfig(
        mails=30,
        mail_rate=10,
        flows=6,
        flow_rate=2,
        sla_wait=0,
        processes=("api", "mailgateway", "scheduler"),
        sla=False,
    )
    result = await run_replicas(cfg, database_url=database_url, log=lambda *_: None)
    assert not result.died, result.died
    ledger = result.ledger
    assert ledger.accepted == ledger.sent == 30
    assert ledger.processed == 30 and ledger.duplicates == 0 and ledger.missing == 0
    assert ledger.stuck == 0 and ledger.quarantined == 0
    assert result.flows == 6 and not result.flow_failures, result.flow_failures
    assert not result.stale_reads, result.stale_reads
    assert result.api_tickets_duplicated == result.api_comments_duplicated == 0
    assert result.outbound_duplicates == 0 and not result.relay_duplicates
    assert result.relay_received > 0
    assert not result.notification_duplicates, result.notification_duplicates
    assert result.job_tick_duplicates == 0
    assert result.counts_equal, result.counts
