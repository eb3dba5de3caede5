"""MIS user sync: people come from the institution's MIS (학사·인사) database, not from sign-ups.

Source: `MIS_DATABASE_URL` (any SQLAlchemy URL: PostgreSQL built in; MySQL/MariaDB via the `mysql`
extra, Oracle via the `oracle` extra) and either `MIS_USER_QUERY` (SQL returning the columns
external_id, email, name, department, phone, active; any order, any case) or `MIS_USER_TABLE` with
`MIS_USER_COLUMNS` ("external_id=EMP_NO,email=MAIL,...").

The MIS is read with a synchronous engine in a worker thread (server-side cursor, MIS_BATCH_SIZE
rows at a time), never on the event loop; each batch is applied in its own transaction. Users are
matched by external id, then by email; missing ones are deactivated, never deleted, when
MIS_DEACTIVATE_MISSING is set (a run that would deactivate more than MIS_DEACTIVATE_MAX_PERCENT
of them fails instead). For MIS-linked users the MIS decides name, department, phone and `active`;
roles are never touched: an agent stays an agent.

    servicedesk sync-users [--dry-run]
    python -c "from core.user_sync import sync_users_once; sync_users_once()"
"""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import create_engine, literal_column, select, text
from sqlalchemy.engine import Connection, Engine, Result, make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.pool import NullPool
from sqlalchemy.sql import Executable

from core.config import Settings, get_settings
from core.errors import CoreError, Invalid, Unavailable
from core.jobs.context import JobContext
from core.users import sync_repository as repository

FIELDS = ("external_id", "email", "name", "department", "phone", "active")
MAX_EXAMPLES_PER_REASON = 10
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_$#]*(\.[A-Za-z_][A-Za-z0-9_$#]*)?$")
_FALSE = {"0", "n", "no", "false", "f", "inactive", "off", "퇴직", "휴직", "x"}


# --- reading the MIS ---------------------------------------------------------------------------


def mis_statement(settings: Settings) -> Executable:
    """The SELECT that reads MIS users, from MIS_USER_QUERY or the table mapping."""
    if settings.mis_user_query.strip():
        return text(settings.mis_user_query)
    if not settings.mis_user_table.strip():
        raise Invalid("set MIS_USER_QUERY, or MIS_USER_TABLE with MIS_USER_COLUMNS")
    mapping: dict[str, str] = {}
    for pair in settings.mis_user_columns.split(","):
        if not pair.strip():
            continue
        name, _, source = pair.partition("=")
        name, source = name.strip().lower(), source.strip()
        if name not in FIELDS or not _IDENTIFIER.match(source):
            raise Invalid(f"MIS_USER_COLUMNS: cannot use {pair.strip()!r} (fields: {FIELDS})")
        mapping[name] = source
    for required in ("external_id", "email"):
        if required not in mapping:
            raise Invalid(f"MIS_USER_COLUMNS must map {required}")
    table = settings.mis_user_table.strip()
    if not _IDENTIFIER.match(table):
        raise Invalid(f"MIS_USER_TABLE: {table!r} is not a plain [schema.]table name")
    # Names are the operator's, passed verbatim so the MIS's own case rules apply.
    columns = [literal_column(source).label(name) for name, source in mapping.items()]
    # Ordered, so that which of two rows sharing an id or an address wins is the same every run.
    return (
        select(*columns)
        .select_from(text(table))
        .order_by(literal_column(mapping["external_id"]), literal_column(mapping["email"]))
    )


def safe_url(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


class MisReader:
    """A streaming cursor over the MIS; every method blocks, so callers use asyncio.to_thread."""

    def __init__(self, url: str, statement: Executable, batch_size: int) -> None:
        self.url, self.statement, self.batch_size = url, statement, batch_size
        self._engine: Engine | None = None
        self._conn: Connection | None = None
        self._result: Result[Any] | None = None
        self.columns: list[str] = []

    def open(self) -> None:
        try:
            self._engine = create_engine(self.url, poolclass=NullPool)
            self._conn = self._engine.connect()
        except ModuleNotFoundError as exc:
            raise Unavailable(
                f"MIS driver missing for {safe_url(self.url)}: {exc} "
                "(install the `mysql` or `oracle` extra)"
            ) from exc
        except SQLAlchemyError as exc:
            raise Unavailable(
                f"MIS database unreachable at {safe_url(self.url)}: {_first_line(exc)}"
            ) from exc
        try:
            self._result = self._conn.execution_options(
                stream_results=True, yield_per=self.batch_size
            ).execute(self.statement)
        except SQLAlchemyError as exc:
            raise Invalid(f"the MIS user query failed: {_first_line(exc)}") from exc
        self.columns = [str(c).lower() for c in self._result.keys()]  # noqa: SIM118 - a Result
        missing = {"external_id", "email"} - set(self.columns)
        if missing:
            returned = ", ".join(self.columns)[:300]
            raise Invalid(
                f"the MIS user query returns ({returned}); it must return {sorted(missing)}"
            )

    def next_batch(self) -> list[dict[str, Any]]:
        assert self._result is not None
        rows = self._result.fetchmany(self.batch_size)
        return [dict(zip(self.columns, row, strict=True)) for row in rows]

    def close(self) -> None:
        if self._result is not None:
            self._result.close()
        if self._conn is not None:
            self._conn.close()
        if self._engine is not None:
            self._engine.dispose()


def _first_line(exc: BaseException) -> str:
    cause = getattr(exc, "orig", None) or exc
    lines = str(cause).strip().splitlines()
    return lines[0] if lines else type(cause).__name__


# --- applying it -------------------------------------------------------------------------------


@dataclass
class SyncState:
    dry_run: bool
    now: datetime
    fetched: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    deactivated: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    examples: list[str] = field(default_factory=list)
    seen_external_ids: set[str] = field(default_factory=set)
    seen_emails: set[str] = field(default_factory=set)

    def skip(self, reason: str, row: dict[str, Any], detail: str = "") -> None:
        self.skipped[reason] += 1
        if self.skipped[reason] <= MAX_EXAMPLES_PER_REASON:
            ext = str(row.get("external_id") or "").strip() or "?"
            self.examples.append(f"skipped external_id={ext}: {reason}{detail}")

    def summary(self) -> dict[str, Any]:
        return {
            "fetched": self.fetched,
            "created": self.created,
            "updated": self.updated,
            "deactivated": self.deactivated,
            "unchanged": self.unchanged,
            "skipped": sum(self.skipped.values()),
            "skipped_reasons": dict(sorted(self.skipped.items())),
            "dry_run": self.dry_run,
        }


def _valid_email(email: str) -> str | None:
    """Syntax only, no DNS (campus addresses may not resolve from here), as core/users does."""
    try:
        return validate_email(
            email, check_deliverability=False, globally_deliverable=False
        ).normalized
    except EmailNotValidError:
        return None


def _clean(value: Any, limit: int) -> str | None:
    if value is None:
        return None
    cleaned = " ".join(str(value).split())
    return cleaned[:limit] or None


def _active(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, bool | int):
        return bool(value)
    return str(value).strip().lower() not in _FALSE


async def apply_batch(session: AsyncSession, rows: list[dict[str, Any]], state: SyncState) -> None:
    """Upsert one batch of MIS rows; only flushes (nothing at all in a dry run)."""
    state.fetched += len(rows)
    candidates: list[tuple[dict[str, Any], str, str]] = []
    for row in rows:
        external_id = _clean(row.get("external_id"), 128)
        email = (_clean(row.get("email"), 320) or "").replace(" ", "")
        if external_id is None:
            state.skip("missing_external_id", row)
            continue
        if external_id in state.seen_external_ids:
            state.skip("duplicate_external_id", row)
            continue
        state.seen_external_ids.add(external_id)
        if not email:
            state.skip("invalid_email", row, " (empty)")
            continue
        if email.lower() in state.seen_emails:
            state.skip("duplicate_email", row, f" ({email})")
            continue
        state.seen_emails.add(email.lower())
        candidates.append((row, external_id, email))
    if not candidates:
        return
    # By external id first; addresses are looked up only for rows that are new or whose address
    # changed (the citext index is the slower one), so an unchanged run is one cheap query a batch.
    by_external = {
        u.external_id: u
        for u in await repository.users_by_external_ids(session, [c[1] for c in candidates])
    }
    emails = [
        email
        for _, external_id, email in candidates
        if (known := by_external.get(external_id)) is None or known.email.lower() != email.lower()
    ]
    by_email = {u.email.lower(): u for u in await repository.users_by_emails(session, emails)}
    creates: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    for row, external_id, email in candidates:
        user = by_external.get(external_id)
        if user is None or user.email.lower() != email.lower():
            valid = _valid_email(email)  # only new or changed addresses need validating
            if valid is None:
                state.skip("invalid_email", row, f" ({email!r})")
                continue
            email = valid
        owner = by_email.get(email.lower())
        if user is None and owner is not None:
            if owner.external_id is not None and owner.external_id != external_id:
                state.skip("email_in_use", row, f" ({email} belongs to {owner.external_id})")
                continue
            user = owner  # a user who wrote in before MIS knew them: link by email
        elif user is not None and owner is not None and owner.id != user.id:
            state.skip("email_in_use", row, f" ({email} belongs to user {owner.id})")
            continue
        wanted = {
            "name": _clean(row.get("name"), 200),
            "department": _clean(row.get("department"), 200),
            "phone": _clean(row.get("phone"), 64),
            "active": _active(row.get("active")),
        }
        if user is None:
            creates.append(
                {
                    "external_id": external_id,
                    "email": email,
                    **wanted,
                    "name": wanted["name"] or email.split("@", 1)[0],
                    "mis_synced_at": state.now,
                }
            )
            continue
        current = {
            "external_id": user.external_id,
            "email": user.email,
            "name": user.name,
            "department": user.department,
            "phone": user.phone,
            "active": user.active,
        }
        target = {
            "external_id": external_id,
            # A change of letter case only is not a change (emails are case-insensitive here).
            "email": user.email if user.email.lower() == email.lower() else email,
            "name": wanted["name"] or user.name,
            "department": wanted["department"],
            "phone": wanted["phone"],
            "active": wanted["active"],
        }
        if target == current:
            state.unchanged += 1
        else:
            updates.append({"id": user.id, **target, "mis_synced_at": state.now})
    state.created += len(creates)
    state.updated += len(updates)
    if not state.dry_run:
        await repository.insert_users(session, creates)
        await repository.update_users(session, updates, now=state.now)


async def deactivate_missing(
    session: AsyncSession, state: SyncState, *, max_percent: float, batch_size: int
) -> list[int]:
    """Users linked to MIS but absent from this run: deactivated (never deleted)."""
    linked = await repository.active_linked_users(session)
    missing = [
        user_id for user_id, external_id in linked if external_id not in state.seen_external_ids
    ]
    # Everyone MIS or we know as an MIS user: the same figure in a dry run as in a real one.
    total = len({external_id for _, external_id in linked} | state.seen_external_ids)
    if missing and (state.fetched == 0 or len(missing) > total * max_percent / 100):
        raise Invalid(
            f"MIS returned {state.fetched} users and {len(missing)} of {total} MIS-linked users "
            f"would be deactivated, more than MIS_DEACTIVATE_MAX_PERCENT={max_percent:g}%: "
            "refusing (check the MIS query, or raise the limit for this run)"
        )
    state.deactivated = len(missing)
    if not state.dry_run:
        for start in range(0, len(missing), batch_size):
            await repository.deactivate_users(
                session, missing[start : start + batch_size], now=state.now
            )
    return missing


async def run(context: JobContext) -> None:
    """The `user_sync` job: stream the MIS, apply batch by batch, then deactivate the missing."""
    settings = context.settings
    if not settings.mis_database_url:
        context.skip("MIS_DATABASE_URL is not set")
        return
    statement = mis_statement(settings)
    state = SyncState(dry_run=context.dry_run, now=context.now)
    reader = MisReader(settings.mis_database_url, statement, max(1, settings.mis_batch_size))
    context.info(f"reading users from {safe_url(settings.mis_database_url)}")
    try:
        await asyncio.to_thread(reader.open)
        while True:
            rows = await asyncio.to_thread(reader.next_batch)
            if not rows:
                break
            async with context.transaction() as session:
                await apply_batch(session, rows, state)
            context.summary.update(state.summary())
    finally:
        await asyncio.to_thread(reader.close)
    if settings.mis_deactivate_missing:
        async with context.transaction() as session:
            await deactivate_missing(
                session,
                state,
                max_percent=settings.mis_deactivate_max_percent,
                batch_size=settings.mis_batch_size,
            )
    context.summary.update(state.summary())
    for line in state.examples:
        context.info(line)
    s = context.summary
    context.info(
        f"fetched {s['fetched']}, created {s['created']}, updated {s['updated']}, "
        f"deactivated {s['deactivated']}, unchanged {s['unchanged']}, skipped {s['skipped']}"
        + (" (dry run: nothing written)" if context.dry_run else "")
    )


# --- entry points ------------------------------------------------------------------------------


async def run_once(
    *, dry_run: bool = False, trigger: str = "cli", settings: Settings | None = None
):  # type: ignore[no-untyped-def]
    """Run the user_sync job now, recorded as a job run; returns the finished JobRun."""
    from core import db
    from core.jobs import catalog, runner

    settings = settings or get_settings()
    owns_engine = False
    try:
        db.get_engine()
    except RuntimeError:
        db.init_engine("user-sync", settings=settings)
        owns_engine = True
    try:
        spec = catalog.get_spec(settings, "user_sync")
        return await runner.execute(spec, trigger=trigger, settings=settings, dry_run=dry_run)  # type: ignore[arg-type]
    finally:
        if owns_engine:
            await db.dispose_engine()


def sync_users_once(*, dry_run: bool = False, settings: Settings | None = None) -> dict[str, Any]:
    """Synchronous wrapper (cron, `python -c`): one sync, recorded as a job run; raises when it
    failed, so the calling script exits non-zero. Returns the summary counts."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        pass
    else:
        raise RuntimeError("sync_users_once() blocks; inside async code use `await run_once()`")
    run = asyncio.run(run_once(dry_run=dry_run, settings=settings))
    print(f"user sync {run.status}: {run.summary}")
    if run.status == "failed":
        raise CoreError((run.error or "user sync failed").splitlines()[0])
    return dict(run.summary)
