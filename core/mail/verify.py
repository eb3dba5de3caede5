"""Checking SPF (RFC 7208), DKIM (RFC 6376) and DMARC (RFC 7489) ourselves, for a desk that has no
relay to do it (MAIL_VERIFY_SELF). With a relay, its Authentication-Results are better: it saw
the connecting client, we only see the relay.

The checks use maintained libraries: dkimpy for DKIM signatures, pyspf for SPF, dnspython for
the DMARC record. Every DNS question goes to MAIL_DNS_RESOLVER (`host` or `host:port`; empty: the
system's resolver), so a campus can point them at its own resolver and the tests at a real local
DNS server. The calls block (DNS): the pipeline runs `check` in a worker thread.

The outcome has the shape of a relay's verdict (core/mail/trust.py), so the same rules decide.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import dkim
import dns.exception
import dns.resolver
import spf

from core.mail.trust import AuthVerdict, MethodResult, aligned, decide, domain_of
from core.mail.trust import organisational_domain as org_domain

DNS_TIMEOUT_SECONDS = 5.0
MAX_SIGNATURES = 5  # a mail can carry any number; each costs a DNS lookup
_DMARC_POLICIES = ("none", "quarantine", "reject")


@dataclass(frozen=True)
class Envelope:
    peer_ip: str | None
    helo: str | None
    mail_from: str
    from_address: str | None


class Resolver:
    """dnspython pointed at one server (or the system's), with a short timeout."""

    def __init__(self, address: str = "") -> None:
        if address:
            host, _, port = (
                address.rpartition(":") if address.count(":") == 1 else (address, "", "")
            )
            self._resolver = dns.resolver.Resolver(configure=False)
            self._resolver.nameservers = [host or address]
            self._resolver.port = int(port) if port else 53
        else:
            self._resolver = dns.resolver.Resolver()
        self._resolver.lifetime = DNS_TIMEOUT_SECONDS

    def query(self, name: str, qtype: str) -> list[Any]:
        try:
            return list(self._resolver.resolve(name, qtype, search=False))
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
            return []

    def txt(self, name: str) -> list[bytes]:
        return [b"".join(r.strings) for r in self.query(name, "TXT")]

    def spf_lookup(self, name: str, qtype: str, *args: Any, **kwargs: Any) -> list[Any]:
        """pyspf's DNSLookup contract: [((name, qtype), data), ...]."""
        try:
            answers = self.query(name, qtype)
        except dns.exception.DNSException as error:
            raise spf.TempError(f"DNS {error}") from None
        out: list[Any] = []
        for rdata in answers:
            if qtype in ("A", "AAAA"):
                out.append(((name, qtype), rdata.address))
            elif qtype == "MX":
                out.append(((name, qtype), (rdata.preference, rdata.exchange)))
            elif qtype == "PTR":
                out.append(((name, qtype), rdata.target.to_text(True)))
            elif qtype in ("TXT", "SPF"):
                out.append(((name, qtype), rdata.strings))
        return out

    def dkim_txt(self, name: bytes | str, timeout: float = DNS_TIMEOUT_SECONDS) -> bytes | None:
        """dkimpy's dnsfunc contract: the TXT record as bytes, or None."""
        text = name.decode() if isinstance(name, bytes) else name
        records = self.txt(text.rstrip("."))
        return records[0] if records else None


# pyspf asks a module-level DNSLookup; it is pointed at the configured resolver while a check
# runs (the lock keeps two checks with different resolvers from crossing).
_spf_lock = threading.Lock()


def _spf(envelope: Envelope, resolver: Resolver) -> MethodResult | None:
    domain = domain_of(envelope.mail_from) or domain_of(envelope.helo)
    if not envelope.peer_ip or not domain:
        return None
    sender = envelope.mail_from.strip("<> ") or f"postmaster@{domain}"
    with _spf_lock:
        previous, spf.DNSLookup = spf.DNSLookup, resolver.spf_lookup
        try:
            result, _explanation = spf.check2(
                i=envelope.peer_ip, s=sender, h=envelope.helo or domain, timeout=DNS_TIMEOUT_SECONDS
            )
        except Exception:  # pyspf raises its own errors on malformed records and input
            result = "permerror"
        finally:
            spf.DNSLookup = previous
    return MethodResult(method="spf", result=str(result), domain=domain)


def _dkim(raw: bytes, resolver: Resolver, from_domain: str | None) -> list[MethodResult]:
    results: list[MethodResult] = []
    try:
        signed = dkim.DKIM(raw, timeout=int(DNS_TIMEOUT_SECONDS))
        count = len([h for h in signed.headers if h[0].lower() == b"dkim-signature"])
    except Exception:
        return results
    for index in range(min(count, MAX_SIGNATURES)):
        try:
            passed = signed.verify(idx=index, dnsfunc=resolver.dkim_txt)
        except Exception:  # a malformed signature or record is a failed signature
            passed = False
        domain = signed.domain.decode(errors="replace").lower() if signed.domain else None
        results.append(
            MethodResult(
                method="dkim",
                result="pass" if passed else "fail",
                domain=domain,
                aligned=aligned(domain, from_domain),
            )
        )
    return results


def _dmarc_record(domain: str, resolver: Resolver) -> tuple[str | None, bool]:
    """The policy of `domain` (its own record, or its organisational domain's `sp=`/`p=`) and
    whether a record exists."""
    for name, own in ((domain, True), (org_domain(domain), False)):
        if not own and name == domain:
            continue
        for record in resolver.txt(f"_dmarc.{name}"):
            text = record.decode(errors="replace")
            if not text.lower().startswith("v=dmarc1"):
                continue
            tags = dict(
                (k.strip().lower(), v.strip().lower())
                for k, _, v in (part.partition("=") for part in text.split(";"))
            )
            policy = tags.get("p") if own else tags.get("sp", tags.get("p"))
            return (policy if policy in _DMARC_POLICIES else "none"), True
    return None, False


def check(raw: bytes, envelope: Envelope, resolver: Resolver) -> AuthVerdict:
    """SPF, DKIM and DMARC for one received mail (blocking: DNS)."""
    from_domain = domain_of(envelope.from_address)
    verdict = AuthVerdict(peer_trusted=False)
    try:
        spf_result = _spf(envelope, resolver)
        if spf_result is not None:
            spf_result.aligned = aligned(spf_result.domain, from_domain)
            verdict.results.append(spf_result)
        verdict.results.extend(_dkim(raw, resolver, from_domain))
        if from_domain:
            policy, exists = _dmarc_record(from_domain, resolver)
            if exists:
                passed = any(r.result == "pass" and r.aligned for r in verdict.results)
                verdict.results.append(
                    MethodResult(
                        method="dmarc",
                        result="pass" if passed else "fail",
                        domain=from_domain,
                        aligned=True,
                        policy=policy,
                    )
                )
    except dns.exception.DNSException as error:
        # The resolver is away: nothing proven, nothing disproven (the mail is not lost).
        verdict.ignored.append(f"own check incomplete: DNS {type(error).__name__}")
    decide(verdict)
    return verdict
