"""Deployment settings (never policy: programme rules live in the database)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_SECRET = "dev-only-secret-change-me-0123456789abcdef"  # noqa: S105 - refused outside dev
PLACEHOLDER_SECRETS = {"", "changethis", "secret", "change-me", DEV_SECRET}


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
    database_pool_size: int = 10
    sqlite_busy_timeout_ms: int = 5000
    statement_timeout_ms: int = 5000

    # R-AUTH-1: one verifier, one algorithm. HS256 for development and tests, RS256 in production.
    jwt_algorithm: Literal["HS256", "RS256"] = "HS256"
    jwt_secret: SecretStr = SecretStr(DEV_SECRET)
    jwt_audience: str = "guichet-fitn7"
    jwt_issuer: str = "https://guichet-fitn7.local/dev"
    jwt_jwks_file: Path | None = None
    jwt_jwks_url: str | None = None
    jwt_leeway_seconds: int = Field(default=30, ge=0, le=60)
    jwt_max_token_bytes: int = 8192
    dev_token_ttl_seconds: int = 3600

    # Issue 8 (database faults, token bounds, serving): every wait is bounded, every refusal is
    # a problem+json. The server settings feed `python -m app serve` (Makefile, Dockerfile).
    # Seconds to open a database connection (asyncpg's own default is 60) and to wait for a
    # pooled one; past either, the request answers 503 with Retry-After.
    database_connect_timeout_seconds: float = Field(default=3.0, gt=0, le=60)
    database_pool_timeout_seconds: float = Field(default=5.0, gt=0, le=60)
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

    programme_code: str = "FITN7-AXE3"
    max_body_bytes: int = 1_048_576
    docs_enabled: bool | None = None  # default: on outside production
    cors_origins: list[str] = []
    cors_allow_credentials: bool = False

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
            if self.jwt_algorithm == "RS256" and not (self.jwt_jwks_file or self.jwt_jwks_url):
                raise ValueError("RS256 needs GUICHET_JWT_JWKS_FILE or GUICHET_JWT_JWKS_URL")
        if "*" in self.cors_origins and self.cors_allow_credentials:
            raise ValueError("CORS: '*' together with credentials is refused")
        return self

    @property
    def show_docs(self) -> bool:
        """API8: never in production; elsewhere on unless switched off."""
        if self.environment == "production":
            return False
        return self.docs_enabled if self.docs_enabled is not None else True

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


@lru_cache
def get_settings() -> Settings:
    return Settings()
