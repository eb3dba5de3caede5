"""`servicedesk mailgateway` (listener + in-process workers) and `servicedesk mailworker`."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal

from core import db
from core.config import Settings
from mailgateway.server import start_listener
from mailgateway.worker import run_workers

logger = logging.getLogger(__name__)


def _install_signals(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)


async def serve(
    settings: Settings, *, workers: bool = True, process_name: str = "mailgateway"
) -> None:
    """Listen for SMTP (and run pipeline workers) until SIGINT/SIGTERM."""
    db.init_engine(process_name, settings=settings)
    stop = asyncio.Event()
    _install_signals(stop)
    server, committer = await start_listener(settings)
    addresses = ", ".join(str(s.getsockname()) for s in server.sockets)
    logger.info("mailgateway listening on %s (workers: %s)", addresses, workers)
    print(f"mailgateway listening on {addresses}", flush=True)
    worker_task = asyncio.create_task(run_workers(settings, stop)) if workers else None
    try:
        await stop.wait()
    finally:
        server.close()
        await server.wait_closed()
        await committer.stop()
        if worker_task is not None:
            await asyncio.wait_for(asyncio.shield(worker_task), timeout=30)
        await db.dispose_engine()


async def work(settings: Settings) -> None:
    """Only the pipeline workers (extra capacity beside the gateway)."""
    db.init_engine("mailworker", settings=settings)
    stop = asyncio.Event()
    _install_signals(stop)
    print(f"mailworker running {settings.mail_workers} workers", flush=True)
    try:
        await run_workers(settings, stop)
    finally:
        await db.dispose_engine()
