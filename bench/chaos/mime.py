"""Hypothesis strategies for hostile mail: real messages mutated, and MIME trees built from scratch.

Seeds are the shared corpus (/work/shared/corpus: real mail from other projects' test suites,
CHAOS_CORPUS_DIR moves it) plus a few built-in messages, so the fuzzer still has Korean Outlook
mail, bounces and HTML to start from on a machine without the corpus (CI).

`examples(n, seed)` draws n messages reproducibly (hypothesis with a fixed seed, generation phase
only); the mutations are the shapes that break mail software in the wild: bare LF / bare CR,
NUL bytes, broken or missing boundaries, unknown charsets and transfer encodings, encoded words
that do not decode, headers repeated, dropped or a megabyte long, nesting without end, loop and
auto-reply markers, forged thread references and subject tags, HTML with scripts.
"""

from __future__ import annotations

import base64
import os
import quopri
import re
import zlib
from pathlib import Path

from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st

CORPUS_DIR = Path(os.environ.get("CHAOS_CORPUS_DIR", "/work/shared/corpus"))
HELP = "help@chaos.ac.kr"

BUILTIN_SEEDS: list[bytes] = [
    (
        "From: =?ks_c_5601-1987?B?wMy787/s?= <lee@univ.ac.kr>\r\n"
        f"To: {HELP}\r\n"
        "Subject: =?ks_c_5601-1987?B?x8HBsMXNsKEgvsggtcu0z7TZ?=\r\n"
        "Message-ID: <builtin-1@univ.ac.kr>\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/alternative; boundary="b1"\r\n\r\n'
        '--b1\r\nContent-Type: text/plain; charset="ks_c_5601-1987"\r\n'
        "Content-Transfer-Encoding: base64\r\n\r\nx8HBsMXNsKEgvsggtcu0z7TZLiDGzA==\r\n"
        '--b1\r\nContent-Type: text/html; charset="ks_c_5601-1987"\r\n\r\n'
        "<html><body><p onclick=alert(1)>hi<script>alert(1)</script>"
        "<img src=x onerror=alert(2)><a href=javascript:alert(3)>x</a></p></body></html>\r\n"
        "--b1--\r\n"
    ).encode(),
    (
        "From: Mail Delivery System <MAILER-DAEMON@mx.univ.ac.kr>\r\n"
        f"To: {HELP}\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\n"
        "Message-ID: <builtin-2@mx.univ.ac.kr>\r\n"
        "Auto-Submitted: auto-replied\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="r"\r\n\r\n'
        "--r\r\nContent-Type: text/plain\r\n\r\nDelivery failed.\r\n"
        "--r\r\nContent-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; mx.univ.ac.kr\r\n\r\nFinal-Recipient: rfc822; kim@univ.ac.kr\r\n"
        "Action: failed\r\nStatus: 5.1.1\r\nDiagnostic-Code: smtp; 550 5.1.1 unknown\r\n"
        "--r\r\nContent-Type: message/rfc822\r\n\r\n"
        "Message-ID: <sd-1-abcdefgh-aaaaaaaaaaaaaaaa@chaos.ac.kr>\r\nSubject: [#1] hi\r\n\r\nx\r\n"
        "--r--\r\n"
    ).encode(),
    (
        "From: Kim <kim@univ.ac.kr>\r\n"
        f"To: {HELP}\r\nCc: a@univ.ac.kr, b@univ.ac.kr\r\n"
        "Subject: Re: [#1] 프린터\r\n"
        "In-Reply-To: <builtin-1@univ.ac.kr>\r\n"
        "Message-ID: <builtin-3@univ.ac.kr>\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/mixed; boundary="m"\r\n\r\n'
        "--m\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
        "답장입니다.\r\n\r\n2024년 3월 1일 (금) 오전 9:00, Help <help@chaos.ac.kr>님이 작성:\r\n"
        "> 이전 내용\r\n"
        "--m\r\nContent-Type: image/png\r\nContent-ID: <img1>\r\n"
        'Content-Disposition: inline; filename="a.png"\r\nContent-Transfer-Encoding: base64\r\n\r\n'
        "iVBORw0KGgo=\r\n"
        "--m\r\nContent-Type: application/octet-stream; name*=UTF-8''%ED%95%9C.bin\r\n"
        "Content-Transfer-Encoding: base64\r\n\r\nAAECAwQ=\r\n"
        "--m--\r\n"
    ).encode(),
]

INTERESTING = [
    b"\r\n",
    b"\n",
    b"\r",
    b"\x00",
    b"=?",
    b"?=",
    b"--",
    b"\r\n\r\n",
    b"\r\n.\r\n",
    b"\n.\n",
    b"\xff\xfe",
    b"\xed\x95\x9c",
    b"\xc7\xd1",
    b":",
    b";",
    b'"',
    b"<",
    b">",
    b"\t",
    b" ",
    b"=\r\n",
    b"boundary=",
    b"Content-Type: multipart/mixed; boundary=x\r\n",
    b"<script>alert(1)</script>",
]
CHARSETS = [
    "utf-8",
    "us-ascii",
    "ks_c_5601-1987",
    "euc-kr",
    "cp949",
    "iso-2022-kr",
    "iso-2022-jp",
    "gb2312",
    "windows-1251",
    "koi8-r",
    "utf-7",
    "utf-16",
    "unknown-8bit",
    "x-unknown",
    "",
    "utf-8\x00",
    '"',
    "a" * 300,
]
ENCODINGS = ["7bit", "8bit", "binary", "base64", "quoted-printable", "x-uuencode", "bogus", ""]
CONTENT_TYPES = [
    "text/plain",
    "text/html",
    "multipart/mixed",
    "multipart/alternative",
    "multipart/related",
    "multipart/report; report-type=delivery-status",
    "message/rfc822",
    "message/delivery-status",
    "application/octet-stream",
    "application/ms-tnef",
    "image/png",
    "text/calendar",
    "multipart/signed",
    "x/y/z",
    "",
]
HEADER_NAMES = [
    "From",
    "To",
    "Cc",
    "Reply-To",
    "Subject",
    "Message-ID",
    "In-Reply-To",
    "References",
    "Date",
    "MIME-Version",
    "Content-Type",
    "Content-Transfer-Encoding",
    "Content-Disposition",
    "Auto-Submitted",
    "Precedence",
    "X-Autoreply",
    "X-Servicedesk-Loop",
    "X-Priority",
    "Importance",
    "Return-Path",
    "Sender",
]
HOSTILE_VALUES = [
    "",
    " ",
    "=?utf-8?B?###?=",
    "=?utf-8?Q?=E2=82?=",
    "=?ks_c_5601-1987?B?x8HBsA==?=",
    "=?x-unknown?B?aGVsbG8=?=",
    "=?utf-8?B?" + base64.b64encode("한글 제목 ".encode() * 20).decode() + "?=",
    '"Kim, Minsu" <kim@univ.ac.kr>, lee@univ.ac.kr, <>, @, "@"@x',
    "undisclosed-recipients:;",
    "group: a@b.c, d@e.f;",
    "<not an address",
    "kim@univ.ac.kr" + ", x@univ.ac.kr" * 300,
    "<sd-1-abcdefgh-aaaaaaaaaaaaaaaa@chaos.ac.kr>",
    "<builtin-1@univ.ac.kr> <builtin-3@univ.ac.kr>",
    "<" + "a" * 2000 + "@x>",
    "[#1] 답장",
    "Re: [#999999999999] tag",
    HELP,
    "auto-replied",
    "bulk",
    "1 (Highest)",
    "high",
    "Mon, 32 Foo 99999 25:61:61 +9999",
    "x" * 5000,
    "a\x00b",
    "line1\r\n folded\r\n\tagain",
    "<script>alert('subject')</script>",
    "javascript:alert(1)",
]
HTML_PAYLOADS = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "<svg onload=alert(1)>",
    "<a href='javascript:alert(1)'>x</a>",
    "<iframe src='javascript:alert(1)'></iframe>",
    "<div style='background:url(javascript:alert(1))'>x</div>",
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
    "<noscript><p title='</noscript><img src=x onerror=alert(1)>'>",
    "<form action=javascript:alert(1)><button>x</button></form>",
    "<object data='data:text/html,<script>alert(1)</script>'></object>",
    "<base href='javascript:alert(1)//'>",
    "<meta http-equiv='refresh' content='0;url=javascript:alert(1)'>",
    "<body onload=alert(1)>",
    "<a href='cid:nope'>cid</a><img src='cid:img1'>",
    "<p>정상 본문 <b>굵게</b></p>",
]
HANGUL = st.characters(min_codepoint=0xAC00, max_codepoint=0xD7A3)
TEXT = st.text(
    alphabet=st.one_of(HANGUL, st.characters(codec="utf-8", exclude_categories=["Cs"])),
    max_size=200,
)


def corpus_seeds() -> list[bytes]:
    files: list[bytes] = []
    if CORPUS_DIR.is_dir():
        for path in sorted(CORPUS_DIR.rglob("*")):
            if path.is_file() and path.name != "README.md":
                files.append(path.read_bytes())
    return files


# --- header-level helpers --------------------------------------------------------------------


def _split(raw: bytes) -> tuple[list[bytes], bytes, bytes]:
    """Header lines, the separator, the body (lenient: whatever a broken message gives)."""
    for sep in (b"\r\n\r\n", b"\n\n"):
        at = raw.find(sep)
        if at >= 0:
            head, body = raw[:at], raw[at + len(sep) :]
            return re.split(rb"\r?\n(?![ \t])", head), sep, body
    return re.split(rb"\r?\n(?![ \t])", raw), b"\r\n\r\n", b""


def _join(lines: list[bytes], sep: bytes, body: bytes) -> bytes:
    return b"\r\n".join(lines) + sep + body


def _is(line: bytes, name: str) -> bool:
    return line.lower().startswith(name.lower().encode() + b":")


@st.composite
def mutation(draw: st.DrawFn, raw: bytes) -> bytes:
    kind = draw(st.integers(0, 16))
    size = len(raw)
    pos = draw(st.integers(0, max(0, size)))
    if kind == 0 and size:  # flip bytes
        data = bytearray(raw)
        for _ in range(draw(st.integers(1, 8))):
            at = draw(st.integers(0, size - 1))
            data[at] = draw(st.integers(0, 255))
        return bytes(data)
    if kind == 1:  # insert something that tends to matter
        piece = draw(st.sampled_from(INTERESTING)) * draw(st.integers(1, 4))
        return raw[:pos] + piece + raw[pos:]
    if kind == 2:  # delete a slice
        end = draw(st.integers(pos, min(size, pos + 400)))
        return raw[:pos] + raw[end:]
    if kind == 3:  # duplicate a slice
        end = draw(st.integers(pos, min(size, pos + 400)))
        return raw[:end] + raw[pos:end] * draw(st.integers(1, 5)) + raw[end:]
    if kind == 4:  # truncate
        return raw[:pos]
    if kind == 5:  # line endings
        style = draw(st.sampled_from([b"\n", b"\r", b"\r\n", b"\r\r\n"]))
        return raw.replace(b"\r\n", b"\n").replace(b"\n", style)
    lines, sep, body = _split(raw)
    if kind == 6:  # drop a header
        name = draw(st.sampled_from(HEADER_NAMES))
        lines = [line for line in lines if not _is(line, name)]
    elif kind == 7 and lines:  # repeat a header
        line = draw(st.sampled_from(lines))
        lines.insert(draw(st.integers(0, len(lines))), line)
    elif kind == 8:  # set a header to something hostile
        name = draw(st.sampled_from(HEADER_NAMES))
        value = draw(st.one_of(st.sampled_from(HOSTILE_VALUES), TEXT))
        encoded = value.encode("utf-8", "surrogateescape")
        if draw(st.booleans()):
            encoded = value.encode("cp949", "replace")
        lines = [line for line in lines if not _is(line, name)]
        lines.insert(draw(st.integers(0, len(lines))), name.encode() + b": " + encoded)
    elif kind == 9:  # charset labels
        label = draw(st.sampled_from(CHARSETS)).encode()
        return _join(lines, sep, body).replace(b"charset=", b"charset=" + label + b";x=", 1)
    elif kind == 10:  # transfer encodings
        value = draw(st.sampled_from(ENCODINGS)).encode()
        return re.sub(
            rb"(?i)content-transfer-encoding:[^\r\n]*",
            b"Content-Transfer-Encoding: " + value,
            raw,
            count=draw(st.integers(0, 3)),
        )
    elif kind == 11:  # break boundaries
        match = re.search(rb'boundary="?([^";\r\n]+)"?', raw)
        if match:
            old = match.group(1)
            new = draw(st.sampled_from([b"", b"x", old[:-1], old + b"--", b"-" * 80, b"\x00"]))
            count = draw(st.integers(1, 4))
            return raw.replace(old, new, count)
        return raw + b"\r\n--orphan--\r\n"
    elif kind == 12:  # content types
        value = draw(st.sampled_from(CONTENT_TYPES)).encode()
        lines = [line for line in lines if not _is(line, "Content-Type")]
        lines.append(b"Content-Type: " + value)
    elif kind == 13:  # a very long or very many headers
        if draw(st.booleans()):
            lines.append(b"X-Long: " + b"a" * draw(st.integers(1000, 1_100_000)))
        else:
            count = draw(st.integers(100, 5000))
            lines.extend(b"X-Many-%d: v" % i for i in range(count))
    elif kind == 14:  # nest inside a message/rfc822, maybe several times
        for _ in range(draw(st.integers(1, 30))):
            raw = (
                b"From: nest@univ.ac.kr\r\nTo: " + HELP.encode() + b"\r\n"
                b"Subject: nested\r\nMIME-Version: 1.0\r\n"
                b'Content-Type: multipart/mixed; boundary="n"\r\n\r\n--n\r\n'
                b"Content-Type: message/rfc822\r\n\r\n" + raw + b"\r\n--n--\r\n"
            )
        return raw
    elif kind == 15:  # HTML with scripts
        payload = "".join(draw(st.lists(st.sampled_from(HTML_PAYLOADS), min_size=1, max_size=5)))
        charset = draw(st.sampled_from(["utf-8", "ks_c_5601-1987", "x-unknown"]))
        part = (
            f"Content-Type: text/html; charset={charset}\r\n\r\n<html><body>{payload}</body></html>"
        ).encode()
        lines = [line for line in lines if not _is(line, "Content-Type")]
        lines.append(b'Content-Type: multipart/alternative; boundary="zz"')
        body = b"--zz\r\nContent-Type: text/plain\r\n\r\n" + body[:2000] + b"\r\n--zz\r\n"
        body += part + b"\r\n--zz--\r\n"
    else:  # thread references, loop markers, subject tags
        name = draw(st.sampled_from(["In-Reply-To", "References", "X-Servicedesk-Loop", "Subject"]))
        value = draw(st.sampled_from(HOSTILE_VALUES[12:20]))
        lines.append(name.encode() + b": " + value.encode())
    return _join(lines, sep, body)


# --- MIME built from scratch ----------------------------------------------------------------


def _encode_body(data: bytes, cte: str) -> bytes:
    if cte == "base64":
        return base64.encodebytes(data)
    if cte == "quoted-printable":
        return quopri.encodestring(data)
    return data


@st.composite
def leaf(draw: st.DrawFn) -> bytes:
    ctype = draw(
        st.sampled_from(["text/plain", "text/html", "application/octet-stream", "image/png"])
    )
    charset = draw(st.sampled_from(CHARSETS))
    cte = draw(st.sampled_from(ENCODINGS))
    if ctype == "text/html":
        text = "".join(draw(st.lists(st.one_of(st.sampled_from(HTML_PAYLOADS), TEXT), max_size=6)))
    elif ctype == "text/plain":
        text = draw(TEXT)
    else:
        text = ""
    if text:
        codec = charset if charset and len(charset) < 40 else "utf-8"
        try:
            data = text.encode(codec.strip('"\x00') or "utf-8", "replace")
        except LookupError:
            data = text.encode("utf-8")
    else:
        data = draw(st.binary(max_size=3000))
    headers = [f'Content-Type: {ctype}; charset="{charset}"', f"Content-Transfer-Encoding: {cte}"]
    if ctype not in ("text/plain",) and draw(st.booleans()):
        name = draw(
            st.one_of(TEXT, st.sampled_from(["../../etc/passwd", "a\x00b.exe", "", "🙂.png"]))
        )
        disposition = draw(st.sampled_from(["attachment", "inline"]))
        headers.append(f'Content-Disposition: {disposition}; filename="{name}"')
    if ctype == "image/png" and draw(st.booleans()):
        headers.append(f"Content-ID: <{draw(st.sampled_from(['img1', 'x', '', '<<>>']))}>")
    head = "\r\n".join(headers).encode("utf-8", "surrogateescape")
    return head + b"\r\n\r\n" + _encode_body(data, cte)


def tree(depth: int = 0) -> st.SearchStrategy[bytes]:
    if depth >= 3:
        return leaf()
    return st.one_of(leaf(), multipart(depth))


@st.composite
def multipart(draw: st.DrawFn, depth: int) -> bytes:
    subtype = draw(st.sampled_from(["mixed", "alternative", "related", "report", "signed"]))
    boundary = draw(st.sampled_from(["b", "==b==", "a" * 70, "한", "b c"])) + str(depth)
    parts = draw(st.lists(tree(depth + 1), min_size=0, max_size=4))
    body = b"preamble\r\n"
    for part in parts:
        body += b"--" + boundary.encode() + b"\r\n" + part + b"\r\n"
    if draw(st.booleans()):
        body += b"--" + boundary.encode() + b"--\r\nepilogue\r\n"
    head = f'Content-Type: multipart/{subtype}; boundary="{boundary}"'.encode()
    return head + b"\r\n\r\n" + body


@st.composite
def generated(draw: st.DrawFn) -> bytes:
    sender = draw(
        st.one_of(
            st.sampled_from(
                [
                    "Kim <kim@univ.ac.kr>",
                    "=?utf-8?B?6rmA66+87IiY?= <minsu@univ.ac.kr>",
                    "<>",
                    "MAILER-DAEMON@univ.ac.kr",
                    HELP,
                    "no-at-sign",
                ]
            ),
            TEXT.map(lambda t: f"{t} <u{zlib.crc32(t.encode()) % 1000}@univ.ac.kr>"),
        )
    )
    subject = draw(st.one_of(TEXT, st.sampled_from(HOSTILE_VALUES)))
    lines = [f"From: {sender}", f"To: {HELP}", f"Subject: {subject}", "MIME-Version: 1.0"]
    for name in draw(st.lists(st.sampled_from(HEADER_NAMES[12:]), max_size=3)):
        lines.append(f"{name}: {draw(st.sampled_from(HOSTILE_VALUES))}")
    head = "\r\n".join(lines).encode("utf-8", "surrogateescape")
    return head + b"\r\n" + draw(tree())


def message_strategy(seeds: list[bytes]) -> st.SearchStrategy[tuple[bytes, bool]]:
    """(raw message, give it a fresh Message-ID?)."""

    @st.composite
    def mutated(draw: st.DrawFn) -> bytes:
        raw = draw(st.sampled_from(seeds))
        for _ in range(draw(st.integers(1, 4))):
            raw = draw(mutation(raw))
        return raw

    @st.composite
    def generated_then_mutated(draw: st.DrawFn) -> bytes:
        raw = draw(generated())
        if draw(st.booleans()):
            raw = draw(mutation(raw))
        return raw

    return st.tuples(
        st.one_of(mutated(), generated_then_mutated(), st.sampled_from(seeds)),
        st.integers(0, 9).map(lambda d: d < 8),
    )


def with_message_id(raw: bytes, message_id: str) -> bytes:
    """Replace (or add) the Message-ID, so mutants of one seed are not all duplicates."""
    cleaned = re.sub(rb"(?im)^message-id:[^\r\n]*(\r?\n[ \t][^\r\n]*)*\r?\n", b"", raw, count=1)
    return f"Message-ID: {message_id}\r\n".encode() + cleaned


def examples(n: int, *, seed_value: int = 0, seeds: list[bytes] | None = None) -> list[bytes]:
    """n messages drawn reproducibly (same seed, same corpus -> same messages)."""
    pool = seeds if seeds is not None else [*BUILTIN_SEEDS, *corpus_seeds()]
    drawn: list[bytes] = []

    @seed(seed_value)
    @settings(
        max_examples=n,
        database=None,
        deadline=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(message_strategy(pool))
    def collect(example: tuple[bytes, bool]) -> None:
        raw, fresh_id = example
        if fresh_id:
            raw = with_message_id(raw, f"<fuzz-{seed_value}-{len(drawn)}@fuzz.chaos.ac.kr>")
        drawn.append(raw)

    collect()
    return drawn[:n]
