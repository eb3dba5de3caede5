"""Charset labels as mail really uses them, and decoding that never raises.

Outlook labels Korean mail `ks_c_5601-1987`. Python's codec registry maps that label (and `euc-kr`,
`ks_c_5601`, `korean`) to EUC-KR, which has no code points for the 8,822 syllables only CP949 has
(똠, 뷁, 햏, ...): decoding such mail as EUC-KR turns them into U+FFFD. CP949 is a strict superset
of EUC-KR, so every Korean label is decoded as CP949 here, before the stdlib ever sees it (GLPI
PR #18142, FreeScout and osTicket do the same).

Decoding never raises: an unknown label or undecodable bytes fall back (UTF-8, then CP949, then
Latin-1 with replacement) and the caller gets a note of what happened, to record as a parse defect.
"""

from __future__ import annotations

import codecs
import re

# Labels seen in the wild for Korean text; all decode as CP949 (a superset of each).
KOREAN_ALIASES = frozenset(
    {
        "ks_c_5601-1987",
        "ks_c_5601_1987",
        "ks_c_5601",
        "ks_c_5601-1989",
        "ksc5601",
        "ksc_5601",
        "ks_x_1001",
        "euc-kr",
        "euc_kr",
        "euckr",
        "korean",
        "x-euc-kr",
        "x-windows-949",
        "windows-949",
        "ms949",
        "uhc",
    }
)

# Other labels mail clients send that Python does not know, or knows as something narrower.
EXTRA_ALIASES = {
    "gb2312": "gb18030",  # GBK/GB18030 are supersets; mailers label GBK text gb2312
    "gbk": "gb18030",
    "x-gbk": "gb18030",
    "iso-8859-8-i": "iso-8859-8",
    "x-mac-roman": "mac_roman",
    "macintosh": "mac_roman",
    "unicode-1-1-utf-7": "utf-7",
    "x-unknown": "latin-1",
    "unknown-8bit": "latin-1",
    "x-user-defined": "latin-1",
    "us-ascii": "ascii",
    "ansi_x3.4-1968": "ascii",
    "iso-8859-1": "cp1252",  # what "Latin-1" mail actually contains (smart quotes, euro sign)
    "latin1": "cp1252",
    "iso_8859-1": "cp1252",
    "shift-jis": "cp932",
    "shift_jis": "cp932",
    "x-sjis": "cp932",
    "ks_c_5601-1987-utf8": "utf-8",
}


def resolve_charset(label: str | None) -> str | None:
    """The Python codec name to decode `label` with, or None when no codec is known."""
    if not label:
        return None
    name = label.strip().strip("\"'").lower()
    if not name:
        return None
    if name in KOREAN_ALIASES:
        return "cp949"
    name = EXTRA_ALIASES.get(name, name)
    try:
        return codecs.lookup(name).name
    except (LookupError, ValueError):
        return None


def decode_bytes(data: bytes, label: str | None) -> tuple[str, str | None]:
    """Decode `data` labelled `label`; returns (text, note) where note says why a fallback was used.

    Undeclared or unknown charsets are guessed: UTF-8 (strict), then CP949 (strict, the common
    undeclared case in Korea), then Latin-1. A declared charset that fails strict decoding is
    retried as UTF-8, and finally decoded with replacement characters.
    """
    codec = resolve_charset(label)
    if codec is not None:
        try:
            return data.decode(codec), None
        except UnicodeDecodeError:
            pass
        except LookupError:
            codec = None
    if codec is None and label and label.strip().lower() not in ("", "ascii", "us-ascii"):
        note = f"unknown charset {label!r}"
    elif codec is not None:
        note = f"bytes not valid in declared charset {label!r}"
    else:
        note = None
    for guess in ("utf-8", "cp949"):
        if guess == codec:
            continue
        try:
            text = data.decode(guess)
        except UnicodeDecodeError:
            continue
        if note is None and not data.isascii():
            note = f"no charset declared; decoded as {guess}"
        return text, note
    if codec is not None:
        return data.decode(codec, errors="replace"), note
    return data.decode("cp1252", errors="replace"), note or "undeclared 8-bit text"


# `=?charset?` in RFC 2047 encoded words and `charset'lang'` in RFC 2231 parameters.
_ENCODED_WORD_CHARSET = re.compile(r"=\?([^?*\s]+)((?:\*[^?]*)?)\?", re.ASCII)
_RFC2231_CHARSET = re.compile(r"(\*=\s*\"?)([A-Za-z0-9_.:-]+)(')", re.ASCII)


def _relabel(label: str) -> str:
    if label.lower() in KOREAN_ALIASES:
        return "cp949"
    extra = EXTRA_ALIASES.get(label.lower())
    return extra if extra and extra not in ("ascii",) else label


def relabel_header(value: str) -> str:
    """Rewrite charset labels inside a raw header value (encoded words, RFC 2231 parameters) so
    the stdlib's header parser decodes Korean as CP949 and GBK as GB18030."""
    if "=?" in value:
        value = _ENCODED_WORD_CHARSET.sub(lambda m: f"=?{_relabel(m.group(1))}{m.group(2)}?", value)
    if "*=" in value:
        value = _RFC2231_CHARSET.sub(
            lambda m: m.group(1) + _relabel(m.group(2)) + m.group(3), value
        )
    return value


def recover_8bit_header(value: str) -> tuple[str, bool]:
    """Header values with raw 8-bit bytes come out of the bytes parser as surrogate escapes;
    decode those bytes (UTF-8, else CP949, else Latin-1). Returns (value, changed)."""
    if not any("\udc80" <= ch <= "\udcff" for ch in value):
        return value, False
    raw = value.encode("utf-8", errors="surrogateescape")
    text, _ = decode_bytes(raw, None)
    return text, True
