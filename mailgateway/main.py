"""`servicedesk mailgateway` (listener + pipeline workers) and `servicedesk mailworker`.

The gateway's pipeline workers run in child processes that the gateway starts (MAIL_WORKER_PROCESSES
of them, one per CPU by default, each running MAIL_WORKERS concurrent workers), lowers in CPU
priority and restarts if they die. Why processes: Python runs one thread of bytecode at a time, so
workers in the listener's own process would take turns with it and the 250s would wait for
parsing; and one process uses one core, where turning a burst into tickets can use them all.
Accepting is the part that must keep up (the mail is safe once it is committed); processing may
lag a burst and catch up. `--no-workers` (MAILGATEWAY_INPROCESS_WORKERS=false) leaves the
processing to separately started `servicedesk mailworker` processes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys

from core import db
from core.config import Settings
from mailgateway.server import listener_refusal, start_listener
from mailgateway.worker import run_workers

logger = logging.getLogger(__name__)


class ListenerRefused(Exception):
    """The settings do not allow the listener to start; the message says what to set."""


WORKER_NICENESS = 10  # the listener wins the CPU whenever both want it
RESTART_DELAY_SECONDS = 2.0
PARENT_ENV = "SERVICEDESK_MAILGATEWAY_PID"


def _tune_malloc() -> None:
    """glibc keeps freed big buffers in the heap (its mmap threshold grows after each large
    free), so a process that once parsed a 25 MB mail stays large. A fixed 1 MiB threshold gives
    big buffers back to the system when freed; two arenas stop the parser threads from each
    growing their own heap. Best effort: other libcs ignore it."""
    with contextlib.suppress(Exception):
        import ctypes

        libc = ctypes.CDLL(None)
        libc.mallopt(-3, 1024 * 1024)  # M_MMAP_THRESHOLD
        libc.mallopt(-8, 2)  # M_ARENA_MAX


def _install_signals(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)


def _prepare_child() -> None:  # runs in the child between fork and exec
    with contextlib.suppress(OSError):
        os.nice(WORKER_NICENESS)
    # Linux: the child gets SIGTERM when the gateway dies, even by SIGKILL (no orphans).
    with contextlib.suppress(Exception):
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def worker_process_count(settings: Settings) -> int:
    return settings.mail_worker_processes or os.cpu_count() or 1


async def _supervise_workers(stop: asyncio.Event) -> None:
    """Keep one `servicedesk mailworker` child running until `stop`."""
    while not stop.is_set():
        child = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "servicedesk",
            "mailworker",
            env={**os.environ, PARENT_ENV: str(os.getpid())},
            preexec_fn=_prepare_child,
        )
        waiter = asyncio.create_task(child.wait())
        stopper = asyncio.create_task(stop.wait())
        await asyncio.wait({waiter, stopper}, return_when=asyncio.FIRST_COMPLETED)
        if stop.is_set():
            stopper.cancel()
            if child.returncode is None:
                child.terminate()
                try:
                    await asyncio.wait_for(waiter, timeout=30)
                except TimeoutError:
                    child.kill()
                    await waiter
            return
        stopper.cancel()
        logger.error(
            "pipeline worker process exited with %s; restarting in %.0fs",
            child.returncode,
            RESTART_DELAY_SECONDS,
        )
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=RESTART_DELAY_SECONDS)


async def serve(settings: Settings, *, workers: bool = True) -> None:
    """Listen for SMTP (and keep the pipeline workers running) until SIGINT/SIGTERM."""
    refusal = listener_refusal(settings)
    if refusal is not None:
        raise ListenerRefused(refusal)
    _tune_malloc()
    db.init_engine("mailgateway", settings=settings)
    stop = asyncio.Event()
    _install_signals(stop)
    server, committer = await start_listener(settings)
    addresses = ", ".join(str(s.getsockname()) for s in server.sockets)
    logger.info("mailgateway listening on %s (workers: %s)", addresses, workers)
    print(f"mailgateway listening on {addresses}", flush=True)
    count = worker_process_count(settings) if workers else 0
    supervisors = [asyncio.create_task(_supervise_workers(stop)) for _ in range(count)]
    try:
        await stop.wait()
    finally:
        server.close()
        await server.wait_closed()
        await committer.stop()
        await asyncio.gather(*supervisors)
        await db.dispose_engine()


async def _watch_parent(stop: asyncio.Event) -> None:
    """Where PR_SET_PDEATHSIG is not available: stop when the gateway that started us is gone."""
    parent = int(os.environ[PARENT_ENV])
    while not stop.is_set():
        if os.getppid() != parent:
            logger.warning("the gateway (pid %s) is gone; stopping", parent)
            stop.set()
            return
        await asyncio.sleep(1.0)


async def work(settings: Settings) -> None:
    """Only the pipeline workers (the gateway's child, or extra capacity beside it)."""
    _tune_malloc()
    db.init_engine("mailworker", settings=settings)
    stop = asyncio.Event()
    _install_signals(stop)
    print(f"mailworker running {settings.mail_workers} workers", flush=True)
    watcher = asyncio.create_task(_watch_parent(stop)) if os.environ.get(PARENT_ENV) else None
    try:
        await run_workers(settings, stop)
    finally:
        if watcher is not None:
            watcher.cancel()
        await db.dispose_engine()
