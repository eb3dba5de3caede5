"""Load, light: one short step of the load bench (paced API queue work while SMTP mail is
offered at a steady rate) against real api and mailgateway processes. Only correctness is
asserted here (every request answered 200, every mail accepted); the figures are the bench's:
`python -m bench.chaos.load` (50 mails/s, rising API rates, p99s, the highest rate that holds)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

from bench.chaos.load import LoadConfig, run_load


async def test_paced_api_and_mail_load_is_served_without_errors(
    committed_db: AsyncEngine, database_url: str
) -> None:
    cfg = LoadConfig(mail_rate=10, rates=[10], step_seconds=4, seed_tickets=20)
    result = await run_load(cfg, database_url=database_url, log=lambda *_: None)
    [step] = result.steps
    assert not step.errors, step.errors
    assert step.sent == 40 and step.answered == 40
    assert len(step.queue_latencies) > 0
    assert step.mail_offered == 40 and step.mail_accepted == 40, step.mail_failures
    assert result.tickets >= 20
