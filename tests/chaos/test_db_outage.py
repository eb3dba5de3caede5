"""Database outage, light: a dedicated PostgreSQL cluster is stopped for a few seconds under
SMTP and API load with real api, mailgateway and scheduler processes. No 250 and no 500 while it
is down, 503 from the API, nothing lost or doubled afterwards, the scheduler records the ticks it
missed as failed runs and carries on. The full run is `python -m bench.chaos.db_outage` (30 s)."""

from __future__ import annotations

from bench.chaos.db_outage import OutageConfig, run_outage


async def test_postgres_stopped_under_load() -> None:
    cfg = OutageConfig(
        outage_seconds=4,
        warmup_seconds=2,
        recovery_seconds=3,
        smtp_rate=5,
        smtp_connections=4,
        api_readers=2,
        api_write_rate=1,
        settle_seconds=60,
        outbound_wait=0,  # rows the sender held when the database went away wait for their lease
    )
    result = await run_outage(cfg, log=lambda *_: None)
    assert not result.died, result.died
    assert result.smtp_250_during_outage == 0, result.smtp_codes
    assert result.smtp_codes["outage 451"] > 0, result.smtp_codes
    assert result.smtp_never_accepted == 0 and result.smtp_bounced == 0
    ledger = result.ledger
    assert ledger.missing == 0 and ledger.duplicates == 0, ledger.examples
    assert ledger.stuck == 0 and ledger.quarantined == 0, ledger.statuses
    assert ledger.processed == ledger.accepted == ledger.sent
    assert not result.api_500, result.api_500[:3]
    assert not result.api_outage_not_503, result.api_outage_not_503
    assert result.api_by_phase["outage"][503] > 0
    assert set(result.healthz_outage) <= {200}
    assert result.tickets_created > 0
    assert result.tickets_duplicated == result.tickets_missing == 0
    assert result.tickets_never_created == 0
    assert result.job_runs_stuck == 0, result.job_runs
    assert result.job_runs_failed_outage, result.job_runs
    assert result.job_runs_after > 0, result.job_runs
    assert not result.relay_duplicates
