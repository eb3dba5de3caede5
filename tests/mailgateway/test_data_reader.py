"""The gateway's DATA reader (mailgateway/server.py `read_message`) on asyncio's own StreamReader,
with the same 1,001-byte limit aiosmtpd gives it: terminator, dot-stuffing, size limit, and that
nothing behind the terminator (a pipelining client's next command) is consumed."""

from __future__ import annotations

import asyncio

import pytest

from mailgateway.server import read_message

LIMIT = 1001


async def _read(wire: bytes, size_limit: int | None = 10_000_000) -> tuple[bytes | None, bytes]:
    reader = asyncio.StreamReader(limit=LIMIT)
    reader.feed_data(wire)
    reader.feed_eof()
    message = await read_message(reader, size_limit)
    return message, await reader.read()


@pytest.mark.parametrize(
    ("wire", "message"),
    [
        (b".\r\n", b""),
        (b"\r\n.\r\n", b"\r\n"),
        (b"X\r\n.\r\n", b"X\r\n"),
        (b"XY\r\n.\r\n", b"XY\r\n"),
        (b"XY\r\n\r\n.\r\n", b"XY\r\n\r\n"),
        (b"Subject: hi\r\n\r\nbody\r\n.\r\n", b"Subject: hi\r\n\r\nbody\r\n"),
        # RFC 5321 4.5.2: a leading dot was doubled by the sender and is removed here
        (b"..x\r\n.\r\n", b".x\r\n"),
        (b"a\r\n..\r\n...\r\nb.\r\n.\r\n", b"a\r\n.\r\n..\r\nb.\r\n"),
        (b"a\r\n.b\r\n.\r\n", b"a\r\nb\r\n"),
        # a dot that is not at the start of a line (bare LF, mid-line) stays
        (b"a\n.b\r\nc.d\r\n.\r\n", b"a\n.b\r\nc.d\r\n"),
    ],
)
async def test_message_ends_at_the_terminator_and_is_unstuffed(wire: bytes, message: bytes) -> None:
    assert await _read(wire + b"QUIT\r\n") == (message, b"QUIT\r\n")


async def test_long_lines_and_large_messages_cross_the_reader_limit() -> None:
    long_line = b"x" * 30_000 + b"\r\n"
    body = b"Subject: big\r\n\r\n" + long_line + (b"line\r\n" * 5000) + b"..dot\r\n"
    message, rest = await _read(body + b".\r\nMAIL FROM:<a@b.kr>\r\n")
    assert message == body.replace(b"\r\n..dot", b"\r\n.dot")
    assert rest == b"MAIL FROM:<a@b.kr>\r\n"


@pytest.mark.parametrize("prefix", [b"Subject: x\r\n", b"X\r\n", b"\r\n"])
async def test_an_oversize_message_is_read_to_its_end_and_refused(prefix: bytes) -> None:
    wire = prefix + b"y" * 5000 + b"\r\n.\r\nRSET\r\n"
    assert await _read(wire, size_limit=1000) == (None, b"RSET\r\n")


async def test_a_connection_closed_mid_message_raises() -> None:
    with pytest.raises(asyncio.IncompleteReadError):
        await _read(b"Subject: cut\r\nbody without end")
