"""`servicedesk scheduler`: APScheduler 3 (AsyncIOScheduler) running the jobs of
core/jobs/catalog.py on the elected leader, plus the outbound mail sender on every replica.

Every job is registered from the catalog with its id and schedule, `coalesce=True`,
`max_instances=1` and a misfire grace. All replicas fire the same ticks (interval triggers are
anchored, cron is cron); on a tick a replica that is not the leader tries to become it and
otherwise does nothing, so a standby takes over within one tick of the leader's death. The leader
claims each tick by inserting its (job_id, scheduled_for) run row: a second guard, so that even
two replicas that both believe they lead cannot run one tick twice. Every
SCHEDULER_TICK_SECONDS the leader also claims "run now" requests queued by the API.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from contextvars import ContextVar
from datetime import datetime

from apscheduler.executors.asyncio import AsyncIOExecutor
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from core import db
from core.config import Settings, get_settings
from core.jobs import catalog, repository, runner
from core.models import JobRun, JobTrigger
from scheduler.leader import Leadership

logger = logging.getLogger(__name__)

# Seconds a stopping scheduler lets running jobs finish (the supervisor waits 10 s).
SHUTDOWN_GRACE = 8.0
# Missed ticks remembered during a database outage (a 30 s scan missed for a day is 2,880).
MAX_MISSED_TICKS = 1000

# The tick a job function was fired for (APScheduler 3 does not pass it to the function).
SCHEDULED_FOR: ContextVar[datetime | None] = ContextVar("scheduled_for", default=None)


class TickStampingExecutor(AsyncIOExecutor):
    """Runs coroutine jobs as tasks, like AsyncIOExecutor, with the scheduled run time in
    SCHEDULED_FOR: the task copies the context current when it is created."""

    def submit_job(self, job, run_times):  # type: ignore[no-untyped-def]
        token = SCHEDULED_FOR.set(run_times[-1])
        try:
            super().submit_job(job, run_times)
        finally:
            SCHEDULED_FOR.reset(token)


class SchedulerRunner:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.specs = catalog.job_specs(settings)
        self.leadership = Leadership(settings.database_url)
        self.busy: set[str] = set()  # jobs running in this process
        self.tasks: set[asyncio.Task[None]] = set()  # tick loop, sender, "run now" runs
        self.job_tasks: set[asyncio.Task[object]] = set()  # scheduled runs in progress
        # Ticks that fired while PostgreSQL was unreachable: recorded as failed runs once it is
        # back, so an outage shows in the run history instead of leaving a silent gap.
        self.missed: dict[tuple[str, datetime], str] = {}
        self.scheduler = AsyncIOScheduler(
            timezone=settings.scheduler_timezone,
            executors={"default": TickStampingExecutor()},
            job_defaults={
                "coalesce": True,
                "max_instances": 1,
                "misfire_grace_time": settings.scheduler_misfire_grace_seconds,
            },
        )

    def register_jobs(self) -> None:
        for spec in self.specs.values():
            if spec.trigger is None:
                logger.info("job %s has no schedule (run on demand only)", spec.id)
                continue
            self.scheduler.add_job(
                self.on_tick,
                trigger=spec.trigger,
                id=spec.id,
                name=spec.name,
                kwargs={"job_id": spec.id},
                coalesce=True,
                max_instances=1,
                misfire_grace_time=self.settings.scheduler_misfire_grace_seconds,
                replace_existing=True,
            )

    async def on_tick(self, job_id: str) -> None:
        scheduled_for = SCHEDULED_FOR.get()
        if scheduled_for is None:
            return
        if not await self.become_or_stay_leader():
            reason = self.leadership.unreachable
            if reason is not None and len(self.missed) < MAX_MISSED_TICKS:
                self.missed.setdefault((job_id, scheduled_for), reason)
            return
        await self.record_missed_ticks()
        # APScheduler owns this task; remember it so a shutdown can let it finish.
        task = asyncio.current_task()
        if task is not None:
            self.job_tasks.add(task)
            task.add_done_callback(self.job_tasks.discard)
        await self.run_job(job_id, scheduled_for=scheduled_for)

    async def record_missed_ticks(self) -> None:
        for (job_id, scheduled_for), reason in list(self.missed.items()):
            if job_id in self.specs:
                await runner.record_missed_tick(
                    self.specs[job_id], scheduled_for=scheduled_for, reason=reason
                )
            del self.missed[(job_id, scheduled_for)]

    async def become_or_stay_leader(self) -> bool:
        was_leader = self.leadership.is_leader
        leader = await self.leadership.ensure()
        if leader and not was_leader:
            marked = await runner.abandon_interrupted_runs(known_live=frozenset(self.busy))
            if marked:
                logger.warning("marked %d run(s) of a previous leader as interrupted", marked)
        return leader

    async def run_job(
        self, job_id: str, *, scheduled_for: datetime | None = None, claimed: JobRun | None = None
    ) -> None:
        self.busy.add(job_id)
        try:
            run = await runner.execute(
                self.specs[job_id],
                trigger=JobTrigger(claimed.trigger) if claimed else JobTrigger.schedule,
                settings=self.settings,
                scheduled_for=scheduled_for,
                claimed=claimed,
            )
            if run is not None:
                quiet = run.status == "succeeded" and not any(
                    v for v in run.summary.values() if isinstance(v, int)
                )
                logger.log(
                    logging.DEBUG if quiet else logging.INFO,
                    "job %s run %s: %s %s",
                    job_id,
                    run.id,
                    run.status,
                    run.summary,
                )
        finally:
            self.busy.discard(job_id)

    async def pick_up_requests(self) -> None:
        """Start the "run now" requests the API queued, one per idle job."""
        while True:
            async with db.session_scope() as session:
                claimed = await repository.claim_queued(
                    session, host=runner.runner_name(), busy_job_ids=self.busy
                )
            if claimed is None:
                return
            if claimed.job_id not in self.specs:
                async with db.session_scope() as session:
                    await repository.finish(
                        session, claimed.id, status="failed", error=f"unknown job {claimed.job_id}"
                    )
                continue
            self.busy.add(claimed.job_id)
            self.spawn(self.run_job(claimed.job_id, claimed=claimed))

    def spawn(self, coroutine) -> None:  # type: ignore[no-untyped-def]
        task = asyncio.create_task(coroutine)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def tick_loop(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                if await self.become_or_stay_leader():
                    await self.pick_up_requests()
            except Exception:
                logger.exception("scheduler tick failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self.settings.scheduler_tick_seconds)

    async def run(self, stop: asyncio.Event) -> None:
        self.register_jobs()
        self.scheduler.start()
        self.spawn(self.tick_loop(stop))
        if self.settings.scheduler_run_mailsender:
            self.spawn(self.mail_sender(stop))
        logger.info(
            "scheduler started: %s",
            ", ".join(f"{s.id} ({s.schedule})" for s in self.specs.values()),
        )
        try:
            await stop.wait()
        finally:
            await self.shut_down()

    async def shut_down(self) -> None:
        """No new ticks; running jobs and the sender get SHUTDOWN_GRACE seconds to finish, then
        are cancelled (a cancelled run is recorded as interrupted); then the lock is released."""
        self.scheduler.pause()
        running = [t for t in self.job_tasks | self.tasks if not t.done()]
        if running:
            _, late = await asyncio.wait(running, timeout=SHUTDOWN_GRACE)
            for task in late:
                task.cancel()
            await asyncio.gather(*running, return_exceptions=True)
        self.scheduler.shutdown(wait=False)
        await self.leadership.release()

    async def mail_sender(self, stop: asyncio.Event) -> None:
        """The outbox sender runs on every replica (it claims rows with SKIP LOCKED)."""
        from scheduler.mailsender import run_sender

        while not stop.is_set():
            try:
                await run_sender(stop, settings=self.settings)
            except Exception:
                logger.exception("mail sender stopped; restarting in 5 s")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=5)


async def serve(settings: Settings | None = None, stop: asyncio.Event | None = None) -> None:
    settings = settings or get_settings()
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    # APScheduler logs two lines per run at INFO; the runner logs one line per run that did work.
    logging.getLogger("apscheduler.executors").setLevel(logging.WARNING)
    db.init_engine("scheduler", settings=settings)
    try:
        await SchedulerRunner(settings).run(stop)
    finally:
        await db.dispose_engine()


def main() -> None:
    settings = get_settings()
    logging.basicConfig(
        level=settings.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    asyncio.run(serve(settings))
