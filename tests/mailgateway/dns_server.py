"""A real DNS server on loopback (dnslib), answering from a dict: the zone our own SPF, DKIM and
DMARC checks query in tests (MAIL_VERIFY_SELF with MAIL_DNS_RESOLVER=127.0.0.1:<port>)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from dnslib import QTYPE, RCODE, RR, TXT, A
from dnslib.server import BaseResolver, DNSLogger, DNSServer


class ZoneResolver(BaseResolver):
    def __init__(self, records: dict[tuple[str, str], list[str]]) -> None:
        self.records = {(name.lower(), kind): values for (name, kind), values in records.items()}
        self.names = {name for name, _ in self.records}
        self.questions: list[tuple[str, str]] = []

    def resolve(self, request, handler):  # type: ignore[no-untyped-def]
        reply = request.reply()
        name = str(request.q.qname).rstrip(".").lower()
        kind = QTYPE[request.q.qtype]
        self.questions.append((name, kind))
        for value in self.records.get((name, kind), []):
            if kind == "TXT":
                data = value.encode()
                chunks = [data[i : i + 255] for i in range(0, len(data), 255)]
                reply.add_answer(RR(name, QTYPE.TXT, rdata=TXT(chunks), ttl=60))
            elif kind == "A":
                reply.add_answer(RR(name, QTYPE.A, rdata=A(value), ttl=60))
        if name not in self.names:
            reply.header.rcode = RCODE.NXDOMAIN
        return reply


@contextmanager
def dns_server(records: dict[tuple[str, str], list[str]]) -> Iterator[tuple[str, ZoneResolver]]:
    """Serve `records` over UDP on 127.0.0.1; yields (`host:port`, the resolver)."""
    resolver = ZoneResolver(records)
    server = DNSServer(
        resolver, address="127.0.0.1", port=0, logger=DNSLogger(log="-request,-reply,-truncated")
    )
    server.start_thread()
    try:
        yield f"127.0.0.1:{server.server.server_address[1]}", resolver
    finally:
        server.stop()
