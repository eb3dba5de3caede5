"""What every chaos experiment shares: machine facts, throwaway databases, real subprocesses that
can be SIGKILLed and restarted, and the report file.

Everything talks to 127.0.0.1 only. Processes are started with the same `python -m servicedesk
<command>` the supervisor and the compose file use, so what is attacked is what runs.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import platform
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

PROJECT_DIR = Path(__file__).resolve().parents[2]
REPORTS_DIR = PROJECT_DIR / "bench" / "reports"
DEFAULT_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
HELP = "help@chaos.ac.kr"


# --- machine -----------------------------------------------------------------------------------


def machine() -> dict[str, str]:
    """The facts a reader needs to compare figures: cores, memory, CPU, kernel, versions."""
    memory = "?"
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    cpu = platform.processor() or "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "nproc": str(os.cpu_count()),
        "memory": memory,
        "cpu": cpu,
        "kernel": platform.release(),
        "python": platform.python_version(),
    }


def load_average() -> str:
    try:
        return " ".join(f"{x:.1f}" for x in os.getloadavg())
    except OSError:
        return "?"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_port(port: int, *, timeout: float = 30.0, host: str = "127.0.0.1") -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.05)
    return False


# --- databases ---------------------------------------------------------------------------------


def plain_dsn(url: str) -> str:
    """A SQLAlchemy URL as a libpq DSN for psycopg."""
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def server_url() -> str:
    return os.environ.get("CHAOS_DATABASE_SERVER", DEFAULT_SERVER)


def create_database(server: str | None = None, *, prefix: str = "sd_chaos") -> str:
    server = server or server_url()
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(plain_dsn(server), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return server.rsplit("/", 1)[0] + "/" + name


def drop_database(url: str) -> None:
    server, name = url.rsplit("/", 1)
    with psycopg.connect(plain_dsn(server + "/postgres"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def migrate(url: str) -> None:
    """`alembic upgrade head` in a child process (Alembic's env runs its own event loop)."""
    subprocess.run(
        [sys.executable, "-m", "servicedesk", "migrate"],
        check=True,
        env={**os.environ, "DATABASE_URL": url},
        cwd=PROJECT_DIR,
        capture_output=True,
    )


def query(url: str, sql: str, params: Iterable[object] | None = None) -> list[tuple]:
    with psycopg.connect(plain_dsn(url), autocommit=True) as conn:
        return list(conn.execute(sql, params).fetchall())  # type: ignore[arg-type]


def scalar(url: str, sql: str, params: Iterable[object] | None = None) -> object:
    rows = query(url, sql, params)
    return rows[0][0] if rows else None


# --- processes ---------------------------------------------------------------------------------


def base_env(database_url: str, workdir: Path, **extra: str) -> dict[str, str]:
    """The environment of every process under test (no `.env` is read: cwd is `workdir`)."""
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "APP_ENV": "dev",
        "JWT_SECRET": "chaos-secret-" + "c" * 40,
        "HELPDESK_ADDRESSES": HELP,
        "LOCAL_UPLOAD_ROOT": str(workdir / "uploads"),
        "STORAGE_BACKEND": "local",
        "OUTBOX_SINK_DIR": str(workdir / "outbox"),
        "SMTP_HOST": "",
        "LOG_LEVEL": "WARNING",
        "PYTHONUNBUFFERED": "1",
    }
    env.update(extra)
    return env


@dataclass
class Service:
    """One `python -m servicedesk <args>` process that can be killed and started again."""

    name: str
    args: list[str]
    env: dict[str, str]
    workdir: Path
    port: int | None = None
    program: list[str] | None = None  # another command than `python -m servicedesk` (the web)
    cwd: Path | None = None
    proc: subprocess.Popen[bytes] | None = None
    starts: int = 0
    kills: int = 0
    log_paths: list[Path] = field(default_factory=list)

    @property
    def argv(self) -> list[str]:
        return [*(self.program or [sys.executable, "-m", "servicedesk"]), *self.args]

    @property
    def command(self) -> str:
        return shlex.join(self.argv)

    def start(self) -> None:
        assert self.proc is None or self.proc.poll() is not None, f"{self.name} is running"
        self.starts += 1
        log = self.workdir / f"{self.name}.{self.starts}.log"
        self.log_paths.append(log)
        with log.open("wb") as out:
            self.proc = subprocess.Popen(
                self.argv,
                env=self.env,
                cwd=self.cwd or self.workdir,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def wait_ready(self, timeout: float = 30.0) -> None:
        if self.port is None:
            return
        if not wait_port(self.port, timeout=timeout):
            raise RuntimeError(f"{self.name} did not listen on {self.port}:\n{self.log_tail()}")

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        """SIGKILL: no shutdown hook runs, open transactions and SMTP sessions are cut."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.kills += 1
        if self.proc is not None:
            self.proc.wait()

    def stop(self, grace: float = 15.0) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def log_tail(self, chars: int = 3000) -> str:
        text = ""
        for path in self.log_paths[-2:]:
            if path.exists():
                text += f"--- {path.name}\n" + path.read_text(errors="replace")[-chars:]
        return text


def api_and_gateway(
    env: dict[str, str], work: Path, *, api_port: int, smtp_port: int
) -> list[Service]:
    """`servicedesk api` and `servicedesk mailgateway` (with its pipeline processes) on loopback."""
    return [
        Service(
            "api", ["api", "--host", "127.0.0.1", "--port", str(api_port)], env, work, port=api_port
        ),
        Service(
            "mailgateway",
            ["mailgateway", "--host", "127.0.0.1", "--port", str(smtp_port)],
            env,
            work,
            port=smtp_port,
        ),
    ]


def discard(path: Path) -> None:
    """Remove an experiment's working directory (logs, uploads, a stopped cluster) unless
    CHAOS_KEEP_LOGS is set."""
    if not os.environ.get("CHAOS_KEEP_LOGS"):
        shutil.rmtree(path, ignore_errors=True)


def workdir(prefix: str) -> Path:
    path = Path(tempfile.mkdtemp(prefix=f"chaos-{prefix}-"))
    path.chmod(0o755)
    return path


# --- figures -----------------------------------------------------------------------------------


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


# --- reports -----------------------------------------------------------------------------------


@dataclass
class Report:
    """A short plain-text report: printed, and written under bench/reports/ when asked."""

    name: str
    title: str
    lines: list[str] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)
    load_at_start: str = field(default_factory=lambda: load_average())
    commit_at_start: str = field(default_factory=lambda: git_head())

    def add(self, line: str = "") -> None:
        self.lines.append(line)
        print(line, flush=True)

    def row(self, label: str, value: object) -> None:
        self.add(f"  {label:<34} {value}")

    def write(self, command: str, *, verdict: str) -> Path:
        facts = machine()
        today = dt.date.today().isoformat()
        REPORTS_DIR.mkdir(parents=True, exist_ok=True)
        path = REPORTS_DIR / f"{today}-chaos-{self.name}.md"
        body = [
            f"# {self.title}",
            "",
            f"- date: {dt.datetime.now(dt.UTC).strftime('%Y-%m-%d %H:%M UTC')}",
            f"- machine: {facts['nproc']} cores ({facts['cpu']}), {facts['memory']} memory, "
            f"Linux {facts['kernel']}, Python {facts['python']}",
            f"- commit at start: {self.commit_at_start}",
            f"- command: `{command}` (from the repository root)",
            f"- wall time: {time.monotonic() - self.started:.0f} s",
            f"- load average at start / end: {self.load_at_start} / {load_average()} "
            "(the machine is shared with other work: figures are what this run saw)",
            f"- verdict: **{verdict}**",
            "",
            "```",
            *self.lines,
            "```",
            "",
        ]
        path.write_text("\n".join(body))
        print(f"report written to {path.relative_to(PROJECT_DIR)}", flush=True)
        return path


def git_head() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=PROJECT_DIR,
            capture_output=True,
            text=True,
            check=True,
        )
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=PROJECT_DIR,
            capture_output=True,
            text=True,
            check=True,
        )
        return out.stdout.strip() + (
            " (working tree has uncommitted changes)" if dirty.stdout else ""
        )
    except (OSError, subprocess.CalledProcessError):
        return "?"


def command_line() -> str:
    """How this experiment was started, as someone would type it from the repository root."""
    main = sys.modules["__main__"].__spec__.name if _main_spec() else sys.argv[0]
    args = " " + shlex.join(sys.argv[1:]) if sys.argv[1:] else ""
    return f".venv/bin/python -m {main}{args}"


def _main_spec() -> bool:
    main = sys.modules.get("__main__")
    return bool(main is not None and getattr(main, "__spec__", None) is not None)


async def until_async(
    predicate: Callable[[], bool], *, seconds: float, interval: float = 1.0
) -> bool:
    """Poll a blocking predicate (a database count, say) off the event loop."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if await asyncio.to_thread(predicate):
            return True
        await asyncio.sleep(interval)
    return await asyncio.to_thread(predicate)
