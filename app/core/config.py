"""Deployment settings (never policy: programme rules live in the database)."""

from __future__ import annotations

import ipaddress
import re
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from limits import parse as parse_rate_limit
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_SECRET = "dev-only-secret-change-me-0123456789abcdef"  # noqa: S105 - refused outside dev
PLACEHOLDER_SECRETS = {"", "changethis", "secret", "change-me", DEV_SECRET}
# R-AUDIT-1: the audit chain's development key (refused in production, like DEV_SECRET).
DEV_AUDIT_KEY = "dev-only-audit-key-change-me-0123456789abcdef"  # noqa: S105
AUDIT_KEY_ID_PATTERN = r"^[A-Za-z0-9._-]{1,40}$"


# -- rate limits (API4) --------------------------------------------------------------------
# Per caller (the token's subject, role and scope; the client address when anonymous) and per
# class of route: `read` (GET…), `write` (POST, PATCH, PUT, DELETE) and `open_data` (anything
# under /api/v1/open-data). Values use the `limits` notation: "60/minute", "5/second",
# "1000/hour". A field left unset takes the default of the environment below.
RATE_LIMIT_ROLES = ("anonymous", "candidate", "prefect", "dinum", "anct")
RATE_LIMIT_CLASSES = ("read", "write", "open_data")
PRODUCTION_RATE_LIMITS: dict[str, dict[str, str]] = {
    "anonymous": {"read": "120/minute", "write": "30/minute", "open_data": "60/minute"},
    "candidate": {"read": "600/minute", "write": "60/minute", "open_data": "60/minute"},
    "prefect": {"read": "1200/minute", "write": "120/minute", "open_data": "60/minute"},
    "dinum": {"read": "1200/minute", "write": "120/minute", "open_data": "120/minute"},
    "anct": {"read": "1200/minute", "write": "60/minute", "open_data": "120/minute"},
}
# Development and test: high enough for a scripted client (the test suite, the contract fuzzer)
# to never meet them, still stricter on writes and open data, so the limiter runs everywhere.
DEVELOPMENT_RATE_LIMITS: dict[str, dict[str, str]] = {
    role: {"read": "100000/minute", "write": "50000/minute", "open_data": "20000/minute"}
    for role in RATE_LIMIT_ROLES
}


RATE_LIMIT_STORAGE_SCHEMES = frozenset(
    {"memory", "redis", "rediss", "redis+unix", "redis+sentinel", "redis+cluster"}
)


class RateLimits(BaseModel):
    """`GUICHET_RATE_LIMITS__<ROLE>_<CLASS>`: GUICHET_RATE_LIMITS__CANDIDATE_WRITE=60/minute."""

    model_config = ConfigDict(extra="forbid")

    anonymous_read: str | None = None
    anonymous_write: str | None = None
    anonymous_open_data: str | None = None
    candidate_read: str | None = None
    candidate_write: str | None = None
    candidate_open_data: str | None = None
    prefect_read: str | None = None
    prefect_write: str | None = None
    prefect_open_data: str | None = None
    dinum_read: str | None = None
    dinum_write: str | None = None
    dinum_open_data: str | None = None
    anct_read: str | None = None
    anct_write: str | None = None
    anct_open_data: str | None = None

    @field_validator("*")
    @classmethod
    def _parsable(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                parse_rate_limit(value)
            except ValueError as exc:
                raise ValueError(f"rate limit {value!r}: expected e.g. '60/minute'") from exc
        return value


class Settings(BaseSettings):
    """Settings read from `GUICHET_*` environment variables (or `.env`)."""

    model_config = SettingsConfigDict(
        env_prefix="GUICHET_", env_file=".env", env_nested_delimiter="__", extra="ignore"
    )

    environment: Literal["development", "test", "production"] = "development"
    database_url: str = "sqlite+aiosqlite:///./var/guichet.db"
    # "queue" (default pool) or "null" (one connection per checkout: used when the same app
    # object is driven from several event loops, e.g. by an in-process contract fuzzer).
    database_pool: Literal["queue", "null"] = "queue"
    # The engine's pool; the autocommit reads' own (app/core/reads.py, `ReadPool`) holds as
    # many again at most (size + overflow), its idle connections closed after 5 minutes.
    # 5 (issue 28, 2026-12-07): a write holds the audit chain's head from its lock to its
    # COMMIT, each round trip under it waiting for its turn in the event loop, which is longer
    # the more transactions run at once: the burst of 200 submissions on one worker answered
    # its p99 in 337-474 ms with 5 against 480-582 ms with 10, the bench's reads the same.
    database_pool_size: int = Field(default=5, ge=1)
    database_pool_overflow: int = Field(default=0, ge=0)
    sqlite_busy_timeout_ms: int = 5000
    statement_timeout_ms: int = 5000

    # R-AUTH-1: one verifier, one algorithm. HS256 for the embedded development setup and the
    # tests; RS256 or ES256 in production, from the deployment's settings, never the token.
    jwt_algorithm: Literal["HS256", "RS256", "ES256"] = "HS256"
    jwt_secret: SecretStr = SecretStr(DEV_SECRET)
    jwt_audience: str = "guichet-fitn7"
    jwt_issuer: str = "https://guichet-fitn7.local/dev"
    jwt_jwks_file: Path | None = None
    jwt_jwks_url: str | None = None
    jwt_leeway_seconds: int = Field(default=30, ge=0, le=60)
    jwt_max_token_bytes: int = 8192
    dev_token_ttl_seconds: int = 3600
    # R-AUTH-2: the service's own signing key (PEM: RSA for RS256, EC P-256 for ES256). When set,
    # it signs the exchanged tokens and the CLI's development tokens, the verifier checks them
    # with its public half, and /.well-known/jwks.json publishes that half under `jwt_signing_kid`
    # (default: its RFC 7638 thumbprint).
    jwt_signing_key: SecretStr | None = None
    jwt_signing_key_file: Path | None = None
    jwt_signing_kid: str | None = Field(default=None, max_length=100)
    access_token_ttl_seconds: int = Field(default=900, ge=60, le=3600)

    # R-AUTH-2: ProConnect (OpenID Connect). Endpoints and keys come from the issuer's discovery
    # document; `proconnect_client_ids` are the audiences accepted for an exchanged ID token
    # (the front-ends' client ids, and this service's own for the server-side flow).
    proconnect_issuer: str | None = None
    proconnect_client_ids: list[str] = []
    proconnect_id_token_alg: Literal["RS256", "ES256"] = "RS256"
    proconnect_client_id: str | None = None
    proconnect_client_secret: SecretStr | None = None
    proconnect_redirect_uri: str | None = None  # this service's /auth/proconnect/callback
    proconnect_frontend_redirect_uri: str | None = None  # the page that receives the code
    proconnect_post_logout_redirect_uri: str | None = None
    proconnect_scopes: str = "openid email given_name usual_name uid siret idp_id roles"
    proconnect_userinfo: bool = False  # also read the signed userinfo (server-side flow)
    proconnect_allow_http: bool = False  # a http:// issuer (tests); refused in production
    # An unknown `kid` refetches the provider's JWKS at most once per this many seconds.
    proconnect_jwks_min_refresh_seconds: float = Field(default=10.0, ge=0, le=3600)
    proconnect_timeout_seconds: float = Field(default=5.0, gt=0, le=30)
    signin_code_ttl_seconds: int = Field(default=60, ge=5, le=600)
    signin_state_ttl_seconds: int = Field(default=600, ge=30, le=3600)

    # Issue 8 (database faults, token bounds, serving): every wait is bounded, every refusal is
    # a problem+json. The server settings feed `python -m app serve` (Makefile, Dockerfile).
    # Seconds to open a database connection (asyncpg's own default is 60) and to wait for a
    # pooled one; past either, the request answers 503 with Retry-After.
    database_connect_timeout_seconds: float = Field(default=3.0, gt=0, le=60)
    database_pool_timeout_seconds: float = Field(default=5.0, gt=0, le=60)
    # Issue 13: no pre-ping round trip on every checkout; a pooled connection is replaced after
    # this age (below the usual idle cut of proxies and servers), and one found dead at its
    # first statement invalidates the pool and answers 503 with Retry-After (the client's retry
    # then gets a fresh connection).
    database_pool_recycle_seconds: int = Field(default=1800, ge=1)
    # R-AUTH-1: the longest accepted token lifetime (exp - iat); ProConnect tokens live 1 h.
    jwt_max_lifetime_seconds: int = Field(default=6 * 3600, ge=60, le=7 * 24 * 3600)
    # Requests (not connections) in flight per process; over it: 503 problem+json.
    max_in_flight_requests: int = Field(default=256, ge=1)
    server_host: str = "127.0.0.1"
    server_port: int = Field(default=8000, ge=0, le=65535)
    # Outlives a load balancer's idle timeout (60 s on most), so the server never closes a
    # connection the balancer is about to reuse.
    server_keep_alive_seconds: int = Field(default=75, ge=1, le=3600)
    # uvicorn's limit counts connections, idle keep-alive ones included: far above ours.
    server_limit_concurrency: int = Field(default=4096, ge=1)
    server_workers: int = Field(default=1, ge=1)
    # Issue 13: at the end of startup, what is alive (modules, schemas, mappers, the contract,
    # the reference data) moves to the collector's permanent generation (`gc.freeze()`), so
    # that full collections no longer walk it: they took 120–200 ms every second or so under
    # the list load, 15–20 ms after. Off in the test suite, which builds many apps in one
    # process (frozen objects are never collected).
    server_gc_freeze: bool = True
    # Issue 28: at startup, FastAPI's routes are built (a request for nothing walks them) and
    # the national dashboard's statements compiled (its figures computed once, kept nowhere),
    # so that the first request and the first read do not pay for it. Off in the test suite
    # (each app would run it).
    server_warm_up: bool = True

    # R-AUDIT-1: the audit chain's HMAC-SHA256 keys, by key id, held outside the database:
    # GUICHET_AUDIT_KEYS='{"2026-12": "<32+ random characters>"}'. `audit_key_id` seals new
    # events (default: the only key); older keys stay listed as long as events sealed under them
    # must verify. Development and tests have a default key; production refuses to start
    # without its own.
    audit_keys: dict[str, SecretStr] = {"dev": SecretStr(DEV_AUDIT_KEY)}
    audit_key_id: str | None = None
    # The chain head is anchored outside the database by a checkpoint signed with the service's
    # key (app/audit/checkpoints.py): published every this many seconds when the head moved
    # (0: only on demand, POST /audit-events/checkpoints).
    audit_checkpoint_interval_seconds: float = Field(default=3600.0, ge=0, le=7 * 24 * 3600)

    programme_code: str = "FITN7-AXE3"
    # `make run` loads the demonstration data set into an empty database (`python -m app demo
    # --if-empty`, app/demo/) unless this is false. The demo itself is refused in production.
    demo_data: bool = True
    max_body_bytes: int = 1_048_576
    docs_enabled: bool | None = None  # default: on outside production
    cors_origins: list[str] = []
    cors_allow_credentials: bool = False

    # R-HOOK-1 webhooks (app/webhooks). The worker delivers the outbox: one background task per
    # API process (`webhook_worker_enabled`), or alone with `python -m app worker`.
    webhook_worker_enabled: bool = True
    webhook_poll_seconds: float = Field(default=1.0, gt=0, le=60)
    webhook_batch_size: int = Field(default=20, ge=1, le=500)
    # A claimed delivery not settled within the lease (worker dead mid-delivery) is retried.
    webhook_lease_seconds: int = Field(default=60, ge=5, le=3600)
    webhook_timeout_seconds: float = Field(default=5.0, gt=0, le=30)
    # Old secret still signs (beside the new one) this long after a rotation.
    webhook_secret_grace_hours: int = Field(default=24, ge=0, le=24 * 7)
    # SSRF guard (app/webhooks/guard.py): https to public addresses on port 443 only, unless
    # loopback (and http) is allowed, for development and tests; refused in production. A
    # non-empty host allow-list restricts hosts; the port allow-list adds ports beside 443.
    webhook_allow_loopback: bool = False
    webhook_allowed_hosts: list[str] = []
    webhook_allowed_ports: list[Annotated[int, Field(ge=1, le=65535)]] = []

    # Issue 14: démarches-simplifiées (DS) GraphQL API v2 (app/ds). The token is a DS API
    # token of the prefecture or DINUM; `ds_instructeur_id` is the instructeur the decisions
    # are written back as. DS allows about 400 requests a minute per token: stay under it.
    ds_api_url: str = "https://www.demarches-simplifiees.fr/api/v2/graphql"
    ds_api_token: SecretStr | None = None
    ds_instructeur_id: str | None = None
    ds_timeout_seconds: float = Field(default=15.0, gt=0, le=120)
    ds_max_retries: int = Field(default=4, ge=0, le=10)
    ds_requests_per_minute: int = Field(default=350, ge=1, le=400)
    ds_page_size: int = Field(default=100, ge=1, le=100)
    # Longest wait honoured from a 429's Retry-After (longer: the call fails and is retried).
    ds_max_retry_after_seconds: float = Field(default=60.0, ge=0, le=600)
    ds_worker_enabled: bool = True

    # Issue 24, documents (app/documents): the bytes live under `documents_dir` (the embedded
    # default) or in an S3-compatible bucket; an upload is refused past `documents_max_bytes`
    # while it is read (R-DOC-2; the programme's limit in step C).
    documents_storage: Literal["filesystem", "s3"] = "filesystem"
    documents_dir: str = "var/documents"
    documents_s3_bucket: str = "guichet-documents"
    documents_s3_prefix: str = ""
    documents_s3_endpoint: str = ""  # empty: AWS's regional endpoint
    documents_s3_region: str = "us-east-1"
    documents_s3_access_key_id: str | None = None
    documents_s3_secret_access_key: SecretStr | None = None
    documents_max_bytes: int = Field(default=20 * 1024 * 1024, ge=1024, le=1024**3)
    # R-DOC-2: the malware scanner (ClamAV's clamd: unix:///run/clamav/clamd.ctl or
    # tcp://host:3310). Unset: documents are `unscanned`, served only outside production.
    documents_scanner_url: str | None = Field(
        default=None, pattern=r"^(unix:///[^\s]+|tcp://[^\s/:]+:[0-9]{1,5})$"
    )
    # The scan worker: a background task of each API process, as the webhook worker.
    documents_scan_worker_enabled: bool = True
    documents_scan_poll_seconds: float = Field(default=2.0, gt=0, le=60)
    documents_scan_batch_size: int = Field(default=5, ge=1, le=100)
    documents_scan_lease_seconds: int = Field(default=300, ge=10, le=3600)
    # R-NOTIF-1 e-mail notifications (app/notifications). Without `smtp_host` (development,
    # `make run`) messages are written as .eml files under `notification_mail_dir`, never
    # dropped. With it, sent to that relay (STARTTLS on `smtp_port` unless `smtp_tls` asks
    # for implicit TLS, authentication when a user is set).
    smtp_host: str | None = None
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_starttls: bool = True
    smtp_tls: bool = False  # implicit TLS (port 465) instead of STARTTLS
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_timeout_seconds: float = Field(default=10.0, gt=0, le=120)
    # A private relay's CA (PEM), beside the system's; the relay's certificate is always checked.
    smtp_ca_file: Path | None = None
    smtp_from: str = "Guichet FITN7 <ne-pas-repondre@guichet-fitn7.example.gouv.fr>"
    # Message-ID's domain (`<uuid@domain>`): stable, so a resend is recognisable.
    smtp_message_id_domain: str = "guichet-fitn7.example.gouv.fr"
    notification_mail_dir: Path = Path("var/mail")
    # The front-end's URL: each e-mail links to `{frontend_url}/dossiers/{id}`.
    frontend_url: str = "http://localhost:8000"
    notification_worker_enabled: bool = True
    notification_poll_seconds: float = Field(default=2.0, gt=0, le=60)
    notification_batch_size: int = Field(default=20, ge=1, le=500)
    notification_lease_seconds: int = Field(default=120, ge=5, le=3600)
    notification_max_attempts: int = Field(default=8, ge=1, le=50)
    # R-COM-1: how often the worker looks for committees that became due.
    notification_due_check_seconds: float = Field(default=60.0, ge=0, le=86400)

    # R-ELIG-8, demonstrations of a past programme: the service's clock reads this instant
    # (ISO 8601 with its offset) at the database's first start and runs on from there; the
    # offset is stored in the database and kept (app.core.clock.settle_offset). Refused in
    # production. Empty means unset (`make run CLOCK_START=`).
    clock_start: datetime | None = None

    @field_validator("clock_start", mode="before")
    @classmethod
    def _empty_clock_start_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @model_validator(mode="after")
    def _check_webhook_loopback(self) -> Settings:
        if self.webhook_allow_loopback and self.environment == "production":
            raise ValueError("GUICHET_WEBHOOK_ALLOW_LOOPBACK is refused in production")
        return self

    @model_validator(mode="after")
    def _check_clock_start(self) -> Settings:
        if self.clock_start is None:
            return self
        if self.clock_start.tzinfo is None:
            raise ValueError(
                "GUICHET_CLOCK_START needs its UTC offset (e.g. 2021-03-01T09:00:00+01:00)"
            )
        if self.environment == "production":
            raise ValueError("GUICHET_CLOCK_START is refused in production (real time only)")
        return self

    # API4 rate limiting (app/core/ratelimit.py). Counters live in `rate_limit_storage_url`:
    # memory:// for the embedded single process, redis://host:6379/0 (or async+redis://…)
    # shared by every instance in production.
    rate_limit_enabled: bool = True
    rate_limit_storage_url: str = "memory://"
    rate_limit_key_prefix: str = "guichet"
    rate_limit_strategy: Literal["moving-window", "fixed-window", "sliding-window-counter"] = (
        "moving-window"
    )
    # Redis unreachable or slow beyond this: the request goes through unlimited (fail-open,
    # logged) and the store is left alone for `rate_limit_retry_seconds`.
    rate_limit_storage_timeout_ms: int = Field(default=250, ge=10, le=5000)
    rate_limit_retry_seconds: float = Field(default=5.0, ge=0, le=300)
    # Redis connections an instance counts on, at most: requests beyond wait for one in turn
    # (each holds it for one EVALSHA, bounded by the timeout above).
    rate_limit_storage_max_connections: int = Field(default=16, ge=1, le=1024)
    rate_limits: RateLimits = RateLimits()
    # Peers whose X-Forwarded-For is believed, as uvicorn's --forwarded-allow-ips: a
    # comma-separated list of IP addresses or networks, or "*" (every peer: only behind a proxy
    # that overwrites the header). Empty: the peer address is the client, always.
    forwarded_allow_ips: str = ""

    # Observability (issue 11). One JSON line per request on stdout (`app.access` logger).
    access_log: bool = True
    # GET /metrics: open outside production unless one of these is set; in production it
    # answers only a bearer token equal to `metrics_token`, or a peer inside
    # `metrics_allowed_networks` (comma-separated addresses or networks), and is off (404)
    # when neither is set.
    metrics_token: SecretStr | None = None
    metrics_allowed_networks: str = ""

    @field_validator("metrics_allowed_networks")
    @classmethod
    def _networks(cls, value: str) -> str:
        for entry in (item.strip() for item in value.split(",")):
            if entry:
                ipaddress.ip_network(entry, strict=False)  # ValueError names the bad entry
        return value

    @field_validator("metrics_token")
    @classmethod
    def _strong_metrics_token(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < 32:
            raise ValueError("GUICHET_METRICS_TOKEN must be 32 characters or more")
        return value

    @field_validator("rate_limit_storage_url")
    @classmethod
    def _known_storage(cls, value: str) -> str:
        scheme = value.split("://", 1)[0].removeprefix("async+")
        if "://" not in value or scheme not in RATE_LIMIT_STORAGE_SCHEMES:
            raise ValueError("rate limit storage: memory:// or redis://host:port/db expected")
        return value

    @field_validator("forwarded_allow_ips")
    @classmethod
    def _ip_list(cls, value: str) -> str:
        for entry in (item.strip() for item in value.split(",")):
            if entry and entry != "*":
                ipaddress.ip_network(entry, strict=False)  # ValueError names the bad entry
        return value

    @model_validator(mode="after")
    def _check_production(self) -> Settings:
        if self.environment == "production":
            if self.jwt_algorithm == "HS256" and (
                self.jwt_secret.get_secret_value() in PLACEHOLDER_SECRETS
                or len(self.jwt_secret.get_secret_value()) < 32
            ):
                raise ValueError(
                    "GUICHET_JWT_SECRET must be set to a strong secret (32+ chars) in production"
                )
            if self.jwt_algorithm != "HS256" and not (
                self.jwt_jwks_file or self.jwt_jwks_url or self.has_signing_key
            ):
                raise ValueError(
                    f"{self.jwt_algorithm} needs GUICHET_JWT_SIGNING_KEY(_FILE), "
                    "GUICHET_JWT_JWKS_FILE or GUICHET_JWT_JWKS_URL"
                )
            if self.proconnect_allow_http:
                raise ValueError("GUICHET_PROCONNECT_ALLOW_HTTP is refused in production")
            if not self.documents_scanner_url:
                # R-DOC-2: no document is served unscanned in production.
                raise ValueError(
                    "GUICHET_DOCUMENTS_SCANNER_URL (clamd: unix:///run/clamav/clamd.ctl or "
                    "tcp://host:3310) must be set in production"
                )
        if self.has_signing_key and self.jwt_algorithm == "HS256":
            raise ValueError("a signing key needs GUICHET_JWT_ALGORITHM=RS256 or ES256")
        if self.jwt_signing_key is not None and self.jwt_signing_key_file is not None:
            raise ValueError(
                "set GUICHET_JWT_SIGNING_KEY or GUICHET_JWT_SIGNING_KEY_FILE, not both"
            )
        if "*" in self.cors_origins and self.cors_allow_credentials:
            raise ValueError("CORS: '*' together with credentials is refused")
        return self

    @model_validator(mode="after")
    def _check_audit_keys(self) -> Settings:
        """R-AUDIT-1: at least one key, ids of safe characters, the current one listed; in
        production, strong keys of its own (never the development key)."""
        if not self.audit_keys:
            raise ValueError("GUICHET_AUDIT_KEYS must hold at least one key")
        for key_id, key in self.audit_keys.items():
            if re.fullmatch(AUDIT_KEY_ID_PATTERN, key_id) is None:
                raise ValueError(f"GUICHET_AUDIT_KEYS: key id {key_id!r} (A-Z a-z 0-9 . _ -)")
            if self.environment == "production" and (
                key.get_secret_value() in PLACEHOLDER_SECRETS | {DEV_AUDIT_KEY}
                or len(key.get_secret_value()) < 32
            ):
                raise ValueError(
                    "GUICHET_AUDIT_KEYS must be set to strong keys (32+ chars) in production"
                )
        if self.audit_key_id is None and len(self.audit_keys) > 1:
            raise ValueError("GUICHET_AUDIT_KEY_ID must name the current one of GUICHET_AUDIT_KEYS")
        if self.audit_key_id is not None and self.audit_key_id not in self.audit_keys:
            raise ValueError("GUICHET_AUDIT_KEY_ID is not one of GUICHET_AUDIT_KEYS")
        return self

    @property
    def current_audit_key_id(self) -> str:
        return self.audit_key_id or next(iter(self.audit_keys))

    @property
    def has_signing_key(self) -> bool:
        return self.jwt_signing_key is not None or self.jwt_signing_key_file is not None

    def signing_key_pem(self) -> str | None:
        """R-AUTH-2: the service's own private key (PEM), if configured."""
        if self.jwt_signing_key is not None:
            return self.jwt_signing_key.get_secret_value()
        if self.jwt_signing_key_file is not None:
            return self.jwt_signing_key_file.read_text(encoding="utf-8")
        return None

    @property
    def show_docs(self) -> bool:
        """API8: never in production; elsewhere on unless switched off."""
        if self.environment == "production":
            return False
        return self.docs_enabled if self.docs_enabled is not None else True

    def rate_limit(self, role: str, route_class: str) -> str:
        """The limit of a role (or "anonymous") on a class of route: set, or the default."""
        value: str | None = getattr(self.rate_limits, f"{role}_{route_class}")
        if value is not None:
            return value
        table = (
            PRODUCTION_RATE_LIMITS if self.environment == "production" else DEVELOPMENT_RATE_LIMITS
        )
        return table[role][route_class]

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    def embedded_defaults(self) -> list[str]:
        """The real parts this instance runs without, and what stands in for each (`make run`
        says them at start: none is needed outside production)."""
        lacks = []
        if self.is_sqlite:
            lacks.append("PostgreSQL : base SQLite embarquée (un seul processus)")
        if self.rate_limit_storage_url.startswith("memory"):
            lacks.append("Redis : limites de débit comptées en mémoire (un seul processus)")
        if self.documents_storage == "filesystem":
            lacks.append(f"stockage S3 : documents sous {self.documents_dir}")
        if not self.documents_scanner_url:
            lacks.append("ClamAV : documents non analysés, marqués « unscanned » (R-DOC-2)")
        if not self.smtp_host:
            lacks.append(f"relais SMTP : courriels écrits sous {self.notification_mail_dir}")
        return lacks


@lru_cache
def get_settings() -> Settings:
    return Settings()
