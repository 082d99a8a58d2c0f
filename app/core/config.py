"""Deployment settings (never policy: programme rules live in the database)."""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator
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

    programme_code: str = "FITN7-AXE3"
    max_body_bytes: int = 1_048_576
    docs_enabled: bool | None = None  # default: on outside production
    cors_origins: list[str] = []
    cors_allow_credentials: bool = False

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
