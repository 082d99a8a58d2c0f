"""R-AUTH-2 against a real OpenID provider (panva's oidc-provider on 127.0.0.1, tests/oidc):
the authorization-code flow driven through its login and consent pages, the ID token exchanged
for the service's own token (ES256 here), each account on its role and scope or on the
explained 403; forged ID tokens refused with 401; the provider's key rotation fetched once.

The app runs on its own database (module scope), with no per-test rollback: a refusal's audit
event is committed in its own transaction, as in production.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import pytest_asyncio
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient
from sqlmodel import col, select

from app.audit.models import AuditEvent
from app.auth.principal import Principal, Role
from app.core.clock import use_clock
from app.core.db import load_clock
from app.core.errors import ServiceUnavailable, Unauthenticated
from app.core.proconnect import ProviderVerifier
from app.main import create_app
from app.programme.service import seed_programme
from app.signin.service import audit_object_id
from tests.api.signin.oidc_provider import (
    API_BASE,
    API_ID,
    API_REDIRECT,
    API_SECRET,
    FRONT_ID,
    FRONT_PAGE,
    POST_LOGOUT,
    Provider,
    browse_to_redirect,
    front_end_sign_in,
    start_provider,
)
from tests.support import (
    TEST_CLOCK_START,
    auth_headers,
    create_database,
    drop_database,
    migrate,
    siret_of,
    test_settings,
)
from tests.unit.auth.jwt_forge import DROP, assemble, new_rsa_key, sign_hs256, sign_rs256

TOKEN = "/api/v1/auth/token"
ME = "/api/v1/auth/me"
MAPPINGS = "/api/v1/auth/mappings"
EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
ID_TOKEN = "urn:ietf:params:oauth:token-type:id_token"

LONG_SUB = "agent-" + "0123456789" * 10
MIN_REFRESH = 3.0  # seconds between two JWKS fetches on an unknown kid
PREFECTURE_13_SIRET = siret_of("171300015", "0001")
DINUM_SIREN = "130025265"
ANCT_SIRET = siret_of("130026032", "0001")
MARSEILLE_SIRET = siret_of("211300553", "0001")
ETAT = ["agent_public", "agent_public_etat"]
TERRITORIAL = ["agent_public", "agent_public_territorial"]

ACCOUNTS: dict[str, dict[str, Any]] = {
    "mairie": {
        "siret": MARSEILLE_SIRET,
        "email": "agent@marseille.fr",
        "organization_label": "Mairie de Marseille",
        "roles": TERRITORIAL,
    },
    "prefecture": {
        "siret": PREFECTURE_13_SIRET,
        "email": "agent@bouches-du-rhone.gouv.fr",
        "organization_label": "Préfecture des Bouches-du-Rhône",
        "roles": ETAT,
    },
    "dinum": {
        "siret": siret_of(DINUM_SIREN, "0001"),
        "email": "agent@numerique.gouv.fr",
        "organization_label": "DINUM",
        "roles": ETAT,
    },
    "anct": {
        "siret": ANCT_SIRET,
        "email": "agent@anct.gouv.fr",
        "organization_label": "ANCT",
        "roles": ETAT,
    },
    "association": {
        "siret": siret_of("775672272", "0001"),
        "email": "contact@association.org",
        "organization_label": "Association des amis du numérique",
    },
    LONG_SUB: {  # a `sub` longer than an audit object id
        "siret": siret_of("775672272", "0002"),
        "organization_label": "Association au long identifiant",
    },
    "prefecture-wrong-siret": {
        "siret": siret_of("171300015", "0099"),
        "email": "autre.agent@bouches-du-rhone.gouv.fr",
        "organization_label": "Ministère de l'Intérieur",
        "roles": ETAT,
    },
}


@dataclass
class Stack:
    provider: Provider
    app: FastAPI
    client: AsyncClient
    dinum_headers: dict[str, str]


@pytest.fixture(scope="module")
def provider(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Provider]:
    handle = start_provider(tmp_path_factory.mktemp("oidc"), ACCOUNTS)
    yield handle
    handle.stop()


def _es256_pem() -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode("ascii")


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def stack(
    provider: Provider, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Stack]:
    url = await create_database(tmp_path_factory.mktemp("signin-db"), "signin")
    await migrate(url)
    settings = test_settings(
        url,
        clock_start=TEST_CLOCK_START,
        jwt_algorithm="ES256",
        jwt_signing_key=_es256_pem(),
        jwt_signing_kid="guichet-test-1",
        proconnect_issuer=provider.issuer,
        proconnect_client_ids=[FRONT_ID, API_ID],
        proconnect_allow_http=True,
        proconnect_client_id=API_ID,
        proconnect_client_secret=API_SECRET,
        proconnect_redirect_uri=API_REDIRECT,
        proconnect_frontend_redirect_uri=FRONT_PAGE,
        proconnect_post_logout_redirect_uri=POST_LOGOUT,
        proconnect_scopes="openid email siret organization_label roles",
        proconnect_userinfo=True,
        proconnect_jwks_min_refresh_seconds=MIN_REFRESH,
    )
    app = create_app(settings)
    app.state.clock = await load_clock(app.state.sessionmaker, settings)
    use_clock(app.state.clock)
    async with app.state.sessionmaker() as session, session.begin():
        await seed_programme(session)
    dinum = auth_headers(settings, Principal("dev-dinum", Role.DINUM))
    async with AsyncClient(transport=ASGITransport(app=app), base_url=API_BASE) as client:
        # The préfecture's SIRET on the 13's envelope (its first allocation, by DINUM).
        response = await client.post(
            "/api/v1/envelopes/13/allocations",
            json={
                "kind": "allocation",
                "amount_cents": 10_000_000,
                "reference": "Arrêté n° 1",
                "prefecture_name": "Préfecture des Bouches-du-Rhône",
                "prefecture_siret": PREFECTURE_13_SIRET,
            },
            headers=dinum,
        )
        assert response.status_code == 201, response.text
        for rule in (
            {"kind": "national_siren", "role": "dinum", "value": DINUM_SIREN},
            {"kind": "national_siret", "role": "anct", "value": ANCT_SIRET},
        ):
            response = await client.post(MAPPINGS, json=rule, headers=dinum)
            assert response.status_code == 201, response.text
        yield Stack(provider, app, client, dinum)
    await app.state.engine.dispose()
    await drop_database(url)


async def exchange(stack: Stack, id_token: str) -> httpx.Response:
    return await stack.client.post(
        TOKEN,
        json={"grant_type": EXCHANGE, "subject_token": id_token, "subject_token_type": ID_TOKEN},
    )


async def sign_in(stack: Stack, login: str) -> httpx.Response:
    tokens = await front_end_sign_in(stack.provider, login)
    return await exchange(stack, tokens["id_token"])


async def me(stack: Stack, access_token: str) -> dict[str, Any]:
    response = await stack.client.get(ME, headers={"Authorization": f"Bearer {access_token}"})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def audit_events(stack: Stack, action: str, subject: str) -> list[AuditEvent]:
    async with stack.app.state.sessionmaker() as session:
        stmt = select(AuditEvent).where(
            col(AuditEvent.action) == action, col(AuditEvent.object_id) == subject
        )
        return list((await session.execute(stmt)).scalars().all())


# -- each account lands on its role and scope, or on the explained 403 -----------------------


@pytest.mark.parametrize(
    ("login", "role", "departement", "siren", "rule"),
    [
        ("mairie", "candidate", None, "211300553", "collectivite-reference:211300553"),
        ("prefecture", "prefect", "13", None, "prefecture-envelope:13"),
        ("dinum", "dinum", None, None, "allowlist-dinum-siren:"),
        ("anct", "anct", None, None, "allowlist-anct-siret:"),
    ],
)
async def test_r_auth_2_each_agent_gets_the_role_its_organisation_maps_to(
    stack: Stack, login: str, role: str, departement: str | None, siren: str | None, rule: str
) -> None:
    response = await sign_in(stack, login)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"] == "Bearer"
    assert body["issued_token_type"] == "urn:ietf:params:oauth:token-type:access_token"
    assert (body["role"], body["departement"], body["siren"]) == (role, departement, siren)
    assert body["mapping_rule"].startswith(rule)
    assert body["expires_in"] == 900
    # The service's own token: ES256, its kid, verified by the API.
    header = json.loads(_b64(body["access_token"].split(".")[0]))
    assert header == {"alg": "ES256", "kid": "guichet-test-1", "typ": "JWT"}
    who = await me(stack, body["access_token"])
    assert (who["role"], who["departement"], who["siren"]) == (role, departement, siren)
    assert who["mapping_rule"] == body["mapping_rule"]  # GET /auth/me says which rule
    assert who["subject"] == login
    events = await audit_events(stack, "token_issued", login)
    assert events and events[-1].after is not None
    assert events[-1].after["rule"] == body["mapping_rule"]


def _b64(segment: str) -> bytes:
    import base64

    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


@pytest.mark.parametrize("login", ["association", "prefecture-wrong-siret", LONG_SUB])
async def test_r_auth_2_an_unmapped_organisation_gets_the_explained_403(
    stack: Stack, login: str
) -> None:
    response = await sign_in(stack, login)
    assert response.status_code == 403, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    account = ACCOUNTS[login]
    assert body["code"] == "R-AUTH-2"
    assert body["rule"] == "R-AUTH-2/no-rule"
    assert body["siret"] == account["siret"]
    assert body["organization_label"] == account["organization_label"]
    assert "préfecture" in body["contact"] and "DINUM" in body["contact"]
    for fact in (account["siret"], account["organization_label"], "R-AUTH-2/no-rule"):
        assert fact in body["detail"]
    # The refusal's audit event survives the refused request's rollback.
    events = await audit_events(stack, "refused", audit_object_id(login))
    assert events, "no audit event for the refusal"
    assert events[-1].actor_role == "unmapped"
    assert events[-1].after is not None and events[-1].after["rule"] == "R-AUTH-2/no-rule"


async def test_r_auth_2_dinum_enables_the_email_domain_of_a_prefecture(stack: Stack) -> None:
    """A préfecture agent whose SIRET is unreliable: refused, then a prefect once DINUM maps
    the département's e-mail domain; removing the rule refuses again. Each change audited."""
    assert (await sign_in(stack, "prefecture-wrong-siret")).status_code == 403
    created = await stack.client.post(
        MAPPINGS,
        json={
            "kind": "prefect_email_domain",
            "departement": "13",
            "value": "bouches-du-rhone.gouv.fr",
        },
        headers=stack.dinum_headers,
    )
    assert created.status_code == 201, created.text
    rule_id = created.json()["id"]
    response = await sign_in(stack, "prefecture-wrong-siret")
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["role"], body["departement"]) == ("prefect", "13")
    assert body["mapping_rule"] == f"email-domain:{rule_id}"
    assert await audit_events(stack, "created", rule_id)
    deleted = await stack.client.delete(f"{MAPPINGS}/{rule_id}", headers=stack.dinum_headers)
    assert deleted.status_code == 204
    assert await audit_events(stack, "deleted", rule_id)
    assert (await sign_in(stack, "prefecture-wrong-siret")).status_code == 403


# -- the server-side flow: one-time code, never a token in a URL -----------------------------


LOGIN = "/api/v1/auth/proconnect/login"
CALLBACK = "/api/v1/auth/proconnect/callback"
LOGIN_COOKIE = "__Host-guichet-proconnect"


@dataclass
class Login:
    """A login started by one browser: where it is sent, its state, and the cookie it got."""

    authorize: str
    state: str
    set_cookie: str  # the Set-Cookie header of the login's answer
    cookie: dict[str, str]  # the Cookie header that browser sends back


async def start_login(stack: Stack) -> Login:
    start = await stack.client.get(LOGIN)
    assert start.status_code == 303, start.text
    authorize = start.headers["location"]
    state = parse_qs(urlsplit(authorize).query)["state"][0]
    set_cookie = start.headers["set-cookie"]
    pair = set_cookie.split(";")[0]
    return Login(authorize, state, set_cookie, {"Cookie": pair})


def _attributes(set_cookie: str) -> dict[str, str]:
    """The lower-cased attributes of a Set-Cookie header (after its name=value)."""
    attributes = {}
    for part in set_cookie.split(";")[1:]:
        key, _, value = part.strip().partition("=")
        attributes[key.lower()] = value.lower()
    return attributes


def assert_cookie_cleared(response: httpx.Response) -> None:
    set_cookie = response.headers["set-cookie"]
    assert set_cookie.startswith(f"{LOGIN_COOKIE}=;"), set_cookie
    attributes = _attributes(set_cookie)
    assert attributes["max-age"] == "0"
    assert {"secure", "httponly", "path", "samesite"} <= set(attributes)  # __Host- rules


async def test_r_auth_2_server_side_flow_hands_a_single_use_code(stack: Stack) -> None:
    login = await start_login(stack)
    authorize = login.authorize
    query = parse_qs(urlsplit(authorize).query)
    assert authorize.startswith(f"{stack.provider.issuer}/auth?")
    assert query["redirect_uri"] == [API_REDIRECT]
    assert len(query["state"][0]) >= 32 and len(query["nonce"][0]) >= 32
    assert query["code_challenge_method"] == ["S256"]
    async with httpx.AsyncClient(timeout=10) as browser:
        back = await browse_to_redirect(browser, authorize, "prefecture", API_REDIRECT)
    callback = await stack.client.get(CALLBACK, params=back, headers=login.cookie)
    assert callback.status_code == 303, callback.text
    assert_cookie_cleared(callback)
    landing = callback.headers["location"]
    assert landing.startswith(FRONT_PAGE + "?")
    params = parse_qs(urlsplit(landing).query)
    assert set(params) == {"code"}  # no token in the URL
    assert "eyJ" not in landing
    code = params["code"][0]
    response = await stack.client.post(
        TOKEN, json={"grant_type": "authorization_code", "code": code}
    )
    assert response.status_code == 200, response.text
    assert (response.json()["role"], response.json()["departement"]) == ("prefect", "13")
    again = await stack.client.post(TOKEN, json={"grant_type": "authorization_code", "code": code})
    assert again.status_code == 422
    assert again.json()["code"] == "R-AUTH-2"
    # The state was single use too (even from the browser that started it).
    replay = await stack.client.get(CALLBACK, params=back, headers=login.cookie)
    assert replay.status_code == 422
    assert replay.json()["code"] == "R-AUTH-2"
    assert_cookie_cleared(replay)


async def test_r_auth_2_login_binds_its_state_to_the_browser_with_a_host_cookie(
    stack: Stack,
) -> None:
    """RFC 6749 §10.12: the login's answer sets `__Host-…=<state>`, Secure, HttpOnly,
    SameSite=Lax, Path=/, no Domain, for the state's lifetime."""
    login = await start_login(stack)
    name, _, value = login.set_cookie.split(";")[0].partition("=")
    assert (name, value) == (LOGIN_COOKIE, login.state)
    attributes = _attributes(login.set_cookie)
    assert attributes == {
        "httponly": "",
        "max-age": str(stack.app.state.settings.signin_state_ttl_seconds),
        "path": "/",
        "samesite": "lax",
        "secure": "",
    }


async def test_r_auth_2_a_callback_from_another_browser_is_refused(stack: Stack) -> None:
    """R-AUTH-2 (login CSRF): the victim's browser opening the attacker's callback link, with no
    login cookie or with its own login's, is refused with 403; the login's own browser then
    completes it (the refusals did not consume its state)."""
    attacker, victim = await start_login(stack), await start_login(stack)
    async with httpx.AsyncClient(timeout=10) as browser:
        back = await browse_to_redirect(browser, attacker.authorize, "dinum", API_REDIRECT)
    assert back["state"] == attacker.state
    # a forged value: the state with its last character changed (never the state itself)
    forged = attacker.state[:-1] + ("B" if attacker.state.endswith("A") else "A")
    for cookie in ({}, victim.cookie, {"Cookie": f"{LOGIN_COOKIE}={forged}"}):
        refused = await stack.client.get(CALLBACK, params=back, headers=cookie)
        assert refused.status_code == 403, refused.text
        assert refused.headers["content-type"] == "application/problem+json"
        body = refused.json()
        assert (body["code"], body["status"]) == ("R-AUTH-2", 403)
        assert "autre navigateur" in body["title"] and "navigateur" in body["detail"]
        assert "set-cookie" not in refused.headers  # the victim's own login is left alone
    accepted = await stack.client.get(CALLBACK, params=back, headers=attacker.cookie)
    assert accepted.status_code == 303, accepted.text
    assert set(parse_qs(urlsplit(accepted.headers["location"]).query)) == {"code"}
    assert_cookie_cleared(accepted)


async def test_r_auth_2_logout_returns_the_end_session_url(stack: Stack) -> None:
    signed = (await sign_in(stack, "dinum")).json()
    response = await stack.client.post(
        "/api/v1/auth/logout", headers={"Authorization": f"Bearer {signed['access_token']}"}
    )
    assert response.status_code == 200, response.text
    url = response.json()["end_session_url"]
    assert url.startswith(f"{stack.provider.issuer}/session/end?")
    query = parse_qs(urlsplit(url).query)
    assert query["post_logout_redirect_uri"] == [POST_LOGOUT]
    assert query["client_id"] == [API_ID] and len(query["state"][0]) >= 32
    async with httpx.AsyncClient(timeout=10) as browser:
        page = await browser.get(url)  # the provider accepts it: its logout confirmation
    assert page.status_code == 200, page.text
    hinted = await stack.client.post(
        "/api/v1/auth/logout",
        json={"id_token_hint": "a.b.c"},
        headers={"Authorization": f"Bearer {signed['access_token']}"},
    )
    assert parse_qs(urlsplit(hinted.json()["end_session_url"]).query)["id_token_hint"] == ["a.b.c"]


async def _server_side_code(stack: Stack, login: str) -> str:
    start = await start_login(stack)
    async with httpx.AsyncClient(timeout=10) as browser:
        back = await browse_to_redirect(browser, start.authorize, login, API_REDIRECT)
    callback = await stack.client.get(CALLBACK, params=back, headers=start.cookie)
    assert callback.status_code == 303, callback.text
    return parse_qs(urlsplit(callback.headers["location"]).query)["code"][0]


async def test_r_auth_2_a_refused_one_time_code_is_spent(stack: Stack) -> None:
    code = await _server_side_code(stack, "association")
    body = {"grant_type": "authorization_code", "code": code}
    refused = await stack.client.post(TOKEN, json=body)
    assert refused.status_code == 403, refused.text
    assert refused.json()["rule"] == "R-AUTH-2/no-rule"
    assert (await stack.client.post(TOKEN, json=body)).status_code == 422


async def test_r_auth_2_the_callback_relays_a_provider_error_without_a_code(stack: Stack) -> None:
    start = await start_login(stack)
    callback = await stack.client.get(
        CALLBACK, params={"state": start.state, "error": "access_denied"}, headers=start.cookie
    )
    assert callback.status_code == 303
    assert callback.headers["location"] == f"{FRONT_PAGE}?error=access_denied"
    assert_cookie_cleared(callback)


async def test_r_auth_2_jwks_publishes_the_service_key(stack: Stack) -> None:
    response = await stack.client.get("/.well-known/jwks.json")
    assert response.status_code == 200
    (key,) = response.json()["keys"]
    assert (key["kid"], key["kty"], key["crv"], key["alg"]) == (
        "guichet-test-1",
        "EC",
        "P-256",
        "ES256",
    )
    assert "d" not in key


# -- forged ID tokens: 401 -------------------------------------------------------------------


def _claims(stack: Stack, **overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    values: dict[str, Any] = {
        "sub": "dinum",
        "siret": ACCOUNTS["dinum"]["siret"],
        "iss": stack.provider.issuer,
        "aud": FRONT_ID,
        "iat": now,
        "exp": now + 300,
    }
    values.update(overrides)
    return {k: v for k, v in values.items() if v is not DROP}


def _signed(stack: Stack, header: dict[str, Any] | None = None, **claims: Any) -> str:
    key = stack.provider.signing_key
    hdr = {"alg": "RS256", "typ": "JWT", "kid": key.kid, **(header or {})}
    return sign_rs256(hdr, _claims(stack, **claims), key.private)


OTHER_KEY = new_rsa_key("other")  # generated once: a key generation takes a while

FORGERIES = {
    "forged-with-another-key": lambda s: sign_rs256(
        {"alg": "RS256", "kid": s.provider.signing_key.kid}, _claims(s), OTHER_KEY.private
    ),
    "expired": lambda s: _signed(s, iat=int(time.time()) - 7200, exp=int(time.time()) - 3600),
    "other-audience": lambda s: _signed(s, aud="another-client"),
    "other-issuer": lambda s: _signed(s, iss="https://other-provider.example/api/v2"),
    "unknown-key": lambda s: sign_rs256(
        {"alg": "RS256", "kid": "unknown-kid"}, _claims(s), OTHER_KEY.private
    ),
    "alg-none": lambda s: assemble({"alg": "none", "kid": s.provider.signing_key.kid}, _claims(s)),
    "hs256-with-the-provider-public-key-pem": lambda s: sign_hs256(
        {"alg": "HS256", "kid": s.provider.signing_key.kid},
        _claims(s),
        s.provider.signing_key.public_pem(),
    ),
    "hs256-with-the-provider-public-key-der": lambda s: sign_hs256(
        {"alg": "HS256", "kid": s.provider.signing_key.kid},
        _claims(s),
        s.provider.signing_key.public_der(),
    ),
    "no-exp": lambda s: _signed(s, exp=DROP),
    "embedded-jwk-header": lambda s: sign_rs256(
        {"alg": "RS256", "kid": "other", "jwk": OTHER_KEY.public_jwk()},
        _claims(s),
        OTHER_KEY.private,
    ),
    "jku-header": lambda s: sign_rs256(
        {"alg": "RS256", "kid": "other", "jku": "http://127.0.0.1:1/jwks"},
        _claims(s),
        OTHER_KEY.private,
    ),
    "no-aud": lambda s: _signed(s, aud=DROP),
    # Issue 23: the claim checks of the service's access tokens (one function, R-AUTH-1).
    "float-nbf": lambda s: _signed(s, nbf=time.time() - 5),
    "sub-of-one-space": lambda s: _signed(s, sub=" "),
    "sub-of-spaces": lambda s: _signed(s, sub="   "),
}


async def test_the_genuine_forgery_baseline_is_accepted(stack: Stack) -> None:
    """The forgeries below differ from this token by one thing each: it is accepted."""
    response = await exchange(stack, _signed(stack))
    assert response.status_code == 200, response.text


@pytest.mark.parametrize("name", sorted(FORGERIES))
async def test_r_auth_2_forged_id_tokens_get_401(stack: Stack, name: str) -> None:
    response = await exchange(stack, FORGERIES[name](stack))
    assert response.status_code == 401, response.text
    assert response.headers["www-authenticate"].startswith('Bearer error="invalid_token", ')
    assert response.headers["content-type"] == "application/problem+json"


# -- key rotation at the provider: the new kid fetched once, not per request -----------------


async def test_r_auth_2_key_rotation_fetches_the_new_kid_once(stack: Stack) -> None:
    verifier = stack.app.state.proconnect
    assert (await sign_in(stack, "dinum")).status_code == 200  # keys cached
    await asyncio.sleep(MIN_REFRESH + 0.1)  # past the minimum refresh interval
    new = stack.provider.rotate()
    fetches = verifier.jwks_fetches
    tokens = await front_end_sign_in(stack.provider, "anct")
    assert json.loads(_b64(tokens["id_token"].split(".")[0]))["kid"] == new.kid
    assert (await exchange(stack, tokens["id_token"])).status_code == 200
    assert verifier.jwks_fetches == fetches + 1  # the new kid, fetched once
    for _ in range(3):  # then cached
        assert (await exchange(stack, tokens["id_token"])).status_code == 200
    assert (await sign_in(stack, "dinum")).status_code == 200
    assert verifier.jwks_fetches == fetches + 1
    # Unknown kids, again and again: no fetch within the interval of the last one.
    started = time.monotonic()
    for _ in range(5):
        assert (await exchange(stack, FORGERIES["unknown-key"](stack))).status_code == 401
    elapsed = time.monotonic() - started
    assert verifier.jwks_fetches - (fetches + 1) <= int(elapsed // MIN_REFRESH) + 1
    assert stack.provider.stats()["jwks"] == verifier.jwks_fetches


# -- mapping rules: DINUM only ---------------------------------------------------------------


async def test_r_auth_2_mapping_rules_are_listed_for_dinum_only(stack: Stack) -> None:
    listed = await stack.client.get(MAPPINGS, headers=stack.dinum_headers)
    assert listed.status_code == 200
    values = {item["value"] for item in listed.json()["items"]}
    assert {DINUM_SIREN, ANCT_SIRET} <= values
    prefect = auth_headers(
        stack.app.state.settings, Principal("prefet-13", Role.PREFECT, departement="13")
    )
    assert (await stack.client.get(MAPPINGS, headers=prefect)).status_code == 403


def test_the_oidc_provider_is_pinned_to_an_exact_locked_version() -> None:
    lock = json.loads((Path(__file__).parents[2] / "oidc" / "package-lock.json").read_text())
    package = json.loads((Path(__file__).parents[2] / "oidc" / "package.json").read_text())
    pinned = package["dependencies"]["oidc-provider"]
    assert pinned[0].isdigit(), "an exact version, no range"
    assert lock["packages"]["node_modules/oidc-provider"]["version"] == pinned


# -- an ES256 deployment of the provider -----------------------------------------------------


@pytest.fixture(scope="module")
def es256_provider(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Provider]:
    handle = start_provider(tmp_path_factory.mktemp("oidc-es"), ACCOUNTS, alg="ES256")
    yield handle
    handle.stop()


def _verifier_for(provider: Provider, alg: str) -> ProviderVerifier:
    settings = test_settings(
        "sqlite+aiosqlite:///:memory:",
        proconnect_issuer=provider.issuer,
        proconnect_client_ids=[FRONT_ID],
        proconnect_id_token_alg=alg,
        proconnect_allow_http=True,
    )
    return ProviderVerifier(settings)


async def test_r_auth_2_es256_id_tokens_verify_with_an_es256_deployment_only(
    es256_provider: Provider,
) -> None:
    tokens = await front_end_sign_in(es256_provider, "mairie")
    assert json.loads(_b64(tokens["id_token"].split(".")[0]))["alg"] == "ES256"
    claims = await _verifier_for(es256_provider, "ES256").verify_id_token(tokens["id_token"])
    assert (claims["sub"], claims["siret"]) == ("mairie", MARSEILLE_SIRET)
    # One algorithm per deployment, from settings: an RS256 one refuses the same token.
    with pytest.raises(Unauthenticated):
        await _verifier_for(es256_provider, "RS256").verify_id_token(tokens["id_token"])


async def test_r_auth_2_an_unreachable_provider_fails_closed(provider: Provider) -> None:
    """API10: no discovery document, no keys: 503, never accept."""
    settings = test_settings(
        "sqlite+aiosqlite:///:memory:",
        proconnect_issuer="http://127.0.0.1:9",  # discard port: nothing listens
        proconnect_client_ids=[FRONT_ID],
        proconnect_allow_http=True,
    )
    token = sign_rs256(
        {"alg": "RS256", "kid": "k1"},
        {"sub": "a", "iss": "http://127.0.0.1:9", "aud": FRONT_ID, "iat": 1, "exp": 2},
        OTHER_KEY.private,
    )
    with pytest.raises(ServiceUnavailable):
        await ProviderVerifier(settings).verify_id_token(token)


async def test_r_auth_2_the_dashboard_offers_proconnect_where_the_flow_is_configured(
    stack: Stack, client: httpx.AsyncClient
) -> None:
    """/tableau-de-bord/ shows « Se connecter avec ProConnect » (leading to the server-side
    flow) only where that flow is configured; the suite's default settings do not configure it."""
    configured = await stack.client.get("/tableau-de-bord/")
    assert configured.status_code == 200
    assert 'data-proconnect="on"' in configured.text
    assert 'href="/api/v1/auth/proconnect/login"' in configured.text
    default = await client.get("/tableau-de-bord/")
    assert 'data-proconnect="off"' in default.text
