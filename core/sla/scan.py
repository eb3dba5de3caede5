"""The `sla_scan` job: handle every ticket whose next SLA event is due, a batch per transaction.

Cost grows with the tickets that are due, not with the open ones: the only query is a range scan
of the partial index on `sla_next_check_at`, and each handled ticket's next check moves forward.
"""

from __future__ import annotations

from core.jobs.context import JobContext
from core.sla import service

MAX_BATCHES_PER_TICK = 1000


async def run(context: JobContext) -> None:
    now = context.now
    limit = max(1, context.settings.sla_scan_batch_size)
    total = service.ScanCounts()
    for _ in range(MAX_BATCHES_PER_TICK):
        async with context.transaction() as session:
            counts = await service.process_due(
                session, now=now, limit=limit, settings=context.settings
            )
        total.add(counts)
        if counts.tickets < limit:
            break
    context.summary.update(total.as_dict())
    if total.tickets:
        context.info(
            f"{total.tickets} ticket(s) due: {total.reminders} reminder(s), "
            f"{total.breaches} breach(es), {total.escalations} escalation(s)"
        )
