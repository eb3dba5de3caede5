"""infra/docker-compose.yml, parsed: it is valid Compose, it starts real `servicedesk` commands (the
same ones `servicedesk run` starts), its ports are the README's, and every variable it passes is
one something reads. There is no Docker engine here, so these checks are what we can run."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from importlib.resources import files
from typing import Any

import jsonschema
import pytest

from core.config import Settings
from servicedesk.processes import PROCESSES
from tests.infra.helpers import (
    APP_DOCKERFILE,
    COMPOSE_FILE,
    INFRA_DIR,
    PROJECT_DIR,
    WEB_DOCKERFILE,
    container_env,
    dockerfile_stages,
    env_example,
    host_port_variable,
    instructions,
    interpolate,
    interpolation_names,
    load_compose,
    parse_servicedesk,
    readme_ports,
    service_environment,
    split_port,
    stage_env,
)

COMPOSE = load_compose()
SERVICES: dict[str, dict[str, Any]] = COMPOSE["services"]
SETTINGS_NAMES = {(f.alias or name).upper() for name, f in Settings.model_fields.items()}
# A placeholder JWT_SECRET is refused in production (.env.example says production): the operator
# sets a real one, and so does this test.
OPERATOR_SET = {"JWT_SECRET": "x" * 64}
# Variables the official postgres image reads (https://hub.docker.com/_/postgres).
POSTGRES_IMAGE_VARIABLES = {"POSTGRES_USER", "POSTGRES_PASSWORD", "POSTGRES_DB"}


def _uses_app_image(service: dict[str, Any]) -> bool:
    build = service.get("build") or {}
    return isinstance(build, dict) and build.get("dockerfile") == "infra/Dockerfile"


APP_SERVICES = {name: s for name, s in SERVICES.items() if _uses_app_image(s)}
# Long-running processes; `migrate` is the one-shot step before them.
APP_PROCESSES = {name: s for name, s in APP_SERVICES.items() if name != "migrate"}


def _container_settings(service: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> Settings:
    for key in list(Settings.model_fields) + sorted(SETTINGS_NAMES):
        monkeypatch.delenv(key.upper(), raising=False)
    for key, value in {**container_env(service), **OPERATOR_SET}.items():
        monkeypatch.setenv(key, value)
    return Settings(_env_file=None)


# --- the Compose Specification ----------------------------------------------------------------


def _compose_spec_validator() -> jsonschema.protocols.Validator:
    # The Compose Specification's JSON schema as vendored (with its licence and checksum) by the
    # PyPI package check-jsonschema; nothing is downloaded at test time.
    schema_file = files("check_jsonschema.builtin_schemas.vendor") / "compose-spec.json"
    schema = json.loads(schema_file.read_text())
    assert schema["title"] == "Compose Specification"
    validator_class = jsonschema.validators.validator_for(schema)
    validator_class.check_schema(schema)
    return validator_class(schema, format_checker=validator_class.FORMAT_CHECKER)


def _schema_errors(document: dict[str, Any]) -> list[str]:
    return [
        f"{'/'.join(map(str, error.absolute_path))}: {error.message}"
        for error in _compose_spec_validator().iter_errors(document)
    ]


def test_compose_file_validates_against_the_compose_specification() -> None:
    assert _schema_errors(COMPOSE) == []


@pytest.mark.parametrize(
    ("mistake", "original", "replacement"),
    [
        ("misspelt key", '    command: ["servicedesk", "scheduler"]', "    comand: scheduler"),
        ("bad condition", "condition: service_completed_successfully", "condition: finished"),
        ("ports as a map", '      - "${WEB_PORT:-3000}:3000"', "      web: 3000"),
    ],
)
def test_schema_check_rejects_a_broken_compose_file(
    mistake: str, original: str, replacement: str
) -> None:
    text = COMPOSE_FILE.read_text()
    assert original in text, f"{mistake}: the compose file changed; update this control"
    assert _schema_errors(load_compose(text.replace(original, replacement, 1))), mistake


# --- commands ------------------------------------------------------------------------------------


def test_every_service_command_is_a_servicedesk_subcommand() -> None:
    assert set(APP_SERVICES) >= {"migrate", "api", "mailgateway", "scheduler"}
    problems = []
    for name, service in APP_SERVICES.items():
        command = service["command"]
        assert isinstance(command, list), f"{name}: exec form, no shell in between"
        assert command[0] == "servicedesk", name
        try:
            path, _ = parse_servicedesk(command[1:])
        except Exception as exc:  # an unknown command or option, whatever click calls it
            problems.append(f"{name}: {type(exc).__name__}: {exc}")
            continue
        assert path == (name,), f"service {name} runs `servicedesk {' '.join(path)}`"
    assert not problems, "\n".join(problems)


def test_the_image_default_command_is_a_servicedesk_subcommand() -> None:
    (stage,) = dockerfile_stages(APP_DOCKERFILE)
    (cmd,) = instructions(stage, "CMD")
    assert cmd.json and cmd.value[0] == "servicedesk"
    parse_servicedesk(list(cmd.value[1:]))


def test_compose_runs_what_servicedesk_run_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    """`servicedesk run` (the README's `make run`, and the end-to-end tests) starts each process
    from servicedesk/processes.py; the containers must start the same subcommand with the same
    effective options, given the settings each container sees."""
    unknown = sorted(set(APP_PROCESSES) - set(PROCESSES))
    assert not unknown, f"compose runs {unknown}; servicedesk/processes.py does not know them"
    for name, service in APP_PROCESSES.items():
        settings = _container_settings(service, monkeypatch)
        argv = PROCESSES[name].argv(settings)
        assert argv[:3] == [sys.executable, "-m", "servicedesk"], argv
        assert parse_servicedesk(argv[3:]) == parse_servicedesk(service["command"][1:]), name
    missing = sorted(set(PROCESSES) - set(SERVICES))
    assert not missing, f"servicedesk/processes.py starts {missing}; compose has no such service"


def test_web_runs_the_standalone_build_on_the_supervisors_port(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    web = SERVICES["web"]
    assert web["build"]["dockerfile"] == "infra/web.Dockerfile"
    runtime = dockerfile_stages(WEB_DOCKERFILE)[-1]
    (cmd,) = instructions(runtime, "CMD")
    assert list(cmd.value) == ["node", "server.js"]
    env = stage_env(runtime)
    assert env["HOSTNAME"] == "0.0.0.0"
    assert int(env["PORT"]) == Settings.model_fields["web_port"].default
    if "web" not in PROCESSES:
        pytest.skip("servicedesk/processes.py does not start the web portal yet")
    settings = _container_settings(web, monkeypatch)
    argv = PROCESSES["web"].argv(settings)
    # The supervisor serves the same `next build` output on WEB_PORT, on every interface.
    assert str(settings.web_port) in argv and "0.0.0.0" in argv, argv
    assert int(env["PORT"]) == settings.web_port


# --- ports ---------------------------------------------------------------------------------------


def _listening_port(name: str, service: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> int:
    """The port the process inside the container listens on."""
    if name == "web":
        return int(stage_env(dockerfile_stages(WEB_DOCKERFILE)[-1])["PORT"])
    _, params = parse_servicedesk(service["command"][1:])
    settings = _container_settings(service, monkeypatch)
    if name == "api":
        return params["port"] or settings.api_port
    if name == "mailgateway":
        return settings.mailgateway_port
    raise AssertionError(f"{name} publishes a port this test does not know how to check")


def test_published_ports_match_the_readme_and_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    readme = readme_ports()
    published = {}
    for name, service in SERVICES.items():
        for entry in service.get("ports", []):
            host, container = split_port(entry)
            variable, default = host_port_variable(host)
            published[name] = variable
            field = Settings.model_fields[variable.lower()]
            # The host port the README promises == the Settings default == the compose default ...
            assert readme[variable] == int(default) == field.default, (name, variable)
            # ... and .env.example (what `cp .env.example .env` gives) keeps it.
            assert int(interpolate(host, env_example())) == field.default, (name, variable)
            # The container side is where the process really listens.
            assert container == _listening_port(name, service, monkeypatch), name
    assert published == {"api": "API_PORT", "mailgateway": "MAILGATEWAY_PORT", "web": "WEB_PORT"}
    assert "ports" not in SERVICES["postgres"], "the database stays on the compose network"


def test_images_expose_the_ports_their_services_listen_on() -> None:
    (stage,) = dockerfile_stages(APP_DOCKERFILE)
    exposed = {int(port) for cmd in instructions(stage, "EXPOSE") for port in cmd.value}
    app_ports = {split_port(e)[1] for s in APP_SERVICES.values() for e in s.get("ports", [])}
    assert app_ports and app_ports <= exposed
    runtime = dockerfile_stages(WEB_DOCKERFILE)[-1]
    web_exposed = {int(port) for cmd in instructions(runtime, "EXPOSE") for port in cmd.value}
    assert {split_port(e)[1] for e in SERVICES["web"]["ports"]} <= web_exposed


def test_gateway_needs_no_privilege_to_listen() -> None:
    """We chose 2525 in the container (published as the host's 25) over NET_BIND_SERVICE."""
    gateway = SERVICES["mailgateway"]
    assert int(service_environment(gateway)["MAILGATEWAY_PORT"]) >= 1024
    assert not gateway.get("cap_add") and not gateway.get("privileged")
    assert gateway.get("user") in (None, "servicedesk", "10001")


# --- variables ---------------------------------------------------------------------------------


def _web_source_text() -> str:
    sources = []
    for folder in ("app", "lib", "components"):
        for path in (PROJECT_DIR / "web" / folder).rglob("*"):
            if path.suffix in {".ts", ".tsx", ".js", ".mjs"} and "node_modules" not in path.parts:
                sources.append(path.read_text(errors="ignore"))
    return "\n".join(sources)


def test_every_variable_the_compose_file_passes_is_read_by_something() -> None:
    documented = set(env_example())
    # Interpolated variables come from infra/.env: each must be documented where it is set.
    undocumented = interpolation_names(COMPOSE) - documented
    assert not undocumented, f"compose reads {sorted(undocumented)}, not in .env.example"
    web_source = _web_source_text()
    for name, service in SERVICES.items():
        passed = set(service_environment(service))
        if name in APP_SERVICES:
            unknown = passed - SETTINGS_NAMES
        elif name == "web":
            unknown = {v for v in passed if not re.search(rf"\b{v}\b", web_source)}
        elif name == "postgres":
            unknown = passed - POSTGRES_IMAGE_VARIABLES
        else:
            raise AssertionError(f"service {name}: no rule for which variables it reads")
        assert not unknown, f"{name} is given {sorted(unknown)}, which nothing there reads"
    # POSTGRES_* lines in .env.example (Settings ignores them) are read by the compose file.
    postgres_documented = {v for v in documented if v.startswith("POSTGRES_")}
    assert postgres_documented <= interpolation_names(COMPOSE)


def test_backend_services_read_infra_env_and_the_web_gets_no_secrets() -> None:
    for name, service in APP_SERVICES.items():
        assert service["env_file"] == ".env", name
    assert "env_file" not in SERVICES["web"]


def test_database_url_in_the_example_points_at_the_compose_postgres() -> None:
    postgres = service_environment(SERVICES["postgres"])
    password = interpolate(postgres["POSTGRES_PASSWORD"], env_example())
    expected = (
        f"postgresql+psycopg://{postgres['POSTGRES_USER']}:{password}@postgres:5432/"
        f"{postgres['POSTGRES_DB']}"
    )
    assert env_example()["DATABASE_URL"] == expected


# --- order, volumes ------------------------------------------------------------------------------


def test_services_start_after_a_healthy_database_and_finished_migrations() -> None:
    assert SERVICES["postgres"]["healthcheck"]["test"]
    assert SERVICES["migrate"]["command"] == ["servicedesk", "migrate"]
    assert SERVICES["migrate"]["restart"] == "no"
    assert SERVICES["migrate"]["depends_on"] == {"postgres": {"condition": "service_healthy"}}
    for name, service in APP_PROCESSES.items():
        assert service["depends_on"] == {
            "postgres": {"condition": "service_healthy"},
            "migrate": {"condition": "service_completed_successfully"},
        }, name
    assert SERVICES["web"]["depends_on"] == {"api": {"condition": "service_healthy"}}
    for name, service in SERVICES.items():
        for dependency, rule in (service.get("depends_on") or {}).items():
            if rule["condition"] == "service_healthy":
                assert SERVICES[dependency].get("healthcheck"), f"{name} waits on {dependency}"


def test_uploads_volume_and_credentials_directory(monkeypatch: pytest.MonkeyPatch) -> None:
    assert env_example()["LOCAL_UPLOAD_ROOT"] == "/data/uploads"
    assert set(COMPOSE["volumes"]) >= {"pgdata", "uploads"}
    assert "pgdata:/var/lib/postgresql/data" in SERVICES["postgres"]["volumes"]
    for name, service in APP_SERVICES.items():
        volumes = service["volumes"]
        assert "uploads:/data/uploads" in volumes, name
        (credentials,) = [v for v in volumes if "AWS_SHARED_CREDENTIALS_DIR" in v]
        source, target, mode = credentials.rsplit(":", 2)
        assert source == "${AWS_SHARED_CREDENTIALS_DIR:-./credentials}" and mode == "ro"
        # Inside the container the setting names the mount point, not the host path.
        assert _container_settings(service, monkeypatch).aws_shared_credentials_dir == target
    # The default host directory exists and git ignores whatever is put in it.
    assert (INFRA_DIR / "credentials").is_dir()
    ignored = subprocess.run(
        ["git", "check-ignore", "-q", "infra/credentials/credentials"], cwd=PROJECT_DIR
    )
    assert ignored.returncode == 0, "a credentials file in infra/credentials/ would be committed"
