"""core/mail/trust.py on its own: which Authentication-Results count, alignment, hostile input."""

from __future__ import annotations

import ipaddress

import pytest

from core.config import NetworkListError, parse_networks
from core.mail import trust

OURS = "mx.univ.ac.kr"
RELAY_RECEIVED = ("Received", "from mail.gmail.com by mx.univ.ac.kr (Postfix); 2 Dec 2026")


def _evaluate(headers: list[tuple[str, str]], sender: str = "dean@univ.ac.kr", *, trusted=True):  # type: ignore[no-untyped-def]
    return trust.evaluate(headers, from_address=sender, peer_trusted=trusted, authserv_id=OURS)


def test_alignment_uses_the_organisational_domain() -> None:
    assert trust.organisational_domain("mail.cs.univ.ac.kr") == "univ.ac.kr"  # ac.kr is a suffix
    assert trust.aligned("mail.univ.ac.kr", "univ.ac.kr")
    assert not trust.aligned("univ.ac.kr", "other.ac.kr")
    assert not trust.aligned("mailer.example.com", "univ.ac.kr")
    # A DKIM pass for the sending service's domain says nothing about the From.
    verdict = _evaluate([("Authentication-Results", f"{OURS}; dkim=pass header.d=sendgrid.net")])
    assert not verdict.verified and verdict.results[0].aligned is False


def test_dmarc_must_name_the_from_domain_itself() -> None:
    other = _evaluate([("Authentication-Results", f"{OURS}; dmarc=pass header.from=evil.example")])
    assert not other.verified
    ours = _evaluate([("Authentication-Results", f"{OURS}; dmarc=pass header.from=univ.ac.kr")])
    assert ours.verified_by == "dmarc=pass (univ.ac.kr)"


def test_only_the_relays_part_of_the_header_block_counts() -> None:
    forged = ("Authentication-Results", f"{OURS}; dmarc=pass header.from=univ.ac.kr")
    sender_hop = ("Received", "from pc by mail.evil.example; 2 Dec 2026")
    # Relay's verdict on top (found nothing), the sender's copy below the sender's own hop.
    verdict = _evaluate(
        [
            ("Authentication-Results", f"{OURS}; dmarc=none header.from=univ.ac.kr"),
            RELAY_RECEIVED,
            sender_hop,
            forged,
        ]
    )
    assert not verdict.verified and any("below the relay" in i for i in verdict.ignored)
    # Straight after the relay's line (the sender connected to the relay itself): the relay's
    # own result for the method came first and wins.
    verdict = _evaluate(
        [
            RELAY_RECEIVED,
            ("Authentication-Results", f"{OURS}; spf=fail smtp.mailfrom=evil.example; dmarc=none"),
            forged,
        ]
    )
    assert not verdict.verified and verdict.failed_by == "spf"
    assert any("dmarc result below the relay's own" in i for i in verdict.ignored)
    # From an untrusted peer nothing with our id counts at all.
    assert not _evaluate([forged], trusted=False).verified


def test_two_dkim_signatures_in_the_relays_header_both_count() -> None:
    verdict = _evaluate(
        [
            (
                "Authentication-Results",
                f"{OURS}; dkim=pass header.d=sendgrid.net; dkim=pass header.d=univ.ac.kr; "
                "spf=fail smtp.mailfrom=bounce.sendgrid.net",
            ),
            RELAY_RECEIVED,
        ]
    )
    # An aligned DKIM pass verifies; the SPF fail of the forwarding service is then no failure.
    assert verdict.verified_by == "dkim=pass (univ.ac.kr)" and not verdict.failed


@pytest.mark.parametrize(
    ("clause", "policy", "reject"),
    [
        ("dmarc=fail (p=reject dis=none) header.from=univ.ac.kr", "reject", True),
        ("dmarc=fail header.from=univ.ac.kr (policy=quarantine)", "quarantine", True),
        ("dmarc=fail policy.dmarc=reject header.from=univ.ac.kr", "reject", True),
        ("dmarc=fail (p=none) header.from=univ.ac.kr", "none", False),
    ],
)
def test_dmarc_policy_from_opendmarc_rspamd_and_the_registered_property(
    clause: str, policy: str, reject: bool
) -> None:
    verdict = _evaluate([("Authentication-Results", f"{OURS}; {clause}")])
    assert verdict.dmarc_policy == policy and verdict.dmarc_reject is reject and verdict.failed


@pytest.mark.parametrize(
    "value",
    [
        f"{OURS}; dmarc=pass header.from=univ.ac.kr\x00",
        f"{OURS}; dkim=",
        f"{OURS}; ;;;;",
        f"{OURS}; dmarc=pass (unclosed comment header.from=univ.ac.kr",
        f"{OURS}; " + "dkim=pass header.d=univ.ac.kr; " * 2000,
        "",
        "\udcff\udcfe",
        OURS,
    ],
)
def test_hostile_headers_never_raise(value: str) -> None:
    verdict = _evaluate([("Authentication-Results", value)] * 3)
    assert isinstance(verdict.as_dict(), dict)


def test_a_mail_with_a_thousand_headers_is_read_in_bounded_time() -> None:
    header = ("Authentication-Results", f"{OURS}; dkim=none")
    verdict = _evaluate([header] * 1000)
    assert any("rest unread" in i for i in verdict.ignored)


def test_peer_addresses_and_network_lists() -> None:
    assert trust.peer_ip("192.0.2.7:51234") == ipaddress.ip_address("192.0.2.7")
    assert trust.peer_ip("::1:51234") == ipaddress.ip_address("::1")
    assert trust.peer_ip("::ffff:10.1.2.3:25") == ipaddress.ip_address("10.1.2.3")
    assert trust.peer_ip("garbage") is None and trust.peer_ip(None) is None
    networks = parse_networks("10.1.0.0/16, 2001:db8::/32", setting="X")
    assert trust.in_networks(ipaddress.ip_address("10.1.9.9"), networks)
    assert not trust.in_networks(ipaddress.ip_address("10.2.0.1"), networks)
    assert not trust.in_networks(None, networks)
    with pytest.raises(NetworkListError, match=r"'relay\.univ\.ac\.kr' is not an IP"):
        parse_networks("10.0.0.0/8,relay.univ.ac.kr", setting="MAILGATEWAY_TRUSTED_RELAYS")
