"""Where the trailing block to fold starts in a reply: quoted history, signature, footers.

Nothing is cut: the full text is stored and `comments.quote_start` marks the offset; the portal
folds from there, and search and notification excerpts use only the text above it. So the rule
that matters most is that a fold never hides an answer: only a *trailing* block is folded, one of

- reply headers and what follows them: separator lines ("-----Original Message-----",
  "-----Ursprüngliche Nachricht-----", "-------- 原始邮件 --------"), attributions ("On ...
  wrote:", "Am ... schrieb X:", "... пишет:", "...님이 작성:", Gmail's "2026年12月2日(水) 10:00 X
  <a@b>:"), and Outlook header blocks (two or more "From:"/"Sent:"/"보낸 사람:"/"Von:"/"De :"/
  "差出人:" ... lines after a blank line or a rule), in the languages our requesters' clients use;
- runs of "> " lines; an unquoted line between them is an answer, and the fold then starts after it;
- signatures: the "-- " delimiter (RFC 3676 4.3), mobile footers ("Sent from my iPhone",
  "iPhone에서 보냄"), mailing-list footers, confidentiality disclaimers, and a team signature that
  the quoted history repeats.

History below an attribution that is not "> "-quoted (Outlook's top-posting) is the old mail as a
whole. mail-parser-reply has multilingual header patterns, but it rewrites the text before matching
(so it has no offsets to give), and its signature rules ("Thanks,", "- item", "regards,") fold
answers; the patterns here were written from what the clients send instead.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# --- reply headers ------------------------------------------------------------------------------

_SEPARATOR_WORDS = (
    r"original message|original e-?mail(?: message)?|forwarded message|begin forwarded message|"
    r"원본 메시지|원본 메일|원래 메시지|전달된 메시지|전달 메시지|전달된 메일|"
    r"ursprüngliche nachricht|weitergeleitete nachricht|anfang der weitergeleiteten nachricht|"
    r"message d'origine|message d’origine|message transféré|début du message réexpédié|"
    r"mensaje original|mensaje reenviado|messaggio originale|messaggio inoltrato|"
    r"oorspronkelijk bericht|origineel bericht|doorgestuurd bericht|"
    r"oryginalna wiadomość|wiadomość oryginalna|przekazana wiadomość|"
    r"исходное сообщение|пересылаемое сообщение|переадресованное сообщение|"
    r"元のメッセージ|転送されたメッセージ|原始邮件|原始郵件|原邮件|转发邮件|轉寄郵件|"
    r"oprindelig meddelelse|videresendt meddelelse|ursprungligt meddelande|"
    r"vidarebefordrat meddelande|mensagem original|mensagem encaminhada|původní zpráva"
)
# "-----Original Message-----", "---- Original email message ----", "Begin forwarded message:"
_SEPARATOR = re.compile(
    rf"^[-_=*~\s]*(?:{_SEPARATOR_WORDS})\s*[:：]?[-_=*~\s]*$",
    re.IGNORECASE,
)
_SEPARATOR_RULED = re.compile(r"^[-_=*~]{2,}|[-_=*~]{2,}$|[:：]$")

# Words that end an attribution line ("... wrote:"), right before its colon.
_WROTE_VERB = (
    r"wrote|writes|schrieb|a écrit|a ecrit|escribió|escribio|ha scritto|schreef|pisze|"
    r"napisał\(a\)|napisała|napisał|пишет|написал\(а\)|написала|написал|skrev|escreveu|"
    r"geschreven|写道|寫道|작성|작성한 글|쓰신 글|보낸 메일|のメッセージ|書きました|kirjoitti|yazdı"
)
_WROTE_END = re.compile(rf"(?:{_WROTE_VERB})\s*[:：]\s*$", re.IGNORECASE)
# Verbs that clients put before the name: "Am ... schrieb Max <m@x>:", "Den ... skrev X:".
_WROTE_MIDDLE = re.compile(
    r"\b(?:schrieb|schreef|skrev|wrote|escreveu|escribió|pisze|a écrit)\b.{1,160}[:：]\s*$",
    re.IGNORECASE,
)
_WROTE_PREFIX = re.compile(
    r"^(?:on|am|le|el|il giorno|il|op|w dniu|dnia|den|em|в|在|于)\s", re.IGNORECASE
)
_KOREAN_WROTE = re.compile(
    r"님(?:이|께서)\s*(?:작성|작성한\s*글|쓰신\s*글|보낸\s*메일)\s*[:：]?\s*$"
)
# Gmail (ja), Yandex, Mail.ru: a date and the sender's address, then a colon.
_ADDRESS_END = re.compile(r"@[^\s<>]+>?\s*[:：]\s*$")
_DATE_OR_TIME = re.compile(
    r"\d{1,2}:\d{2}|(?<!\d)(?:19|20)\d{2}(?!\d)|\d{1,2}[./-]\d{1,2}[./-]\d{2,4}|\d{1,2}월|\d{1,2}月"
)
_MAX_ATTRIBUTION = 400

# Outlook and forwarded-message header blocks: "From: ...", "보낸 사람: ...", "De : ...".
_FROM_LABELS = (
    r"from|보낸\s*사람|보낸이|발신자|발신|von|de|da|van|od|от|差出人|送信者|发件人|發件人|寄件者|"
    r"fra|från"
)
_DATE_LABELS = (
    r"sent|date|보낸\s*날짜|보낸\s*시간|날짜|일시|gesendet|datum|envoyé|envoye|enviado|enviada|"
    r"enviado el|enviada em|fecha|inviato|data|verzonden|wysłano|wysłane|отправлено|дата|"
    r"送信日時|日付|日時|发送时间|發送時間|时间|時間|日期|寄件日期|sendt|dato|skickat"
)
_OTHER_LABELS = (
    r"to|cc|bcc|subject|reply-to|받는\s*사람|받는이|수신자|수신|참조|제목|an|kopie|betreff|"
    r"à|a|objet|para|asunto|oggetto|aan|onderwerp|do|dw|temat|кому|копия|тема|宛先|件名|"
    r"收件人|收件者|抄送|副本|主题|主題|主旨|til|emne|till|kopia|ämne|assunto"
)
_LABEL = re.compile(
    rf"^\s*\**\s*(?:(?P<from>{_FROM_LABELS})|(?P<date>{_DATE_LABELS})|(?P<other>{_OTHER_LABELS}))"
    r"\s*\**\s*[:：]\s*\**(?P<value>.*)$",
    re.IGNORECASE,
)
_RULE = re.compile(r"^\s*(?:[-_=─━]\s*){5,}$")
_MAX_HEADER_LINES = 12

# --- signatures and footers ---------------------------------------------------------------------

_SIG_DELIMITER = re.compile(r"^--\s*$|^—\s*$")
_MOBILE_FOOTER = re.compile(
    r"^\s*(?:"
    r"sent from my .{1,40}|sent from (?:outlook|mail|yahoo mail|gmail|samsung|my mobile)\b.{0,60}|"
    r"sent via .{1,40}|sent with .{1,40}|get outlook for (?:ios|android)\b.{0,80}|"
    r"sent from mail for windows.{0,20}|"
    r".{1,40}에서 보냄|.{1,40}에서 보냈습니다|.{1,40}에서 발송(?:됨|되었습니다)?|"
    r"von meinem .{1,30} gesendet|gesendet von .{1,40}|envoyé de mon .{1,30}|"
    r"envoyé depuis .{1,40}|enviado desde mi .{1,30}|enviado do meu .{1,30}|"
    r"enviado a partir do .{1,30}|inviato da(?:l mio)? .{1,30}|verzonden (?:vanaf|met) .{1,30}|"
    r"verstuurd (?:vanaf|met) .{1,30}|wysłane z .{1,30}|wysłano z .{1,30}|"
    r"отправлено (?:с|из) .{1,30}|.{1,30}から送信|从我的.{1,30}发送|发自我的.{1,30}|"
    r"寄件自我的.{1,30}|sendt fra min .{1,30}|skickat från min .{1,30}"
    r")\s*$",
    re.IGNORECASE,
)
_MAX_FOOTER_LINES = 3
_MAX_SIGNATURE_LINES = 15
_LIST_FOOTER = re.compile(
    r"mailing list|/listinfo/|^to unsubscribe|^you received this message because you are "
    r"subscribed|^unsubscribe:|^수신\s*거부|수신을 원하지 않으시면|^abmelden|^se désabonner|"
    r"^para cancelar la suscripción|^отписаться",
    re.IGNORECASE,
)
_DISCLAIMER_START = re.compile(
    r"^\s*\**\s*(?:confidentiality notice|confidential(?:ity)?\s*[:：]|disclaimer\s*[:：]?|"
    r"legal disclaimer|important notice|privileged (?:and|&) confidential|"
    r"this e-?mail (?:message )?(?:and any attach|is confidential|may contain|contains)|"
    r"this message (?:\(including any attachments\) )?"
    r"(?:and any attach|is confidential|may contain|contains confidential)|"
    r"the information (?:contained )?in this (?:e-?mail|message)|"
    r"본 (?:전자)?(?:메일|이메일|메세지|메시지)[은는에]|이 (?:전자)?(?:메일|이메일)[은는에]|"
    r"\[?(?:면책|보안|비밀)\s*(?:조항|고지|안내|유지)|"
    r"diese (?:e-?mail|nachricht) (?:enthält|ist|kann)|ce (?:message|courriel|e-?mail) et|"
    r"este (?:mensaje|correo)|questo messaggio|dit (?:e-?mail)?bericht|"
    r"ta wiadomość|это (?:сообщение|письмо)|この(?:電子)?メール|本邮件|本郵件|"
    r"denne e-?mail|detta (?:e-?post|meddelande)|esta mensagem|este e-?mail)",
    re.IGNORECASE,
)
_CONFIDENTIAL = re.compile(
    r"confiden|privileged|vertraulich|riservat|vertrouwelijk|poufn|конфиденц|機密|秘密|保密|机密|"
    r"기밀|비밀|fortrolig|konfidentiell|sigilo",
    re.IGNORECASE,
)
_RECIPIENT_OR_DELETE = re.compile(
    r"intended recipient|addressee|delete|destroy|notify|empfänger|löschen|destinataire|supprim|"
    r"destinatario|eliminar|cancellar|geadresseerde|verwijder|adresat|usuń|получател|удал|"
    r"受信者|削除|收件人|删除|刪除|수신자|수신인|삭제|잘못 (?:전송|수신)|modtager|slet|mottagare|"
    r"radera|destinatário|apagar|unauthori[sz]ed",
    re.IGNORECASE,
)
_CLOSING = re.compile(r"[.,!。！~]\s*$|(?:요|다|께|림)\s*$")


@dataclass(frozen=True)
class _Marker:
    kind: str  # "header", "quote", "signature", "footer", "list", "disclaimer"
    end: int  # the first line after the marker itself


def find_quote_start(text: str) -> int | None:
    """Offset in `text` where the trailing block to fold (quoted history, signature, footers)
    begins, or None when there is none, when folding would hide new text, or when the whole mail
    would fold away (a bare forward keeps its content visible)."""
    return _Folder(text).quote_start()


class _Folder:
    def __init__(self, text: str) -> None:
        self.text = text
        self.lines = text.split("\n")
        self.offsets: list[int] = []
        position = 0
        for line in self.lines:
            self.offsets.append(position)
            position += len(line) + 1
        self.stripped = [line.strip() for line in self.lines]
        self._markers: dict[int, _Marker | None] = {}

    def quote_start(self) -> int | None:
        folds = self._folds_to_end()
        header_lines: set[int] = set()
        content_above = False
        for index in range(len(self.lines)):
            marker = self.marker(index)
            if marker is not None and marker.kind == "header":
                header_lines.update(range(index, marker.end))
            if marker is not None and content_above and folds[index]:
                return self.offsets[self._repeated_signature(index)]
            if self.stripped[index] and index not in header_lines:
                content_above = True
        return None

    # -- what may be folded ----------------------------------------------------------------------

    def _folds_to_end(self) -> list[bool]:
        """For each line, whether it and every line below it belong to blocks that may be folded.
        Worked backwards so that long quotes cost one pass."""
        count = len(self.lines)
        folds = [True] * (count + 1)
        for i in range(count - 1, -1, -1):
            if not self.stripped[i]:
                folds[i] = folds[i + 1]
                continue
            marker = self.marker(i)
            if marker is None:
                folds[i] = False  # new text: an answer, or a line we cannot place
            elif marker.kind == "quote":
                folds[i] = folds[i + 1]
            elif marker.kind == "header":
                # Below an attribution, "> " lines may have answers between them; history that
                # is not quoted (Outlook's top-posting) is the old mail as a whole.
                following = self._next_nonblank(marker.end)
                quoted = following is not None and self.stripped[following].startswith(">")
                folds[i] = folds[following] if quoted else True
            elif marker.kind == "list":
                folds[i] = True
            else:
                end = self._zone_end(i, marker)
                folds[i] = end is not None and folds[end]
        return folds

    def _zone_end(self, index: int, marker: _Marker) -> int | None:
        """The end of a signature, footer or disclaimer starting at `index`: the next reply header
        or quote, or the end of the text. None when the zone is too long to be one."""
        limit = {"signature": _MAX_SIGNATURE_LINES, "footer": _MAX_FOOTER_LINES}.get(marker.kind)
        lines_seen, i = 0, index
        in_disclaimer = marker.kind == "disclaimer"
        while i < len(self.lines):
            if not self.stripped[i]:
                i += 1
                continue
            if i > index:
                other = self.marker(i)
                if other is not None and other.kind in ("header", "quote", "list"):
                    return i
                if other is not None and other.kind == "disclaimer":
                    in_disclaimer = True
            if in_disclaimer and i > index and not self._disclaimer_paragraph_continues(i):
                return None
            lines_seen += 1
            if not in_disclaimer and limit is not None and lines_seen > limit:
                return None
            i += 1
        return i

    def _disclaimer_paragraph_continues(self, index: int) -> bool:
        """Inside a disclaimer, a new paragraph must be disclaimer text too (or a short line such
        as a company name or an address)."""
        if self.stripped[index - 1]:
            return True
        paragraph = self._paragraph(index)
        return len(paragraph) <= 2 or bool(_CONFIDENTIAL.search(" ".join(paragraph)))

    # -- markers ---------------------------------------------------------------------------------

    def marker(self, index: int) -> _Marker | None:
        if index not in self._markers:
            self._markers[index] = self._find_marker(index)
        return self._markers[index]

    def _find_marker(self, index: int) -> _Marker | None:
        line = self.stripped[index]
        if not line:
            return None
        if line.startswith(">"):
            return _Marker("quote", index + 1)
        if _SEPARATOR.match(line) and _SEPARATOR_RULED.search(line):
            return _Marker("header", index + 1)
        end = self._header_block_end(index)
        if end is not None:
            return _Marker("header", end)
        end = self._attribution_end(index)
        if end is not None:
            return _Marker("header", end)
        if _SIG_DELIMITER.match(self.lines[index].rstrip("\r")):
            return _Marker("signature", index + 1)
        if self._is_list_footer(index):
            return _Marker("list", len(self.lines))
        if len(line) <= 100 and _MOBILE_FOOTER.match(line) and not line.endswith((".", "?", "!")):
            return _Marker("footer", index + 1)
        if self._starts_disclaimer(index):
            return _Marker("disclaimer", index + 1)
        return None

    def _attribution_end(self, index: int) -> int | None:
        """ "On ... wrote:" and its translations, wrapped over up to three lines by the client."""
        for span in (1, 2, 3):
            if index + span > len(self.lines) or not self.stripped[index + span - 1]:
                return None
            joined = " ".join(self.stripped[index : index + span])
            if len(joined) > _MAX_ATTRIBUTION:
                return None
            if _is_attribution(joined):
                # A wrapped attribution starts like one and its later lines do not: a line of
                # the answer just above a one-line attribution is not part of it.
                if span > 1 and (
                    not _starts_attribution(self.stripped[index])
                    or any(
                        _starts_attribution(self.stripped[k])
                        for k in range(index + 1, index + span)
                    )
                ):
                    return None
                return index + span
            if joined.endswith((":", "：")):
                return None
        return None

    def _header_block_end(self, index: int) -> int | None:
        """Two or more header lines after a blank line, a rule or a separator line."""
        rule = _RULE.match(self.stripped[index]) is not None
        first = index + 1 if rule else index
        if rule and first < len(self.lines) and not self.stripped[first]:
            first += 1
        if first >= len(self.lines) or not _LABEL.match(self.stripped[first]):
            return None
        if index > 0 and not rule:
            above = self.stripped[index - 1]
            if above and not _RULE.match(above) and not _SEPARATOR.match(above):
                return None
        labels: dict[str, str] = {}
        kinds: set[str] = set()
        i = first
        while i < len(self.lines) and i < first + _MAX_HEADER_LINES and self.stripped[i]:
            match = _LABEL.match(self.stripped[i])
            if match:
                kind = next(k for k in ("from", "date", "other") if match.group(k))
                label = re.sub(r"\s+", "", match.group(kind).lower())
                labels.setdefault(label, match.group("value"))
                kinds.add(kind)
                if kind == "from":
                    labels["\0from"] = match.group("value")
            i += 1
        distinct = len([label for label in labels if label != "\0from"])
        sender = labels.get("\0from", "").strip()
        if "from" not in kinds or distinct < 2 or sender[:1].isdigit():
            return None
        if "date" in kinds or distinct >= 3 or "@" in sender:
            return i
        return None

    def _is_list_footer(self, index: int) -> bool:
        line = self.stripped[index]
        if _RULE.match(line):
            following = self._next_nonblank(index + 1)
            return following is not None and bool(_LIST_FOOTER.search(self.stripped[following]))
        return bool(re.match(r"^(?:to unsubscribe|you received this message)", line, re.I))

    def _starts_disclaimer(self, index: int) -> bool:
        """A paragraph that opens like a disclaimer, or a long one that speaks of confidentiality
        and of wrong recipients."""
        if index > 0 and self.stripped[index - 1]:
            return False
        paragraph = " ".join(self._paragraph(index))
        if _DISCLAIMER_START.match(self.stripped[index]):
            return bool(_CONFIDENTIAL.search(paragraph) or _RECIPIENT_OR_DELETE.search(paragraph))
        return (
            len(paragraph) >= 150
            and bool(_CONFIDENTIAL.search(paragraph))
            and bool(_RECIPIENT_OR_DELETE.search(paragraph))
        )

    # -- repeated team signature -----------------------------------------------------------------

    def _repeated_signature(self, start: int) -> int:
        """Move the fold up over the last lines above it when the history repeats them: a team
        signature the sender puts under every mail. Sign-off lines ("감사합니다.") stay visible."""
        history = {
            _unquoted(line) for line in self.stripped[start:] if _unquoted(line) and len(line) > 3
        }
        i = start - 1
        while i >= 0 and not self.stripped[i]:
            i -= 1
        run: list[int] = []
        while i >= 0 and self.stripped[i] and self.stripped[i] in history:
            run.append(i)
            i -= 1
        if i >= 0 and self.stripped[i] and not _CLOSING.search(self.stripped[i]):
            return start  # a repeated line in the middle of a paragraph is text
        run.reverse()
        while run and _CLOSING.search(self.stripped[run[0]]):
            run.pop(0)
        if len(run) < 2 or not any(re.search(r"\d|@|www\.|https?:", self.stripped[j]) for j in run):
            return start
        if not any(self.stripped[j] for j in range(run[0])):
            return start
        return run[0]

    # -- helpers ---------------------------------------------------------------------------------

    def _next_nonblank(self, index: int) -> int | None:
        for i in range(index, len(self.lines)):
            if self.stripped[i]:
                return i
        return None

    def _paragraph(self, index: int) -> list[str]:
        paragraph = []
        for i in range(index, len(self.lines)):
            if not self.stripped[i]:
                break
            paragraph.append(self.stripped[i])
        return paragraph


def _is_attribution(line: str) -> bool:
    if "님" in line and _KOREAN_WROTE.search(line):
        return True
    if not line.endswith((":", "：")):
        return False
    if not (_DATE_OR_TIME.search(line) or "@" in line):
        return False
    if _WROTE_END.search(line) or (_ADDRESS_END.search(line) and _DATE_OR_TIME.search(line)):
        return True
    return bool(_WROTE_MIDDLE.search(line) and (_WROTE_PREFIX.match(line) or "@" in line))


def _starts_attribution(line: str) -> bool:
    return bool(_WROTE_PREFIX.match(line) or line[:1].isdigit())


def _unquoted(line: str) -> str:
    return line.lstrip("> ").strip()
