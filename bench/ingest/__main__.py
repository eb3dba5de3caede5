"""bench/ingest: how fast mail gets in, how fast it becomes tickets, and what it costs in memory.

One command, from the repository root:

    .venv/bin/python -m bench.ingest                 # --n 5000 --connections 20

All on 127.0.0.1, in one run:
1. a throwaway database on TEST_DATABASE_URL's server (default postgres@127.0.0.1:5432), migrated;
2. BARE: a bare aiosmtpd listener that discards (bench/ingest/bare.py, its own process) takes N
   mails (small Korean/English text mails, 20% with a 50 KB attachment) from CONNECTIONS
   concurrent sessions of the load client (bench/ingest/client.py); run before and after the
   LISTENER phase, and the mean is the baseline (the machine is noisy);
3. LISTENER: `servicedesk mailgateway --no-workers` takes the same mails: the cost of storing
   each mail durably (group commit) before the 250, with nothing else running;
4. GATEWAY: `servicedesk mailgateway` with its pipeline workers takes the same mails again;
   accepted msgs/s while processing, then processed (ticketed) msgs/s, from the first mail sent
   to the last verdict committed;
5. PACED: RATE msgs/s offered for SECONDS to the same gateway; p50/p99 from the client receiving
   250 to the ticket's transaction committing (`inbound_messages.processed_at`, set by
   clock_timestamp() as the last statement before the commit);
6. peak RSS (VmHWM) of the gateway and its worker process over 4-5;
7. LARGE: a fresh gateway; ten 25 MB mails sent at once; peak RSS and how long until they are
   accepted and ticketed.

Figures are printed; nothing is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg
from sqlalchemy.engine import make_url

from bench.ingest.client import HELP, make_load, make_message, send_all

PROJECT_DIR = Path(__file__).resolve().parents[2]
DEFAULT_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def plain(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_port(port: int, process: subprocess.Popen[bytes], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"process exited with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing listens on {port}")


def _hwm_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(c) for c in text.split()]


class PeakRss:
    """Peak resident memory (VmHWM) of the gateway and of its pipeline worker children."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.workers: dict[int, float] = {}

    def sample(self) -> None:
        for child in _children(self.pid):
            self.workers[child] = max(self.workers.get(child, 0.0), _hwm_mb(child))

    def describe(self) -> str:
        """The listener's peak plus the sum of its worker processes' peaks (an upper bound of the
        whole gateway's peak: the processes need not have peaked at the same moment)."""
        self.sample()
        listener = _hwm_mb(self.pid)
        workers = sum(self.workers.values())
        return (
            f"listener {listener:.0f} MB + {len(self.workers)} worker process(es)"
            f" {workers:.0f} MB = {listener + workers:.0f} MB"
        )


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


class Database:
    def __init__(self, server_url: str, suffix: str = "main") -> None:
        from core.config import normalise_database_url

        self.server = normalise_database_url(server_url)
        self.name = f"sd_bench_ingest_{os.getpid()}_{suffix}"
        self.url = make_url(self.server).set(database=self.name).render_as_string(False)

    def __enter__(self) -> Database:
        with psycopg.connect(plain(self.server), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.name}"')
            conn.execute(f'CREATE DATABASE "{self.name}"')
        from core import migrate

        migrate.upgrade(self.url)
        return self

    def __exit__(self, *exc: object) -> None:
        with psycopg.connect(plain(self.server), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')

    def query(self, sql: str, params: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
        with psycopg.connect(plain(self.url)) as conn:
            return conn.execute(sql, params).fetchall()

    def wait_until_done(self, expected: int, timeout: float) -> float:
        """Wait until `expected` messages have a verdict; returns the time the last one got it."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            [(finished, pending, last)] = self.query(
                "SELECT count(*) FILTER (WHERE status IN ('processed','ignored','quarantined')),"
                " count(*) FILTER (WHERE status IN ('received','processing')),"
                " extract(epoch FROM max(processed_at)) FROM inbound_messages"
            )
            if finished >= expected and pending == 0:  # type: ignore[operator]
                return float(last)  # type: ignore[arg-type]
            time.sleep(0.5)
        raise TimeoutError(f"not all {expected} messages were processed in {timeout}s")


def gateway_process(
    db: Database, port: int, uploads: Path, workers: int, log: Path, *, processing: bool = True
) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "DATABASE_URL": db.url,
        "HELPDESK_ADDRESSES": HELP,
        "MAILGATEWAY_HOST": "127.0.0.1",
        "MAILGATEWAY_PORT": str(port),
        "LOCAL_UPLOAD_ROOT": str(uploads),
        "MAIL_WORKERS": str(workers),
        "MAIL_SENDER_RATE_LIMIT": "100000",
        # The load comes from one peer and thousands of senders nobody verified: caps high
        # enough never to trigger, so the run measures what counting them costs (the same work
        # as before them: every mail a ticket, every ticket acknowledged).
        "MAILGATEWAY_PEER_RATE_LIMIT": "100000000",
        "MAIL_NEW_TICKET_RATE_LIMIT": "100000000",
        "MAIL_UNVERIFIED_ACK_LIMIT": "100000000",
        "LOG_LEVEL": "WARNING",
        "APP_ENV": "dev",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "servicedesk", "mailgateway"]
        + ([] if processing else ["--no-workers"]),
        env=env,
        cwd=PROJECT_DIR,
        stdout=subprocess.DEVNULL,
        stderr=log.open("ab"),
    )
    wait_port(port, process)
    return process


def latencies(db: Database, sent_at: list[float], ids: list[int]) -> list[float]:
    rows = db.query(
        "SELECT id, extract(epoch FROM processed_at) FROM inbound_messages WHERE id = ANY(%s)",
        (ids,),
    )
    done = {int(i): float(t) for i, t in rows if t is not None}  # type: ignore[arg-type]
    return [done[i] - t for i, t in zip(ids, sent_at, strict=True) if i in done]


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=5000, help="mails in the throughput runs")
    parser.add_argument("--connections", type=int, default=20)
    parser.add_argument("--attachment-ratio", type=float, default=0.2)
    parser.add_argument("--attachment-kb", type=int, default=50)
    parser.add_argument("--workers", type=int, default=4, help="MAIL_WORKERS in the gateway")
    parser.add_argument("--rate", type=float, default=50.0, help="paced run: msgs/s offered")
    parser.add_argument("--seconds", type=float, default=20.0, help="paced run: duration")
    parser.add_argument("--large", type=int, default=10, help="large mails sent at once")
    parser.add_argument("--large-mb", type=float, default=25.0)
    parser.add_argument(
        "--only", choices=["throughput", "large"], help="run only these phases (default: all)"
    )
    args = parser.parse_args()
    server = os.environ.get("TEST_DATABASE_URL", DEFAULT_SERVER)
    with tempfile.TemporaryDirectory() as tmp:
        if args.only in (None, "throughput"):
            throughput(args, server, Path(tmp))
        if args.only in (None, "large"):
            large_mails(args, server, Path(tmp))


def throughput(args: argparse.Namespace, server: str, tmp: Path) -> None:
    load = make_load(
        args.n,
        attachment_ratio=args.attachment_ratio,
        attachment_size=args.attachment_kb * 1024,
        run="t",
    )
    with_attachment = sum(1 for m in load if b"multipart/mixed" in m)
    print(
        f"load: {args.n} mails ({with_attachment} with a {args.attachment_kb} KB attachment), "
        f"{args.connections} connections, avg {sum(map(len, load)) / len(load) / 1024:.1f} KB"
    )
    uploads, log = tmp / "uploads", tmp / "gateway.log"

    # 1. the bare handler, before and after the listener (the machine is noisy: bracket it)
    first = bare_run(load, args.connections)
    print(f"BARE     accepted {len(first.sent_at)} at {first.rate:.0f} msgs/s")

    # 1b. the listener alone (--no-workers): what storing with group commit costs by itself
    with Database(server, suffix="listener") as db:
        port = free_port()
        listener = gateway_process(db, port, uploads, args.workers, log, processing=False)
        try:
            alone = asyncio.run(send_all("127.0.0.1", port, load, connections=args.connections))
        finally:
            stop(listener)
    second = bare_run(load, args.connections)
    bare_rate = (first.rate + second.rate) / 2
    print(f"BARE     accepted {len(second.sent_at)} at {second.rate:.0f} msgs/s (again, after)")
    print(
        f"LISTENER accepted {len(alone.sent_at)} in {alone.finished - alone.started:.1f}s"
        f" = {alone.rate:.0f} msgs/s with no processing running;"
        f" ratio to the bare mean ({bare_rate:.0f}) {alone.rate / bare_rate:.2f};"
        f" refused {len(alone.failures)}"
    )

    with Database(server) as db:
        port = free_port()
        gateway = gateway_process(db, port, uploads, args.workers, log)
        rss = PeakRss(gateway.pid)
        try:
            # 2. the same load against the gateway with its pipeline workers running
            result = asyncio.run(send_all("127.0.0.1", port, load, connections=args.connections))
            print(
                f"GATEWAY  accepted {len(result.sent_at)} in "
                f"{result.finished - result.started:.1f}s = {result.rate:.0f} msgs/s"
                f" while processing; ratio to the bare mean {result.rate / bare_rate:.2f};"
                f" refused {len(result.failures)}",
                flush=True,
            )
            last = db.wait_until_done(len(result.sent_at), timeout=3600)
            processed_rate = len(result.sent_at) / (last - result.started)
            saturated = latencies(db, result.sent_at, result.ids)
            [(tickets,)] = db.query("SELECT count(*) FROM tickets")
            statuses = dict(db.query("SELECT status, count(*) FROM inbound_messages GROUP BY 1"))
            retried = db.query(
                "SELECT attempts, count(*) FROM inbound_messages WHERE attempts > 1"
                " GROUP BY 1 ORDER BY 1"
            )
            if retried:
                failures = [line for line in log.read_text().splitlines() if "failed:" in line]
                print(f"         retried (attempts, mails): {[r[:2] for r in retried]}")
                print(f"         first failure logged: {failures[0][:400] if failures else '?'}")
            print(
                f"         processed {statuses} ({tickets} tickets) at {processed_rate:.0f} msgs/s"
                f" (first mail sent -> last verdict committed, {last - result.started:.1f}s);"
                f" 250->ticket under this saturating load p50 {pct(saturated, 0.5):.1f}s"
                f" p99 {pct(saturated, 0.99):.1f}s"
            )
            # 3. paced
            count = int(args.rate * args.seconds)
            paced_load = [make_message(i, run="p") for i in range(count)]
            paced = asyncio.run(
                send_all("127.0.0.1", port, paced_load, connections=10, rate=args.rate)
            )
            db.wait_until_done(len(result.sent_at) + len(paced.sent_at), timeout=1800)
            lat = latencies(db, paced.sent_at, paced.ids)
            print(
                f"PACED    {len(paced.sent_at)} mails at {args.rate:.0f} msgs/s offered"
                f" ({paced.rate:.1f} accepted/s): 250 -> committed ticket"
                f" p50 {pct(lat, 0.5) * 1000:.0f} ms, p99 {pct(lat, 0.99) * 1000:.0f} ms,"
                f" max {max(lat) * 1000:.0f} ms (n={len(lat)})"
            )
            print(f"MEMORY   peak RSS (VmHWM) over the small-mail runs: {rss.describe()}")
        finally:
            stop(gateway)
    _show_errors(log)


def bare_run(load: list[bytes], connections: int):  # type: ignore[no-untyped-def]
    port = free_port()
    bare = subprocess.Popen([sys.executable, "-m", "bench.ingest.bare", str(port)], cwd=PROJECT_DIR)
    try:
        wait_port(port, bare)
        return asyncio.run(send_all("127.0.0.1", port, load, connections=connections))
    finally:
        stop(bare)


def large_mails(args: argparse.Namespace, server: str, tmp: Path) -> None:
    """Ten 25 MB mails at once against a fresh gateway: the memory bound."""
    uploads, log = tmp / "uploads", tmp / "gateway-large.log"
    blob = os.urandom(int(args.large_mb * 1024 * 1024 * 3 / 4) - 4096)
    big = [make_message(i, attachment=blob, run="L") for i in range(args.large)]
    with Database(server, suffix="large") as db:
        port = free_port()
        gateway = gateway_process(db, port, uploads, args.workers, log)
        rss = PeakRss(gateway.pid)
        try:
            rss.sample()
            large = asyncio.run(send_all("127.0.0.1", port, big, connections=args.large))
            accepted_s = large.finished - large.started
            last = db.wait_until_done(len(large.sent_at), timeout=1800)
            print(
                f"LARGE    {len(large.sent_at)} x {len(big[0]) / 1e6:.1f} MB sent at once:"
                f" accepted in {accepted_s:.1f}s,"
                f" ticketed {last - large.started:.1f}s after the first byte;"
                f" refused {len(large.failures)}; peak RSS {rss.describe()}"
            )
        finally:
            stop(gateway)
    _show_errors(log)


def _show_errors(log: Path) -> None:
    errors = log.read_text(errors="replace") if log.exists() else ""
    if "Traceback" in errors or "ERROR" in errors:
        print("gateway log (tail):\n" + errors[-3000:])


if __name__ == "__main__":
    main()
