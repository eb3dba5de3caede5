"""An SMTP load client that behaves like a patient MTA: many connections, each mail retried until
it gets a 250 to DATA (a 4xx or a cut connection means "try again"; a 5xx is a bounce and is
counted, never retried).

Every mail carries a unique Message-ID and a unique token in its subject and body, so the
experiments can find each one in the database afterwards.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate

import aiosmtplib

from bench.chaos.harness import HELP

BODIES = [
    "3층 프린터가 인쇄를 하지 않습니다. 확인 부탁드립니다.\n",
    "VPN 접속이 계속 끊어집니다.\nThe VPN keeps dropping every few minutes.\n",
    "수강신청 시스템 로그인이 안 됩니다. 비밀번호를 초기화해 주세요.\n",
    "Wi-Fi (eduroam) cannot authenticate in building 5.\n",
    "연구실 NAS 용량 증설 요청드립니다. 똠방각하 뷁 햏\n",
]


@dataclass
class Mail:
    index: int
    token: str
    message_id: str
    sender: str
    raw: bytes
    reply_to_index: int | None = None


def build_mails(
    count: int,
    *,
    run_id: str,
    seed: int = 1,
    senders: int = 1000,
    reply_share: float = 0.3,
    attachment_share: float = 0.1,
    recipient: str = HELP,
) -> list[Mail]:
    """`count` mails; about `reply_share` of them answer an earlier one (In-Reply-To), so they
    become comments when the earlier one is already a ticket."""
    rng = random.Random(seed)
    mails: list[Mail] = []
    for i in range(count):
        token = f"CHAOS-{run_id}-{i:06d}"
        message_id = f"<chaos-{run_id}-{i}@load.chaos.ac.kr>"
        sender = f"user{rng.randrange(senders):05d}@univ-chaos.ac.kr"
        message = EmailMessage()
        message["From"] = f"사용자 {i} <{sender}>"
        message["To"] = recipient
        message["Date"] = formatdate(localtime=True)
        message["Message-ID"] = message_id
        parent = None
        if i > 20 and rng.random() < reply_share:
            parent = rng.randrange(max(0, i - 2000), i - 10)
            message["In-Reply-To"] = mails[parent].message_id
            message["References"] = mails[parent].message_id
            message["Subject"] = f"Re: 문의 {token}"
        else:
            message["Subject"] = f"문의 {token} {rng.choice(['프린터', 'VPN', 'Wi-Fi', '계정'])}"
        message.set_content(f"{token}\n{rng.choice(BODIES)}")
        if rng.random() < attachment_share:
            message.add_attachment(
                (token + "\n").encode() * rng.randint(1, 200),
                maintype="text",
                subtype="plain",
                filename=f"log-{i}.txt",
            )
        mails.append(Mail(i, token, message_id, sender, message.as_bytes(), parent))
    return mails


@dataclass
class LoadResult:
    accepted: dict[int, str] = field(default_factory=dict)  # index -> the 250 text
    latencies: list[float] = field(default_factory=list)  # seconds, DATA transaction -> 250
    # Paced runs: seconds from the moment a mail was due to be sent until its 250 (includes any
    # wait for a free connection, so a slow gateway cannot hide behind a slow client).
    since_due: list[float] = field(default_factory=list)
    attempts: int = 0
    failures: Counter[str] = field(default_factory=Counter)
    bounced: dict[int, str] = field(default_factory=dict)  # 5xx answers
    codes_by_phase: Counter[str] = field(default_factory=Counter)
    started: float = 0.0
    finished: float = 0.0
    pending: list[int] = field(default_factory=list)

    @property
    def seconds(self) -> float:
        return self.finished - self.started


class SmtpLoad:
    def __init__(
        self,
        port: int,
        mails: list[Mail],
        *,
        host: str = "127.0.0.1",
        connections: int = 16,
        max_seconds: float = 1800.0,
        retry_delay: float = 0.2,
        rate: float | None = None,
        per_connection: int = 50,
        timeout: float = 30.0,
        on_result: object = None,
    ) -> None:
        self.host, self.port = host, port
        self.mails = mails
        self.connections = connections
        self.max_seconds = max_seconds
        self.retry_delay = retry_delay
        self.rate = rate
        self.per_connection = per_connection
        self.timeout = timeout
        self.result = LoadResult()
        self.phase = "normal"  # experiments relabel (e.g. "outage") to split the codes seen
        self._queue: asyncio.Queue[tuple[float, Mail]] = asyncio.Queue()

    async def run(self) -> LoadResult:
        start = time.monotonic()
        self.result.started = start
        for n, mail in enumerate(self.mails):
            due = start + n / self.rate if self.rate else start
            self._queue.put_nowait((due, mail))
        deadline = start + self.max_seconds
        tasks = [asyncio.create_task(self._lane(deadline)) for _ in range(self.connections)]
        await asyncio.gather(*tasks)
        self.result.finished = time.monotonic()
        self.result.pending = sorted(
            m.index
            for m in self.mails
            if m.index not in self.result.accepted and m.index not in self.result.bounced
        )
        return self.result

    def _done(self) -> bool:
        return len(self.result.accepted) + len(self.result.bounced) >= len(self.mails)

    async def _lane(self, deadline: float) -> None:
        client: aiosmtplib.SMTP | None = None
        sent_on_connection = 0
        try:
            while not self._done() and time.monotonic() < deadline:
                try:
                    due, mail = self._queue.get_nowait()
                except asyncio.QueueEmpty:
                    await asyncio.sleep(0.05)  # others hold the last mails; they may come back
                    continue
                wait = due - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
                if (
                    client is None
                    or not client.is_connected
                    or sent_on_connection >= (self.per_connection)
                ):
                    await _close(client)
                    client, sent_on_connection = None, 0
                    try:
                        client = aiosmtplib.SMTP(
                            hostname=self.host, port=self.port, timeout=self.timeout
                        )
                        await client.connect()
                    except (aiosmtplib.SMTPException, OSError) as exc:
                        client = None
                        self._retry(mail, f"connect: {type(exc).__name__}")
                        await asyncio.sleep(self.retry_delay)
                        continue
                ok = await self._send(client, mail, due)
                sent_on_connection += 1
                if not ok:
                    await _close(client)
                    client = None
                    await asyncio.sleep(self.retry_delay)
        finally:
            await _close(client)

    def _retry(self, mail: Mail, reason: str) -> None:
        self.result.failures[reason] += 1
        self._queue.put_nowait((0.0, mail))

    async def _send(self, client: aiosmtplib.SMTP, mail: Mail, due: float = 0.0) -> bool:
        self.result.attempts += 1
        began = time.monotonic()
        try:
            errors, response = await client.sendmail(mail.sender, [HELP], mail.raw)
        except (aiosmtplib.SMTPResponseException, aiosmtplib.SMTPRecipientsRefused) as exc:
            if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
                code, message = exc.recipients[0].code, exc.recipients[0].message
            else:
                code, message = exc.code, exc.message
            self.result.codes_by_phase[f"{self.phase} {code}"] += 1
            if 500 <= code < 600:
                self.result.bounced[mail.index] = f"{code} {message}"
                return True
            self._retry(mail, f"{code}")
            return False
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            self._retry(mail, f"{type(exc).__name__}")
            return False
        if errors:  # a refused recipient with the other accepted: not our case (one recipient)
            self._retry(mail, f"recipient {errors}")
            return False
        self.result.codes_by_phase[f"{self.phase} 250"] += 1
        self.result.accepted[mail.index] = response
        finished = time.monotonic()
        self.result.latencies.append(finished - began)
        if due and self.rate:
            self.result.since_due.append(finished - due)
        return True


async def _close(client: aiosmtplib.SMTP | None) -> None:
    if client is None:
        return
    try:
        if client.is_connected:
            await asyncio.wait_for(client.quit(), timeout=2)
    except (aiosmtplib.SMTPException, OSError, TimeoutError):
        client.close()
    except Exception:
        client.close()


def main() -> None:
    """Run one paced load in a process of its own (bench/chaos/load.py does, so the latency of
    mail acceptance is not measured through the event loop of the HTTP load generator). Prints
    one JSON line: accepted, offered, failures, since_due (seconds)."""
    import argparse
    import json

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--n", type=int, required=True)
    parser.add_argument("--rate", type=float, required=True)
    parser.add_argument("--connections", type=int, default=10)
    parser.add_argument("--run-id", required=True)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--max-seconds", type=float, default=600)
    args = parser.parse_args()
    mails = build_mails(args.n, run_id=args.run_id, seed=args.seed, attachment_share=0.0)
    load = SmtpLoad(
        args.port,
        mails,
        connections=args.connections,
        rate=args.rate,
        max_seconds=args.max_seconds,
    )
    began = time.process_time()
    result = asyncio.run(load.run())
    print(
        json.dumps(
            {
                "offered": len(mails),
                "accepted": len(result.accepted),
                "failures": dict(result.failures),
                "since_due": result.since_due,
                "cpu_seconds": time.process_time() - began,
            }
        )
    )


if __name__ == "__main__":
    main()
