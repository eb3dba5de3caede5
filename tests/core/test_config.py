from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import ValidationError

from core.config import Settings, normalise_database_url

ENV_EXAMPLE = Path(__file__).resolve().parents[2] / "infra" / ".env.example"


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgres://u:p@h:5432/d", "postgresql+psycopg://u:p@h:5432/d"),
        ("postgresql://u@h/d", "postgresql+psycopg://u@h/d"),
        ("postgresql+psycopg://u@h/d", "postgresql+psycopg://u@h/d"),
    ],
)
def test_database_url_is_normalised_to_psycopg3(given: str, expected: str) -> None:
    assert normalise_database_url(given) == expected
    assert Settings(database_url=given).database_url == expected


def test_placeholder_jwt_secret_is_refused_in_production() -> None:
    with pytest.raises(ValidationError, match="JWT_SECRET"):
        Settings(APP_ENV="production", jwt_secret="change-me")
    Settings(APP_ENV="production", jwt_secret="a" * 40)
    Settings(APP_ENV="dev", jwt_secret="change-me")


def test_helpdesk_addresses_first_is_the_reply_address() -> None:
    s = Settings(helpdesk_addresses=" Help@Univ.ac.kr, it@univ.ac.kr ")
    assert s.helpdesk_address_list == ["help@univ.ac.kr", "it@univ.ac.kr"]
    assert s.reply_address == "help@univ.ac.kr"


def _example_names() -> set[str]:
    names = set()
    for line in ENV_EXAMPLE.read_text().splitlines():
        match = re.match(r"^#?\s*([A-Z][A-Z0-9_]+)=", line)
        if match:
            names.add(match.group(1))
    return names


def _settings_names() -> set[str]:
    return {(field.alias or name).upper() for name, field in Settings.model_fields.items()}


def test_env_example_and_settings_are_in_step() -> None:
    example, settings = _example_names(), _settings_names()
    # Not Settings: NEXT_PUBLIC_* (the web build), EMBEDDED_PG_* (the quick start) and POSTGRES_*
    # (the postgres image in infra/docker-compose.yml; tests/infra checks that it uses them).
    read_elsewhere = ("NEXT_", "EMBEDDED_PG_", "POSTGRES_")
    extra = {n for n in example - settings if not n.startswith(read_elsewhere)}
    assert not extra, f"documented in .env.example but not read by Settings: {sorted(extra)}"
    missing = settings - example
    assert not missing, f"Settings fields missing from infra/.env.example: {sorted(missing)}"
