"""The baseline: a bare aiosmtpd listener whose handler discards every mail (same SMTP settings
as the gateway: SIZE, SMTPUTF8). Run as its own process: `python -m bench.ingest.bare PORT`."""

from __future__ import annotations

import asyncio
import sys

from aiosmtpd.smtp import SMTP


class Discard:
    async def handle_DATA(self, server, session, envelope) -> str:  # type: ignore[no-untyped-def]
        return "250 2.0.0 Ok: discarded"


async def main(port: int) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: SMTP(
            Discard(),
            data_size_limit=30 * 1024 * 1024,
            enable_SMTPUTF8=True,
            hostname="bare.bench",
            loop=loop,
        ),
        host="127.0.0.1",
        port=port,
    )
    print(f"bare listening on {port}", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    import logging

    logging.getLogger("mail.log").setLevel(logging.WARNING)
    asyncio.run(main(int(sys.argv[1])))
