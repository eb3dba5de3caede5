"""A lean asyncio SMTP load client: CONNECTIONS persistent sessions (like Postfix `smtp-source
-s N`), each sending MAIL/RCPT/DATA in turn, recording for every mail the wall-clock time its
250 arrived and the id the server put in it. Written on raw streams so the client is not the
bottleneck it would be with a full client library."""

from __future__ import annotations

import asyncio
import base64
import os
import random
import re
import time
from dataclasses import dataclass, field
from email.utils import formatdate

HELP = "help@bench.ac.kr"
QUEUED = re.compile(rb"queued as (\d+)")
SUBJECTS = [
    "3층 프린터가 인쇄를 하지 않습니다",
    "VPN 접속이 계속 끊어집니다",
    "수강신청 시스템 로그인 오류",
    "Wi-Fi (eduroam) cannot authenticate in building 5",
    "연구실 NAS 용량 증설 요청",
    "메일 계정 비밀번호 초기화 요청",
]
BODY = (
    "안녕하세요, 전산팀 담당자님.\r\n\r\n"
    "{subject} 문제로 연락드립니다. 오늘 오전부터 계속 같은 증상이 있습니다.\r\n"
    "재부팅도 해 보았지만 해결되지 않았습니다. 확인 부탁드립니다.\r\n\r\n"
    "Hello, the problem started this morning and a restart did not help.\r\n"
    "Please let me know if you need more information (room, asset tag, screenshots).\r\n\r\n"
    "감사합니다.\r\n{name} 드림\r\n"
)


@dataclass
class Result:
    sent_at: list[float] = field(default_factory=list)  # time of each 250
    ids: list[int] = field(default_factory=list)  # inbound id in each 250 (gateway only)
    failures: list[str] = field(default_factory=list)
    started: float = 0.0
    finished: float = 0.0

    @property
    def rate(self) -> float:
        return len(self.sent_at) / max(1e-9, self.finished - self.started)


def make_message(index: int, *, attachment: bytes | None = None, run: str = "") -> bytes:
    sender = f"user{index % 500}@univ.ac.kr"
    subject = f"{SUBJECTS[index % len(SUBJECTS)]} #{run}{index}"
    name = base64.b64encode(f"사용자{index % 500}".encode()).decode()
    headers = (
        f"From: =?utf-8?B?{name}?= <{sender}>\r\n"
        f"To: IT Service Desk <{HELP}>\r\n"
        f"Subject: =?utf-8?B?{base64.b64encode(subject.encode()).decode()}?=\r\n"
        f"Date: {formatdate(localtime=True)}\r\n"
        f"Message-ID: <bench-{run}{index}-{os.urandom(4).hex()}@univ.ac.kr>\r\n"
        "MIME-Version: 1.0\r\n"
    )
    body = BODY.format(subject=subject, name=f"사용자{index % 500}")
    if attachment is None:
        return (
            headers
            + "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
            + body
        ).encode()
    encoded = base64.encodebytes(attachment).replace(b"\n", b"\r\n")
    return (
        (
            headers + 'Content-Type: multipart/mixed; boundary="b1"\r\n\r\n--b1\r\n'
            "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
            + body
            + "\r\n--b1\r\nContent-Type: application/pdf\r\n"
            'Content-Disposition: attachment; filename="report.pdf"\r\n'
            "Content-Transfer-Encoding: base64\r\n\r\n"
        ).encode()
        + encoded
        + b"\r\n--b1--\r\n"
    )


def make_load(n: int, *, attachment_ratio: float, attachment_size: int, run: str) -> list[bytes]:
    rng = random.Random(42)
    blob = os.urandom(attachment_size)
    return [
        make_message(i, attachment=blob if rng.random() < attachment_ratio else None, run=run)
        for i in range(n)
    ]


class SmtpError(Exception):
    pass


async def _reply(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    lines = []
    while True:
        line = await reader.readline()
        if not line:
            raise SmtpError("connection closed")
        lines.append(line)
        if line[3:4] != b"-":
            break
    return int(lines[-1][:3]), b"".join(lines)


async def _expect(reader: asyncio.StreamReader, ok: int) -> bytes:
    code, text = await _reply(reader)
    if code != ok:
        raise SmtpError(text.decode(errors="replace").strip())
    return text


def _dot_stuff(data: bytes) -> bytes:
    if not data.endswith(b"\r\n"):
        data += b"\r\n"
    if data.startswith(b"."):
        data = b"." + data
    return data.replace(b"\r\n.", b"\r\n..")


async def _session(
    host: str,
    port: int,
    queue: asyncio.Queue[tuple[int, bytes] | None],
    result: Result,
    pace: asyncio.Queue[None] | None,
) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        await _expect(reader, 220)
        writer.write(b"EHLO bench.univ.ac.kr\r\n")
        await _expect(reader, 250)
        while (item := await queue.get()) is not None:
            if pace is not None:
                await pace.get()
            _, data = item
            try:
                # One command per round trip: aiosmtpd does not offer PIPELINING.
                writer.write(f"MAIL FROM:<bench@univ.ac.kr> SIZE={len(data)}\r\n".encode())
                await _expect(reader, 250)
                writer.write(f"RCPT TO:<{HELP}>\r\n".encode())
                await _expect(reader, 250)
                writer.write(b"DATA\r\n")
                await _expect(reader, 354)
                writer.write(_dot_stuff(data) + b".\r\n")
                text = await _expect(reader, 250)
            except SmtpError as exc:
                result.failures.append(str(exc))
                writer.write(b"RSET\r\n")
                await _reply(reader)
                continue
            result.sent_at.append(time.time())
            match = QUEUED.search(text)
            result.ids.append(int(match.group(1)) if match else -1)
        writer.write(b"QUIT\r\n")
        await writer.drain()
    finally:
        writer.close()


async def send_all(
    host: str,
    port: int,
    messages: list[bytes],
    *,
    connections: int,
    rate: float | None = None,
) -> Result:
    """Send every message over `connections` sessions, as fast as possible or at `rate`/s."""
    queue: asyncio.Queue[tuple[int, bytes] | None] = asyncio.Queue()
    for item in enumerate(messages):
        queue.put_nowait(item)
    for _ in range(connections):
        queue.put_nowait(None)
    pace: asyncio.Queue[None] | None = asyncio.Queue() if rate else None
    result = Result(started=time.time())

    async def ticker() -> None:
        assert pace is not None and rate is not None
        start = time.monotonic()
        for i in range(len(messages)):
            delay = start + i / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            pace.put_nowait(None)

    tick = asyncio.create_task(ticker()) if rate else None
    await asyncio.gather(*(_session(host, port, queue, result, pace) for _ in range(connections)))
    if tick is not None:
        tick.cancel()
    result.finished = time.time()
    return result
