"""infra/Dockerfile and infra/web.Dockerfile, parsed with BuildKit's own Dockerfile parser (the
`dockerfile` package), plus the README's `docker compose exec api ...` commands run in a directory
laid out exactly as the image's /app (there is no Docker engine here to build the image itself)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import psycopg
import pytest

from tests.conftest import create_database, drop_database
from tests.infra.helpers import (
    APP_DOCKERFILE,
    PROJECT_DIR,
    WEB_DOCKERFILE,
    dockerfile_stages,
    instructions,
    stage_env,
)

PYPROJECT = tomllib.loads((PROJECT_DIR / "pyproject.toml").read_text())
# The README's commands, as the operator types them after `docker compose exec api`.
README_ALEMBIC = ["alembic", "upgrade", "head"]
README_USER_SYNC = "from core.user_sync import sync_users_once; sync_users_once()"


def _copies(stage) -> list[tuple[list[str], str, tuple[str, ...]]]:  # type: ignore[no-untyped-def]
    """(sources, destination, flags) of each COPY in a stage."""
    result = []
    for command in instructions(stage, "COPY"):
        *sources, destination = command.value
        result.append((sources, destination, command.flags))
    return result


def _user_is_not_root(stage) -> None:  # type: ignore[no-untyped-def]
    users = instructions(stage, "USER")
    assert users, "the final stage must switch to a non-root USER"
    assert users[-1].value[0] not in {"root", "0", "0:0"}


# --- the Python image ----------------------------------------------------------------------------


def test_app_image_is_one_python_stage_matching_requires_python() -> None:
    (stage,) = dockerfile_stages(APP_DOCKERFILE)
    image = stage[0].value[0]
    match = re.fullmatch(r"python:(\d+)\.(\d+)-slim(?:-\w+)?", image)
    assert match, image
    minimum = re.fullmatch(r">=(\d+)\.(\d+)", PYPROJECT["project"]["requires-python"])
    assert minimum and tuple(map(int, match.groups())) >= tuple(map(int, minimum.groups()))
    _user_is_not_root(stage)


def test_app_image_holds_every_package_and_alembic_ini_in_its_workdir() -> None:
    (stage,) = dockerfile_stages(APP_DOCKERFILE)
    (workdir,) = instructions(stage, "WORKDIR")
    assert workdir.value == ("/app",)
    copied: dict[str, str] = {}
    for sources, destination, _ in _copies(stage):
        for source in sources:
            name = os.path.basename(source)
            target = destination if not destination.endswith("/") else destination + name
            copied[source] = os.path.normpath(os.path.join("/app", target))
    packages = PYPROJECT["tool"]["setuptools"]["packages"]["find"]["include"]
    for pattern in packages:
        package = pattern.rstrip("*")
        assert copied.get(package) == f"/app/{package}", f"{package} is not copied to /app"
    assert copied.get("alembic.ini") == "/app/alembic.ini"
    ini = (PROJECT_DIR / "alembic.ini").read_text()
    assert re.search(r"^script_location = %\(here\)s/core/migrations$", ini, re.MULTILINE)
    # The editable install puts the `servicedesk` entry point on PATH without a second copy.
    runs = " ".join(command.value[0] for command in instructions(stage, "RUN"))
    assert "pip install --no-deps -e ." in runs
    assert "/opt/venv/bin" in stage_env(stage)["PATH"]


def test_requirements_script_installs_what_pyproject_declares() -> None:
    (stage,) = dockerfile_stages(APP_DOCKERFILE)
    (extras,) = instructions(stage, "ARG")
    name, _, default = extras.value[0].partition("=")
    assert name == "EXTRAS"
    script = PROJECT_DIR / "infra" / "scripts" / "requirements.py"
    result = subprocess.run(
        [sys.executable, str(script), str(PROJECT_DIR / "pyproject.toml"), default],
        capture_output=True,
        text=True,
        check=True,
    )
    project = PYPROJECT["project"]
    expected = list(project["dependencies"])
    for extra in default.split(","):
        expected += project["optional-dependencies"][extra]
    assert result.stdout.splitlines() == expected
    unknown = subprocess.run(
        [sys.executable, str(script), str(PROJECT_DIR / "pyproject.toml"), "nosuchextra"],
        capture_output=True,
        text=True,
    )
    assert unknown.returncode != 0 and "nosuchextra" in unknown.stderr


def test_dockerignore_keeps_secrets_and_local_state_out_of_the_build_context() -> None:
    ignored = set((PROJECT_DIR / ".dockerignore").read_text().split())
    assert {".git", ".venv", ".data", "infra/.env", "infra/credentials"} <= ignored
    assert {"web/node_modules", "web/.next"} <= ignored


# --- the web image ----------------------------------------------------------------------------


def test_web_image_builds_standalone_and_runs_it_as_node() -> None:
    stages = dockerfile_stages(WEB_DOCKERFILE)
    assert len(stages) >= 2, "multi-stage: the runtime stage carries no build tooling"
    runs = [c.value[0] for stage in stages[:-1] for c in instructions(stage, "RUN")]
    assert any(r.startswith("npm ci") for r in runs) and any("npm run build" in r for r in runs)
    runtime = stages[-1]
    copied = {tuple(sources): destination for sources, destination, _ in _copies(runtime)}
    assert copied[("/web/.next/standalone",)] == "./"
    assert copied[("/web/.next/static",)] == "./.next/static"
    assert copied[("/web/public",)] == "./public"
    assert all(
        any(flag.startswith("--from=") for flag in flags) for _, _, flags in _copies(runtime)
    )
    (cmd,) = instructions(runtime, "CMD")
    assert cmd.json and list(cmd.value) == ["node", "server.js"]
    _user_is_not_root(runtime)
    next_config = (PROJECT_DIR / "web" / "next.config.ts").read_text()
    assert re.search(r"""output:\s*["']standalone["']""", next_config)
    assert (PROJECT_DIR / "web" / "package-lock.json").exists(), "npm ci needs the lockfile"


def test_web_image_node_satisfies_next() -> None:
    lock = json.loads((PROJECT_DIR / "web" / "package-lock.json").read_text())
    engines = lock["packages"]["node_modules/next"]["engines"]["node"]
    minimum = re.search(r">=\s*(\d+)\.(\d+)", engines)
    assert minimum, engines
    for stage in dockerfile_stages(WEB_DOCKERFILE):
        match = re.fullmatch(r"node:(\d+)(?:\.\d+)*-\S+", stage[0].value[0])
        assert match, stage[0].value
        assert int(match.group(1)) > int(minimum.group(1)) or (
            int(match.group(1)) == int(minimum.group(1)) and int(minimum.group(2)) == 0
        ), f"{stage[0].value[0]} is older than next's engines {engines}"


# --- the README's commands inside the image layout ---------------------------------------------


@pytest.fixture(scope="module")
def image_workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory holding what the Dockerfile COPYs into /app, nothing else."""
    (stage,) = dockerfile_stages(APP_DOCKERFILE)
    app = tmp_path_factory.mktemp("image") / "app"
    app.mkdir()
    for sources, destination, _ in _copies(stage):
        if destination.startswith("/") and not destination.startswith("/app"):
            continue  # the dependency-layer files under /tmp/build
        for source in sources:
            name = os.path.basename(source)
            target = app / (destination if not destination.endswith("/") else name)
            origin = PROJECT_DIR / source
            if origin.is_dir():
                shutil.copytree(origin, target, ignore=shutil.ignore_patterns("__pycache__"))
            else:
                shutil.copy2(origin, target)
    return app


def _exec_in_image(
    args: list[str], cwd: Path, database_url: str, *, extra_env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MIS_", "DATABASE_URL"))}
    env.update(DATABASE_URL=database_url, APP_ENV="test", PYTHONDONTWRITEBYTECODE="1")
    env.update(extra_env or {})
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def readme_migration(image_workdir: Path, test_server_url: str):  # type: ignore[no-untyped-def]
    """`docker compose exec api alembic upgrade head`, run in the image layout on a new database."""
    url = create_database(test_server_url, prefix="sd_infra")
    alembic = str(Path(sys.executable).parent / README_ALEMBIC[0])
    result = _exec_in_image([alembic, *README_ALEMBIC[1:]], image_workdir, url)
    yield url, result
    drop_database(url)


def test_readme_alembic_command_works_in_the_image_workdir(
    image_workdir: Path, readme_migration: tuple[str, subprocess.CompletedProcess]
) -> None:
    url, result = readme_migration
    assert result.returncode == 0, result.stderr
    alembic = str(Path(sys.executable).parent / "alembic")
    current = _exec_in_image([alembic, "current"], image_workdir, url)
    assert "(head)" in current.stdout, current.stdout + current.stderr
    where = _exec_in_image(
        [sys.executable, "-c", "import core; print(core.__file__)"], image_workdir, url
    )
    # The code came from the image layout, not from the checkout this test runs in.
    assert where.stdout.strip() == str(image_workdir / "core" / "__init__.py")


def test_readme_user_sync_command_syncs_users_in_the_image_workdir(
    image_workdir: Path, readme_migration: tuple[str, subprocess.CompletedProcess]
) -> None:
    """The README's one-liner, with an MIS source configured (a table in the same PostgreSQL)."""
    url, migrated = readme_migration
    assert migrated.returncode == 0, migrated.stderr
    plain_url = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(plain_url, autocommit=True) as connection:
        connection.execute(
            "CREATE TABLE mis_people (external_id text, email text, name text, department text,"
            " phone text, active boolean)"
        )
        connection.execute(
            "INSERT INTO mis_people VALUES"
            " ('2024001', 'Kim.Minji@univ.ac.kr', '김민지', '전산팀', '02-123-4567', true)"
        )
    mis = {
        "MIS_DATABASE_URL": url,
        "MIS_USER_QUERY": "SELECT external_id, email, name, department, phone, active"
        " FROM mis_people",
    }
    result = _exec_in_image(
        [sys.executable, "-c", README_USER_SYNC], image_workdir, url, extra_env=mis
    )
    assert result.returncode == 0, result.stdout + result.stderr
    with psycopg.connect(plain_url) as connection:
        rows = connection.execute("SELECT lower(email), name FROM users").fetchall()
    assert ("kim.minji@univ.ac.kr", "김민지") in rows


# Contrib modules the official postgres image ships (and managed PostgreSQL services offer).
POSTGRES_CONTRIB = {
    "btree_gin",
    "btree_gist",
    "citext",
    "fuzzystrmatch",
    "hstore",
    "pg_stat_statements",
    "pg_trgm",
    "pgcrypto",
    "unaccent",
    "uuid-ossp",
}


def test_migrations_need_only_extensions_the_postgres_image_ships() -> None:
    versions = PROJECT_DIR / "core" / "migrations" / "versions"
    needed = set()
    for migration in versions.glob("*.py"):
        text = migration.read_text()
        needed |= set(re.findall(r"CREATE EXTENSION IF NOT EXISTS \"?([\w-]+)", text, re.I))
    assert "pg_trgm" in needed, "the parser below no longer finds the extensions"
    assert needed <= POSTGRES_CONTRIB, f"not in the postgres image: {needed - POSTGRES_CONTRIB}"
