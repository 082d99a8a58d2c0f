"""API8 (security misconfiguration): what production settings allow and refuse."""

from __future__ import annotations

from pathlib import Path

import pytest
from httpx import ASGITransport, AsyncClient
from pydantic import ValidationError

from app.core.config import DEV_AUDIT_KEY, DEV_SECRET, Settings
from app.core.errors import PROBLEM_MEDIA_TYPE
from app.main import create_app
from tests import support

STRONG_SECRET = "k" * 64
SCANNER = "unix:///run/clamav/clamd.ctl"  # R-DOC-2: production needs its clamd


@pytest.fixture(autouse=True)
def _no_settings_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests are about defaults: the caller's GUICHET_* variables must not leak in."""
    for name in (
        "GUICHET_ENVIRONMENT",
        "GUICHET_JWT_SECRET",
        "GUICHET_JWT_ALGORITHM",
        "GUICHET_DOCS_ENABLED",
        "GUICHET_CORS_ORIGINS",
        "GUICHET_CORS_ALLOW_CREDENTIALS",
    ):
        monkeypatch.delenv(name, raising=False)


def _settings(**values: object) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[call-arg, arg-type]


async def test_production_serves_neither_docs_nor_openapi(tmp_path: Path) -> None:
    # test_settings() turns docs on for the test suite; production must rely on the default.
    settings = support.test_settings(
        f"sqlite+aiosqlite:///{tmp_path / 'prod.db'}",
        environment="production",
        jwt_secret=STRONG_SECRET,
        docs_enabled=None,
        documents_scanner_url="unix:///run/clamav/clamd.ctl",
    )
    assert settings.show_docs is False
    app = create_app(settings)
    try:
        async with AsyncClient(transport=ASGITransport(app=app), base_url="http://test") as http:
            for path in ("/docs", "/redoc", "/openapi.json", "/docs/oauth2-redirect"):
                response = await http.get(path)
                assert response.status_code == 404, path
                assert response.headers["content-type"] == PROBLEM_MEDIA_TYPE, path
    finally:
        await app.state.engine.dispose()


@pytest.mark.parametrize("secret", [DEV_SECRET, "changethis", "secret", "", "too-short-0123"])
def test_production_refuses_a_placeholder_or_short_secret(secret: str) -> None:
    with pytest.raises(ValidationError, match="GUICHET_JWT_SECRET"):
        _settings(environment="production", jwt_secret=secret)


def test_production_refuses_the_default_secret() -> None:
    with pytest.raises(ValidationError, match="GUICHET_JWT_SECRET"):
        _settings(environment="production")


def test_production_with_a_strong_secret_hides_docs_by_default() -> None:
    settings = _settings(
        environment="production",
        jwt_secret=STRONG_SECRET,
        audit_keys={"k": STRONG_SECRET},
        documents_scanner_url=SCANNER,
    )
    assert settings.show_docs is False


def test_cors_wildcard_with_credentials_is_refused() -> None:
    with pytest.raises(ValidationError, match="CORS"):
        _settings(cors_origins=["*"], cors_allow_credentials=True)
    with pytest.raises(ValidationError, match="CORS"):
        _settings(cors_origins=["https://guichet.example", "*"], cors_allow_credentials=True)
    assert _settings(cors_origins=["*"]).cors_allow_credentials is False


async def test_cors_answers_only_the_listed_origins(tmp_path: Path) -> None:
    settings = support.test_settings(
        f"sqlite+aiosqlite:///{tmp_path / 'cors.db'}",
        cors_origins=["https://guichet.example"],
        cors_allow_credentials=True,
    )
    app = create_app(settings)
    preflight = {"Access-Control-Request-Method": "GET"}
    try:
        async with AsyncClient(transport=ASGITransport(app=app), base_url="http://test") as http:
            listed = await http.options(
                "/api/v1/programme", headers={**preflight, "Origin": "https://guichet.example"}
            )
            other = await http.options(
                "/api/v1/programme", headers={**preflight, "Origin": "https://evil.example"}
            )
    finally:
        await app.state.engine.dispose()
    assert listed.headers["access-control-allow-origin"] == "https://guichet.example"
    assert "access-control-allow-origin" not in other.headers


AUDIT_KEYS = {"2026-12": "a" * 40}


def test_r_audit_1_production_refuses_to_start_without_its_audit_keys() -> None:
    with pytest.raises(ValidationError, match="GUICHET_AUDIT_KEYS"):
        _settings(
            environment="production",
            jwt_secret=STRONG_SECRET,
            audit_keys={},
            documents_scanner_url=SCANNER,
        )
    for weak in ({"dev": DEV_AUDIT_KEY}, {"k": "short"}):
        with pytest.raises(ValidationError, match="GUICHET_AUDIT_KEYS"):
            _settings(
                environment="production",
                jwt_secret=STRONG_SECRET,
                audit_keys=weak,
                documents_scanner_url=SCANNER,
            )
    settings = _settings(
        environment="production",
        jwt_secret=STRONG_SECRET,
        audit_keys=AUDIT_KEYS,
        documents_scanner_url=SCANNER,
    )
    assert settings.current_audit_key_id == "2026-12"


def test_r_audit_1_the_current_audit_key_is_one_of_the_keys() -> None:
    two = {**AUDIT_KEYS, "2027-01": "b" * 40}
    with pytest.raises(ValidationError, match="GUICHET_AUDIT_KEY_ID"):
        _settings(audit_keys=two)
    with pytest.raises(ValidationError, match="GUICHET_AUDIT_KEY_ID"):
        _settings(audit_keys=two, audit_key_id="2028-01")
    with pytest.raises(ValidationError, match="key id"):
        _settings(audit_keys={"bad id!": "c" * 40})
    assert _settings(audit_keys=two, audit_key_id="2027-01").current_audit_key_id == "2027-01"
    assert _settings().current_audit_key_id == "dev"  # development's default key


def test_r_audit_1_audit_keys_are_read_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GUICHET_AUDIT_KEYS", '{"k1": "' + "x" * 40 + '", "k2": "' + "y" * 40 + '"}')
    monkeypatch.setenv("GUICHET_AUDIT_KEY_ID", "k2")
    settings = _settings()
    assert set(settings.audit_keys) == {"k1", "k2"}
    assert settings.current_audit_key_id == "k2"


def test_production_refuses_to_start_without_a_malware_scanner_r_doc_2() -> None:
    """R-DOC-2: no document is served unscanned in production, so it needs clamd."""
    with pytest.raises(ValidationError, match="GUICHET_DOCUMENTS_SCANNER_URL"):
        _settings(environment="production", jwt_secret=STRONG_SECRET)
    with pytest.raises(ValidationError, match="documents_scanner_url"):
        _settings(documents_scanner_url="http://clamd:3310")
    assert _settings(documents_scanner_url="tcp://clamd:3310").documents_scanner_url
    assert _settings().documents_scanner_url is None  # development: documents `unscanned`


def test_make_run_says_which_real_parts_it_runs_without() -> None:
    """`make run` needs none of PostgreSQL, Redis, S3, ClamAV or SMTP and says which it lacks;
    configured, none is listed."""
    embedded = _settings(  # as `make run` has them (the suite's environment may name others)
        database_url="sqlite+aiosqlite:///./var/guichet.db",
        rate_limit_storage_url="memory://",
        documents_storage="filesystem",
        documents_scanner_url=None,
        smtp_host=None,
    ).embedded_defaults()
    assert [lack.split(" :")[0] for lack in embedded] == [
        "PostgreSQL",
        "Redis",
        "stockage S3",
        "ClamAV",
        "relais SMTP",
    ]
    assert "unscanned" in embedded[-2]
    real = _settings(
        database_url="postgresql+asyncpg://guichet@db/guichet",
        rate_limit_storage_url="redis://redis:6379/0",
        documents_storage="s3",
        documents_s3_bucket="guichet",
        documents_scanner_url=SCANNER,
        smtp_host="smtp.example.gouv.fr",
    )
    assert real.embedded_defaults() == []
