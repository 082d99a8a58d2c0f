"""R-AUTH-1 through HTTP: GET /api/v1/auth/me with good and bad bearer tokens, and the token CLI.

RELIABILITY.md §1 API2: every refused token answers 401 problem+json with
`WWW-Authenticate: Bearer error="invalid_token"` (plain `Bearer` when no bearer token was sent).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from httpx import AsyncClient

from app import __main__ as cli
from app.auth.principal import Principal
from app.core.config import Settings, get_settings
from app.core.tokens import TokenVerifier
from tests.conftest import Actors
from tests.unit.auth.jwt_forge import (
    DROP,
    RsaKey,
    assemble,
    claims_for,
    hs256_token,
    new_rsa_key,
    sign_hs256,
    sign_rs256,
)

ME = "/api/v1/auth/me"
PROJECT_ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def rsa_key() -> RsaKey:
    return new_rsa_key("idp-key")


def assert_401(response: Any, *, token_sent: bool, token: str | None = None) -> None:
    assert response.status_code == 401, response.text
    assert response.headers["content-type"] == "application/problem+json"
    challenge = response.headers["www-authenticate"]
    assert challenge.startswith("Bearer")
    if token_sent:
        # RFC 6750 §3: the error, and a description of why (ASCII, no token echoed)
        assert challenge.startswith('Bearer error="invalid_token", error_description="')
    else:
        assert challenge == "Bearer"
    body = response.json()
    assert body["status"] == 401
    assert body["code"] == "R-AUTH-1"
    assert body["instance"] == ME
    if token:
        assert token not in response.text  # the token is never echoed back


# --------------------------------------------------------------------- no bearer token at all

NO_BEARER = [
    pytest.param({}, id="no-authorization-header"),
    pytest.param({"Authorization": "Basic dXNlcjpwYXNzd29yZA=="}, id="basic-auth"),
    pytest.param({"Authorization": "Bearer"}, id="bearer-without-token"),
    pytest.param({"Authorization": "Bearer "}, id="bearer-empty-token"),
    pytest.param({"Authorization": "Token abc.def.ghi"}, id="other-scheme"),
    pytest.param({"X-Access-Token": "abc.def.ghi"}, id="token-in-another-header"),
]


@pytest.mark.parametrize("headers", NO_BEARER)
async def test_r_auth_1_no_bearer_token_is_401_with_plain_bearer_challenge(
    client: AsyncClient, headers: dict[str, str]
) -> None:
    assert_401(await client.get(ME, headers=headers), token_sent=False)


async def test_r_auth_1_token_in_query_string_is_ignored(
    client: AsyncClient, settings: Settings
) -> None:
    good = hs256_token(settings)
    response = await client.get(ME, params={"access_token": good})
    assert_401(response, token_sent=False, token=good)


# --------------------------------------------------------------------------- bad bearer tokens

TokenBuilder = Callable[[Settings, RsaKey], str]


def _now() -> int:
    return int(time.time())


BAD_TOKENS: list[Any] = [
    pytest.param(lambda s, k: "not-a-jwt", id="malformed-one-segment"),
    pytest.param(lambda s, k: "a.b.c", id="malformed-garbage"),
    pytest.param(lambda s, k: "Bearer abc", id="malformed-with-space"),
    pytest.param(
        lambda s, k: assemble({"alg": "none", "typ": "JWT"}, claims_for(s)), id="alg-none"
    ),
    pytest.param(
        lambda s, k: sign_hs256({"alg": "HS256"}, claims_for(s), b"not-the-secret-" * 3),
        id="wrong-secret",
    ),
    pytest.param(
        lambda s, k: sign_hs256({"alg": "HS256"}, claims_for(s), k.public_der()),
        id="hs256-keyed-with-an-rsa-public-key-der",
    ),
    pytest.param(
        lambda s, k: sign_rs256({"alg": "RS256", "kid": k.kid}, claims_for(s), k.private),
        id="rs256-token-to-the-hs256-service",
    ),
    pytest.param(lambda s, k: hs256_token(s, iat=_now() - 7200, exp=_now() - 3600), id="expired"),
    pytest.param(lambda s, k: hs256_token(s, nbf=_now() + 600), id="nbf-in-the-future"),
    pytest.param(
        lambda s, k: hs256_token(s, iat=_now() + 600, exp=_now() + 1200),
        id="iat-in-the-future",
    ),
    pytest.param(lambda s, k: hs256_token(s, exp=DROP), id="missing-exp"),
    pytest.param(lambda s, k: hs256_token(s, iat=DROP), id="missing-iat"),
    pytest.param(lambda s, k: hs256_token(s, aud=DROP), id="missing-aud"),
    pytest.param(
        lambda s, k: hs256_token(s, aud="another-proconnect-client-id"),
        id="wrong-aud-id-token-for-another-client",
    ),
    pytest.param(lambda s, k: hs256_token(s, iss=DROP), id="missing-iss"),
    pytest.param(lambda s, k: hs256_token(s, iss="https://attacker.example"), id="wrong-iss"),
    pytest.param(lambda s, k: hs256_token(s, sub=DROP), id="missing-sub"),
    pytest.param(lambda s, k: hs256_token(s, sub=""), id="empty-sub"),
    pytest.param(lambda s, k: hs256_token(s, role=DROP), id="missing-role"),
    pytest.param(lambda s, k: hs256_token(s, role="admin"), id="unknown-role"),
    pytest.param(lambda s, k: hs256_token(s, role="Dinum"), id="role-wrong-case"),
    pytest.param(lambda s, k: hs256_token(s, role=["dinum"]), id="role-not-a-string"),
    pytest.param(lambda s, k: hs256_token(s, role="prefect"), id="prefect-without-departement"),
    pytest.param(
        lambda s, k: hs256_token(s, role="prefect", departement="99"),
        id="prefect-invalid-departement-99",
    ),
    pytest.param(
        lambda s, k: hs256_token(s, role="prefect", departement="20"),
        id="prefect-invalid-departement-20",
    ),
    pytest.param(
        lambda s, k: hs256_token(s, role="prefect", departement=13),
        id="prefect-departement-not-a-string",
    ),
    pytest.param(lambda s, k: hs256_token(s, role="candidate"), id="candidate-without-siren"),
    pytest.param(
        lambda s, k: hs256_token(s, role="candidate", siren="211300554"),
        id="candidate-siren-bad-luhn",
    ),
    pytest.param(
        lambda s, k: hs256_token(s, role="candidate", siren="21130055"),
        id="candidate-siren-8-digits",
    ),
    pytest.param(
        lambda s, k: hs256_token(s, padding="x" * (s.jwt_max_token_bytes + 1)),
        id="over-8-KiB",
    ),
    # Issue 8 item 5: each of these answered 200 (or a 500 for the long subject).
    pytest.param(lambda s, k: hs256_token(s, sub="s" * 256), id="sub-over-255-chars"),
    pytest.param(lambda s, k: hs256_token(s, sub="s" * 5000), id="sub-5000-chars"),
    pytest.param(lambda s, k: hs256_token(s, iat=True), id="iat-true"),
    pytest.param(lambda s, k: hs256_token(s, exp=str(_now() + 600)), id="exp-a-string"),
    pytest.param(lambda s, k: hs256_token(s, exp=1e30), id="exp-1e30"),
    pytest.param(lambda s, k: hs256_token(s, exp=_now() + 400 * 86400), id="exp-in-400-days"),
    pytest.param(
        lambda s, k: hs256_token(s, iat=_now(), exp=_now() + s.jwt_max_lifetime_seconds + 1),
        id="lifetime-one-second-over-the-maximum",
    ),
    pytest.param(
        lambda s, k: hs256_token(s, role="candidate", siren="２１１３００５５３"),
        id="candidate-siren-full-width-digits",
    ),
    pytest.param(
        lambda s, k: hs256_token(s, role="prefect", departement="１３"),
        id="prefect-departement-full-width-digits",
    ),
    pytest.param(
        lambda s, k: hs256_token(s, header={"crit": ["urn:example:ext"], "urn:example:ext": 1}),
        id="unknown-crit-header",
    ),
]


@pytest.mark.parametrize("build", BAD_TOKENS)
async def test_r_auth_1_bad_token_is_401_invalid_token_problem(
    client: AsyncClient, settings: Settings, rsa_key: RsaKey, build: TokenBuilder
) -> None:
    token = build(settings, rsa_key)
    response = await client.get(ME, headers={"Authorization": f"Bearer {token}"})
    assert_401(response, token_sent=True, token=token)


async def test_r_auth_1_subject_of_255_chars_and_the_maximum_lifetime_are_accepted(
    client: AsyncClient, settings: Settings
) -> None:
    """The controls of the bounds above: exactly at the limit is accepted."""
    now = _now()
    token = hs256_token(
        settings, sub="s" * 255, iat=now, exp=now + settings.jwt_max_lifetime_seconds
    )
    response = await client.get(ME, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.text
    assert response.json()["subject"] == "s" * 255


async def test_r_auth_1_lowercase_bearer_scheme_is_accepted(
    client: AsyncClient, settings: Settings
) -> None:
    """RFC 7235: the auth scheme is case-insensitive (the control for the rows above)."""
    response = await client.get(ME, headers={"Authorization": f"bearer {hs256_token(settings)}"})
    assert response.status_code == 200, response.text


# --------------------------------------------------------------------------------- good tokens


def _expected(principal: Principal, scope: str) -> dict[str, Any]:
    return {
        "subject": principal.subject,
        "role": principal.role.value,
        "departement": principal.departement,
        "siren": principal.siren,
        "scope": scope,
        "mapping_rule": None,  # R-AUTH-2: only an exchanged token names its mapping rule
    }


@pytest.mark.parametrize(
    ("actor", "scope"),
    [
        ("pref13", "département 13"),
        ("pref75", "département 75"),
        ("dinum", "national"),
        ("anct", "national"),
        ("cand_a", "SIREN 211300553"),
        ("cand_b", "SIREN 211300017"),
    ],
)
async def test_r_auth_1_each_role_token_gives_its_role_and_scope(
    client: AsyncClient, actors: Actors, headers: Any, actor: str, scope: str
) -> None:
    principal: Principal = getattr(actors, actor)
    response = await client.get(ME, headers=headers(principal))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.json() == _expected(principal, scope)


async def test_r_auth_1_stray_scope_claims_do_not_widen_the_scope(
    client: AsyncClient, settings: Settings
) -> None:
    """A candidate token that also carries `departement` stays a SIREN-scoped candidate."""
    token = hs256_token(
        settings, sub="agent-x", role="candidate", siren="211300553", departement="75"
    )
    response = await client.get(ME, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.text
    assert response.json()["departement"] is None
    assert response.json()["scope"] == "SIREN 211300553"


async def test_r_auth_1_token_expired_within_leeway_is_accepted(
    client: AsyncClient, settings: Settings
) -> None:
    assert settings.jwt_leeway_seconds == 30
    token = hs256_token(settings, iat=_now() - 600, exp=_now() - 10)
    response = await client.get(ME, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.text


# ------------------------------------------------------------------------------------ the CLI


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, settings: Settings) -> Iterator[dict[str, str]]:
    """The environment of `python -m app token`, matching the test app's HS256 settings."""
    env = {
        "GUICHET_ENVIRONMENT": "test",
        "GUICHET_JWT_ALGORITHM": "HS256",
        "GUICHET_JWT_SECRET": settings.jwt_secret.get_secret_value(),
        "GUICHET_JWT_AUDIENCE": settings.jwt_audience,
        "GUICHET_JWT_ISSUER": settings.jwt_issuer,
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    yield env
    get_settings.cache_clear()


async def test_r_auth_1_cli_mints_a_prefect_token_that_verifies(
    client: AsyncClient,
    settings: Settings,
    cli_env: dict[str, str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert cli.main(["token", "--role", "prefect", "--departement", "13"]) == 0
    token = capsys.readouterr().out.strip()
    assert token.count(".") == 2

    claims = await TokenVerifier(settings).verify(token)
    assert (claims.sub, claims.role, claims.departement, claims.siren) == (
        "dev-prefect",
        "prefect",
        "13",
        None,
    )
    assert claims.raw["exp"] - claims.raw["iat"] == settings.dev_token_ttl_seconds

    response = await client.get(ME, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.text
    assert response.json()["role"] == "prefect"
    assert response.json()["departement"] == "13"


async def test_r_auth_1_cli_mints_a_candidate_token_that_verifies(
    settings: Settings, cli_env: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["token", "--role", "candidate", "--siren", "211300553", "--sub", "me", "--ttl", "60"]
    assert cli.main(argv) == 0
    claims = await TokenVerifier(settings).verify(capsys.readouterr().out.strip())
    assert (claims.sub, claims.role, claims.siren) == ("me", "candidate", "211300553")
    assert claims.raw["exp"] - claims.raw["iat"] == 60


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        pytest.param(["token", "--role", "prefect"], "--departement", id="prefect-no-departement"),
        pytest.param(["token", "--role", "candidate"], "--siren", id="candidate-no-siren"),
    ],
)
def test_r_auth_1_cli_refuses_a_role_without_its_scope(
    cli_env: dict[str, str],
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    message: str,
) -> None:
    assert cli.main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == ""  # no token printed
    assert message in captured.err


def test_r_auth_1_cli_refuses_an_unknown_role(
    cli_env: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.main(["token", "--role", "admin"])
    assert exited.value.code == 2
    assert capsys.readouterr().out == ""


def test_r_auth_1_python_m_app_token_prefect_without_departement_exits_2(
    cli_env: dict[str, str],
) -> None:
    result = subprocess.run(  # noqa: S603 - fixed argv, the project's own interpreter
        [sys.executable, "-m", "app", "token", "--role", "prefect"],
        cwd=PROJECT_ROOT,
        env={**os.environ, **cli_env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2, result.stderr
    assert result.stdout == ""
    assert "--departement" in result.stderr
