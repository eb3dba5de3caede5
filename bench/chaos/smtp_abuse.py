"""SMTP abuse against the gateway, spoken byte by byte over a raw socket (no client library to
tidy the hostile input up), each case with the answer RFC 5321 and our policy call for.

Cases: 10,000 RCPT in one transaction, a 1 MB header line, endless headers, bare-LF / bare-CR
end-of-data smuggling (the 2023 "SMTP smuggling" family), an open-relay attempt, a forged reply
token, an oversized SIZE, an over-long command, NUL in a command, DATA before RCPT, an early
talker, and a crowd of idle connections. After all of them a plain mail must still get 250.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from bench.chaos import harness


class RawSmtp:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, port: int, *, greet: bool = True) -> RawSmtp:
        reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=2**24)
        client = cls(reader, writer)
        if greet:
            await client.reply()
        return client

    async def reply(self, wait: float = 60.0) -> tuple[int, str]:
        lines = []
        while True:
            line = await asyncio.wait_for(self.reader.readline(), wait)
            if not line:
                return 0, "connection closed"
            lines.append(line.decode("utf-8", "replace").rstrip("\r\n"))
            if len(line) < 4 or line[3:4] != b"-":
                break
        code = int(lines[-1][:3]) if lines[-1][:3].isdigit() else 0
        return code, " | ".join(lines)[:300]

    async def cmd(self, line: bytes | str) -> tuple[int, str]:
        data = line.encode() if isinstance(line, str) else line
        self.writer.write(data + b"\r\n")
        await self.writer.drain()
        return await self.reply()

    async def send_raw(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def close(self) -> None:
        try:
            self.writer.write(b"QUIT\r\n")
            await self.writer.drain()
        except (ConnectionError, OSError):
            pass
        self.writer.close()
        with contextlib.suppress(ConnectionError, OSError, TimeoutError):
            await asyncio.wait_for(self.writer.wait_closed(), 2)


@dataclass
class Case:
    name: str
    expected: str
    got: str = ""
    ok: bool = False
    seconds: float = 0.0


@dataclass
class AbuseResult:
    cases: list[Case] = field(default_factory=list)
    only: set[str] | None = None  # run only these cases (by name)

    @property
    def violations(self) -> list[Case]:
        return [c for c in self.cases if not c.ok]


def _mail(subject: str, body: str = "본문\r\n", extra: bytes = b"") -> bytes:
    return (
        (
            f"From: abuse@univ.ac.kr\r\nTo: {harness.HELP}\r\nSubject: {subject}\r\n"
            f"Message-ID: <{subject.replace(' ', '-')}-{time.monotonic_ns()}@abuse.ac.kr>\r\n"
        ).encode()
        + extra
        + b"\r\n"
        + body.encode()
    )


async def _transaction(port: int, *, mail_from: str = "<abuse@univ.ac.kr>") -> RawSmtp:
    client = await RawSmtp.open(port)
    await client.cmd("EHLO abuse.ac.kr")
    await client.cmd(f"MAIL FROM:{mail_from}")
    return client


async def _run(name: str, expected: str, work: Callable, result: AbuseResult) -> None:  # type: ignore[type-arg]
    if result.only is not None and name not in result.only:
        return
    case = Case(name, expected)
    began = time.monotonic()
    try:
        case.ok, case.got = await asyncio.wait_for(work(), timeout=180)
    except Exception as exc:
        case.ok, case.got = False, f"{type(exc).__name__}: {exc}"[:300]
    case.seconds = time.monotonic() - began
    result.cases.append(case)


async def run_abuse(
    port: int,
    *,
    max_recipients: int = 50,
    inbound_count: Callable[[list[str]], int] | None = None,
    only: set[str] | None = None,
) -> AbuseResult:
    """`inbound_count(needles)`: how many stored inbound rows contain every needle (to check a
    smuggled second message was not stored as a mail of its own)."""
    result = AbuseResult(only=only)

    async def rcpt_flood() -> tuple[bool, str]:
        client = await _transaction(port)
        codes: Counter[int] = Counter()
        for _ in range(10_000):
            code, _ = await client.cmd(f"RCPT TO:<{harness.HELP}>")
            codes[code] += 1
        alive, _ = await client.cmd("NOOP")
        await client.close()
        ok = codes[250] == max_recipients and codes[452] == 10_000 - max_recipients
        return ok and alive == 250, f"{dict(codes)}, NOOP {alive}"

    await _run(
        "10,000 RCPT in one transaction", f"{max_recipients} x 250, then 452", rcpt_flood, result
    )

    async def long_header_line() -> tuple[bool, str]:
        client = await _transaction(port)
        await client.cmd(f"RCPT TO:<{harness.HELP}>")
        code, text = await client.cmd("DATA")
        if code != 354:
            return False, f"DATA {code} {text}"
        await client.send_raw(
            _mail("long header line", extra=b"X-Long: " + b"a" * 1_048_576 + b"\r\n")
        )
        code, text = await client.cmd(".")
        await client.close()
        # RFC 5321 4.5.3.1.6: a text line is at most 1000 octets; refusing is right, and so is
        # taking the mail and coping with it (the pipeline is checked to finish it).
        return code in (250, 500, 552, 554), f"{code} {text}"

    await _run("1 MB header line", "5xx (line too long) or 250", long_header_line, result)

    async def endless_headers() -> tuple[bool, str]:
        client = await _transaction(port)
        await client.cmd(f"RCPT TO:<{harness.HELP}>")
        await client.cmd("DATA")
        headers = b"".join(b"X-H-%d: v\r\n" % i for i in range(200_000))
        await client.send_raw(_mail("endless headers", extra=headers))
        code, text = await client.cmd(".")
        await client.close()
        return code in (250, 552, 554), f"{code} {text}"

    await _run("200,000 header lines (2.4 MB)", "250 or 552", endless_headers, result)

    for label, terminator in (
        ("bare LF <LF>.<LF>", b"\n.\n"),
        ("<CR><LF>.<LF>", b"\r\n.\n"),
        ("<LF>.<CR><LF>", b"\n.\r\n"),
        ("bare CR <CR>.<CR>", b"\r.\r"),
    ):
        marker = f"SMUGGLED{time.monotonic_ns()}"

        async def smuggle(terminator: bytes = terminator, marker: str = marker) -> tuple[bool, str]:
            client = await _transaction(port)
            await client.cmd(f"RCPT TO:<{harness.HELP}>")
            await client.cmd("DATA")
            smuggled = (
                b"MAIL FROM:<ceo@univ.ac.kr>\r\nRCPT TO:<" + harness.HELP.encode() + b">\r\n"
                b"DATA\r\nFrom: ceo@univ.ac.kr\r\nSubject: " + marker.encode() + b"\r\n\r\n"
                b"smuggled\r\n"
            )
            await client.send_raw(_mail("smuggling carrier") + terminator + smuggled)
            code, text = await client.cmd(".")
            # Anything still buffered (a second reply) means the server saw two transactions.
            extra = b""
            with contextlib.suppress(TimeoutError):
                extra = await asyncio.wait_for(client.reader.read(4096), 0.5)
            await client.close()
            replies = f"{code} {text}" + (f" + {extra[:120]!r}" if extra else "")
            if code != 250 or extra.strip():
                return False, replies
            if inbound_count is not None:
                # The smuggled lines must be inside the one stored mail (the carrier), never a
                # mail of their own: exactly one row has the marker, and it is the carrier.
                with_marker = await asyncio.to_thread(inbound_count, [marker])
                in_carrier = await asyncio.to_thread(inbound_count, [marker, "smuggling carrier"])
                return with_marker == in_carrier == 1, (
                    f"{replies}; rows with the marker {with_marker}, of them the carrier "
                    f"{in_carrier}"
                )
            return True, replies

        await _run(f"smuggling with {label}", "one 250, one stored mail", smuggle, result)

    async def open_relay() -> tuple[bool, str]:
        client = await _transaction(port)
        outside = await client.cmd("RCPT TO:<victim@gmail.com>")
        forged = await client.cmd(
            "RCPT TO:<" + harness.HELP.replace("@", "+r-1-1-aaaaaaaaaaaaaaaa@") + ">"
        )
        other = await client.cmd("RCPT TO:<postmaster@chaos.ac.kr>")
        await client.close()
        codes = (outside[0], forged[0], other[0])
        return all(
            c == 550 for c in codes
        ), f"outside {codes[0]}, forged token {codes[1]}, other local {codes[2]}"

    await _run("open relay / forged reply token", "550 5.1.1 each", open_relay, result)

    async def oversize() -> tuple[bool, str]:
        client = await RawSmtp.open(port)
        await client.cmd("EHLO abuse.ac.kr")
        code, text = await client.cmd("MAIL FROM:<abuse@univ.ac.kr> SIZE=999999999999")
        await client.close()
        return code == 552, f"{code} {text}"

    await _run("MAIL FROM SIZE=999999999999", "552 5.3.4", oversize, result)

    async def long_command() -> tuple[bool, str]:
        client = await RawSmtp.open(port)
        await client.cmd("EHLO abuse.ac.kr")
        code, text = await client.cmd("MAIL FROM:<" + "a" * 5000 + "@univ.ac.kr>")
        alive, _ = await client.cmd("NOOP")
        await client.close()
        return 500 <= code < 600 and alive in (250, 0), f"{code} {text}; NOOP {alive}"

    await _run("5,000-octet command line", "5xx (line too long)", long_command, result)

    async def nul_envelope() -> tuple[bool, str]:
        """NUL in EHLO and MAIL FROM, sent alongside nine ordinary mails: refusing it (5xx) or
        taking it are both fine; a 4xx is not (the sender would retry it for days), and the
        mails committed in the same group must not suffer for it."""

        async def one(hostile: bool, n: int) -> int:
            client = await RawSmtp.open(port)
            await client.cmd(b"EHLO ab\x00use" if hostile else b"EHLO fine")
            code, _ = await client.cmd(
                b"MAIL FROM:<ab\x00use@univ.ac.kr>" if hostile else b"MAIL FROM:<ok@univ.ac.kr>"
            )
            if code != 250:
                await client.close()
                return code
            await client.cmd(f"RCPT TO:<{harness.HELP}>")
            await client.cmd("DATA")
            code, _ = await client.cmd(_mail(f"nul envelope {n}") + b"\r\n.")
            await client.close()
            return code

        codes = await asyncio.gather(*(one(n % 10 == 0, n) for n in range(30)))
        hostile = [c for n, c in enumerate(codes) if n % 10 == 0]
        ordinary = [c for n, c in enumerate(codes) if n % 10]
        ok = all(c == 250 or 500 <= c < 600 for c in hostile) and all(c == 250 for c in ordinary)
        return ok, f"NUL senders {sorted(set(hostile))}, ordinary mails {dict(Counter(ordinary))}"

    await _run(
        "NUL in EHLO and MAIL FROM, amid 27 ordinary mails",
        "NUL: 250 or 5xx, never 4xx; the others 250",
        nul_envelope,
        result,
    )

    async def data_first() -> tuple[bool, str]:
        client = await RawSmtp.open(port)
        await client.cmd("EHLO abuse.ac.kr")
        code, text = await client.cmd("DATA")
        await client.close()
        return code == 503, f"{code} {text}"

    await _run("DATA before MAIL/RCPT", "503", data_first, result)

    async def early_talker() -> tuple[bool, str]:
        client = await RawSmtp.open(port, greet=False)
        await client.send_raw(
            b"EHLO early\r\nMAIL FROM:<a@univ.ac.kr>\r\nRCPT TO:<"
            + harness.HELP.encode()
            + b">\r\n"
        )
        replies = []
        for _ in range(4):
            replies.append((await client.reply(wait=10))[0])
        await client.close()
        return 0 not in replies and all(c < 500 or c == 554 for c in replies), str(replies)

    await _run(
        "early talker (pipelined before greeting)", "no crash, sane codes", early_talker, result
    )

    async def crowd() -> tuple[bool, str]:
        idle = []
        for _ in range(300):
            try:
                idle.append(await RawSmtp.open(port, greet=False))
            except OSError:
                break
        began = time.monotonic()
        client = await RawSmtp.open(port)
        await client.cmd("EHLO abuse.ac.kr")
        await client.cmd("MAIL FROM:<crowd@univ.ac.kr>")
        await client.cmd(f"RCPT TO:<{harness.HELP}>")
        await client.cmd("DATA")
        code, _text = await client.cmd(_mail("under a crowd") + b"\r\n.")
        waited = time.monotonic() - began
        await client.close()
        for other in idle:
            other.writer.close()
        return (
            code == 250,
            f"{len(idle)} idle connections open; a real mail got {code} in {waited:.1f} s",
        )

    await _run("300 idle connections, then a real mail", "250", crowd, result)

    async def still_alive() -> tuple[bool, str]:
        client = await _transaction(port)
        await client.cmd(f"RCPT TO:<{harness.HELP}>")
        await client.cmd("DATA")
        code, text = await client.cmd(_mail("after the abuse") + b"\r\n.")
        await client.close()
        return code == 250, f"{code} {text}"

    await _run("a plain mail after all of it", "250", still_alive, result)
    return result
