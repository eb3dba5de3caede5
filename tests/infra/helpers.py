"""Readers for the deployment files: the compose file, .env.example, the README's address table,
the Dockerfiles, and the `servicedesk` command line as click itself would parse it."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import Any

import dockerfile
import typer.main
import yaml

PROJECT_DIR = Path(__file__).resolve().parents[2]
INFRA_DIR = PROJECT_DIR / "infra"
COMPOSE_FILE = INFRA_DIR / "docker-compose.yml"
ENV_EXAMPLE = INFRA_DIR / ".env.example"
APP_DOCKERFILE = INFRA_DIR / "Dockerfile"
WEB_DOCKERFILE = INFRA_DIR / "web.Dockerfile"
README = PROJECT_DIR / "README.md"

# `${NAME}`, `${NAME:-default}`, `${NAME-default}`, `${NAME:?message}` (Compose interpolation).
_INTERPOLATION = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}")


def load_compose(text: str | None = None) -> dict[str, Any]:
    return yaml.safe_load(COMPOSE_FILE.read_text() if text is None else text)


@cache
def env_example() -> dict[str, str]:
    """The uncommented KEY=value lines of infra/.env.example (what `cp .env.example .env` gives)."""
    values = {}
    for line in ENV_EXAMPLE.read_text().splitlines():
        match = re.match(r"^([A-Z][A-Z0-9_]*)=(.*)$", line)
        if match:
            values[match.group(1)] = match.group(2)
    return values


def interpolation_names(document: Any) -> set[str]:
    """Every variable interpolated anywhere in the loaded compose document's values."""
    if isinstance(document, dict):
        return set().union(*(interpolation_names(v) for v in document.values()))
    if isinstance(document, list):
        return set().union(*(interpolation_names(v) for v in document))
    if isinstance(document, str):
        return {match.group(1) for match in _INTERPOLATION.finditer(document)}
    return set()


def interpolate(value: str, env: dict[str, str]) -> str:
    """Compose's variable substitution for the forms this project uses."""

    def substitute(match: re.Match[str]) -> str:
        name, operator, argument = match.group(1), match.group(2), match.group(3)
        current = env.get(name)
        if operator == ":-":
            return current if current else argument
        if operator == "-":
            return argument if current is None else current
        if operator in {":?", "?"} and not current:
            raise ValueError(f"{name} is required: {argument}")
        return current or ""

    return _INTERPOLATION.sub(substitute, value)


def split_port(entry: str) -> tuple[str, int]:
    """`"${API_PORT:-8000}:8000"` -> (`"${API_PORT:-8000}"`, 8000): the host side, unresolved."""
    match = re.fullmatch(r"(.+):(\d+)(?:/tcp)?", str(entry))
    assert match, f"port {entry!r} should be HOST:CONTAINER"
    return match.group(1), int(match.group(2))


def host_port_variable(host: str) -> tuple[str, str]:
    """`${API_PORT:-8000}` -> ("API_PORT", "8000")."""
    match = re.fullmatch(r"\$\{([A-Z0-9_]+):-(\d+)\}", host)
    assert match, f"published port {host!r} should be ${{VARIABLE:-default}}"
    return match.group(1), match.group(2)


def service_environment(service: dict[str, Any]) -> dict[str, str]:
    environment = service.get("environment") or {}
    if isinstance(environment, list):
        environment = dict(item.split("=", 1) for item in environment)
    return {key: str(value) for key, value in environment.items()}


def container_env(service: dict[str, Any]) -> dict[str, str]:
    """What a process in the container sees: the env_file (infra/.env as copied from the example)
    overridden by `environment`, interpolated against the same file."""
    env = dict(env_example()) if service.get("env_file") else {}
    project_env = env_example()
    for key, value in service_environment(service).items():
        env[key] = interpolate(value, project_env)
    return env


def readme_ports() -> dict[str, int]:
    """From the README's 'Where each service answers' table: VARIABLE -> port."""
    ports = {}
    for line in README.read_text().splitlines():
        if not line.startswith("|"):
            continue
        match = re.search(r"localhost:(\d+)[^|]*?\(`([A-Z0-9_]+)`", line)
        if match:
            ports[match.group(2)] = int(match.group(1))
    return ports


# --- Dockerfiles -----------------------------------------------------------------------------


def dockerfile_stages(path: Path) -> list[list[dockerfile.Command]]:
    """The instructions of each build stage, in order (a stage starts at its FROM)."""
    stages: list[list[dockerfile.Command]] = []
    for command in dockerfile.parse_file(str(path)):
        if command.cmd.upper() == "FROM":
            stages.append([])
        if stages:
            stages[-1].append(command)
    return stages


def instructions(stage: list[dockerfile.Command], name: str) -> list[dockerfile.Command]:
    return [command for command in stage if command.cmd.upper() == name]


def stage_env(stage: list[dockerfile.Command]) -> dict[str, str]:
    env = {}
    for command in instructions(stage, "ENV"):
        values = list(command.value)
        for key, value in zip(values[::2], values[1::2], strict=True):
            env[key] = value
    return env


# --- the `servicedesk` command line ------------------------------------------------------------


def servicedesk_group() -> Any:
    """The click group behind the installed `servicedesk` entry point (typer may bundle its own
    copy of click, so the objects are used as they are, not through `import click`)."""
    from servicedesk.cli import app

    return typer.main.get_command(app)


def _is_group(command: Any) -> bool:
    return hasattr(command, "list_commands")


def parse_servicedesk(args: list[str]) -> tuple[tuple[str, ...], dict[str, Any]]:
    """Resolve `servicedesk ARGS` the way the installed entry point does: the subcommand path and
    its parsed parameters (defaults filled in). Unknown commands and bad options raise."""
    command = servicedesk_group()
    context = command.context_class(command, info_name="servicedesk")
    remaining = list(args)
    path: list[str] = []
    while _is_group(command):
        if not remaining:
            raise LookupError(f"`servicedesk {' '.join(args)}` names no subcommand")
        name = remaining.pop(0)
        sub = command.get_command(context, name)
        if sub is None:
            known = ", ".join(command.list_commands(context))
            raise LookupError(f"`servicedesk {' '.join([*path, name])}` does not exist ({known})")
        path.append(name)
        command = sub
        if _is_group(command):
            context = command.context_class(command, info_name=name, parent=context)
    parsed = command.make_context(path[-1], remaining, parent=context)
    return tuple(path), parsed.params
