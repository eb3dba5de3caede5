"""Full-text search that works for Korean without a Korean stemmer.

PostgreSQL ships no Korean dictionary, and Korean glues particles and endings to words
("프린터가", "인쇄되지"), so whole-word matching misses almost everything. Instead every run of
Hangul (or Han) syllables is indexed as its overlapping BIGRAMS ("프린터가" -> 프린 린터 터가),
and a query is cut the same way and asks for ALL of its bigrams ("프린터" -> 프린 & 린터), so any
substring of two or more syllables finds its ticket. A one-syllable query matches as a prefix of a
bigram. Other scripts (English, numbers) are indexed as whole lowercased words (NFKC-normalised).

The terms go straight into a `tsvector` with `array_to_tsvector` (no parser, no dictionary, no
positions), one per ticket and audience in `ticket_search_documents`: `public_terms` (subject and
public comments, what requesters may search) and `internal_terms` (internal notes, for agents).
Both are GIN-indexed. The query side builds a `tsquery` from the same terms, each quoted, and
binds it as a parameter, so SQL or tsquery metacharacters in user input are inert: they are not
letters, so they never become terms at all.

The documents are kept current by domain-event handlers (listed in core.events.HANDLER_MODULES),
so every writer that goes through core/tickets/service.py (the API, the mail pipeline, merges)
keeps search consistent in the same transaction. Accepted imprecision: the bigrams of a query
must all occur in the ticket, not necessarily next to each other.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Iterator

from sqlalchemy.ext.asyncio import AsyncSession

from core import events
from core.models import Comment, Ticket, Visibility
from core.tickets import search_repository

MAX_TERM_LENGTH = 64  # longer "words" are base64, hashes, URLs: not worth indexing
MAX_QUERY_TERMS = 32
MAX_INDEXED_CHARS_PER_TEXT = 50_000

_WORD = re.compile(r"[^\W_]+")
# Hangul syllables and CJK ideographs: no spaces between words that matter, so n-grams.
_SCRIPT_RUN = re.compile(r"([\uac00-\ud7a3\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+)")


def _is_ngram_run(run: str) -> bool:
    return bool(_SCRIPT_RUN.fullmatch(run))


def _runs(text: str) -> Iterator[str]:
    """Letter/digit runs of the normalised text, with Hangul/Han split from other scripts."""
    normalised = unicodedata.normalize("NFKC", text).lower()
    for word in _WORD.findall(normalised):
        for run in _SCRIPT_RUN.split(word):
            if run:
                yield run


def _bigrams(run: str) -> list[str]:
    if len(run) == 1:
        return [run]
    return [run[i : i + 2] for i in range(len(run) - 1)]


def document_terms(text: str | None) -> set[str]:
    """The distinct index terms of a text (bigrams for Hangul/Han, whole words otherwise)."""
    terms: set[str] = set()
    if not text:
        return terms
    for run in _runs(text[:MAX_INDEXED_CHARS_PER_TEXT]):
        if _is_ngram_run(run):
            terms.update(_bigrams(run))
        elif len(run) <= MAX_TERM_LENGTH:
            terms.add(run)
    return terms


def _quote(term: str) -> str:
    # Terms are letters and digits only; escape anyway so no input can change the query's shape.
    return "'" + term.replace("\\", "\\\\").replace("'", "''") + "'"


def build_tsquery(query: str) -> str | None:
    """A tsquery text that requires every term of `query`, or None if it has no searchable term
    (only punctuation or symbols): such a query matches nothing."""
    parts: list[str] = []
    seen: set[str] = set()
    for run in _runs(query):
        if _is_ngram_run(run) and len(run) == 1:
            candidates = [(run, True)]
        elif _is_ngram_run(run):
            candidates = [(gram, False) for gram in _bigrams(run)]
        else:
            candidates = [(run[:200], False)]
        for term, prefix in candidates:
            key = term + ("*" if prefix else "")
            if key in seen:
                continue
            seen.add(key)
            parts.append(_quote(term) + (":*" if prefix else ""))
    if not parts:
        return None
    return " & ".join(parts[:MAX_QUERY_TERMS])


def ticket_number_in(query: str) -> int | None:
    """`#1234` or `1234` also finds ticket number 1234."""
    match = re.fullmatch(r"\s*#?(\d{1,18})\s*", query)
    return int(match.group(1)) if match else None


def comment_text(comment: Comment) -> str:
    """What of a comment is indexed: its own words, not the quoted history below them."""
    body = comment.body_text or ""
    if comment.quote_start is not None and 0 < comment.quote_start < len(body):
        body = body[: comment.quote_start]
    return body


def split_terms(subject: str, comments: Iterable[Comment]) -> tuple[set[str], set[str]]:
    public = document_terms(subject)
    internal: set[str] = set()
    for comment in comments:
        target = public if comment.visibility == Visibility.public.value else internal
        target.update(document_terms(comment_text(comment)))
    return public, internal


async def rebuild_document(session: AsyncSession, *, ticket_id: int) -> None:
    """Recompute one ticket's search document from its subject and every comment."""
    subject, comments = await search_repository.ticket_texts(session, ticket_id=ticket_id)
    if subject is None:
        return
    public, internal = split_terms(subject, comments)
    await search_repository.replace_document(
        session, ticket_id=ticket_id, public_terms=public, internal_terms=internal
    )


async def add_comment_terms(session: AsyncSession, *, comment: Comment) -> None:
    terms = document_terms(comment_text(comment))
    if not terms:
        return
    public = comment.visibility == Visibility.public.value
    await search_repository.append_terms(
        session,
        ticket_id=comment.ticket_id,
        public_terms=terms if public else set(),
        internal_terms=set() if public else terms,
    )


@events.subscribe(events.TicketCreated)
async def _index_new_ticket(session: AsyncSession, event: events.TicketCreated) -> None:
    # A ticket that has just opened has exactly one comment, and both are in the session's
    # identity map: no need to read them back.
    ticket = await session.get(Ticket, event.ticket_id)
    comment = await session.get(Comment, event.comment_id)
    if ticket is None or comment is None:
        await rebuild_document(session, ticket_id=event.ticket_id)
        return
    public, internal = split_terms(ticket.subject, [comment])
    await search_repository.replace_document(
        session, ticket_id=ticket.id, public_terms=public, internal_terms=internal
    )


@events.subscribe(events.CommentAdded)
async def _index_comment(session: AsyncSession, event: events.CommentAdded) -> None:
    comment = await session.get(Comment, event.comment_id)
    if comment is not None:
        await add_comment_terms(session, comment=comment)


@events.subscribe(events.TicketFieldsChanged)
async def _reindex_subject(session: AsyncSession, event: events.TicketFieldsChanged) -> None:
    if "subject" in event.changes:
        await rebuild_document(session, ticket_id=event.ticket_id)
