"""The housekeeping job bodies; each works in bounded batches, one transaction per batch."""

from __future__ import annotations

from datetime import timedelta

from core.attachments import service as attachments
from core.auth import ratelimit
from core.housekeeping import repository
from core.jobs import service as jobs
from core.jobs.context import JobContext
from core.storage.factory import get_storage
from core.tickets import service as tickets

MAX_BATCHES = 10_000
# The longest rate-limit window is an hour and a check reads the window before the current one;
# counters of windows that started more than a day ago can no longer count for anything.
RATE_LIMIT_COUNTER_RETENTION = timedelta(days=1)


async def purge_raw_mail(context: JobContext) -> None:
    days = context.settings.housekeeping_raw_mail_retention_days
    before = context.now - timedelta(days=days)
    limit = context.settings.housekeeping_batch_size
    purged = 0
    for _ in range(MAX_BATCHES):
        async with context.transaction() as session:
            count = await repository.purge_raw_mail(session, before=before, limit=limit)
        purged += count
        if count < limit:
            break
    context.summary["purged"] = purged
    context.info(f"dropped the raw bytes of {purged} message(s) older than {days} days")


async def purge_stale_uploads(context: JobContext) -> None:
    hours = context.settings.housekeeping_stale_upload_hours
    limit = context.settings.housekeeping_batch_size
    storage = get_storage(context.settings)
    deleted = failed = 0
    failed_ids: set[int] = set()
    for _ in range(MAX_BATCHES):
        async with context.transaction() as session:
            stale = [
                a
                for a in await attachments.find_stale_uploads(
                    session, timedelta(hours=hours), limit=limit + len(failed_ids)
                )
                if a.id not in failed_ids
            ]
            for attachment in stale:
                try:
                    async with session.begin_nested():
                        if await attachments.discard_upload(
                            session, attachment=attachment, storage=storage
                        ):
                            deleted += 1
                except Exception as exc:  # one broken object must not stop the rest
                    failed += 1
                    failed_ids.add(attachment.id)
                    context.info(f"upload {attachment.id}: could not delete: {exc}")
        if len(stale) < limit:
            break
    context.summary.update({"deleted": deleted, "failed": failed})
    context.info(f"deleted {deleted} upload(s) never completed within {hours} h")


async def auto_close_resolved(context: JobContext) -> None:
    days = context.settings.housekeeping_auto_close_days
    if days <= 0:
        context.skip("HOUSEKEEPING_AUTO_CLOSE_DAYS is 0")
        return
    before = context.now - timedelta(days=days)
    limit = context.settings.housekeeping_batch_size
    closed = 0
    for _ in range(MAX_BATCHES):
        async with context.transaction() as session:
            batch = await repository.lock_resolved_before(session, before=before, limit=limit)
            for ticket in batch:
                await tickets.change_status(session, ticket=ticket, status="closed", actor=None)
        closed += len(batch)
        if len(batch) < limit:
            break
    context.summary["closed"] = closed
    context.info(f"closed {closed} ticket(s) resolved more than {days} days ago")


async def prune_job_runs(context: JobContext) -> None:
    days = context.settings.job_run_retention_days
    limit = max(context.settings.housekeeping_batch_size, 1000)
    pruned = 0
    for _ in range(MAX_BATCHES):
        async with context.transaction() as session:
            count = await jobs.prune_runs(
                session, older_than_days=days, now=context.now, limit=limit
            )
        pruned += count
        if count < limit:
            break
    context.summary["pruned"] = pruned
    context.info(f"deleted {pruned} job run(s) older than {days} days")


async def prune_rate_limits(context: JobContext) -> None:
    async with context.transaction() as session:
        deleted = await ratelimit.purge_expired(session, older_than=RATE_LIMIT_COUNTER_RETENTION)
    context.summary["deleted"] = deleted
    context.info(f"deleted {deleted} rate-limit counter(s) of windows more than a day old")
