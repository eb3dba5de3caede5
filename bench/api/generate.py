"""Generate a university desk's history with COPY: users, teams, 1,000,000 tickets, 3,000,000
comments and their search documents (the same tokenizer the services use, core/tickets/search.py).

Texts are drawn from a pool of realistic Korean and English sentences, so common words are
common (a printer ticket every ~20) and search has to cope with large match sets.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from functools import lru_cache

import psycopg

from core.tickets.search import document_terms

SUBJECTS = [
    "연구실 프린터가 인쇄되지 않습니다",
    "포털 비밀번호 초기화 요청",
    "무선랜 eduroam 접속 불가",
    "VPN 접속 오류가 발생합니다",
    "메일 용량 증설 요청",
    "강의실 프로젝터 고장",
    "한글 오피스 소프트웨어 설치 요청",
    "학사 시스템 로그인 오류",
    "기숙사 네트워크 속도가 느립니다",
    "공유 드라이브 권한 요청",
    "Printer not printing in the lab",
    "Password reset for the student portal",
    "Wi-Fi drops in lecture hall",
    "VPN access for sabbatical",
    "Email quota increase request",
    "Projector broken in classroom",
    "Software license request for MATLAB",
    "Cannot log in to the LMS",
    "Slow network in the dormitory",
    "Shared drive permission needed",
]
SENTENCES = [
    "공학관 301호 프린터가 인쇄 대기만 하고 출력되지 않습니다.",
    "오늘 아침부터 계속 같은 문제가 발생합니다.",
    "비밀번호를 잊어버려서 초기화 부탁드립니다.",
    "노트북에서 무선 네트워크 연결이 자주 끊깁니다.",
    "재부팅 후에도 증상이 동일합니다.",
    "확인해 보니 드라이버 업데이트가 필요합니다.",
    "원격으로 점검하겠습니다. 잠시만 기다려 주세요.",
    "해결되었습니다. 감사합니다!",
    "첨부한 화면을 참고해 주세요.",
    "담당 부서로 이관하였습니다.",
    "The printer shows an error and the queue is stuck.",
    "I restarted the computer but nothing changed.",
    "Could you please reset my password?",
    "The connection drops every few minutes.",
    "We have replaced the toner cartridge.",
    "Please try again and let us know.",
    "This is resolved now, thank you.",
    "Attached is a screenshot of the error message.",
    "Forwarded to the network team for a closer look.",
    "The license server is not reachable from off campus.",
]
INTERNAL = [
    "내부 메모: 장비 교체 예산 확인 필요.",
    "Internal: waiting for the vendor's reply about the firmware.",
    "내부 메모: 동일 증상 티켓 여러 건, 서버 점검 예정.",
]
BUILDINGS = ["공학관", "인문관", "자연과학관", "도서관", "학생회관", "Main Hall", "Science Center"]
# The last tenth of the history is recent: a real backlog (about 30,000 open tickets, enough for
# 50 pages of 50 in one team's queue); older tickets are resolved or closed.
STATUSES = ["new"] * 5 + ["open"] * 30 + ["pending"] * 10 + ["resolved"] * 15 + ["closed"] * 40
PRIORITIES = ["low"] * 2 + ["normal"] * 6 + ["high"] * 2 + ["urgent"]

N_TEAMS = 10
N_AGENTS = 120
N_REQUESTERS = 50_000
DETAIL_COMMENTS = 50
NULL = "\\N"  # COPY's text-format null


@lru_cache(maxsize=4096)
def cached_terms(text: str) -> frozenset[str]:
    return frozenset(document_terms(text))


def vector_literal(terms: set[str] | frozenset[str]) -> str:
    # Terms are letters and digits only (the tokenizer guarantees it); quote them for tsvector.
    return " ".join(f"'{t}'" for t in sorted(terms))


def ts(moment: datetime) -> str:
    return moment.isoformat()


def _copy(
    conn: psycopg.Connection, statement: str, rows: Iterator[str], batch: int = 20_000
) -> int:
    count = 0
    with conn.cursor().copy(statement) as copy:
        buffer: list[str] = []
        for line in rows:
            buffer.append(line)
            count += 1
            if len(buffer) >= batch:
                copy.write("".join(buffer))
                buffer.clear()
        if buffer:
            copy.write("".join(buffer))
    return count


def generate(
    dsn: str, *, tickets: int, comments_per_ticket: float, seed: int = 7
) -> dict[str, object]:
    """Fill an empty, migrated database. Returns the ids the benchmark queries need."""
    rng = random.Random(seed)
    now = datetime.now(UTC).replace(microsecond=0)
    start = time.monotonic()
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("SET synchronous_commit = off")
        conn.execute("SET maintenance_work_mem = '512MB'")

        # People: one admin, the agents, the requesters.
        def users() -> Iterator[str]:
            yield "1\tadmin@bench.ac.kr\t관리자\tadmin\tko\n"
            for n in range(N_AGENTS):
                yield f"{2 + n}\tagent{n}@bench.ac.kr\t상담원{n}\tagent\tko\n"
            for n in range(N_REQUESTERS):
                locale = "en" if n % 7 == 0 else "ko"
                yield f"{2 + N_AGENTS + n}\tuser{n}@bench.ac.kr\t사용자{n}\trequester\t{locale}\n"

        _copy(conn, "COPY users (id, email, name, role, locale) FROM STDIN", users())
        conn.execute(
            "INSERT INTO teams (id, name) SELECT g, '팀' || g FROM generate_series(1, %s) g",
            (N_TEAMS,),
        )
        conn.execute(
            "INSERT INTO team_members (team_id, user_id) "
            "SELECT 1 + (g - 2) %% %s, g FROM generate_series(2, %s) g",
            (N_TEAMS, 1 + N_AGENTS),
        )
        conn.execute(
            "INSERT INTO categories (id, name, default_team_id) "
            "SELECT g, '분류' || g, 1 + g %% %s FROM generate_series(1, 20) g",
            (N_TEAMS,),
        )
        first_requester = 2 + N_AGENTS
        # A requester with a realistic personal history (the "own tickets" query).
        heavy_requester = first_requester
        detail_ticket = tickets  # the last ticket gets 50 comments

        docs: list[str] = []
        comment_lines: list[str] = []

        def ticket_lines() -> Iterator[str]:
            comment_id = 0
            for tid in range(1, tickets + 1):
                created = now - timedelta(seconds=int((1 - tid / tickets) * 3 * 365 * 86400))
                created -= timedelta(seconds=rng.randint(0, 3600))
                recent = tid > tickets - tickets // 10
                status = rng.choice(STATUSES if recent else ["resolved", "closed", "closed"])
                priority = rng.choice(PRIORITIES)
                if tid % 500 == 0:  # one busy requester: 2,000 tickets over three years
                    requester = heavy_requester
                else:
                    requester = first_requester + rng.randrange(N_REQUESTERS)
                team = 1 + rng.randrange(N_TEAMS)
                assignee = (
                    NULL
                    if status == "new" or rng.random() < 0.2
                    else str(2 + (team - 1) + N_TEAMS * rng.randrange(N_AGENTS // N_TEAMS))
                )
                subject_template = SUBJECTS[rng.randrange(len(SUBJECTS))]
                place = f"{BUILDINGS[rng.randrange(len(BUILDINGS))]} {rng.randint(101, 520)}"
                subject = f"{subject_template} ({place})"
                n_comments = (
                    DETAIL_COMMENTS
                    if tid == detail_ticket
                    else 1 + int(rng.random() * (2 * comments_per_ticket - 1))
                )
                public_terms = set(cached_terms(subject_template)) | cached_terms(place)
                internal_terms: set[str] = set()
                moment = created
                for index in range(n_comments):
                    comment_id += 1
                    internal = index > 0 and rng.random() < 0.1
                    if internal:
                        body = INTERNAL[rng.randrange(len(INTERNAL))]
                        author = 2 + rng.randrange(N_AGENTS)
                        internal_terms |= cached_terms(body)
                    else:
                        parts = [
                            SENTENCES[rng.randrange(len(SENTENCES))]
                            for _ in range(rng.randint(1, 3))
                        ]
                        body = " ".join(parts)
                        author = requester if index % 2 == 0 else 2 + rng.randrange(N_AGENTS)
                        for part in parts:
                            public_terms |= cached_terms(part)
                    source = "email" if rng.random() < 0.6 else "web"
                    html = "<p>" + body + "</p>"
                    comment_lines.append(
                        f"{comment_id}\t{tid}\t{author}\t{'internal' if internal else 'public'}\t"
                        f"{source}\t{body}\t{html}\t{ts(moment)}\n"
                    )
                    moment += timedelta(minutes=rng.randint(5, 600))
                updated = min(moment, now)
                first_response = (
                    NULL
                    if status == "new"
                    else ts(created + timedelta(minutes=rng.randint(5, 600)))
                )
                resolved = ts(updated) if status in ("resolved", "closed") else NULL
                closed = ts(updated) if status == "closed" else NULL
                fr_due = created + timedelta(hours=8)
                res_due = created + timedelta(days=3)
                docs.append(
                    f"{tid}\t{vector_literal(public_terms)}\t{vector_literal(internal_terms)}\n"
                )
                yield (
                    f"{tid}\t{1000 + tid}\t{subject}\t{status}\t{priority}\t"
                    f"{'email' if rng.random() < 0.7 else 'web'}\t{requester}\t{assignee}\t{team}\t"
                    f"{1 + rng.randrange(20)}\t{ts(created)}\t{ts(updated)}\t"
                    f"{first_response}\t{resolved}\t{closed}\t"
                    f"{ts(fr_due)}\t{ts(res_due)}\n"
                )

        columns = (
            "id, number, subject, status, priority, channel, requester_id, assignee_id, team_id, "
            "category_id, created_at, updated_at, first_response_at, resolved_at, closed_at, "
            "first_response_due_at, resolution_due_at"
        )
        # Load tickets in chunks, each followed by its comments and search documents.
        chunk = 100_000
        lines = ticket_lines()
        loaded = 0
        while loaded < tickets:
            batch = []
            for line in lines:
                batch.append(line)
                if len(batch) >= chunk:
                    break
            loaded += len(batch)
            _copy(conn, f"COPY tickets ({columns}) FROM STDIN", iter(batch))
            _copy(
                conn,
                "COPY comments (id, ticket_id, author_id, visibility, source, body_text, "
                "body_html, created_at) FROM STDIN",
                iter(comment_lines),
            )
            _copy(
                conn,
                "COPY ticket_search_documents (ticket_id, public_terms, internal_terms) FROM STDIN",
                iter(docs),
            )
            comment_lines.clear()
            docs.clear()
            print(f"  loaded {loaded:,} tickets ({time.monotonic() - start:.0f} s)", flush=True)
        total_comments = conn.execute("SELECT max(id) FROM comments").fetchone()[0]
        for table in ("users", "teams", "categories", "tickets", "comments"):
            conn.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"(SELECT max(id) FROM {table}))"
            )
        conn.execute("SELECT setval('ticket_number_seq', (SELECT max(number) FROM tickets))")
        conn.execute("VACUUM ANALYZE")
    return {
        "tickets": tickets,
        "comments": total_comments,
        "heavy_requester": heavy_requester,
        "detail_ticket": detail_ticket,
        "agent": 2,
        "team": 1,
        "seconds": round(time.monotonic() - start, 1),
    }
