"""bench/outbound: how fast the outbox drains to a local SMTP sink, against a bare aiosmtplib loop.

One command (from the repository root):

    .venv/bin/python bench/outbound/run.py            # --count 5000 --lanes 8 --sink auto

What it does, all on 127.0.0.1:
1. a throwaway database on TEST_DATABASE_URL's server (default postgres@127.0.0.1:5432), migrated;
2. a sink: Postfix `smtp-sink` (taken from the Debian package with `apt-get download postfix` into
   .data/bench/postfix the first time, see MACHINE-NOTES), or an aiosmtpd sink in its own process
   when that is not possible (`--sink aiosmtpd`);
3. COUNT tickets opened by COUNT different requesters (a campus-wide outage), which queues COUNT
   acknowledgements through the real event handlers (the enqueue time is printed, not compared);
   then VACUUM (ANALYZE), so autovacuum does not wake up in the middle of the timed runs;
4. the real sender (scheduler/mailsender.run_sender, LANES connections) until every row is sent;
   it pipelines MAIL/RCPT/DATA when the sink offers PIPELINING (smtp-sink does; aiosmtplib's
   own loop below cannot), SMTP_PIPELINING=false turns that off;
5. a bare aiosmtplib loop (same LANES connections, MAIL/RCPT/DATA only) sending the very same
   message bytes, run once before and once after the sender; the ratio is sender / mean(bare).

Figures are printed; nothing is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(PROJECT_DIR))

import aiosmtplib  # noqa: E402
import psycopg  # noqa: E402
from sqlalchemy import func, select  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

HELP = "help@bench.ac.kr"
DEFAULT_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
POSTFIX_DIR = PROJECT_DIR / ".data" / "bench" / "postfix"


def plain(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_port(port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port}")


def smtp_sink_binary() -> Path | None:
    binary = POSTFIX_DIR / "usr" / "sbin" / "smtp-sink"
    if binary.exists():
        return binary
    if not shutil.which("apt-get") or not shutil.which("dpkg"):
        return None
    download = POSTFIX_DIR.parent / "download"
    download.mkdir(parents=True, exist_ok=True)
    try:
        subprocess.run(
            ["apt-get", "download", "postfix"],
            cwd=download,
            check=True,
            capture_output=True,
            timeout=120,
        )
        [deb] = sorted(download.glob("postfix_*.deb"))
        subprocess.run(["dpkg", "-x", str(deb), str(POSTFIX_DIR)], check=True, timeout=120)
    except (subprocess.SubprocessError, ValueError, OSError) as exc:
        print(f"  (could not fetch Postfix smtp-sink: {exc}; using the aiosmtpd sink)")
        return None
    return binary if binary.exists() else None


AIOSMTPD_SINK = """
import asyncio, sys
from aiosmtpd.smtp import SMTP

class Sink:
    async def handle_DATA(self, server, session, envelope):
        return "250 2.0.0 Ok"

async def main():
    loop = asyncio.get_running_loop()
    port = int(sys.argv[1])
    server = await loop.create_server(lambda: SMTP(Sink(), hostname="sink"), "127.0.0.1", port)
    await server.serve_forever()

asyncio.run(main())
"""


def start_sink(kind: str, port: int) -> tuple[subprocess.Popen[bytes], str]:
    binary = smtp_sink_binary() if kind in ("auto", "smtp-sink") else None
    if binary is not None:
        env = {**os.environ, "LD_LIBRARY_PATH": str(POSTFIX_DIR / "usr" / "lib" / "postfix")}
        argv = [str(binary)]
        if os.geteuid() == 0:
            argv += ["-u", "nobody"]
        argv += [f"127.0.0.1:{port}", "256"]
        process = subprocess.Popen(argv, env=env)
        name = "Postfix smtp-sink"
    else:
        if kind == "smtp-sink":
            raise SystemExit("smtp-sink is not available")
        process = subprocess.Popen([sys.executable, "-c", AIOSMTPD_SINK, str(port)])
        name = "aiosmtpd sink (own process)"
    wait_port(port)
    return process, name


async def enqueue(count: int, *, writers: int = 4) -> float:
    """COUNT tickets by COUNT requesters through the real services (event handlers included),
    from `writers` concurrent transactions, 250 tickets per commit."""
    from core import db
    from core.tickets import service as tickets
    from core.users import service as users

    async def write(numbers: range) -> None:
        async with db.session_scope() as session:
            for n in numbers:
                requester = await users.create_user(
                    session,
                    email=f"student{n}@bench.ac.kr",
                    name=f"학생 {n}",
                    locale="ko" if n % 3 else "en",
                )
                await tickets.open_ticket(
                    session,
                    requester=requester,
                    subject=f"강의실 {n % 40}호 Wi-Fi가 안 됩니다",
                    body_text="오늘 오전부터 캠퍼스 Wi-Fi에 연결되지 않습니다.\n" * 3,
                )

    started = time.perf_counter()
    chunks = [range(first, min(first + 250, count)) for first in range(0, count, 250)]
    for group in range(0, len(chunks), writers):
        await asyncio.gather(*(write(chunk) for chunk in chunks[group : group + writers]))
    return time.perf_counter() - started


async def built_messages(engine, settings) -> list[tuple[str, bytes]]:  # type: ignore[no-untyped-def]
    """Every queued row as the exact bytes the sender would send (outside the timed part)."""
    from core.models import OutboundEmail
    from core.outbox.delivery import message_bytes
    from core.outbox.repository import ClaimedEmail
    from core.storage import get_storage

    fields = [
        f for f in ClaimedEmail.__dataclass_fields__ if f not in ("bouncing_since", "bounce_reason")
    ]
    messages = []
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(*[getattr(OutboundEmail, f) for f in fields]).order_by(OutboundEmail.id)
        )
        for row in rows:
            claimed = ClaimedEmail(**row._mapping, bouncing_since=None, bounce_reason=None)
            data = await message_bytes(
                conn,
                claimed,
                storage=lambda: get_storage(settings),
                api_base_url=settings.api_public_url,
            )
            messages.append((claimed.recipient, data))
    return messages


async def bare_loop(messages: list[tuple[str, bytes]], port: int, lanes: int) -> float:
    queue: asyncio.Queue[tuple[str, bytes]] = asyncio.Queue()
    for item in messages:
        queue.put_nowait(item)

    async def lane() -> None:
        smtp = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, start_tls=False)
        await smtp.connect()
        try:
            while True:
                try:
                    recipient, data = queue.get_nowait()
                except asyncio.QueueEmpty:
                    return
                errors, _ = await smtp.sendmail(HELP, [recipient], data)
                if errors:
                    raise RuntimeError(f"refused: {errors}")
        finally:
            await smtp.quit()

    started = time.perf_counter()
    await asyncio.gather(*(lane() for _ in range(lanes)))
    return time.perf_counter() - started


async def run_sender_until_done(engine, settings, lanes: int, count: int) -> float:  # type: ignore[no-untyped-def]
    from core.models import OutboundEmail
    from core.outbox.delivery import SenderOptions
    from scheduler.mailsender import run_sender

    options = SenderOptions(lanes=lanes, batch_size=50, poll_interval=0.05)
    stop = asyncio.Event()
    started = time.perf_counter()
    wall_started = time.time()
    task = asyncio.create_task(run_sender(stop, engine=engine, settings=settings, options=options))
    async with engine.connect() as conn:
        while True:
            await asyncio.sleep(0.1)
            # Cheap (the partial index of due rows): how many are still queued or being sent.
            left = await conn.scalar(
                select(func.count()).where(OutboundEmail.status.in_(("queued", "sending")))
            )
            await conn.rollback()
            if left == 0:
                break
            if task.done():
                task.result()
                raise RuntimeError("the sender stopped early")
    elapsed = time.perf_counter() - started
    stop.set()
    totals = await task
    async with engine.connect() as conn:
        first, last = (
            await conn.execute(
                select(
                    func.extract("epoch", func.min(OutboundEmail.sent_at)),
                    func.extract("epoch", func.max(OutboundEmail.sent_at)),
                )
            )
        ).one()
    print(
        f"  first hand-over {1000 * (float(first) - wall_started):.0f} ms after the start, "
        f"last {1000 * (float(last) - wall_started):.0f} ms; finish seen at {1000 * elapsed:.0f} ms"
    )
    if totals.sent != count or totals.failed or totals.retried:
        print(f"  warning: {totals.sent} sent, {totals.failed} failed, {totals.retried} retried")
    return elapsed


def cpu_seconds() -> float:
    """This process's CPU time (the sender and the bare loop both run in it; the sink and
    PostgreSQL do not)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def with_cpu(work: Awaitable[float]) -> tuple[float, float]:
    """`work`'s result and the CPU time this process spent while it ran."""
    started = cpu_seconds()
    result = await work
    return result, cpu_seconds() - started


def report(label: str, seconds: float, count: int, cpu: float) -> None:
    print(
        f"{label + ':':31s}{seconds:7.2f} s {count / seconds:7.0f} mails/s"
        f"  ({1000 * cpu / count:.3f} ms CPU per mail in this process)",
        flush=True,
    )


async def main(args: argparse.Namespace) -> None:
    from core import db
    from core.config import get_settings

    settings = get_settings().model_copy(
        update={"smtp_host": "127.0.0.1", "smtp_port": args.port, "helpdesk_addresses": HELP}
    )
    engine = db.create_engine("bench-outbound", settings=settings)
    db.use_engine(engine)
    try:
        print(f"enqueue: {args.count} tickets -> acknowledgements ...", flush=True)
        enqueue_s = await enqueue(args.count)
        print(f"  {enqueue_s:.1f} s ({args.count / enqueue_s:.0f} tickets/s, not compared)")
        # The enqueue wrote 5 rows per ticket: autovacuum and analyze would wake up during the
        # timed runs below and take a core from whichever ran then. Settle them first.
        async with engine.connect() as conn:
            autocommit = await conn.execution_options(isolation_level="AUTOCOMMIT")
            await autocommit.exec_driver_sql("VACUUM (ANALYZE)")
        messages = await built_messages(engine, settings)
        size = sum(len(d) for _, d in messages) / len(messages)
        print(f"  {len(messages)} messages, {size / 1024:.1f} KiB average")
        bare_before, used = await with_cpu(bare_loop(messages, args.port, args.lanes))
        report("bare aiosmtplib loop (before)", bare_before, len(messages), used)
        sender_s, used = await with_cpu(
            run_sender_until_done(engine, settings, args.lanes, args.count)
        )
        report("servicedesk sender", sender_s, args.count, used)
        bare_after, used = await with_cpu(bare_loop(messages, args.port, args.lanes))
        report("bare aiosmtplib loop (after)", bare_after, len(messages), used)
        bare_rate = len(messages) / ((bare_before + bare_after) / 2)
        sender_rate = args.count / sender_s
        print(
            f"RESULT count={args.count} lanes={args.lanes} sender={sender_rate:.0f} mails/s "
            f"bare={bare_rate:.0f} mails/s ratio={sender_rate / bare_rate:.2f} (goal >= 0.5)"
        )
    finally:
        await engine.dispose()


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=5000)
    parser.add_argument("--lanes", type=int, default=8)
    parser.add_argument("--sink", choices=["auto", "smtp-sink", "aiosmtpd"], default="auto")
    args = parser.parse_args()
    server = os.environ.get("TEST_DATABASE_URL", DEFAULT_SERVER)
    from core.config import get_settings, normalise_database_url

    server = normalise_database_url(server)
    name = f"sd_bench_out_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(plain(server), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = make_url(server).set(database=name).render_as_string(hide_password=False)
    os.environ["DATABASE_URL"] = url
    os.environ["HELPDESK_ADDRESSES"] = HELP
    os.environ.setdefault("APP_ENV", "test")
    get_settings.cache_clear()
    sink = None
    try:
        from core import migrate

        with ThreadPoolExecutor(1) as pool:
            pool.submit(migrate.upgrade, url, "head").result()
        args.port = free_port()
        sink, sink_name = start_sink(args.sink, args.port)
        print(f"bench/outbound: {os.cpu_count()} cores, sink: {sink_name}, database {name}")
        asyncio.run(main(args))
    finally:
        if sink is not None:
            sink.terminate()
            sink.wait(10)
        with psycopg.connect(plain(server), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    cli()
