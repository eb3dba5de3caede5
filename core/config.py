"""One place for every setting, read from the environment or a `.env` file.

The env names are the ones the original README promised (DATABASE_URL, JWT_SECRET, STORAGE_BACKEND,
OBJECT_STORAGE_*, SMTP_*, APP_BASE_URL, ...); `infra/.env.example` documents each of them and a test
keeps the two in step.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache
from typing import Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PLACEHOLDER_JWT_SECRETS = frozenset({"", "change-me", "changeme", "secret", "dev-insecure-secret"})
DEFAULT_DEV_JWT_SECRET = "dev-insecure-secret"  # noqa: S105 - refused in production

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class NetworkListError(ValueError):
    """A CIDR list setting that does not parse; the message names the bad entry."""


def parse_networks(value: str, *, setting: str) -> list[IPNetwork]:
    """`10.0.0.0/8, 192.0.2.7` -> networks; raises NetworkListError naming the bad entry."""
    return list(_parse_networks(value, setting))


@lru_cache(maxsize=32)  # the pipeline asks for the trusted relays once per mail
def _parse_networks(value: str, setting: str) -> tuple[IPNetwork, ...]:
    networks: list[IPNetwork] = []
    for entry in (e.strip() for e in value.split(",")):
        if not entry:
            continue
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            raise NetworkListError(
                f"{setting}: {entry!r} is not an IP address or CIDR network (e.g. 10.1.0.0/16)"
            ) from None
    return tuple(networks)


def normalise_database_url(url: str) -> str:
    """Point plain PostgreSQL URLs at the psycopg 3 driver (Heroku-style `postgres://` too)."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", case_sensitive=False)

    # --- general -------------------------------------------------------------------------
    env: Literal["dev", "test", "production"] = Field(default="dev", alias="APP_ENV")
    app_base_url: str = "http://localhost:3000"
    log_level: str = "INFO"

    # --- database ------------------------------------------------------------------------
    database_url: str = "postgresql+psycopg://postgres@127.0.0.1:5432/servicedesk"
    database_pool_size: int = 10

    # --- API -----------------------------------------------------------------------------
    api_port: int = 8000
    web_port: int = 3000
    jwt_secret: str = DEFAULT_DEV_JWT_SECRET
    jwt_expires_min: int = 720
    cors_origins: str = "http://localhost:3000"
    next_public_api_base_url: str = "http://localhost:8000"
    # Public base URL of this API; local-storage "presigned" URLs point here.
    api_public_url: str = "http://localhost:8000"
    # Set: GET /metrics wants `Authorization: Bearer <token>` (Prometheus: `authorization`
    # in the scrape config). Empty: open, for a scraper on the internal network only.
    metrics_token: str = ""

    # --- attachments ---------------------------------------------------------------------
    storage_backend: Literal["local", "object"] = "local"
    local_upload_root: str = ".data/uploads"
    attachment_max_bytes: int = 25 * 1024 * 1024
    object_storage_endpoint: str = "https://kr.object.ncloudstorage.com"
    object_storage_region: str = "kr-standard"
    object_storage_bucket: str = ""
    object_storage_access_key: str = ""
    object_storage_secret_key: str = ""
    object_storage_profile: str = "default"
    object_storage_path_style: bool = True
    object_storage_presign_expires_sec: int = 600
    aws_shared_credentials_dir: str = ""

    # --- outbound mail (the institution's internal relay) --------------------------------
    smtp_host: str = ""
    smtp_port: int = 25
    smtp_from: str = "IT Service Desk <help@localhost>"
    smtp_username: str = ""
    smtp_password: str = ""
    smtp_starttls: bool = False
    # MAIL, RCPT and DATA in one round trip when the relay offers PIPELINING (RFC 2920); off
    # for a relay that offers it and gets it wrong.
    smtp_pipelining: bool = True
    outbox_sink_dir: str = ".data/outbox"

    # --- inbound mail (our SMTP listener) ------------------------------------------------
    mailgateway_host: str = "0.0.0.0"  # noqa: S104 - the listener must be reachable by the campus MTA
    mailgateway_port: int = 25
    helpdesk_addresses: str = "help@localhost"
    mail_max_bytes: int = 30 * 1024 * 1024
    mailgateway_tls_cert: str = ""
    mailgateway_tls_key: str = ""
    mail_reply_token_secret: str = ""
    # Pipeline (core/inbound, mailgateway/worker.py).
    mailgateway_inprocess_workers: bool = True
    mail_workers: int = 4
    mail_worker_processes: int = 0  # pipeline processes the gateway starts; 0: one per CPU
    mail_max_attempts: int = 5
    mail_retry_base_seconds: int = 30
    mail_lease_seconds: int = 300
    mail_reopen_window_days: int = 14
    mail_sender_rate_limit: int = 60
    mail_max_recipients: int = 50
    mail_inflight_bytes: int = 64 * 1024 * 1024
    # Mail trust (core/mail/trust.py, docs/operations.md "Mail trust"). CIDR lists, comma
    # separated. Peers outside MAILGATEWAY_ACCEPT_FROM get `554 5.7.1` at connect; empty accepts
    # everyone outside production and refuses to start in production (`any` on purpose).
    mailgateway_accept_from: str = ""
    # The campus MTAs whose Authentication-Results (RFC 8601) with MAIL_AUTHSERV_ID we believe.
    mailgateway_trusted_relays: str = ""
    mail_authserv_id: str = ""
    # No relay checks SPF/DKIM/DMARC for us: check them here (core/mail/verify.py), asking
    # MAIL_DNS_RESOLVER (`host` or `host:port`; empty: the system's resolver).
    mail_verify_self: bool = False
    mail_dns_resolver: str = ""
    # Messages per minute from one untrusted peer IP, counted in PostgreSQL (every replica);
    # beyond it `451 4.7.1`. Trusted relays are not limited here. 0 turns it off.
    mailgateway_peer_rate_limit: int = 120
    # New tickets opened by mail per minute, all senders together; beyond it the mail is
    # quarantined as "flood" (releasable in bulk). 0 turns it off.
    mail_new_ticket_rate_limit: int = 100
    # Acknowledgements per hour to senders nobody could verify (backscatter cap); senders that
    # fail SPF or DMARC never get one.
    mail_unverified_ack_limit: int = 20

    # --- MIS user sync -------------------------------------------------------------------
    mis_database_url: str = ""
    mis_user_query: str = ""
    mis_deactivate_missing: bool = False
    mis_batch_size: int = 2000
    # Instead of MIS_USER_QUERY: a table and "field=COLUMN" pairs (fields: external_id, email,
    # name, department, phone, active), e.g. "external_id=EMP_NO,email=MAIL,name=KOR_NM".
    mis_user_table: str = ""
    mis_user_columns: str = ""
    # Refuse to deactivate more than this share of MIS-linked users in one run (a broken query
    # that returns nobody must not lock everyone out).
    mis_deactivate_max_percent: float = 10.0

    # --- scheduler -------------------------------------------------------------------------
    scheduler_timezone: str = "Asia/Seoul"
    # How often a standby tries to take the leader lock and the leader picks up "run now" requests.
    scheduler_tick_seconds: float = 5.0
    scheduler_misfire_grace_seconds: int = 60
    # Every scheduler replica also runs the outbound mail sender loop unless this is false.
    scheduler_run_mailsender: bool = True
    scheduler_sla_scan_seconds: float = 60.0
    # Cron expressions (minute hour day month weekday) in SCHEDULER_TIMEZONE; empty disables.
    scheduler_user_sync_cron: str = "0 4 * * *"
    scheduler_housekeeping_cron: str = "30 3 * * *"
    scheduler_auto_close_cron: str = "15 * * * *"

    # --- SLA -----------------------------------------------------------------------------
    # The calendar of policies without one: Monday-Friday 09:00-18:00 with Korean holidays.
    sla_default_timezone: str = "Asia/Seoul"
    sla_scan_batch_size: int = 500

    # --- housekeeping --------------------------------------------------------------------
    housekeeping_raw_mail_retention_days: int = 90
    housekeeping_stale_upload_hours: int = 24
    # Resolved tickets close after this many days without a reply; 0 disables.
    housekeeping_auto_close_days: int = 7
    housekeeping_batch_size: int = 1000
    job_run_retention_days: int = 90

    @field_validator("database_url", "mis_database_url")
    @classmethod
    def _normalise_database_url(cls, value: str) -> str:
        return normalise_database_url(value.strip())

    @model_validator(mode="after")
    def _refuse_placeholder_secret(self) -> Settings:
        if self.env == "production" and self.jwt_secret.strip().lower() in PLACEHOLDER_JWT_SECRETS:
            raise ValueError(
                "JWT_SECRET is a placeholder; set a long random value (e.g. `openssl rand -hex 32`)"
            )
        return self

    @field_validator("mailgateway_accept_from", "mailgateway_trusted_relays")
    @classmethod
    def _valid_networks(cls, value: str, info: ValidationInfo) -> str:
        value = value.strip()
        if value.lower() != "any":
            parse_networks(value, setting=(info.field_name or "").upper())
        return value

    @property
    def accept_from_networks(self) -> list[IPNetwork] | None:
        """The peers the listener talks to; None for anyone (empty or `any`)."""
        value = self.mailgateway_accept_from
        if not value or value.lower() == "any":
            return None
        return parse_networks(value, setting="MAILGATEWAY_ACCEPT_FROM")

    @property
    def trusted_relay_networks(self) -> list[IPNetwork]:
        return parse_networks(self.mailgateway_trusted_relays, setting="MAILGATEWAY_TRUSTED_RELAYS")

    @property
    def helpdesk_address_list(self) -> list[str]:
        return [a.strip().lower() for a in self.helpdesk_addresses.split(",") if a.strip()]

    @property
    def reply_address(self) -> str:
        """The address notifications ask people to answer to: the first help address."""
        return self.helpdesk_address_list[0]

    @property
    def cors_origin_list(self) -> list[str]:
        return [o.strip() for o in self.cors_origins.split(",") if o.strip()]

    @property
    def signing_secret(self) -> bytes:
        """Key for reply tokens and local presigned URLs; falls back to JWT_SECRET."""
        return (self.mail_reply_token_secret or self.jwt_secret).encode()


@lru_cache
def get_settings() -> Settings:
    return Settings()
