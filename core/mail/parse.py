"""Turn raw RFC 5322 / MIME bytes into what the pipeline needs, without ever raising.

The stdlib parser (`email` with `policy.default`, RFC 5322/2045-2049/2047/2231/6532) does the work;
this module adds what real mail needs on top:

* charset aliases (core/mail/charsets.py): `ks_c_5601-1987`, `euc-kr`, ... decode as CP949, in
  headers (RFC 2047 encoded words, RFC 2231 parameters) and bodies, so 똠 and 뷁 survive;
* no exceptions: a header that cannot be parsed falls back to a plainer reading and is recorded
  in `defects`; a body in an unknown charset is decoded by guessing and recorded likewise;
* the MIME tree reduced to a text body, an HTML body (not yet sanitised: see core/mail/html.py)
  and a list of parts to store: attachments, inline images (with their Content-ID) and attached
  messages (kept whole as `.eml`).
"""

from __future__ import annotations

import contextvars
import email
import email.utils
import functools
import hashlib
import mimetypes
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from email.header import decode_header
from email.headerregistry import HeaderRegistry
from email.message import Message
from email.policy import EmailPolicy

from core.mail.charsets import (
    decode_bytes,
    decode_header_bytes,
    has_raw_bytes,
    recover_8bit_header,
    relabel_header,
)

MAX_MIME_DEPTH = 20  # nested messages deeper than this are kept as attachments, not walked
MAX_PARTS = 500  # a MIME bomb with thousands of parts stops being walked here
MAX_HEADER_DISPLAY = 200


class _MailPolicy(EmailPolicy):
    """policy.default, but header values get their charset labels fixed (Korean → CP949) and raw
    8-bit bytes decoded before the stdlib's header parser sees them.

    The stdlib parses a header again on every access (`message.get`), and the pipeline asks for
    the same few (Content-Type of every part, From, the auto-reply and loop headers) many times
    per mail; parsed headers are immutable, so identical raw values share one parse. Across mails
    too: most Content-Type and MIME-Version lines are the same everywhere."""

    def header_fetch_parse(self, name, value):  # type: ignore[no-untyped-def]
        if hasattr(value, "name"):
            return value
        if len(value) > MAX_CACHED_HEADER_CHARS or has_raw_bytes(value):
            # Raw 8-bit bytes are read with the charsets this mail declares: not shareable.
            return self._parse_header(name, value)
        return _cached_header(name, value)

    def _parse_header(self, name, value):  # type: ignore[no-untyped-def]
        value = relabel_header(value)
        if has_raw_bytes(value):
            data = value.encode("utf-8", errors="surrogateescape")
            value = decode_header_bytes(data, _declared_in.get()())[0]
        return super().header_fetch_parse(name, value)


class _HeaderClasses(HeaderRegistry):
    """The stdlib's registry builds a new class (`type(...)`) every time a header is parsed; the
    class depends only on the header's name, so build each once. Bounded: names the registry
    does not know all share the default class."""

    def __init__(self) -> None:
        super().__init__()
        self._built: dict[str, type] = {}

    def __getitem__(self, name: str) -> type:
        key = name.lower()
        if key not in self.registry:
            key = ""
        built = self._built.get(key)
        if built is None:
            built = self._built[key] = super().__getitem__(name)
        return built


MAX_CACHED_HEADER_CHARS = 1000


POLICY = _MailPolicy(header_factory=_HeaderClasses())


# Small: a parsed header keeps its parse tree (several KB); the hits that matter are within one
# mail and on the few common lines, and 4,096 entries cost each worker process ~45 MB.
@functools.lru_cache(maxsize=512)
def _cached_header(name: str, value: str):  # type: ignore[no-untyped-def]
    return POLICY._parse_header(name, value)


_MSGID = re.compile(r"<[^<>\s\x00-\x1f\x7f]{1,900}>")


@dataclass
class MailPart:
    """Something to store beside the comment: an attachment, an inline image or a message."""

    filename: str
    content_type: str
    data: bytes
    content_id: str | None = None
    is_inline: bool = False
    is_message: bool = False


@dataclass
class Address:
    name: str
    email: str


@dataclass
class ParsedMail:
    message: Message
    message_id: str | None
    in_reply_to: list[str]
    references: list[str]
    subject: str
    sender: Address | None
    to: list[Address]
    cc: list[Address]
    reply_to: list[Address]
    sender_field: list[Address]  # the Sender header: who sent it on the author's behalf
    from_name: str  # From's display name, also when From has no usable address (`"Kim" <>`)
    date: datetime | None
    text: str
    html: str | None
    parts: list[MailPart]
    priority: str | None
    defects: list[str] = field(default_factory=list)

    def header(self, name: str) -> str:
        """The first value of a header, decoded, or "" (never raises)."""
        return get_header(self.message, name, self.defects)

    def thread_ids(self) -> list[str]:
        """In-Reply-To first, then References newest first: every id a reply may point at."""
        seen: list[str] = []
        for mid in [*self.in_reply_to, *reversed(self.references)]:
            if mid not in seen:
                seen.append(mid)
        return seen


def headers_for_display(message: Message, defects: list[str]) -> list[tuple[str, str]]:
    """Every header in order, each occurrence with its own value (repeated Received and
    Authentication-Results lines differ, and which is where matters), decoded for people."""
    return [
        (name, _decode_unstructured(str(raw), defects))
        for name, raw in list(message.raw_items())[:MAX_HEADER_DISPLAY]
    ]


_HEADER_LINE = re.compile(rb"[!-9;-~]+[ \t]*:")
_BLOCK_END = re.compile(rb"\r?\n\r?\n")
_CHARSET_PARAM = re.compile(rb"charset[ \t]*=[ \t]*\"?([A-Za-z0-9_.:-]{1,40})", re.IGNORECASE)
_EIGHT_BIT = re.compile(rb"[\x80-\xff]")
_EIGHT_BIT_LINE = re.compile(rb"[^\r\n]*[\x80-\xff][^\r\n]*")


def repair_raw(raw: bytes) -> tuple[bytes, list[str]]:
    """What real mail gets wrong before a parser can read it, mended in the raw bytes; each
    repair is returned as a defect for the mail log:

    * lines before the first header (`---- Original email message ----`) are dropped;
    * a line inside the header block that is not a header and is followed by more headers is a
      continuation without its leading whitespace (long vendor tracking headers): indented;
    * raw 8-bit bytes in headers (no RFC 2047) become UTF-8, decoded with the charset the message
      declares (its parts' `charset=`), as Korean when they read as Korean, else as guessed over
      all the mail's undeclared 8-bit text (core/mail/charsets.py `decode_header_bytes`)."""
    defects: list[str] = []
    end = _BLOCK_END.search(raw)
    head, rest = (raw[: end.start()], raw[end.start() :]) if end else (raw, b"")
    lines = head.splitlines(keepends=True)
    first = next(
        (
            i
            for i, line in enumerate(lines)
            if _HEADER_LINE.match(line) or line.startswith(b"From ")
        ),
        None,
    )
    if first is None:
        return raw, defects
    if first:
        defects.append(f"{first} line(s) before the first header dropped: {lines[0][:60]!r}")
        lines = lines[first:]
    headers_at = [i for i, line in enumerate(lines) if _HEADER_LINE.match(line)]
    for i in range(1, headers_at[-1] if headers_at else 0):
        if lines[i][:1] not in (b" ", b"\t") and not _HEADER_LINE.match(lines[i]):
            defects.append(f"header continuation without indentation: {lines[i][:60]!r}")
            lines[i] = b" " + lines[i]
    head = b"".join(lines)
    if _EIGHT_BIT.search(head):
        head = _recode_8bit_headers(head, rest, defects)
    return head + rest, defects


def declared_charsets(raw: bytes) -> list[str]:
    """Every `charset=` the message declares, in order (a hint for its undeclared 8-bit text)."""
    return list(dict.fromkeys(m.decode().lower() for m in _CHARSET_PARAM.findall(raw)))


def _recode_8bit_headers(head: bytes, rest: bytes, defects: list[str]) -> bytes:
    declared = declared_charsets(head + rest)
    # Whole lines, not runs of 8-bit bytes: Shift_JIS and Big5 have ASCII trail bytes.
    undeclared = [line for line in _EIGHT_BIT_LINE.findall(head) if not _is_utf8(line)]
    body_sample = rest[:8192] if not declared else b""
    context = b" ".join(undeclared) + b" " + body_sample
    notes: set[str] = set()

    def recode(match: re.Match[bytes]) -> bytes:
        line = match.group(0)
        if _is_utf8(line):
            return line
        text, note = decode_header_bytes(line, declared, context)
        if note:
            notes.add(note)
        return text.encode("utf-8", "replace")

    head = _EIGHT_BIT_LINE.sub(recode, head)
    defects.extend(sorted(notes))
    return head


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def parse_message(raw: bytes) -> ParsedMail:
    raw, defects = repair_raw(raw)
    _declared_in.set(functools.cache(lambda: declared_charsets(raw)))
    message = email.message_from_bytes(raw, policy=POLICY)
    for defect in getattr(message, "defects", []) or []:
        defects.append(type(defect).__name__)
    subject = " ".join(get_header(message, "Subject", defects).split())
    text_parts: list[str] = []
    html_parts: list[str] = []
    parts: list[MailPart] = []
    _walk(message, text_parts, html_parts, parts, defects, depth=0, counter=[0])
    text = "\n\n".join(t for t in text_parts if t.strip())
    html = "\n".join(html_parts).replace("\x00", "") if html_parts else None
    senders = get_addresses(message, "From", defects)
    if len(senders) > 1:
        others = ", ".join(a.email for a in senders[1:5])
        defects.append(
            f"From has {len(senders)} addresses; the first is the sender (also: {others})"
        )
    return ParsedMail(
        message=message,
        message_id=_first_msgid(get_header(message, "Message-ID", defects)),
        in_reply_to=extract_message_ids(get_header(message, "In-Reply-To", defects)),
        references=extract_message_ids(get_header(message, "References", defects)),
        subject=subject,
        sender=senders[0] if senders else None,
        to=get_addresses(message, "To", defects),
        cc=get_addresses(message, "Cc", defects),
        reply_to=get_addresses(message, "Reply-To", defects),
        sender_field=get_addresses(message, "Sender", defects),
        from_name=senders[0].name if senders else _display_name_only(message, "From"),
        date=_date(get_header(message, "Date", defects)),
        text=text,
        html=html,
        parts=parts,
        priority=priority_of(message, defects),
        defects=defects,
    )


# --- headers ----------------------------------------------------------------------------------


def _raw_header(message: Message, name: str) -> str | None:
    lname = name.lower()
    for key, value in message.raw_items():
        if key.lower() == lname:
            return str(value)
    return None


def _decode_unstructured(raw: str, defects: list[str]) -> str:
    """RFC 2047 decoding by hand: the fallback when the stdlib's header parser gives up."""
    value, _ = recover_8bit_header(relabel_header(raw))
    try:
        chunks = decode_header(value)
    except Exception:  # the stdlib raises a few odd errors on hostile input
        defects.append("undecodable header")
        return value
    out = []
    for chunk, charset in chunks:
        if isinstance(chunk, bytes):
            text, note = decode_bytes(chunk, charset)
            if note:
                defects.append(f"header: {note}")
            out.append(text)
        else:
            out.append(chunk)
    return "".join(out)


def get_header(message: Message, name: str, defects: list[str]) -> str:
    raw = _raw_header(message, name)
    if raw is None:
        return ""
    try:
        value = message.get(name)
        text = str(value) if value is not None else ""
    except Exception as exc:
        defects.append(f"{name}: {type(exc).__name__}")
        text = _decode_unstructured(raw, defects)
    # Surrogates (undecodable bytes) must never reach the database.
    return text.encode("utf-8", errors="replace").decode("utf-8").replace("\x00", "")


def _legacy_names(raw_values: list[str]) -> dict[str, str]:
    """Display names as the old parser reads them, by address: it keeps the comment form's name
    (`kim@x (Kim Minsu)`), and its encoded words still encoded, for `decode_header` to decode
    the RFC 2047 way (adjacent encoded words joined: `BÄKOSchönland`, not `BÄKO Schönland`)."""
    values = [recover_8bit_header(relabel_header(v))[0] for v in raw_values]
    try:
        pairs = email.utils.getaddresses(values)
    except Exception:
        return {}
    return {addr.strip().lower(): display for display, addr in pairs if addr}


def _display_name_only(message: Message, name: str) -> str:
    raw_values = [str(v) for k, v in message.raw_items() if k.lower() == name.lower()]
    try:
        pairs = email.utils.getaddresses([recover_8bit_header(v)[0] for v in raw_values])
    except Exception:
        return ""
    display = next((d for d, _ in pairs if d), "")
    return " ".join(_decode_unstructured(display, []).split()) if display else ""


def get_addresses(message: Message, name: str, defects: list[str]) -> list[Address]:
    out: list[Address] = []
    raw_values = [str(v) for k, v in message.raw_items() if k.lower() == name.lower()]
    if not raw_values:
        return out
    try:
        for header in message.get_all(name) or []:
            for address in getattr(header, "addresses", ()):
                if address.addr_spec and "@" in address.addr_spec:
                    out.append(Address(name=address.display_name or "", email=address.addr_spec))
        if out:
            if any("=?" in v or "(" in v for v in raw_values):
                legacy = _legacy_names(raw_values)
                for address in out:
                    found = legacy.get(address.email.strip().lower())
                    if found and ("=?" in found or not address.name):
                        address.name = _decode_unstructured(found, defects)
            return _clean_addresses(out, defects)
    except Exception as exc:
        defects.append(f"{name}: {type(exc).__name__}")
    # Fallback: the old, forgiving address parser over the decoded header text.
    decoded = [_decode_unstructured(v, defects) for v in raw_values]
    for display, addr in email.utils.getaddresses(decoded):
        if addr and "@" in addr:
            out.append(Address(name=display, email=addr))
    if not out:
        defects.append(f"{name}: no usable address")
    return _clean_addresses(out, defects)


_REPAIRABLE = re.compile(r"""^["']+([^"'\s@]+@[^"'\s@]+?)["']*$|^([^\s@]+@[^\s@]+?)\.+$""")


def _repair_address(addr: str, defects: list[str]) -> str:
    """Mend an address only where the intent is certain: stray quotes around the whole address
    (`'kim@x.kr'`), a trailing dot after the domain (`kim@yahoo.com.`)."""
    match = _REPAIRABLE.match(addr)
    if not match:
        return addr
    repaired = (match.group(1) or match.group(2)).rstrip(".")
    if repaired != addr and "." in repaired.rpartition("@")[2]:
        defects.append(f"address repaired: {addr[:100]!r} -> {repaired[:100]!r}")
        return repaired
    return addr


def _clean_addresses(addresses: list[Address], defects: list[str]) -> list[Address]:
    out: list[Address] = []
    seen: set[str] = set()
    for address in addresses:
        addr = _repair_address(address.email.strip().strip("<>").strip(), defects)
        # Whitespace or a control character (NUL above all: PostgreSQL text cannot hold it)
        # means the address is not usable, whatever the parser made of it.
        if not addr or any(ch.isspace() or ch < " " for ch in addr) or addr.lower() in seen:
            continue
        seen.add(addr.lower())
        # NUL never reaches PostgreSQL text (a display name of "\x00" made the user insert fail).
        name = " ".join(address.name.replace("\x00", "").split())
        out.append(Address(name=name.encode("utf-8", "replace").decode("utf-8"), email=addr))
    return out


def extract_message_ids(value: str) -> list[str]:
    """Every `<id>` in a header value; a bare token is wrapped (some clients drop the brackets)."""
    if not value:
        return []
    found = _MSGID.findall(value)
    if not found:
        token = value.strip().split()[0] if value.strip() else ""
        if token and "@" in token and len(token) < 900:
            found = [f"<{token.strip('<>')}>"]
    out: list[str] = []
    for mid in found:
        if mid not in out:
            out.append(mid)
    return out


def _first_msgid(value: str) -> str | None:
    ids = extract_message_ids(value)
    return ids[0] if ids else None


def _date(value: str) -> datetime | None:
    if not value:
        return None
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if parsed is None or parsed.tzinfo is None:
        return None
    return parsed


def priority_of(message: Message, defects: list[str]) -> str | None:
    """`Importance`, `X-Priority`, `X-MSMail-Priority`, `Priority` → low/high, or None (normal)."""
    importance = get_header(message, "Importance", defects).strip().lower()
    if importance in ("high", "urgent"):
        return "high"
    if importance == "low":
        return "low"
    x_priority = get_header(message, "X-Priority", defects).strip()
    if x_priority[:1] in ("1", "2"):
        return "high"
    if x_priority[:1] in ("4", "5"):
        return "low"
    ms = get_header(message, "X-MSMail-Priority", defects).strip().lower()
    if ms == "high":
        return "high"
    if ms == "low":
        return "low"
    rfc = get_header(message, "Priority", defects).strip().lower()
    if rfc == "urgent":
        return "high"
    if rfc == "non-urgent":
        return "low"
    return None


# --- bodies and parts --------------------------------------------------------------------------


def _content_type(part: Message) -> str:
    try:
        return part.get_content_type()
    except Exception:
        return "application/octet-stream"


def _param(part: Message, name: str, header: str = "content-type") -> str | None:
    try:
        value = part.get_param(name, header=header)
    except Exception:
        return None
    if value is None:
        return None
    if isinstance(value, tuple):  # old-style RFC 2231 triple
        value = email.utils.collapse_rfc2231_value(value)
    return str(value)


def _disposition(part: Message) -> str | None:
    try:
        return part.get_content_disposition()
    except Exception:
        return None


# The charsets the mail being parsed declares, looked up only when a part's name has raw 8-bit
# bytes (a GB2312 file name in a mail whose text part says gb2312).
_declared_in: contextvars.ContextVar[Callable[[], list[str]]] = contextvars.ContextVar(
    "declared_in", default=list
)


def decode_filename(raw: str | None) -> str | None:
    """A filename from the parameters, with RFC 2047 words decoded even where they are not
    allowed (inside quoted strings: Outlook and Gmail put them there) and raw 8-bit bytes read
    with the charsets the mail declares (core/mail/charsets.py `decode_header_bytes`)."""
    if raw is None:
        return None
    if has_raw_bytes(raw):
        data = raw.encode("utf-8", errors="surrogateescape")
        value = decode_header_bytes(data, _declared_in.get()())[0]
    else:
        value = raw
    if "=?" in value and "?=" in value:
        value = _decode_unstructured(value, [])
    value = value.encode("utf-8", errors="replace").decode("utf-8")
    value = "".join(ch for ch in value if ch >= " " and ch != "\x7f").strip()
    return value or None


def _filename(part: Message) -> str | None:
    try:
        name = part.get_filename()
    except Exception:
        name = None
    if name is None:
        name = _param(part, "name")
    return decode_filename(name)


def _content_id(part: Message) -> str | None:
    try:
        value = part.get("Content-ID")
    except Exception:
        value = _raw_header(part, "Content-ID")
    if not value:
        return None
    cid = "".join(ch for ch in str(value) if ch >= " ").strip().strip("<>").strip()
    return cid[:900] or None


def _payload_bytes(part: Message, defects: list[str]) -> bytes:
    try:
        data = part.get_payload(decode=True)
    except Exception as exc:
        defects.append(f"payload: {type(exc).__name__}")
        data = None
    if data is None:
        payload = part.get_payload()
        if isinstance(payload, str):
            return payload.encode("utf-8", errors="surrogateescape")
        return b""
    return data


def _part_text(part: Message, defects: list[str]) -> str:
    data = _payload_bytes(part, defects)
    text, note = decode_bytes(data, _param(part, "charset"))
    if note:
        defects.append(f"body: {note}")
    return text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "")


def _message_bytes(inner: Message) -> bytes:
    try:
        return inner.as_bytes(policy=POLICY.clone(linesep="\r\n"))
    except Exception:
        try:
            return inner.as_string().encode("utf-8", errors="surrogateescape")
        except Exception:
            return b""


_NAME_BY_TYPE = {
    "image": "image",
    "audio": "audio",
    "video": "video",
    "text": "text",
    "application/pdf": "document",
    "application/msword": "document",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "document",
    "application/vnd.ms-excel": "spreadsheet",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "spreadsheet",
    "application/vnd.ms-powerpoint": "presentation",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation": "presentation",
    "application/zip": "archive",
    "application/x-hwp": "document",
    "text/calendar": "invite",
}
_EXTENSION = {"text/plain": ".txt", "image/jpeg": ".jpg", "application/octet-stream": ".bin"}


def _default_name(content_type: str, taken: list[MailPart]) -> str:
    """A name a person would expect for an unnamed part: `image.gif`, `document.pdf`; a second
    one of the same name gets a number (`image-2.gif`)."""
    base = _NAME_BY_TYPE.get(content_type) or _NAME_BY_TYPE.get(
        content_type.partition("/")[0], "attachment"
    )
    ext = _EXTENSION.get(content_type) or mimetypes.guess_extension(content_type)
    ext = ext or (".txt" if content_type.startswith("text/") else ".bin")
    names = {p.filename for p in taken}
    name, number = f"{base}{ext}", 1
    while name in names:
        number += 1
        name = f"{base}-{number}{ext}"
    return name


def _walk(
    part: Message,
    text_parts: list[str],
    html_parts: list[str],
    parts: list[MailPart],
    defects: list[str],
    *,
    depth: int,
    counter: list[int],
) -> None:
    counter[0] += 1
    if counter[0] > MAX_PARTS:
        if counter[0] == MAX_PARTS + 1:
            defects.append(f"more than {MAX_PARTS} MIME parts; the rest were not walked")
        return
    ctype = _content_type(part)
    disposition = _disposition(part)
    filename = _filename(part)

    if ctype == "message/rfc822" or (
        ctype.startswith("message/") and ctype not in ("message/delivery-status",)
    ):
        payload = part.get_payload()
        inner = payload[0] if isinstance(payload, list) and payload else None
        data = _message_bytes(inner) if isinstance(inner, Message) else _payload_bytes(part, [])
        if not filename:
            subject = get_header(inner, "Subject", []) if isinstance(inner, Message) else ""
            base = re.sub(r'[\\/:*?"<>|\s]+', " ", subject).strip()[:80] or "message"
            filename = f"{base}.eml"
        elif not filename.lower().endswith(".eml"):
            filename += ".eml"
        parts.append(
            MailPart(filename=filename, content_type="message/rfc822", data=data, is_message=True)
        )
        return

    if part.is_multipart():
        if depth >= MAX_MIME_DEPTH:
            defects.append("MIME nesting too deep")
            return
        children = part.get_payload()
        if not isinstance(children, list):
            return
        for child in children:
            if isinstance(child, Message):
                _walk(
                    child,
                    text_parts,
                    html_parts,
                    parts,
                    defects,
                    depth=depth + 1,
                    counter=counter,
                )
        return

    is_attachment = disposition == "attachment" or (filename is not None and ctype != "text/html")
    if ctype == "text/plain" and not is_attachment:
        text_parts.append(_part_text(part, defects))
        return
    if ctype == "text/html" and disposition != "attachment":
        html_parts.append(_part_text(part, defects))
        return
    data = _payload_bytes(part, defects)
    if not data and not filename:
        return
    content_id = _content_id(part)
    inline = disposition == "inline" or (disposition is None and content_id is not None)
    parts.append(
        MailPart(
            filename=filename or _default_name(ctype, parts),
            content_type=ctype,
            data=data,
            content_id=content_id,
            is_inline=inline and ctype.startswith("image/"),
        )
    )


def raw_digest(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()
