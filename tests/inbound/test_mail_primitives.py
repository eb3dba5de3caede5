"""Mail primitives (core/mail): charsets, headers that do not parse, quotes, HTML, filenames."""

from __future__ import annotations

import base64

import pytest

from core.mail.charsets import decode_bytes, resolve_charset
from core.mail.classify import auto_reply_reason, detect_bounce
from core.mail.html import html_to_text, sanitise_html
from core.mail.parse import extract_message_ids, parse_message
from core.mail.quotes import find_quote_start


@pytest.mark.parametrize("label", ["ks_c_5601-1987", "EUC-KR", "ks_c_5601", "korean", "cp949"])
def test_korean_labels_decode_as_cp949(label: str) -> None:
    assert resolve_charset(label) == "cp949"
    text, note = decode_bytes("똠 뷁 햏".encode("cp949"), label)
    assert text == "똠 뷁 햏" and note is None


def test_unknown_and_wrong_charsets_fall_back_with_a_note() -> None:
    text, note = decode_bytes("안녕".encode(), "x-no-such-charset")
    assert text == "안녕" and "unknown charset" in note
    text, note = decode_bytes("안녕".encode("cp949"), "us-ascii")
    assert text == "안녕" and note
    text, note = decode_bytes(b"\xff\xfe\xfa", None)
    assert text and note


def test_broken_headers_do_not_raise() -> None:
    raw = (
        b"From: =?utf-8?B?broken base64?= <<>>\r\n"
        b"To: undisclosed-recipients:;\r\n"
        b"Subject: =?x-unknown?Q?caf=E9?= \xb1\xe8 raw 8-bit\r\n"
        b"Message-ID: nobrackets@host\r\n"
        b'Content-Type: text/plain; charset="\r\n\r\nbody\r\n'
    )
    mail = parse_message(raw)
    assert mail.text.strip() == "body"
    assert mail.message_id == "<nobrackets@host>"
    # unknown charset kept as Latin-1; raw 8-bit header bytes guessed as CP949 (김)
    assert mail.subject == "café 김 raw 8-bit"
    assert mail.sender is None and "From: no usable address" in mail.defects


def test_rfc2047_subject_in_cp949_and_filename_forms() -> None:
    word = base64.b64encode("뷁 문의".encode("cp949")).decode()
    name = base64.b64encode("견적서.pdf".encode()).decode()
    raw = (
        f"From: a@b.kr\r\nSubject: =?ks_c_5601-1987?B?{word}?=\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/mixed; boundary="b"\r\n\r\n'
        "--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nhi\r\n"
        # Outlook/Gmail style: an encoded word inside a quoted filename (not RFC-legal, common)
        "--b\r\nContent-Type: application/pdf\r\n"
        f'Content-Disposition: attachment; filename="=?UTF-8?B?{name}?="\r\n'
        "Content-Transfer-Encoding: base64\r\n\r\nJVBERg==\r\n--b--\r\n"
    ).encode()
    mail = parse_message(raw)
    assert mail.subject == "뷁 문의"
    assert [p.filename for p in mail.parts] == ["견적서.pdf"]
    assert mail.parts[0].data == b"%PDF"


def test_message_ids_are_extracted_from_messy_headers() -> None:
    assert extract_message_ids("<a@b> <c@d>\r\n\t<e@f>") == ["<a@b>", "<c@d>", "<e@f>"]
    assert extract_message_ids("Your message of ... <x@y>") == ["<x@y>"]
    assert extract_message_ids("") == []


@pytest.mark.parametrize(
    "history",
    [
        "-----Original Message-----\nFrom: a@b\nSent: Monday\n> old",
        "-----원본 메시지-----\n보낸 사람: 홍길동\n보낸 날짜: 2024-01-02\n",
        "보낸 사람: IT 서비스데스크 <help@univ.ac.kr>\n보낸 날짜: 2024년 1월 2일\n받는 사람: 나",
        "From: Help <help@univ.ac.kr>\nSent: Tuesday, January 2, 2024\nTo: me",
        "On Tue, Jan 2, 2024 at 10:00 AM Help Desk <help@univ.ac.kr> wrote:\n> old",
        "On Tue, Jan 2, 2024 at 10:00 AM Help Desk <help@univ.ac.kr\n> wrote:\n> old",
        "2024년 1월 2일 (화) 오전 10:00, 서비스데스크 <help@univ.ac.kr>님이 작성:\n> 이전",
        "> 이전 답장입니다\n> 두 번째 줄\n>\n> 세 번째",
    ],
)
def test_quote_start_finds_korean_and_english_reply_headers(history: str) -> None:
    text = "새로 쓴 내용입니다.\n감사합니다.\n\n" + history
    start = find_quote_start(text)
    assert start is not None and text[start:] == history


def test_no_quote_and_bare_forward_keep_everything_visible() -> None:
    assert find_quote_start("그냥 본문\n> 인용처럼 보이는 한 줄\n뒤에 더 많은 본문\n본문") is None
    assert find_quote_start("-----Original Message-----\nFrom: a\nSent: b\n내용") is None


def test_html_is_sanitised_and_cid_links_are_rewritten() -> None:
    html = (
        "<html><head><title>t</title><style>p{color:red}</style></head><body>"
        '<p onclick="x()" style="position:fixed">안녕 <a href="javascript:alert(1)">x</a>'
        '<a href="https://univ.ac.kr">ok</a></p><img src="cid:IMG1@x">'
        '<img src="cid:unknown@x"><iframe src="https://evil"></iframe>'
        '<form action="/steal"><input name="pw"></form><script>alert(1)</script></body></html>'
    )
    clean = sanitise_html(html, inline_ids={"<img1@x>": 42})
    assert '<img src="/api/v1/attachments/42">' in clean
    for banned in ("script", "style", "onclick", "iframe", "form", "input", "javascript", "cid:"):
        assert banned not in clean
    assert 'href="https://univ.ac.kr"' in clean and "안녕" in clean
    assert "<title>" not in clean and "p{color" not in clean
    assert html_to_text(html).startswith("안녕")


def test_auto_reply_signals() -> None:
    def mail(**headers: str):  # type: ignore[no-untyped-def]
        lines = "".join(f"{k.replace('_', '-')}: {v}\r\n" for k, v in headers.items())
        return parse_message(f"From: a@b.kr\r\n{lines}\r\nbody".encode())

    assert auto_reply_reason(mail(Subject="hello")) is None
    assert auto_reply_reason(mail(Auto_Submitted="no")) is None
    assert auto_reply_reason(mail(Auto_Submitted="auto-replied"))
    assert auto_reply_reason(mail(Precedence="bulk"))
    assert auto_reply_reason(mail(X_Autorespond="yes"))
    assert auto_reply_reason(mail(Subject="[자동응답] 부재중입니다"))
    assert auto_reply_reason(mail(Subject="Automatic reply: printer"))
    # X-Auto-Response-Suppress asks us not to answer; it does not make the mail automatic.
    assert auto_reply_reason(mail(X_Auto_Response_Suppress="All")) is None


def test_delay_notices_are_not_permanent_bounces() -> None:
    raw = (
        b"From: MAILER-DAEMON@mx.kr\r\nSubject: Delayed Mail (still being retried)\r\n"
        b'Content-Type: multipart/report; report-type=delivery-status; boundary="b"\r\n\r\n'
        b"--b\r\nContent-Type: text/plain\r\n\r\ndelayed\r\n"
        b"--b\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.kr\r\n\r\n"
        b"Final-Recipient: rfc822; slow@univ.ac.kr\r\nAction: delayed\r\nStatus: 4.4.1\r\n"
        b"--b--\r\n"
    )
    bounce = detect_bounce(parse_message(raw), envelope_sender="")
    assert bounce is not None and not bounce.permanent
    assert [r.address for r in bounce.recipients] == ["slow@univ.ac.kr"]


def test_a_large_undeclared_body_is_guessed_from_a_sample() -> None:
    """Charset detection reads a bounded sample of a big undeclared body (a stranger's 4 MB
    KOI8-R mail), and the whole body is still decoded with what it found."""
    from core.mail.charsets import GUESS_SAMPLE_BYTES, decode_bytes

    body = ("Проблема с принтером в лаборатории. " * 120_000).encode("koi8-r")
    assert len(body) > 10 * GUESS_SAMPLE_BYTES
    text, note = decode_bytes(body, None)
    assert note is not None and "koi8-r" in note
    assert text == body.decode("koi8-r")
