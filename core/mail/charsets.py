"""Charset labels as mail really uses them, and decoding that never raises.

Outlook labels Korean mail `ks_c_5601-1987`. Python's codec registry maps that label (and `euc-kr`,
`ks_c_5601`, `korean`) to EUC-KR, which has no code points for the 8,822 syllables only CP949 has
(똠, 뷁, 햏, ...): decoding such mail as EUC-KR turns them into U+FFFD. CP949 is a strict superset
of EUC-KR, so every Korean label is decoded as CP949 here, before the stdlib ever sees it (GLPI
PR #18142, FreeScout and osTicket do the same).

Decoding never raises: an unknown label or undecodable bytes fall back and the caller gets a note
of what happened, to record as a parse defect. Undeclared 8-bit text is UTF-8 if it decodes, CP949
only when it reads as Korean (mostly Hangul: GB2312 and KOI8-R bytes also decode as CP949, into
Hangul mixed with Hanja), else whatever charset-normalizer finds most likely.

ISO-2022-JP as Outlook and most Japanese mailers write it carries the NEC and IBM extensions of
Microsoft's cp50220 family (circled digits ①, roman numerals, ㈱), which Python's strict
`iso2022_jp` refuses; the codec `x-iso2022jp-ms` here decodes it by moving each JIS X 0208 pair
to its cp932 (Shift_JIS with those extensions) code.
"""

from __future__ import annotations

import codecs
import re
from functools import lru_cache

import charset_normalizer

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
    "iso-2022-jp": "x-iso2022jp-ms",
    "iso2022_jp": "x-iso2022jp-ms",
    "csiso2022jp": "x-iso2022jp-ms",
    "cp50220": "x-iso2022jp-ms",
    "cp50221": "x-iso2022jp-ms",
    "cp50222": "x-iso2022jp-ms",
}

# --- ISO-2022-JP with Microsoft's extensions -------------------------------------------------

_ESCAPE = re.compile(rb"\x1b(\(B|\(J|\(I|\$@|\$B|\$\(D)")


def _jis_pair_to_cp932(j1: int, j2: int) -> bytes:
    s1 = (j1 + 1) // 2 + (0x70 if j1 <= 0x5E else 0xB0)
    # Odd rows take trail bytes 0x40-0x9E (skipping 0x7F), even rows 0x9F-0xFC.
    s2 = j2 + (0x1F if j2 <= 0x5F else 0x20) if j1 % 2 else j2 + 0x7E
    return bytes((s1, s2))


def _decode_iso2022jp_ms(data: bytes, errors: str = "strict") -> tuple[str, int]:
    out: list[str] = []
    mode, position = b"(B", 0
    for match in [*_ESCAPE.finditer(data), None]:
        end = match.start() if match else len(data)
        chunk = data[position:end]
        if chunk:
            if mode in (b"$@", b"$B"):
                pairs = b"".join(
                    _jis_pair_to_cp932(chunk[i], chunk[i + 1])
                    if 0x21 <= chunk[i] <= 0x7E and 0x21 <= chunk[i + 1] <= 0x7E
                    else b"??"
                    for i in range(0, len(chunk) - 1, 2)
                )
                out.append(pairs.decode("cp932", errors))
            elif mode == b"(I":  # JIS X 0201 half-width katakana
                out.append(
                    bytes(b + 0x80 if 0x21 <= b <= 0x5F else b for b in chunk).decode(
                        "cp932", errors
                    )
                )
            elif mode == b"$(D":  # JIS X 0212: rare; Python's iso2022_jp_2 knows it
                out.append((b"\x1b$(D" + chunk).decode("iso2022_jp_2", errors))
            else:
                out.append(chunk.decode("ascii", errors))
        if match:
            mode, position = match.group(1), match.end()
    return "".join(out), len(data)


def _search_codec(name: str) -> codecs.CodecInfo | None:
    if name.replace("_", "-") != "x-iso2022jp-ms":
        return None
    return codecs.CodecInfo(
        name="x-iso2022jp-ms",
        encode=codecs.lookup("iso2022_jp_ext").encode,
        decode=lambda data, errors="strict": _decode_iso2022jp_ms(bytes(data), errors),
    )


codecs.register(_search_codec)


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
    guess, how = guess_charset(data)
    if guess is not None and guess != codec:
        if note is None and not data.isascii():
            note = f"no charset declared; decoded as {guess} ({how})"
        elif note is not None:
            note += f"; decoded as {guess} ({how})"
        return data.decode(guess, errors="replace"), note
    if codec is not None:
        return data.decode(codec, errors="replace"), note
    return data.decode("cp1252", errors="replace"), note or "undeclared 8-bit text"


_HANGUL = re.compile(r"[\uac00-\ud7a3\u3131-\u318e]")
_NON_ASCII = re.compile(r"[^\x00-\x7f]")


def looks_korean(text: str) -> bool:
    """Mostly Hangul: what CP949 makes of Korean, unlike what it makes of GB2312 or KOI8-R
    bytes (Hangul mixed with Hanja)."""
    letters = len(_NON_ASCII.findall(text))
    return letters > 0 and len(_HANGUL.findall(text)) >= 0.9 * letters


# What charset detection reads of a body: enough to tell, and a bound on its time and on what the
# cache below keeps (a 25 MB undeclared body must not stay in memory as a cache key).
GUESS_SAMPLE_BYTES = 64 * 1024


def guess_charset(data: bytes) -> tuple[str | None, str]:
    """The codec undeclared bytes most likely are in, and how that was decided."""
    try:
        data.decode("utf-8")
        return "utf-8", "valid UTF-8"
    except UnicodeDecodeError:
        pass
    sample = data[:GUESS_SAMPLE_BYTES]
    guessed = _guess_from_sample(sample, whole=len(sample) == len(data))
    if guessed is not None:
        return guessed
    try:
        data.decode("cp949")
        return "cp949", "decodes as CP949"
    except UnicodeDecodeError:
        return None, "no charset decodes it"


@lru_cache(maxsize=64)  # the header pass asks about the same mail-wide sample once per line
def _guess_from_sample(sample: bytes, *, whole: bool) -> tuple[str, str] | None:
    try:
        # A cut sample may end inside a character: only that one is replaced.
        if looks_korean(sample.decode("cp949", "strict" if whole else "replace")):
            return "cp949", "reads as Korean"
    except UnicodeDecodeError:
        pass
    best = charset_normalizer.from_bytes(sample, cp_isolation=_candidates(sample)).best()
    if best is not None:
        codec = resolve_charset(best.encoding)
        if codec is not None:
            return codec, "guessed by charset-normalizer"
    return None


# Where undeclared 8-bit text comes from in mail: Latin text has its 8-bit letters alone between
# ASCII ones ("für"); Cyrillic and CJK text has them in runs. Guessing within the right family
# keeps charset-normalizer from reading "für" as GB18030 or a KOI8-R subject as Hebrew.
_LATIN_CANDIDATES = ["cp1252", "cp1250", "iso8859_2", "cp1257", "cp1254", "iso8859_15"]
_OTHER_CANDIDATES = [
    "cp949", "gb18030", "big5", "cp932", "euc_jp", "koi8_r", "koi8_u", "cp1251", "iso8859_5",
    "cp1253", "cp1255", "cp1256",
]  # fmt: skip
_HIGH_RUN = re.compile(rb"[\x80-\xff]{2,}")
_HIGH = re.compile(rb"[\x80-\xff]")


def _candidates(data: bytes) -> list[str]:
    high = len(_HIGH.findall(data))
    in_runs = sum(len(run) for run in _HIGH_RUN.findall(data))
    return _LATIN_CANDIDATES if high and in_runs < 0.5 * high else _OTHER_CANDIDATES


def decode_header_bytes(
    data: bytes, declared: list[str], context: bytes = b""
) -> tuple[str, str | None]:
    """Raw 8-bit bytes in a header (no RFC 2047): UTF-8 if valid; else a multi-byte charset the
    message declares (the part's GB2312 or Shift_JIS was right there); else Korean if it reads as
    Korean; else another declared charset; else a guess. Returns (text, note)."""
    try:
        return data.decode("utf-8"), None
    except UnicodeDecodeError:
        pass
    codecs_declared = [c for c in (resolve_charset(label) for label in declared) if c]
    single_byte = [c for c in codecs_declared if _is_single_byte(c)]
    for codec in [c for c in codecs_declared if c not in single_byte] + single_byte:
        if codec in ("utf-8", "ascii"):
            continue
        if codec in single_byte and looks_korean(data.decode("cp949", errors="replace")):
            break  # Latin-1 decodes anything; Korean bytes under a wrong label stay Korean
        try:
            return data.decode(codec), f"8-bit header decoded as {codec} (declared in the message)"
        except UnicodeDecodeError:
            continue
    if context and context != data:
        # A few header bytes say little: guess over all the mail's undeclared 8-bit text.
        guess, how = guess_charset(context)
        if guess is not None:
            try:
                return data.decode(guess), f"8-bit header decoded as {guess} ({how}, whole mail)"
            except UnicodeDecodeError:
                pass
    text, note = decode_bytes(data, None)
    return text, f"8-bit header: {note}" if note else None


def _is_single_byte(codec: str) -> bool:
    return codec.startswith(("cp12", "iso8859", "koi8", "mac", "cp8", "latin", "cp4", "cp7"))


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


def has_raw_bytes(value: str) -> bool:
    """Raw 8-bit bytes come out of the bytes parser as surrogate escapes."""
    return any("\udc80" <= ch <= "\udcff" for ch in value)


def recover_8bit_header(value: str) -> tuple[str, bool]:
    """Header values with raw 8-bit bytes come out of the bytes parser as surrogate escapes;
    decode those bytes as undeclared text (parse_message has already turned raw headers into
    UTF-8 with the message's declared charsets). Returns (value, changed)."""
    if not has_raw_bytes(value):
        return value, False
    raw = value.encode("utf-8", errors="surrogateescape")
    text, _ = decode_bytes(raw, None)
    return text, True
