"""Two real scheduler processes (`python -m servicedesk scheduler`) against the test database with
a one-second SLA tick: reminders and breach notices go out exactly once while both run; SIGKILL
the leader and the standby takes the next ticks; no tick runs twice; "run now" is picked up."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from core.config import get_settings
from core.jobs import service as jobs
from core.models import (
    BusinessCalendar,
    JobRun,
    Notification,
    OutboundEmail,
    Role,
    SlaNotice,
    SlaPolicy,
    Team,
    TeamMember,
    User,
)
from core.sla import clock
from core.tickets import service as tickets

PROJECT_DIR = Path(__file__).resolve().parents[2]
TICK = 1.0
ALWAYS_OPEN = {str(d): [["00:00", "24:00"]] for d in range(7)}


def scheduler_env(database_url: str, sink: Path) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": database_url,
        "SMTP_HOST": "",
        "OUTBOX_SINK_DIR": str(sink),
        "SCHEDULER_SLA_SCAN_SECONDS": str(TICK),
        "SCHEDULER_TICK_SECONDS": "0.5",
        "SCHEDULER_USER_SYNC_CRON": "",
        "SCHEDULER_HOUSEKEEPING_CRON": "",
        "SCHEDULER_AUTO_CLOSE_CRON": "",
        "SCHEDULER_RUN_MAILSENDER": "true",  # every replica runs the sender loop too
        "LOG_LEVEL": "INFO",
    }


def start_scheduler(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as output:
        return subprocess.Popen(
            [sys.executable, "-m", "servicedesk", "scheduler"],
            env=env,
            cwd=PROJECT_DIR,
            stdout=output,
            stderr=subprocess.STDOUT,
        )


class Desk:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def setup(self) -> None:
        async with AsyncSession(self.engine, expire_on_commit=False) as session:
            self.agent = User(email="agent@proc.ac.kr", name="상담원", role=Role.agent.value)
            self.lead = User(email="lead@proc.ac.kr", name="팀장", role=Role.agent.value)
            self.requester = User(email="prof@proc.ac.kr", name="교수")
            session.add_all([self.agent, self.lead, self.requester])
            await session.flush()
            self.team = Team(name="서버팀", lead_id=self.lead.id)
            calendar = BusinessCalendar(
                name="24/7", weekly_hours=ALWAYS_OPEN, use_kr_holidays=False
            )
            session.add_all([self.team, calendar])
            await session.flush()
            session.add_all(
                [
                    TeamMember(team_id=self.team.id, user_id=self.agent.id),
                    TeamMember(team_id=self.team.id, user_id=self.lead.id),
                    SlaPolicy(
                        name="24/7 10분",
                        calendar_id=calendar.id,
                        first_response_minutes=10,
                        resolution_minutes=60,
                        reminder_percent=50,
                    ),
                ]
            )
            await session.commit()

    async def open_at(self, at: datetime, n: int) -> list[int]:
        ids = []
        async with AsyncSession(self.engine, expire_on_commit=False) as session:
            for i in range(n):
                with clock.frozen(at):
                    ticket, _ = await tickets.open_ticket(
                        session,
                        requester=self.requester,
                        subject=f"서버 점검 {at:%H%M%S} {i}",
                        body_text="디스크가 가득 찼습니다.",
                        team_id=self.team.id,
                    )
                ids.append(ticket.id)
            await session.commit()
        return ids


async def _notices(engine: AsyncEngine) -> list[tuple[int, str]]:
    async with AsyncSession(engine) as session:
        rows = await session.execute(select(SlaNotice.ticket_id, SlaNotice.kind))
        return [(t, k) for t, k in rows]


async def _wait_for(predicate, within: float = 60.0) -> None:  # type: ignore[no-untyped-def]
    deadline = asyncio.get_running_loop().time() + within
    while not await predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("timed out waiting for the schedulers")
        await asyncio.sleep(0.2)


async def _sla_runs(engine: AsyncEngine) -> list[JobRun]:
    async with AsyncSession(engine) as session:
        return list(
            await session.scalars(
                select(JobRun).where(JobRun.job_id == "sla_scan").order_by(JobRun.scheduled_for)
            )
        )


@pytest.mark.slow
async def test_two_schedulers_exactly_once_and_failover(
    committed_db: AsyncEngine, database_url: str, tmp_path: Path
) -> None:
    desk = Desk(committed_db)
    await desk.setup()
    now = datetime.now(UTC)
    breached = await desk.open_at(now - timedelta(minutes=11), 4)  # first response overdue
    reminded = await desk.open_at(now - timedelta(minutes=5) + timedelta(seconds=3), 4)

    logs = [tmp_path / f"scheduler-{n}.log" for n in range(2)]
    procs = [start_scheduler(scheduler_env(database_url, tmp_path / "outbox"), log) for log in logs]
    try:
        expected = {(t, "first_response_breach") for t in breached} | {
            (t, "first_response_reminder") for t in reminded
        }

        async def all_sent() -> bool:
            return expected <= set(await _notices(committed_db))

        await _wait_for(all_sent)
        # Both replicas are up and ticking; exactly one of them runs the ticks.
        runs = await _sla_runs(committed_db)
        hosts = {r.host for r in runs}
        assert len(hosts) == 1, hosts
        leader_pid = int(next(iter(hosts)).rsplit(":", 1)[1])  # type: ignore[union-attr]
        leader = next(p for p in procs if p.pid == leader_pid)
        standby = next(p for p in procs if p.pid != leader_pid)
        assert standby.poll() is None

        leader.send_signal(signal.SIGKILL)
        leader.wait(timeout=10)
        killed_at = datetime.now(UTC)
        late = await desk.open_at(datetime.now(UTC) - timedelta(minutes=11), 3)
        expected |= {(t, "first_response_breach") for t in late}
        await _wait_for(all_sent)

        async with AsyncSession(committed_db, expire_on_commit=False) as session:
            request = await jobs.request_run(
                session, settings=get_settings(), job_id="prune_job_runs", actor=None
            )
            await session.commit()

        async def request_done() -> bool:
            async with AsyncSession(committed_db) as session:
                run = await session.get(JobRun, request.id)
                return run is not None and run.status == "succeeded"

        await _wait_for(request_done)

        async def late_mail_delivered() -> bool:
            # (Mail the killed leader's sender held stays leased until its lease runs out.)
            async with AsyncSession(committed_db) as session:
                waiting = await session.scalar(
                    select(func.count())
                    .select_from(OutboundEmail)
                    .where(
                        OutboundEmail.kind == "sla",
                        OutboundEmail.ticket_id.in_(late),
                        OutboundEmail.status != "sent",
                    )
                )
                return waiting == 0

        await _wait_for(late_mail_delivered)  # by the sender loop the scheduler runs
        standby.send_signal(signal.SIGTERM)
        assert standby.wait(timeout=30) == 0
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    output = {proc.pid: log.read_text() for proc, log in zip(procs, logs, strict=True)}

    # Every reminder and breach exactly once, however many replicas and ticks saw it.
    notices = await _notices(committed_db)
    assert sorted(notices) == sorted(expected), output
    async with AsyncSession(committed_db) as session:
        mails = Counter(
            (
                await session.execute(
                    select(OutboundEmail.ticket_id, OutboundEmail.recipient).where(
                        OutboundEmail.kind == "sla"
                    )
                )
            ).all()
        )
        in_app = Counter(
            (
                await session.execute(
                    select(Notification.ticket_id, Notification.user_id).where(
                        Notification.kind == "sla"
                    )
                )
            ).all()
        )
        late_mail_ids = set(
            await session.scalars(
                select(OutboundEmail.id).where(
                    OutboundEmail.kind == "sla", OutboundEmail.ticket_id.in_(late)
                )
            )
        )
        request_run = await session.get(JobRun, request.id)
        still_running = [
            (r.id, r.job_id, r.host, r.scheduled_for)
            for r in await session.scalars(select(JobRun).where(JobRun.status == "running"))
        ]
    # One notice per ticket so far, to the team's two agents: one mail and one in-app row each.
    assert set(mails.values()) == {1} and len(mails) == 2 * len(expected)
    assert set(in_app.values()) == {1} and len(in_app) == 2 * len(expected)
    delivered = {int(p.name.split("-", 1)[0]) for p in (tmp_path / "outbox").glob("*.eml")}
    assert len(late_mail_ids) == 2 * len(late) and late_mail_ids <= delivered

    runs = await _sla_runs(committed_db)
    standby_host = next(r.host for r in runs if not r.host.endswith(f":{leader_pid}"))  # type: ignore[union-attr]
    sequence = [r.host for r in runs]
    switch = sequence.index(standby_host)
    # The leader ran every tick until it died, the standby every tick after: one hand-over, and
    # no tick claimed by both (one row per (job, tick)).
    assert set(sequence[:switch]) == {runs[0].host} and set(sequence[switch:]) == {standby_host}
    ticks = [r.scheduled_for for r in runs]
    assert len(ticks) == len(set(ticks))
    first_standby_tick = runs[switch].scheduled_for
    # Taken over within a tick or two (bounded loosely: the machine may be busy).
    assert first_standby_tick <= killed_at + timedelta(seconds=5 * TICK), output[standby.pid]
    assert request_run is not None and request_run.host == standby_host
    assert request_run.trigger == "manual"
    # A run the dead leader left behind is marked interrupted; the standby stopped cleanly.
    assert still_running == [], (still_running, leader_pid, output)
    assert output[standby.pid].count("this scheduler is now the leader") == 1
