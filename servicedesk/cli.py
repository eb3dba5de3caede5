"""The `servicedesk` command: one subcommand per process, plus the operator's tools.

Process packages (api, mailgateway, scheduler) are imported inside the commands that start them, so
`servicedesk migrate` never loads FastAPI or aiosmtpd.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Annotated

import typer

from core.config import get_settings
from core.models import Locale, Role

app = typer.Typer(
    help="IT Service Desk: email-first helpdesk for university IT teams.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


def _fail(message: str) -> None:
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    raise typer.Exit(code=1)


async def _in_session(work):  # type: ignore[no-untyped-def]
    from core import db

    db.init_engine("cli")
    try:
        async with db.session_scope() as session:
            return await work(session)
    finally:
        await db.dispose_engine()


@app.command()
def migrate(
    revision: Annotated[str, typer.Argument(help="target revision")] = "head",
) -> None:
    """Upgrade the database to the latest schema (or to REVISION)."""
    from core import migrate as migrations

    migrations.upgrade(get_settings().database_url, revision)
    typer.echo(f"database at {revision}")


@app.command("create-user")
def create_user(
    email: Annotated[str, typer.Option(help="login and mail address")],
    name: Annotated[str, typer.Option(help="display name")] = "",
    role: Annotated[Role, typer.Option(help="requester, agent or admin")] = Role.requester,
    password: Annotated[str | None, typer.Option(help="omit for magic-link-only users")] = None,
    locale: Annotated[Locale, typer.Option(help="ko or en")] = Locale.ko,
) -> None:
    """Create a user. An existing email is reported, not changed."""
    from core.errors import Conflict, CoreError
    from core.users import service

    async def work(session):  # type: ignore[no-untyped-def]
        return await service.create_user(
            session, email=email, name=name, role=role, password=password, locale=locale
        )

    try:
        user = asyncio.run(_in_session(work))
    except Conflict as exc:
        typer.echo(f"{exc.message}; nothing changed")
        return
    except CoreError as exc:
        _fail(exc.message)
    typer.echo(f"created {user.role} {user.email} (id {user.id})")


@app.command("seed-demo")
def seed_demo() -> None:
    """Create demo teams, people and tickets (Korean and English). Safe to run twice."""
    from core.demo import DEMO_ADMIN_EMAIL, DEMO_PASSWORD
    from core.demo import seed_demo as seed

    result = asyncio.run(_in_session(seed))
    typer.echo(f"demo data: {len(result.created)} created, {len(result.existing)} already there")
    typer.echo(f"demo login: {DEMO_ADMIN_EMAIL} / {DEMO_PASSWORD}")


@app.command()
def api(
    host: Annotated[str, typer.Option(help="bind address")] = "0.0.0.0",  # noqa: S104
    port: Annotated[int | None, typer.Option(help="port (default API_PORT, 8000)")] = None,
) -> None:
    """Serve the HTTP API (Swagger at /docs)."""
    import uvicorn

    from api.app import create_app

    settings = get_settings()
    uvicorn.run(
        create_app(settings),
        host=host,
        port=port or settings.api_port,
        log_level=settings.log_level.lower(),
        proxy_headers=True,
    )


@app.command()
def mailgateway(
    host: Annotated[str | None, typer.Option(help="bind address (MAILGATEWAY_HOST)")] = None,
    port: Annotated[int | None, typer.Option(help="port (MAILGATEWAY_PORT)")] = None,
    workers: Annotated[
        bool | None,
        typer.Option(
            "--workers/--no-workers",
            help="run pipeline workers in this process (default MAILGATEWAY_INPROCESS_WORKERS)",
        ),
    ] = None,
) -> None:
    """Receive mail over SMTP and (unless --no-workers) turn it into tickets."""
    from mailgateway.main import ListenerRefused, serve

    settings = get_settings()
    overrides = {
        k: v for k, v in (("mailgateway_host", host), ("mailgateway_port", port)) if v is not None
    }
    if overrides:
        settings = settings.model_copy(update=overrides)
    in_process = settings.mailgateway_inprocess_workers if workers is None else workers
    _logging(settings)
    try:
        asyncio.run(serve(settings, workers=in_process))
    except ListenerRefused as refused:
        _fail(str(refused))


@app.command()
def mailworker() -> None:
    """Only the mail pipeline workers (extra capacity beside `servicedesk mailgateway`)."""
    from mailgateway.main import work

    settings = get_settings()
    _logging(settings)
    asyncio.run(work(settings))


def _logging(settings) -> None:  # type: ignore[no-untyped-def]
    import logging

    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    # aiosmtpd logs every SMTP command at INFO.
    logging.getLogger("mail.log").setLevel(logging.WARNING)


@app.command()
def mailsender(
    lanes: Annotated[int, typer.Option(help="concurrent SMTP connections")] = 8,
) -> None:
    """Only the outbound mail sender (the scheduler also runs one); every replica may run it."""
    from scheduler.mailsender import serve_sender

    asyncio.run(serve_sender(get_settings(), lanes=lanes))


@app.command()
def scheduler() -> None:
    """Run scheduled jobs (SLA, MIS sync, housekeeping) on the elected leader, and the mail sender.
    Any number may run: a PostgreSQL advisory lock elects one leader."""
    from scheduler.runner import serve

    settings = get_settings()
    _logging(settings)
    asyncio.run(serve(settings))


@app.command("sync-users")
def sync_users(
    dry_run: Annotated[bool, typer.Option("--dry-run", help="count, write nothing")] = False,
) -> None:
    """Sync users from the MIS database now (recorded as a job run)."""
    from core.user_sync import run_once

    run = asyncio.run(run_once(dry_run=dry_run, trigger="cli"))
    _report_run(run)


@app.command("run-job")
def run_job(job_id: Annotated[str, typer.Argument(help="a job id, e.g. sla_scan")]) -> None:
    """Run one scheduled job now, in this process (recorded as a job run)."""
    from core.errors import CoreError
    from core.jobs import catalog, runner

    async def work():  # type: ignore[no-untyped-def]
        from core import db

        db.init_engine("cli")
        try:
            spec = catalog.get_spec(get_settings(), job_id)
            return await runner.execute(spec, trigger="cli")  # type: ignore[arg-type]
        finally:
            await db.dispose_engine()

    try:
        run = asyncio.run(work())
    except CoreError as exc:
        _fail(exc.message)
    _report_run(run)


def _report_run(run) -> None:  # type: ignore[no-untyped-def]
    typer.echo(f"{run.job_id} run {run.id}: {run.status} in {run.duration_ms} ms")
    typer.echo(f"summary: {run.summary}")
    if run.status == "failed":
        _fail((run.error or "failed").splitlines()[0])


@app.command()
def run(
    only: Annotated[
        str | None, typer.Option(help="comma list of processes, e.g. api,mailgateway")
    ] = None,
) -> None:
    """Start every process in one foreground supervisor; Ctrl-C stops them all."""
    from servicedesk.processes import PROCESSES, available_processes, supervise

    names = [n.strip() for n in only.split(",")] if only else available_processes()
    unknown = [n for n in names if n not in PROCESSES]
    if unknown:
        _fail(f"unknown process {', '.join(unknown)}; known: {', '.join(PROCESSES)}")
    raise typer.Exit(code=supervise(names, get_settings()))


@app.command()
def quickstart(
    only: Annotated[str | None, typer.Option(help="comma list of processes")] = None,
) -> None:
    """The README's first command: embedded PostgreSQL if DATABASE_URL is unset, migrate, seed,
    then run everything."""
    from core import migrate as migrations
    from servicedesk import devdb
    from servicedesk.processes import PROJECT_DIR, available_processes, supervise

    embedded = None
    if not os.environ.get("DATABASE_URL") and not _dotenv_has("DATABASE_URL"):
        embedded = devdb.from_env(PROJECT_DIR)
        typer.echo("DATABASE_URL is not set: starting an embedded PostgreSQL under .data/ ...")
        os.environ["DATABASE_URL"] = embedded.start()
    os.environ.setdefault("MAILGATEWAY_PORT", "2525")
    get_settings.cache_clear()
    settings = get_settings()
    try:
        migrations.upgrade(settings.database_url)
        seed_demo()
        names = [n.strip() for n in only.split(",")] if only else available_processes()
        _print_urls(names, settings)
        code = supervise(names, settings, env={"DATABASE_URL": settings.database_url})
    finally:
        if embedded is not None:
            typer.echo("stopping the embedded PostgreSQL ...")
            embedded.stop()
    raise typer.Exit(code=code)


def _dotenv_has(name: str) -> bool:
    env_file = Path(".env")
    if not env_file.exists():
        return False
    return any(
        line.split("=", 1)[0].strip() == name
        for line in env_file.read_text().splitlines()
        if "=" in line and not line.lstrip().startswith("#")
    )


def _print_urls(names: list[str], settings) -> None:  # type: ignore[no-untyped-def]
    typer.echo("")
    typer.echo("  IT Service Desk is starting:")
    if "web" in names:
        typer.echo(f"    Web portal   http://localhost:{settings.web_port}")
    if "api" in names:
        typer.echo(f"    API          http://localhost:{settings.api_port}")
        typer.echo(f"    Swagger      http://localhost:{settings.api_port}/docs")
    if "mailgateway" in names:
        typer.echo(
            f"    SMTP         localhost:{settings.mailgateway_port} (help addresses: "
            f"{settings.helpdesk_addresses})"
        )
    typer.echo(f"    Database     {settings.database_url}")
    typer.echo("  Press Ctrl-C to stop.")
    typer.echo("")


devdb_app = typer.Typer(help="The embedded PostgreSQL used when DATABASE_URL is unset.")
app.add_typer(devdb_app, name="devdb")


@devdb_app.command("start")
def devdb_start() -> None:
    """Start the embedded PostgreSQL and print its URL."""
    from servicedesk import devdb
    from servicedesk.processes import PROJECT_DIR

    typer.echo(devdb.from_env(PROJECT_DIR).start())


@devdb_app.command("stop")
def devdb_stop() -> None:
    """Stop the embedded PostgreSQL."""
    from servicedesk import devdb
    from servicedesk.processes import PROJECT_DIR

    devdb.from_env(PROJECT_DIR).stop()
    typer.echo("stopped")


storage_app = typer.Typer(help="Attachment storage (STORAGE_BACKEND local or object).")
app.add_typer(storage_app, name="storage")


@storage_app.command("check")
def storage_check() -> None:
    """Write, read, presign PUT+GET over HTTP and delete a test object; one line says what fails."""
    from core.errors import CoreError
    from core.storage.check import (
        StorageCheckFailed,
        check_storage,
        describe_target,
        storage_for_check,
    )

    settings = get_settings()
    where = describe_target(settings)

    async def work():  # type: ignore[no-untyped-def]
        storage = storage_for_check(settings)
        try:
            return await check_storage(storage, where=where)
        finally:
            await storage.close()

    prefix = f"storage check failed ({settings.storage_backend} backend)"
    try:
        report = asyncio.run(work())
    except (StorageCheckFailed, CoreError) as exc:
        _fail(f"{prefix}: {exc}")
    except Exception as exc:  # an unforeseen failure still gets one line, not a traceback
        _fail(f"{prefix}: {type(exc).__name__}: {exc}")
    typer.echo(f"OK: {report.backend} storage at {where}: {', '.join(report.steps)}")
