"""Every scheduled job, in one place: its id, what it does, when it runs (from settings) and the
function that does it. The scheduler registers exactly these; the admin API lists them.

Interval jobs are anchored at a fixed instant so every scheduler replica computes the same ticks:
that is what lets a (job_id, scheduled_for) row be claimed once, whoever fires first.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from core.config import Settings
from core.errors import NotFound
from core.jobs.context import JobContext

INTERVAL_ANCHOR = datetime(2020, 1, 1, tzinfo=UTC)

JobBody = Callable[[JobContext], Awaitable[None]]


@dataclass(frozen=True)
class JobSpec:
    id: str
    name: str
    description: str
    trigger: BaseTrigger | None
    schedule: str  # human-readable, shown to admins
    body: JobBody


def every(seconds: float) -> tuple[BaseTrigger, str]:
    trigger = IntervalTrigger(seconds=seconds, start_date=INTERVAL_ANCHOR, timezone=UTC)
    return trigger, f"every {seconds:g} s"


def cron(expression: str, timezone: str) -> tuple[BaseTrigger | None, str]:
    if not expression.strip():
        return None, "disabled (run on demand)"
    trigger = CronTrigger.from_crontab(expression, timezone=timezone)
    return trigger, f"cron '{expression}' ({timezone})"


def job_specs(settings: Settings) -> dict[str, JobSpec]:
    # Bodies are imported here, not at module import: the catalog sits on top of core.
    from core import user_sync
    from core.housekeeping import jobs as housekeeping
    from core.sla import scan

    tz = settings.scheduler_timezone
    table = [
        (
            "sla_scan",
            "SLA reminders and breaches",
            "Sends reminders and breach notices for tickets whose SLA event is due; escalates.",
            every(settings.scheduler_sla_scan_seconds),
            scan.run,
        ),
        (
            "user_sync",
            "MIS user sync",
            "Creates, updates and deactivates users from the institution's MIS database.",
            cron(settings.scheduler_user_sync_cron, tz),
            user_sync.run,
        ),
        (
            "purge_raw_mail",
            "Purge raw inbound mail",
            "Drops the raw bytes of inbound mail older than the retention; metadata stays.",
            cron(settings.scheduler_housekeeping_cron, tz),
            housekeeping.purge_raw_mail,
        ),
        (
            "purge_stale_uploads",
            "Delete abandoned uploads",
            "Deletes uploads that were started but never completed, and their stored bytes.",
            cron(settings.scheduler_housekeeping_cron, tz),
            housekeeping.purge_stale_uploads,
        ),
        (
            "auto_close_resolved",
            "Close resolved tickets",
            "Closes tickets that stayed resolved for the configured number of days.",
            cron(settings.scheduler_auto_close_cron, tz),
            housekeeping.auto_close_resolved,
        ),
        (
            "prune_job_runs",
            "Prune job runs",
            "Deletes finished job runs older than the retention.",
            cron(settings.scheduler_housekeeping_cron, tz),
            housekeeping.prune_job_runs,
        ),
        (
            "prune_rate_limits",
            "Prune rate-limit counters",
            "Deletes sign-in and magic-link rate-limit counters of windows over a day old.",
            cron(settings.scheduler_housekeeping_cron, tz),
            housekeeping.prune_rate_limits,
        ),
    ]
    return {
        job_id: JobSpec(job_id, name, description, trigger, schedule, body)
        for job_id, name, description, (trigger, schedule), body in table
    }


def get_spec(settings: Settings, job_id: str) -> JobSpec:
    spec = job_specs(settings).get(job_id)
    if spec is None:
        raise NotFound(f"no job {job_id!r}")
    return spec


def next_run_at(spec: JobSpec, now: datetime) -> datetime | None:
    if spec.trigger is None:
        return None
    return spec.trigger.get_next_fire_time(None, now)
