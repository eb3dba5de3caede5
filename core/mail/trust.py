"""What can be proven about who sent a mail: the connecting peer, the campus relay's
Authentication-Results (RFC 8601) and DMARC alignment (RFC 7489 section 3.1).

The header `From:` and the envelope `MAIL FROM` are whatever the sender typed. Only an MTA that
checked SPF, DKIM and DMARC can vouch for them, and it says so in an Authentication-Results header
naming itself by its authserv-id. We believe such a header only when

* the peer that handed us the mail is one of MAILGATEWAY_TRUSTED_RELAYS,
* its authserv-id is MAIL_AUTHSERV_ID, and
* it sits in the relay's part of the header block: above the second `Received:` line. Anything
  below that was written before the mail reached the relay, by whoever sent it.

RFC 8601 section 5 tells the relay to strip incoming headers that claim its authserv-id (Postfix:
a `header_checks` line, see docs/operations.md). In case it does not, the topmost header that
reports a method wins: the relay prepends its own, so a sender's copy of the same method further
down never overrides the relay's verdict, and is recorded as ignored.

A sender is *verified* when the relay reports DMARC pass for the From domain. A relay that does
not evaluate DMARC may verify by a DKIM pass for a domain, or an SPF pass for a MAIL FROM domain,
aligned (relaxed: the same organisational domain, by the Public Suffix List) with the From
domain; a DKIM pass for `mailer.example.com` says nothing about `From: dean@univ.ac.kr`. Where
the relay reports any DMARC result, that result alone decides (`dmarc=none`, a domain without a
DMARC record, verifies nobody): so publish one for your own domain, `p=none` is enough.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from typing import Any

import authres
import authres.dmarc
from authres.core import AuthenticationResultsHeader
from publicsuffixlist import PublicSuffixList

from core.config import IPNetwork

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# The relay's own verdict is only read from this many A-R headers (a mail can carry hundreds).
# What can be proven about a sender, most first (core/inbound/pipeline.py `Context.trust_level`).
LEVELS = ("token", "verified", "unverified", "failed")
MAX_AUTHRES_HEADERS = 50
_POLICY_IN_COMMENT = re.compile(r"\b(?:p|policy)\s*=\s*(none|quarantine|reject)\b", re.I)
# The dmarc clause of a header, up to the next `;` (authres drops the comments it is written in).
_DMARC_CLAUSE = re.compile(r"\bdmarc\s*=\s*[a-z]+[^;]*", re.I)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_AUTHRES_CONTEXT = authres.FeatureContext(authres.dmarc)


def peer_ip(peer: str | None) -> IPAddress | None:
    """The address part of a stored peer (`192.0.2.7:51234`, `::1:51234`), or None."""
    if not peer:
        return None
    return ip_of(peer.rpartition(":")[0] if ":" in peer else peer)


def ip_of(host: str) -> IPAddress | None:
    """`host` as an address (an IPv4-mapped IPv6 address as its IPv4 one), or None."""
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def in_networks(address: IPAddress | None, networks: list[IPNetwork]) -> bool:
    return address is not None and any(address in network for network in networks)


@lru_cache(maxsize=1)
def _suffixes() -> PublicSuffixList:
    return PublicSuffixList()  # the list shipped with the package: no network at run time


def organisational_domain(domain: str) -> str:
    """RFC 7489 section 3.2: one label more than the public suffix (`mail.univ.ac.kr` ->
    `univ.ac.kr`)."""
    domain = domain.strip().strip(".").lower()
    return _suffixes().privatesuffix(domain) or domain


def aligned(domain: str | None, from_domain: str | None) -> bool:
    """Relaxed identifier alignment (RFC 7489 section 3.1): the same organisational domain."""
    if not domain or not from_domain:
        return False
    return organisational_domain(domain) == organisational_domain(from_domain)


def domain_of(value: str | None) -> str | None:
    """The domain of `user@domain`, `@domain` or a bare domain; None for nothing usable."""
    if not value:
        return None
    domain = value.strip().strip("<>").rpartition("@")[2].strip().strip(".").lower()
    return domain or None


@dataclass
class MethodResult:
    method: str
    result: str
    domain: str | None = None
    aligned: bool = False
    policy: str | None = None


@dataclass
class AuthVerdict:
    """What the trusted relay proved about the mail; stored with the inbound message."""

    peer_trusted: bool
    results: list[MethodResult] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)
    verified_by: str | None = None
    failed_by: str | None = None
    dmarc_policy: str | None = None
    checked_here: bool = False  # by our own SPF/DKIM/DMARC check, not a relay's header

    @property
    def verified(self) -> bool:
        return self.verified_by is not None

    @property
    def failed(self) -> bool:
        """SPF or DMARC said fail: such senders are never acknowledged."""
        return self.failed_by is not None

    @property
    def dmarc_reject(self) -> bool:
        """DMARC fail for a domain that asks receivers to quarantine or reject such mail."""
        return self.failed_by == "dmarc" and self.dmarc_policy in ("quarantine", "reject")

    def as_dict(self) -> dict[str, Any]:
        return {
            "peer_trusted": self.peer_trusted,
            "results": [asdict(r) for r in self.results],
            "ignored": self.ignored,
            "verified_by": self.verified_by,
            "failed_by": self.failed_by,
            "dmarc_policy": self.dmarc_policy,
            "checked_here": self.checked_here,
        }


def _clean(value: str, limit: int = 200) -> str:
    """Text for the record: no control characters, no undecodable bytes (lone surrogates,
    which JSON and PostgreSQL refuse)."""
    value = value.encode("utf-8", "replace").decode("utf-8")
    return _CONTROL.sub(" ", value)[:limit]


def _policy(result: Any, header_text: str) -> str | None:
    """OpenDMARC writes `dmarc=fail (p=reject dis=none)`, rspamd `... (policy=reject)`, both in
    comments, which authres does not keep; RFC 7489 registers `policy.dmarc`."""
    texts = [getattr(result, "policy", None)]
    texts += [m.group(0) for m in _DMARC_CLAUSE.finditer(header_text)]
    for text in texts:
        if not text:
            continue
        text = str(text).strip().lower()
        if text in ("none", "quarantine", "reject"):
            return text
        match = _POLICY_IN_COMMENT.search(text)
        if match:
            return match.group(1).lower()
    return None


def _property(result: Any, ptype: str, name: str) -> str | None:
    for prop in getattr(result, "properties", []) or []:
        if prop.type == ptype and prop.name == name and prop.value:
            return str(prop.value)
    return None


def _method_result(result: Any, from_domain: str | None, header_text: str) -> MethodResult:
    method = str(result.method).lower()
    outcome = str(result.result or "").lower()
    if method == "dkim":
        domain = _property(result, "header", "d") or domain_of(_property(result, "header", "i"))
    elif method == "spf":
        domain = domain_of(_property(result, "smtp", "mailfrom")) or domain_of(
            _property(result, "smtp", "helo")
        )
    elif method == "dmarc":
        domain = domain_of(_property(result, "header", "from"))
    else:
        domain = None
    domain = domain and domain.lower()
    if method == "dmarc":
        # DMARC evaluates the From domain itself; it speaks of ours only if it names ours.
        is_aligned = bool(domain and from_domain and domain == from_domain)
    else:
        is_aligned = aligned(domain, from_domain)
    return MethodResult(
        method=method,
        result=outcome,
        domain=domain and _clean(domain),
        aligned=is_aligned,
        policy=_policy(result, header_text) if method == "dmarc" else None,
    )


def _relay_block_end(headers: list[tuple[str, str]]) -> int:
    """Index of the second Received header: above it is what the relay (and we) wrote."""
    seen = 0
    for index, (name, _) in enumerate(headers):
        if name.lower() == "received":
            seen += 1
            if seen == 2:
                return index
    return len(headers)


def evaluate(
    headers: list[tuple[str, str]],
    *,
    from_address: str | None,
    peer_trusted: bool,
    authserv_id: str,
) -> AuthVerdict:
    """Read the relay's Authentication-Results from `headers` (in message order, unfolded or
    not) and decide what they prove about `from_address`."""
    verdict = AuthVerdict(peer_trusted=peer_trusted)
    own_id = authserv_id.strip().lower()
    from_domain = domain_of(from_address)
    block_end = _relay_block_end(headers)
    reported: set[str] = set()
    read = 0
    for index, (name, value) in enumerate(headers):
        if name.lower() != "authentication-results":
            continue
        read += 1
        if read > MAX_AUTHRES_HEADERS:
            verdict.ignored.append(f"more than {MAX_AUTHRES_HEADERS} headers; the rest unread")
            break
        unfolded = " ".join(str(value).split())
        try:
            header = AuthenticationResultsHeader.parse_value(_AUTHRES_CONTEXT, unfolded)
        except Exception as exc:  # authres raises its own errors, and more on hostile text
            if own_id and own_id in unfolded.lower()[: len(own_id) + 5]:
                verdict.ignored.append(f"unparsable header claiming {own_id}: {_clean(str(exc))}")
            continue
        server = str(header.authserv_id or "").lower()
        if not own_id or server != own_id:
            continue  # another server's opinion (the sender's provider, a list): not ours to use
        if not peer_trusted:
            verdict.ignored.append(f"{own_id} header from a peer that is not a trusted relay")
            continue
        if index >= block_end:
            verdict.ignored.append(f"{own_id} header below the relay's Received line (forged)")
            continue
        results = [_method_result(r, from_domain, unfolded) for r in header.results if r.method]
        fresh = [r for r in results if r.method not in reported]
        for repeated in {r.method for r in results} & reported:
            verdict.ignored.append(f"{own_id} {repeated} result below the relay's own (forged)")
        verdict.results.extend(fresh)
        reported |= {r.method for r in fresh}
    decide(verdict)
    return verdict


def decide(verdict: AuthVerdict) -> None:
    """Verified, failed, DMARC policy: from the results gathered in `verdict`."""
    by_method: dict[str, list[MethodResult]] = {}
    for result in verdict.results:
        by_method.setdefault(result.method, []).append(result)
    dmarc = by_method.get("dmarc", [])
    if dmarc:
        verdict.dmarc_policy = dmarc[0].policy
    if any(r.result == "fail" for r in dmarc):
        verdict.failed_by = "dmarc"
    elif any(r.result == "fail" for r in by_method.get("spf", [])):
        verdict.failed_by = "spf"
    if verdict.failed_by == "dmarc":
        return  # the domain's own policy says this From is not theirs: nothing else counts
    # Where the relay evaluated DMARC, its DMARC result decides alone. An aligned DKIM or SPF
    # pass is read only from a relay that does not do DMARC: a relay that writes no DKIM line
    # for unsigned mail (OpenDKIM's default) leaves room for a sender's own line just below.
    for method in ("dmarc",) if dmarc else ("dkim", "spf"):
        for result in by_method.get(method, []):
            if result.result == "pass" and result.aligned:
                verdict.verified_by = f"{method}=pass ({result.domain})"
                # DMARC passed by way of DKIM: an SPF fail is a forwarder's, not a forgery.
                verdict.failed_by = None
                return
