"""Crash: SMTP load while the gateway and a mail worker are SIGKILLed at random moments.

    .venv/bin/python -m bench.chaos.crash [--n 10000] [--connections 16] [--seed 1]

A fresh database; `python -m servicedesk mailgateway` (listener + in-process workers) and
`python -m servicedesk mailworker` as real subprocesses; a load client that retries every mail
until it gets a 250. While mail flows, and for a while after, one or both processes are killed
with SIGKILL (no shutdown hook runs: open SMTP sessions, group commits and pipeline transactions
are cut) and started again. Then the killing stops, the queue drains, and every mail is looked up:

* accepted    the client got `250` to DATA;
* processed   exactly one comment (a ticket's first comment or a reply) carries its Message-ID;
* duplicates  a Message-ID on more than one comment, or a token in more than one ticket subject;
* missing     accepted, but in no comment;
* stuck       inbound rows still `received`/`processing` after the drain (or quarantined).

A lost 250 (killed after the commit, before the reply) makes the client send the mail again;
that second copy must end `ignored` as a duplicate, never as a second ticket.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from bench.chaos import harness
from bench.chaos.ledger import MailLedger, drain, ledger_baseline, queue_depth, reconcile
from bench.chaos.smtpload import SmtpLoad, build_mails


@dataclass
class CrashConfig:
    n: int = 10_000
    connections: int = 16
    seed: int = 1
    min_gap: float = 1.0  # seconds between kills
    max_gap: float = 5.0
    lease_seconds: int = 20
    gateway_workers: int = 2
    worker_workers: int = 4
    max_seconds: float = 1800.0
    kill_after_accept_seconds: float = 900.0  # keep killing while the queue drains (bounded)
    max_kills: int | None = None  # exactly this many kill rounds (tests)
    rate: float | None = None  # mails/s offered; None: as fast as the connections go
    drain_stall_seconds: float = 120.0  # give up when the queue stops shrinking this long


@dataclass
class CrashResult:
    sent: int = 0
    bounced: int = 0
    never_accepted: int = 0
    ledger: MailLedger = field(default_factory=MailLedger)
    kills: Counter[str] = field(default_factory=Counter)
    unexpected_exits: list[str] = field(default_factory=list)
    client_attempts: int = 0
    client_failures: Counter[str] = field(default_factory=Counter)
    accept_seconds: float = 0.0
    drain_seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return (
            self.ledger.accepted == self.sent
            and self.ledger.ok
            and self.bounced == 0
            and not self.unexpected_exits
        )


def _services(
    cfg: CrashConfig, database_url: str, workdir: Path, port: int
) -> tuple[harness.Service, harness.Service]:
    common = {
        "MAIL_LEASE_SECONDS": str(cfg.lease_seconds),
        "MAIL_RETRY_BASE_SECONDS": "1",
        "MAIL_MAX_ATTEMPTS": "8",
    }
    gateway = harness.Service(
        "mailgateway",
        ["mailgateway", "--host", "127.0.0.1", "--port", str(port)],
        harness.base_env(database_url, workdir, MAIL_WORKERS=str(cfg.gateway_workers), **common),
        workdir,
        port=port,
    )
    worker = harness.Service(
        "mailworker",
        ["mailworker"],
        harness.base_env(database_url, workdir, MAIL_WORKERS=str(cfg.worker_workers), **common),
        workdir,
    )
    return gateway, worker


async def _killer(
    services: list[harness.Service],
    rng: random.Random,
    cfg: CrashConfig,
    stop: asyncio.Event,
    result: CrashResult,
) -> None:
    gateway, worker = services
    choices = [(gateway,), (worker,), (gateway, worker)]
    rounds = 0
    while not stop.is_set() and (cfg.max_kills is None or rounds < cfg.max_kills):
        rounds += 1
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), rng.uniform(cfg.min_gap, cfg.max_gap))
        if stop.is_set():
            break
        for service in services:  # a process that died by itself is a finding, not a kill
            if service.proc is not None and service.proc.poll() not in (None, -9):
                result.unexpected_exits.append(
                    f"{service.name} exited {service.proc.returncode}:\n{service.log_tail(1500)}"
                )
                service.start()
        victims = rng.choice(choices)
        for service in victims:
            service.kill()
            result.kills[service.name] += 1
        await asyncio.sleep(rng.uniform(0.0, 0.5))
        for service in victims:
            service.start()


async def run_crash(
    cfg: CrashConfig,
    *,
    server: str | None = None,
    database_url: str | None = None,
    keep_db: bool = False,
    log=print,
) -> CrashResult:
    """On a fresh database on `server`, or on `database_url` (already migrated; the tests'
    own database: only rows made by this run are counted, nothing is dropped)."""
    run_id = uuid.uuid4().hex[:8]
    own_database = database_url is None
    if database_url is None:
        database_url = harness.create_database(server, prefix="sd_chaos_crash")
    workdir = harness.workdir("crash")
    result = CrashResult(sent=cfg.n)
    gateway = worker = None
    try:
        if own_database:
            await asyncio.to_thread(harness.migrate, database_url)
        baseline = await asyncio.to_thread(ledger_baseline, database_url)
        port = harness.free_port()
        gateway, worker = _services(cfg, database_url, workdir, port)
        gateway.start()
        worker.start()
        await asyncio.to_thread(gateway.wait_ready)
        mails = build_mails(cfg.n, run_id=run_id, seed=cfg.seed)
        rng = random.Random(cfg.seed)
        log(
            f"crash: run {run_id}, {cfg.n} mails over {cfg.connections} connections, "
            f"db {database_url}"
        )

        stop_killing = asyncio.Event()
        killer = asyncio.create_task(_killer([gateway, worker], rng, cfg, stop_killing, result))
        load = SmtpLoad(
            port, mails, connections=cfg.connections, max_seconds=cfg.max_seconds, rate=cfg.rate
        )
        started = time.monotonic()
        outcome = await load.run()
        result.accept_seconds = time.monotonic() - started
        log(f"  load done in {result.accept_seconds:.0f} s; killing on while the queue drains")

        # Keep killing while the pipeline works through the backlog, then let it finish. With
        # max_kills (the tests), every round is made, even after the queue has emptied.
        if cfg.max_kills is not None:
            await killer
        else:
            await harness.until_async(
                lambda: queue_depth(database_url, after_id=baseline) == 0,
                seconds=cfg.kill_after_accept_seconds,
            )
        stop_killing.set()
        await killer
        for service in (gateway, worker):
            if not service.alive():
                service.start()
        drain_started = time.monotonic()
        await drain(database_url, stall_seconds=cfg.drain_stall_seconds, after_id=baseline)
        result.drain_seconds = time.monotonic() - drain_started
        for service in (gateway, worker):
            if service.proc is not None and service.proc.poll() not in (None, -9):
                result.unexpected_exits.append(
                    f"{service.name} exited {service.proc.returncode}:\n{service.log_tail(1500)}"
                )
        gateway.stop()
        worker.stop()

        result.client_attempts = outcome.attempts
        result.client_failures = outcome.failures
        result.bounced = len(outcome.bounced)
        result.never_accepted = len(outcome.pending)
        result.ledger = await asyncio.to_thread(
            reconcile, database_url, run_id, mails, outcome.accepted, after_id=baseline
        )
        return result
    finally:
        for service in (gateway, worker):
            if service is not None:
                service.kill()
        if own_database and not keep_db:
            harness.drop_database(database_url)
        harness.discard(workdir)


def report(result: CrashResult, cfg: CrashConfig, rep: harness.Report) -> None:
    rep.add(f"crash: {cfg.n} mails, {cfg.connections} SMTP connections, seed {cfg.seed}")
    rep.add(
        f"  kills (SIGKILL + restart): mailgateway {result.kills['mailgateway']}, "
        f"mailworker {result.kills['mailworker']}; kill gap {cfg.min_gap}-{cfg.max_gap} s, "
        f"lease {cfg.lease_seconds} s"
    )
    rep.add(
        f"  load {result.accept_seconds:.0f} s "
        f"({result.ledger.accepted / max(result.accept_seconds, 1e-9):.0f}"
        f" accepted/s under fire), drain after the last kill {result.drain_seconds:.0f} s"
    )
    rep.add("")
    rep.row("sent (unique mails)", result.sent)
    result.ledger.rows(rep)
    rep.row("bounced (5xx) / never accepted", f"{result.bounced} / {result.never_accepted}")
    rep.row("client attempts", result.client_attempts)
    rep.row("client retries by cause", dict(result.client_failures.most_common()))
    for exit_ in result.unexpected_exits[:3]:
        rep.add(f"  UNEXPECTED EXIT {exit_}")
    rep.add("")
    rep.add(
        f"lost = {result.ledger.missing}, duplicated = {result.ledger.duplicates}, "
        f"stuck = {result.ledger.stuck}: " + ("PASS" if result.ok else "FAIL")
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=10_000, help="mails to send")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--min-gap", type=float, default=1.0, help="seconds between kills, min")
    parser.add_argument("--max-gap", type=float, default=5.0, help="seconds between kills, max")
    parser.add_argument("--max-seconds", type=float, default=1800.0, help="load time limit")
    parser.add_argument("--keep-db", action="store_true")
    parser.add_argument("--no-report", action="store_true", help="do not write bench/reports/")
    args = parser.parse_args()
    cfg = CrashConfig(
        n=args.n,
        connections=args.connections,
        seed=args.seed,
        min_gap=args.min_gap,
        max_gap=args.max_gap,
        max_seconds=args.max_seconds,
    )
    rep = harness.Report("crash", "Chaos: crash (SIGKILL gateway and worker under SMTP load)")
    result = asyncio.run(run_crash(cfg, keep_db=args.keep_db))
    report(result, cfg, rep)
    if not args.no_report:
        rep.write(harness.command_line(), verdict="PASS" if result.ok else "FAIL")
    raise SystemExit(0 if result.ok else 1)


if __name__ == "__main__":
    main()
