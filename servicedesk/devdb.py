"""An embedded PostgreSQL for the quick start and for tests on a machine with no server running.

It runs the system's PostgreSQL binaries (initdb + pg_ctl) on a data directory under `.data/`,
on 127.0.0.1 only, with trust auth. PostgreSQL refuses to run as root, so as root the cluster
belongs to the `postgres` system user and every command goes through `runuser -u postgres`.
"""

from __future__ import annotations

import glob
import hashlib
import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg

DEFAULT_PORT = 54329
DEFAULT_DATABASE = "servicedesk"


class EmbeddedPostgresError(RuntimeError):
    pass


def _find_bindir() -> Path | None:
    candidates = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0,
        reverse=True,
    )
    if candidates:
        return Path(candidates[0]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def _install_postgres() -> Path | None:
    """On a Debian machine where we are root, install the server package (the quick start's promise
    is one command on a fresh machine)."""
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        return None
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=False, env=env)  # noqa: S607
    subprocess.run(
        ["apt-get", "install", "-y", "-qq", "postgresql", "postgresql-contrib"],  # noqa: S607
        check=True,
        env=env,
    )
    return _find_bindir()


@dataclass
class EmbeddedPostgres:
    root: Path
    port: int = DEFAULT_PORT

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def socket_dir(self) -> Path:
        return self.root / "run"

    @property
    def log_file(self) -> Path:
        return self.root / "postgres.log"

    def url(self, database: str = DEFAULT_DATABASE) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    # --- running commands as the right user ------------------------------------------------
    def _as_owner(self, argv: list[str]) -> list[str]:
        if os.geteuid() == 0:
            return ["runuser", "-u", "postgres", "--", *argv]
        return argv

    def _run(self, argv: list[str], *, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(  # noqa: S603 - argv is built here, never from user input
            self._as_owner(argv), check=check, capture_output=True, text=True
        )

    # --- lifecycle --------------------------------------------------------------------------
    def _bindir(self) -> Path:
        bindir = _find_bindir() or _install_postgres()
        if bindir is None:
            raise EmbeddedPostgresError(
                "no PostgreSQL binaries found (initdb); install the `postgresql` package "
                "or set DATABASE_URL to an existing server"
            )
        return bindir

    def _prepare_dirs(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.socket_dir.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
            for path in (self.data_dir, self.socket_dir):
                shutil.chown(path, "postgres", "postgres")
            self.data_dir.chmod(0o700)
            if not self.log_file.exists():
                self.log_file.touch()
            shutil.chown(self.log_file, "postgres", "postgres")

    def is_running(self) -> bool:
        if not (self.data_dir / "PG_VERSION").exists():
            return False
        result = self._run(
            [str(self._bindir() / "pg_ctl"), "status", "-D", str(self.data_dir)], check=False
        )
        return result.returncode == 0

    def start(self) -> str:
        """Start (initialising on first use) and return the URL of the `servicedesk` database."""
        bindir = self._bindir()
        self._prepare_dirs()
        if not (self.data_dir / "PG_VERSION").exists():
            result = self._run(
                [
                    str(bindir / "initdb"),
                    "-D",
                    str(self.data_dir),
                    "-U",
                    "postgres",
                    "--auth=trust",
                    "-E",
                    "UTF8",
                    "--locale=C.UTF-8",
                ],
                check=False,
            )
            if result.returncode != 0:
                raise EmbeddedPostgresError(f"initdb failed: {result.stderr.strip()[-500:]}")
        if not self.is_running():
            options = (
                f"-p {self.port} -k {self.socket_dir} -c listen_addresses=127.0.0.1 "
                "-c fsync=on -c max_connections=200"
            )
            result = self._run(
                [
                    str(bindir / "pg_ctl"),
                    "start",
                    "-w",
                    "-t",
                    "60",
                    "-D",
                    str(self.data_dir),
                    "-l",
                    str(self.log_file),
                    "-o",
                    options,
                ],
                check=False,
            )
            if result.returncode != 0:
                tail = (
                    self.log_file.read_text(errors="replace")[-800:]
                    if self.log_file.exists()
                    else ""
                )
                raise EmbeddedPostgresError(f"pg_ctl start failed: {result.stderr.strip()} {tail}")
        self._wait_ready()
        self.ensure_database(DEFAULT_DATABASE)
        return self.url()

    def _wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                with psycopg.connect(self._dsn("postgres"), connect_timeout=2):
                    return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.3)

    def _dsn(self, database: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def ensure_database(self, name: str) -> None:
        with psycopg.connect(self._dsn("postgres"), autocommit=True) as conn:
            exists = conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", (name,)
            ).fetchone()
            if not exists:
                conn.execute(f'CREATE DATABASE "{name}"')

    def stop(self) -> None:
        if self.is_running():
            self._run(
                [
                    str(self._bindir() / "pg_ctl"),
                    "stop",
                    "-m",
                    "fast",
                    "-w",
                    "-D",
                    str(self.data_dir),
                ],
                check=False,
            )


def from_env(project_dir: Path) -> EmbeddedPostgres:
    """The quick start's cluster; EMBEDDED_PG_DIR / EMBEDDED_PG_PORT move it (tests do)."""
    root = os.environ.get("EMBEDDED_PG_DIR")
    port = int(os.environ.get("EMBEDDED_PG_PORT", DEFAULT_PORT))
    return EmbeddedPostgres(Path(root) if root else default_root(project_dir), port=port)


def default_root(project_dir: Path) -> Path:
    """`.data/pg` in the project, unless the `postgres` user cannot reach it (a checkout under
    /root, say): then a directory under /var/lib named after the project path."""
    root = project_dir / ".data" / "pg"
    if os.geteuid() != 0:
        return root
    probe = subprocess.run(  # noqa: S603
        ["runuser", "-u", "postgres", "--", "test", "-x", str(project_dir)],  # noqa: S607
        check=False,
    )
    if probe.returncode == 0:
        return root
    digest = hashlib.sha256(str(project_dir).encode()).hexdigest()[:12]
    return Path("/var/lib/servicedesk") / f"pg-{digest}"
