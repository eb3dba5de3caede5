"""Group commit: many concurrent DATA commands, one transaction.

Each SMTP session awaits `store()`; a few writer tasks take whatever has queued up (at least one
mail, at most MAX_BATCH or MAX_BATCH_BYTES), insert it in one statement, commit, and only then
resolve each waiter with its id, so every 250 still follows its own commit. Under load the batches
grow by themselves (while one transaction commits, the next batch gathers), which is how the
gateway keeps close to a bare listener's accept rate (one commit per mail reached about 0.5x of it
here, see MACHINE-NOTES). A failed transaction fails every waiter in it, and each answers 451.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from core import db
from core.inbound import service
from core.inbound.service import ReceivedMail

logger = logging.getLogger(__name__)

MAX_BATCH = 64
MAX_BATCH_BYTES = 8 * 1024 * 1024


@dataclass
class _Pending:
    mail: ReceivedMail
    done: asyncio.Future[int]


class GroupCommitter:
    def __init__(self, *, writers: int = 3) -> None:
        self._queue: asyncio.Queue[_Pending] = asyncio.Queue()
        self._writers = writers
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._run(), name=f"inbound-writer-{i}")
            for i in range(self._writers)
        ]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        while not self._queue.empty():
            pending = self._queue.get_nowait()
            if not pending.done.done():
                pending.done.set_exception(ConnectionError("gateway shutting down"))

    async def store(self, mail: ReceivedMail) -> int:
        """The inbound id, once the row is committed; raises if it could not be."""
        future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        await self._queue.put(_Pending(mail, future))
        return await future

    async def _run(self) -> None:
        while True:
            first = await self._queue.get()
            batch, size = [first], len(first.mail.raw)
            while len(batch) < MAX_BATCH and size < MAX_BATCH_BYTES and not self._queue.empty():
                item = self._queue.get_nowait()
                batch.append(item)
                size += len(item.mail.raw)
            await self._write(batch)

    async def _write(self, batch: list[_Pending]) -> None:
        try:
            async with db.session_scope() as session:
                ids = await service.receive(session, [p.mail for p in batch])
        except asyncio.CancelledError:
            for pending in batch:
                if not pending.done.done():
                    pending.done.set_exception(ConnectionError("gateway shutting down"))
            raise
        except Exception as exc:
            if len(batch) > 1:
                # One bad row must not fail its neighbours: store them one by one.
                for pending in batch:
                    await self._write([pending])
                return
            logger.warning("could not store a received mail: %s", exc)
            for pending in batch:
                if not pending.done.done():
                    pending.done.set_exception(exc)
            return
        for pending, inbound_id in zip(batch, ids, strict=True):
            if not pending.done.done():
                pending.done.set_result(inbound_id)
