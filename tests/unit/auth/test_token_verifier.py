"""R-AUTH-1 and RELIABILITY.md §0/§1 (API2, API7, API10): `TokenVerifier.verify`, HS256 and RS256.

Every token is built by hand (tests/unit/auth/jwt_forge.py); RS256 keys are generated here and
published to the verifier as a JWKS file with `kid`s, or through a mocked JWKS URL.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from app.core import security, tokens
from app.core.config import Settings
from app.core.errors import ServiceUnavailable, Unauthenticated
from app.core.tokens import TokenClaims, TokenVerifier
from tests.support import test_settings as make_settings
from tests.unit.auth.jwt_forge import (
    DROP,
    RsaKey,
    assemble,
    b64url,
    claims_for,
    hs256_token,
    new_rsa_key,
    segment,
    sign_hs256,
    sign_rs256,
)

DB_URL = "sqlite+aiosqlite:///unused-by-the-verifier.db"
LEEWAY = 30
MAX_LIFETIME = 6 * 3600  # the default of GUICHET_JWT_MAX_LIFETIME_SECONDS
KID = "idp-2024-01"


@dataclass(frozen=True)
class Ctx:
    hs: Settings
    rs: Settings
    hs_verifier: TokenVerifier
    rs_verifier: TokenVerifier
    good: RsaKey
    attacker: RsaKey  # a different key pair that claims the same kid


def write_jwks(path: Path, keys: list[dict[str, Any]]) -> Path:
    path.write_text(json.dumps({"keys": keys}), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def good_key() -> RsaKey:
    return new_rsa_key(KID)


@pytest.fixture(scope="module")
def ctx(tmp_path_factory: pytest.TempPathFactory, good_key: RsaKey) -> Ctx:
    jwks = write_jwks(tmp_path_factory.mktemp("jwks") / "jwks.json", [good_key.public_jwk()])
    hs = make_settings(DB_URL, jwt_leeway_seconds=LEEWAY)
    rs = make_settings(DB_URL, jwt_algorithm="RS256", jwt_jwks_file=jwks, jwt_leeway_seconds=LEEWAY)
    return Ctx(
        hs=hs,
        rs=rs,
        hs_verifier=TokenVerifier(hs),
        rs_verifier=TokenVerifier(rs),
        good=good_key,
        attacker=new_rsa_key(KID),
    )


@pytest.fixture
def outbound_http(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Fail loudly if the verifier tries any HTTP request (e.g. following a `jku` header)."""
    attempts: list[str] = []

    async def _refuse(self: httpx.AsyncClient, request: httpx.Request, **_: Any) -> Any:
        attempts.append(str(request.url))
        raise AssertionError(f"unexpected outbound request to {request.url}")

    monkeypatch.setattr(httpx.AsyncClient, "send", _refuse)
    return attempts


def rs_token(
    ctx: Ctx,
    *,
    key: RsaKey | None = None,
    header: dict[str, Any] | None = None,
    **claims: Any,
) -> str:
    hdr: dict[str, Any] = {"alg": "RS256", "typ": "JWT", "kid": KID, **(header or {})}
    return sign_rs256(hdr, claims_for(ctx.rs, **claims), (key or ctx.good).private)


def token_for(ctx: Ctx, alg: str, **claims: Any) -> tuple[TokenVerifier, str]:
    if alg == "HS256":
        return ctx.hs_verifier, hs256_token(ctx.hs, **claims)
    return ctx.rs_verifier, rs_token(ctx, **claims)


Build = Callable[[Ctx], tuple[TokenVerifier, str]]

# Claim mutations refused by both verifiers; `now` is read when the token is built.
CLAIMS_REFUSED: list[tuple[str, Callable[[int], dict[str, Any]]]] = [
    ("expired-2-minutes-ago", lambda now: {"iat": now - 720, "exp": now - 120}),
    ("expired-just-beyond-leeway", lambda now: {"iat": now - 600, "exp": now - LEEWAY - 15}),
    ("nbf-in-the-future", lambda now: {"nbf": now + 300}),
    ("iat-in-the-future-beyond-leeway", lambda now: {"iat": now + 300, "exp": now + 900}),
    ("missing-exp", lambda now: {"exp": DROP}),
    ("missing-iat", lambda now: {"iat": DROP}),
    ("missing-aud", lambda now: {"aud": DROP}),
    ("missing-iss", lambda now: {"iss": DROP}),
    ("missing-sub", lambda now: {"sub": DROP}),
    ("wrong-aud-id-token-for-another-client-id", lambda now: {"aud": "another-client-id"}),
    ("aud-list-without-us", lambda now: {"aud": ["another-client-id", "third"]}),
    ("aud-not-a-string", lambda now: {"aud": 42}),
    ("aud-null", lambda now: {"aud": None}),
    ("wrong-iss", lambda now: {"iss": "https://attacker.example"}),
    ("iss-is-a-prefix-of-ours", lambda now: {"iss": "https://guichet-fitn7.local"}),
    ("iss-with-trailing-slash", lambda now: {"iss": "https://guichet-fitn7.local/dev/"}),
    ("iss-list-containing-ours", lambda now: {"iss": ["https://guichet-fitn7.local/dev"]}),
    ("iss-null", lambda now: {"iss": None}),
    ("sub-empty", lambda now: {"sub": ""}),
    ("sub-one-space", lambda now: {"sub": " "}),  # issue 23: a blank subject is no subject
    ("sub-not-a-string", lambda now: {"sub": 42}),
    ("sub-null", lambda now: {"sub": None}),
    ("exp-null", lambda now: {"exp": None}),
    ("exp-not-a-number", lambda now: {"exp": "tomorrow"}),
    ("iat-not-a-number", lambda now: {"iat": "yesterday"}),
    # JSON `Infinity`/`NaN` (Python's json accepts them): int() overflows, must stay a 401.
    ("exp-infinity", lambda now: {"exp": float("inf")}),
    ("nbf-infinity", lambda now: {"nbf": float("-inf")}),
    ("iat-nan", lambda now: {"iat": float("nan")}),
    # Issue 8 item 5: NumericDate is an integer, never a bool, a float or a string.
    ("iat-true", lambda now: {"iat": True}),
    ("exp-true", lambda now: {"exp": True}),
    ("exp-numeric-string", lambda now: {"exp": str(now + 600)}),
    ("iat-numeric-string", lambda now: {"iat": str(now)}),
    ("exp-float", lambda now: {"exp": now + 600.5}),
    ("iat-float", lambda now: {"iat": float(now)}),
    ("nbf-true", lambda now: {"nbf": True}),
    ("nbf-string", lambda now: {"nbf": str(now)}),
    ("nbf-null", lambda now: {"nbf": None}),
    ("nbf-float", lambda now: {"nbf": float(now - 5)}),  # issue 23: as for ProConnect ID tokens
    ("exp-1e30", lambda now: {"exp": 1e30}),
    ("exp-huge-integer", lambda now: {"exp": 10**30}),
    # The lifetime (exp - iat) is bounded by GUICHET_JWT_MAX_LIFETIME_SECONDS (6 h here).
    ("lifetime-over-the-maximum", lambda now: {"iat": now, "exp": now + MAX_LIFETIME + 1}),
    ("exp-before-iat", lambda now: {"iat": now, "exp": now - 1}),
    ("exp-equals-iat", lambda now: {"iat": now - 10, "exp": now - 10}),
    # Bounded strings: the subject fits the histories' VARCHAR(255), every claim is bounded.
    ("sub-256-chars", lambda now: {"sub": "s" * 256}),
    ("sub-10000-chars", lambda now: {"sub": "s" * 4000}),
    ("sub-with-a-newline", lambda now: {"sub": "agent\nforged-log-line"}),
    ("sub-with-a-nul", lambda now: {"sub": "agent\x00"}),
    ("role-over-32-chars", lambda now: {"role": "dinum" * 10}),
    ("siren-over-9-chars", lambda now: {"siren": "2" * 10}),
    ("departement-over-3-chars", lambda now: {"departement": "1300"}),
]

# Claim variations both verifiers accept (leeway is 30 s).
CLAIMS_ACCEPTED: list[tuple[str, Callable[[int], dict[str, Any]]]] = [
    ("fresh", lambda now: {}),
    ("expired-10s-ago-within-leeway", lambda now: {"iat": now - 600, "exp": now - 10}),
    ("nbf-10s-ahead-within-leeway", lambda now: {"nbf": now + 10}),
    ("iat-10s-ahead-within-leeway", lambda now: {"iat": now + 10, "exp": now + 600}),
    ("aud-list-containing-us", lambda now: {"aud": ["another-client-id", "guichet-fitn7"]}),
    ("sub-of-255-chars", lambda now: {"sub": "s" * 255}),
    ("sub-non-ascii-printable", lambda now: {"sub": "agent-éloïse"}),
    ("lifetime-at-the-maximum", lambda now: {"iat": now, "exp": now + MAX_LIFETIME}),
    ("nbf-integer", lambda now: {"nbf": now - 5}),
]


def _claim_rows(rows: list[tuple[str, Callable[[int], dict[str, Any]]]]) -> list[Any]:
    params = []
    for alg in ("HS256", "RS256"):
        for name, mutate in rows:

            def build(ctx: Ctx, alg: str = alg, mutate: Any = mutate) -> tuple[TokenVerifier, str]:
                return token_for(ctx, alg, **mutate(int(time.time())))

            params.append(pytest.param(build, id=f"{alg}-{name}"))
    return params


def _hs(build: Callable[[Ctx], str]) -> Build:
    return lambda ctx: (ctx.hs_verifier, build(ctx))


def _rs(build: Callable[[Ctx], str]) -> Build:
    return lambda ctx: (ctx.rs_verifier, build(ctx))


def _swap_payload(token: str, claims: dict[str, Any]) -> str:
    header, _, signature = token.split(".")
    return f"{header}.{segment(claims)}.{signature}"


def _oversize(ctx: Ctx, alg: str) -> str:
    padding = "x" * (ctx.hs.jwt_max_token_bytes + 1)
    return token_for(ctx, alg, padding=padding)[1]


def _mac_raw(ctx: Ctx, payload: bytes) -> str:
    """A correctly MAC'd HS256 token whose payload is not a JSON object."""
    signing_input = f"{segment({'alg': 'HS256'})}.{b64url(payload)}".encode("ascii")
    secret = ctx.hs.jwt_secret.get_secret_value().encode("utf-8")
    mac = hmac.new(secret, signing_input, hashlib.sha256).digest()
    return f"{signing_input.decode('ascii')}.{b64url(mac)}"


JWE_LIKE = ".".join(
    [segment({"alg": "RSA-OAEP-256", "enc": "A256GCM", "kid": KID}), "a", "b", "c", "d"]
)

STRUCTURE_REFUSED = [
    # --- malformed
    pytest.param(_hs(lambda ctx: ""), id="HS256-empty-string"),
    pytest.param(_hs(lambda ctx: "not-a-jwt"), id="HS256-one-segment"),
    pytest.param(_hs(lambda ctx: "a.b"), id="HS256-two-segments"),
    pytest.param(_hs(lambda ctx: "a.b.c"), id="HS256-garbage-segments"),
    pytest.param(_hs(lambda ctx: "...."), id="HS256-only-dots"),
    pytest.param(_hs(lambda ctx: "é.é.é"), id="HS256-non-ascii"),
    pytest.param(_hs(lambda ctx: JWE_LIKE), id="HS256-jwe-five-segments"),
    pytest.param(_rs(lambda ctx: JWE_LIKE), id="RS256-jwe-five-segments"),
    pytest.param(_rs(lambda ctx: "a.b.c"), id="RS256-garbage-segments"),
    pytest.param(
        _hs(lambda ctx: f"{b64url(b'[1,2]')}.{segment(claims_for(ctx.hs))}.c2ln"),
        id="HS256-header-is-a-json-list",
    ),
    pytest.param(
        _hs(lambda ctx: f"{b64url(b'{not json')}.{segment(claims_for(ctx.hs))}.c2ln"),
        id="HS256-header-not-json",
    ),
    pytest.param(
        _hs(lambda ctx: _mac_raw(ctx, b'["sub","role"]')), id="HS256-payload-is-a-json-list"
    ),
    pytest.param(_hs(lambda ctx: _mac_raw(ctx, b"not json")), id="HS256-payload-not-json"),
    # --- alg none and algorithm confusion
    pytest.param(
        _hs(lambda ctx: assemble({"alg": "none", "typ": "JWT"}, claims_for(ctx.hs))),
        id="HS256-alg-none",
    ),
    pytest.param(
        _hs(lambda ctx: assemble({"alg": "None"}, claims_for(ctx.hs))), id="HS256-alg-None"
    ),
    pytest.param(
        _hs(lambda ctx: assemble({"alg": "NONE"}, claims_for(ctx.hs))), id="HS256-alg-NONE"
    ),
    pytest.param(
        _hs(lambda ctx: assemble({"typ": "JWT"}, claims_for(ctx.hs), b"sig")),
        id="HS256-no-alg-header",
    ),
    pytest.param(
        _hs(
            lambda ctx: assemble(
                {"alg": "none"},
                claims_for(ctx.hs),
                hs256_token(ctx.hs).split(".")[2].encode(),
            )
        ),
        id="HS256-alg-none-with-a-signature",
    ),
    pytest.param(
        _rs(lambda ctx: assemble({"alg": "none", "kid": KID}, claims_for(ctx.rs))),
        id="RS256-alg-none-with-known-kid",
    ),
    pytest.param(
        _hs(
            lambda ctx: sign_hs256(
                {"alg": "HS256", "typ": "JWT"}, claims_for(ctx.hs), b"wrong-secret-" * 4
            )
        ),
        id="HS256-wrong-secret",
    ),
    pytest.param(_hs(lambda ctx: rs_token(ctx)), id="HS256-verifier-given-an-RS256-token"),
    pytest.param(
        _hs(
            lambda ctx: sign_hs256(
                {"alg": "HS512"},
                claims_for(ctx.hs),
                ctx.hs.jwt_secret.get_secret_value().encode(),
            )
        ),
        id="HS256-verifier-header-says-HS512",
    ),
    # The forgery of RELIABILITY.md §0: HMAC keyed with the RS public key, PEM and DER forms.
    pytest.param(
        _rs(
            lambda ctx: sign_hs256(
                {"alg": "HS256", "typ": "JWT", "kid": KID},
                claims_for(ctx.rs),
                ctx.good.public_pem(),
            )
        ),
        id="RS256-hs256-forged-with-public-key-pem",
    ),
    pytest.param(
        _rs(
            lambda ctx: sign_hs256(
                {"alg": "HS256", "typ": "JWT", "kid": KID},
                claims_for(ctx.rs),
                ctx.good.public_der(),
            )
        ),
        id="RS256-hs256-forged-with-public-key-der",
    ),
    pytest.param(
        _rs(
            lambda ctx: sign_hs256(
                {"alg": "HS256", "typ": "JWT", "kid": KID},
                claims_for(ctx.rs),
                ctx.good.public_pkcs1_pem(),
            )
        ),
        id="RS256-hs256-forged-with-public-key-pkcs1-pem",
    ),
    pytest.param(
        _rs(
            lambda ctx: sign_hs256(
                {"alg": "HS256", "typ": "JWT"}, claims_for(ctx.rs), ctx.good.public_der()
            )
        ),
        id="RS256-hs256-forged-with-public-key-der-no-kid",
    ),
    pytest.param(
        _rs(lambda ctx: rs_token(ctx, header={"alg": "RS512"})), id="RS256-header-says-RS512"
    ),
    pytest.param(
        _rs(lambda ctx: rs_token(ctx, header={"alg": "PS256"})), id="RS256-header-says-PS256"
    ),
    # --- keys
    pytest.param(_rs(lambda ctx: rs_token(ctx, key=ctx.attacker)), id="RS256-other-key-same-kid"),
    pytest.param(
        _rs(lambda ctx: rs_token(ctx, key=ctx.attacker, header={"kid": "attacker-kid"})),
        id="RS256-unknown-kid-attacker-key",
    ),
    pytest.param(
        _rs(lambda ctx: rs_token(ctx, header={"kid": "rotated-away"})),
        id="RS256-unknown-kid-good-signature",
    ),
    pytest.param(_rs(lambda ctx: rs_token(ctx, header={"kid": DROP})), id="RS256-no-kid"),
    pytest.param(_rs(lambda ctx: rs_token(ctx, header={"kid": None})), id="RS256-kid-null"),
    pytest.param(_rs(lambda ctx: rs_token(ctx, header={"kid": 1})), id="RS256-kid-integer"),
    pytest.param(_rs(lambda ctx: rs_token(ctx, header={"kid": [KID]})), id="RS256-kid-list"),
    # --- RFC 7515 §4.1.11: an extension we do not understand, marked critical (issue 8 item 5)
    pytest.param(
        _hs(lambda ctx: hs256_token(ctx.hs, header={"crit": ["exp-ext"], "exp-ext": 1})),
        id="HS256-unknown-crit-header",
    ),
    pytest.param(_hs(lambda ctx: hs256_token(ctx.hs, header={"crit": []})), id="HS256-crit-empty"),
    pytest.param(
        _rs(lambda ctx: rs_token(ctx, header={"crit": ["b64"], "b64": False})),
        id="RS256-crit-b64",
    ),
    pytest.param(
        _rs(
            lambda ctx: _swap_payload(
                rs_token(ctx), claims_for(ctx.rs, sub="someone-else", role="dinum")
            )
        ),
        id="RS256-payload-swapped-after-signing",
    ),
    pytest.param(
        _rs(lambda ctx: rs_token(ctx).rsplit(".", 1)[0] + "."), id="RS256-signature-stripped"
    ),
    pytest.param(
        _hs(lambda ctx: hs256_token(ctx.hs).rsplit(".", 1)[0] + "."),
        id="HS256-signature-stripped",
    ),
    # --- jku / x5u / jwk headers never choose the key (and are never fetched)
    pytest.param(
        _rs(
            lambda ctx: rs_token(
                ctx,
                key=ctx.attacker,
                header={"kid": "attacker-kid", "jwk": ctx.attacker.public_jwk("attacker-kid")},
            )
        ),
        id="RS256-embedded-jwk-attacker-kid",
    ),
    pytest.param(
        _rs(
            lambda ctx: rs_token(
                ctx, key=ctx.attacker, header={"jwk": ctx.attacker.public_jwk(KID)}
            )
        ),
        id="RS256-embedded-jwk-with-our-kid",
    ),
    pytest.param(
        _rs(
            lambda ctx: rs_token(
                ctx,
                key=ctx.attacker,
                header={"kid": "attacker-kid", "jku": "https://attacker.example/jwks.json"},
            )
        ),
        id="RS256-jku-elsewhere-attacker-kid",
    ),
    pytest.param(
        _rs(
            lambda ctx: rs_token(
                ctx, key=ctx.attacker, header={"jku": "https://attacker.example/jwks.json"}
            )
        ),
        id="RS256-jku-elsewhere-our-kid",
    ),
    pytest.param(
        _rs(
            lambda ctx: rs_token(
                ctx,
                key=ctx.attacker,
                header={"kid": "attacker-kid", "x5u": "https://attacker.example/cert.pem"},
            )
        ),
        id="RS256-x5u-elsewhere-attacker-kid",
    ),
    pytest.param(
        _rs(
            lambda ctx: rs_token(
                ctx, key=ctx.attacker, header={"x5u": "http://127.0.0.1:9/cert.pem"}
            )
        ),
        id="RS256-x5u-loopback-our-kid",
    ),
    # --- size (RELIABILITY.md §1 API4): over 8 KiB, even when correctly signed
    pytest.param(_hs(lambda ctx: _oversize(ctx, "HS256")), id="HS256-over-8-KiB"),
    pytest.param(_rs(lambda ctx: _oversize(ctx, "RS256")), id="RS256-over-8-KiB"),
]


@pytest.mark.parametrize("build", STRUCTURE_REFUSED + _claim_rows(CLAIMS_REFUSED))
async def test_r_auth_1_token_is_refused(ctx: Ctx, build: Build, outbound_http: list[str]) -> None:
    verifier, token = build(ctx)
    with pytest.raises(Unauthenticated) as caught:
        await verifier.verify(token)
    assert caught.value.status == 401
    assert caught.value.code == "R-AUTH-1"
    assert caught.value.headers["WWW-Authenticate"].startswith('Bearer error="invalid_token", ')
    assert outbound_http == []


@pytest.mark.parametrize("build", _claim_rows(CLAIMS_ACCEPTED))
async def test_r_auth_1_valid_token_is_accepted(ctx: Ctx, build: Build) -> None:
    verifier, token = build(ctx)
    claims = await verifier.verify(token)
    assert claims == TokenClaims(
        sub=claims.raw["sub"], role="dinum", departement=None, siren=None, raw=claims.raw
    )
    assert claims.sub in {"agent-dinum", "s" * 255, "agent-éloïse"}
    assert claims.raw["iss"] == "https://guichet-fitn7.local/dev"


async def test_r_auth_1_scope_claims_are_passed_through(ctx: Ctx) -> None:
    for verifier, token in (
        (ctx.hs_verifier, hs256_token(ctx.hs, role="prefect", departement="13")),
        (ctx.rs_verifier, rs_token(ctx, role="candidate", siren="211300553")),
    ):
        claims = await verifier.verify(token)
        assert (claims.role, claims.departement, claims.siren) in {
            ("prefect", "13", None),
            ("candidate", None, "211300553"),
        }
    # Non-string scope claims are dropped, so principal_from_claims refuses them.
    claims = await ctx.hs_verifier.verify(hs256_token(ctx.hs, role="prefect", departement=13))
    assert claims.departement is None


async def test_r_auth_1_token_of_exactly_the_size_limit_is_accepted(ctx: Ctx) -> None:
    base = hs256_token(ctx.hs, padding="")
    # Each padding character adds 4/3 base64 characters: search for the largest that fits.
    size = 0
    while len(hs256_token(ctx.hs, padding="x" * (size + 1))) <= ctx.hs.jwt_max_token_bytes:
        size += 1
    assert len(base) < len(hs256_token(ctx.hs, padding="x" * size)) <= 8192
    await ctx.hs_verifier.verify(hs256_token(ctx.hs, padding="x" * size))


def test_r_auth_1_leeway_is_capped_at_60_seconds() -> None:
    with pytest.raises(ValidationError):
        make_settings(DB_URL, jwt_leeway_seconds=61)
    assert TokenVerifier(make_settings(DB_URL, jwt_leeway_seconds=60)).leeway == 60


async def test_r_auth_1_jwks_with_other_key_types_keeps_the_rsa_signing_key(
    tmp_path: Path, good_key: RsaKey
) -> None:
    """A real IdP JWKS may also list EC keys, encryption keys, keys without kid (RFC 7517 §4.5)."""
    other = new_rsa_key("enc-key")
    shared_secret = b"an-hmac-secret-that-must-never-be-used-0123456789"
    jwks = write_jwks(
        tmp_path / "jwks.json",
        [
            {
                "kty": "EC",
                "kid": "ec-1",
                "crv": "P-256",
                "use": "sig",
                "alg": "ES256",
                "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
                "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0",
            },
            {"kty": "oct", "kid": "shared", "k": b64url(shared_secret)},
            {**other.public_jwk(), "use": "enc", "alg": "RSA-OAEP-256"},
            {k: v for k, v in other.public_jwk().items() if k != "kid"},
            good_key.public_jwk(),
        ],
    )
    settings = make_settings(DB_URL, jwt_algorithm="RS256", jwt_jwks_file=jwks)
    verifier = TokenVerifier(settings)
    ctx_like = Ctx(settings, settings, verifier, verifier, good_key, other)
    claims = await verifier.verify(rs_token(ctx_like))
    assert claims.sub == "agent-dinum"
    for token in (
        rs_token(ctx_like, key=other, header={"kid": "enc-key"}),  # an encryption key
        rs_token(ctx_like, header={"kid": "ec-1"}),  # not an RSA key
        rs_token(ctx_like, header={"kid": "shared"}),  # an oct key is never an RSA key
        sign_hs256({"alg": "HS256", "kid": "shared"}, claims_for(settings), shared_secret),
    ):
        with pytest.raises(Unauthenticated):
            await verifier.verify(token)


def test_r_auth_1_malformed_rsa_jwk_in_file_is_refused_at_start(tmp_path: Path) -> None:
    jwks = write_jwks(tmp_path / "jwks.json", [{"kty": "RSA", "kid": KID, "n": "!!!", "e": "AQAB"}])
    with pytest.raises(ValueError):
        TokenVerifier(make_settings(DB_URL, jwt_algorithm="RS256", jwt_jwks_file=jwks))


def test_r_auth_1_development_tokens_cannot_be_minted_for_an_rs256_verifier(ctx: Ctx) -> None:
    with pytest.raises(RuntimeError):
        security.encode_access_token(ctx.rs, sub="x", role="dinum")


# --------------------------------------------------------------------------- JWKS over HTTP

JWKS_URL = "https://idp.example/.well-known/jwks.json"


@dataclass
class FakeIdp:
    """Serves the JWKS through httpx.MockTransport; `respond` can be swapped by the test."""

    respond: Callable[[httpx.Request], httpx.Response]
    requests: list[str]
    client_kwargs: list[dict[str, Any]]


@pytest.fixture
def fake_idp(monkeypatch: pytest.MonkeyPatch, good_key: RsaKey) -> Iterator[FakeIdp]:
    idp = FakeIdp(
        respond=lambda request: httpx.Response(200, json={"keys": [good_key.public_jwk()]}),
        requests=[],
        client_kwargs=[],
    )
    real_client = httpx.AsyncClient

    def handler(request: httpx.Request) -> httpx.Response:
        idp.requests.append(str(request.url))
        return idp.respond(request)

    def make_client(**kwargs: Any) -> httpx.AsyncClient:
        idp.client_kwargs.append(kwargs)
        return real_client(transport=httpx.MockTransport(handler), **kwargs)

    monkeypatch.setattr(httpx, "AsyncClient", make_client)
    yield idp


def url_verifier(url: str = JWKS_URL) -> TokenVerifier:
    return TokenVerifier(make_settings(DB_URL, jwt_algorithm="RS256", jwt_jwks_url=url))


def url_ctx(ctx: Ctx, verifier: TokenVerifier) -> Ctx:
    return Ctx(ctx.hs, ctx.rs, ctx.hs_verifier, verifier, ctx.good, ctx.attacker)


async def test_r_auth_1_unreachable_jwks_url_without_cache_is_503_never_accept(ctx: Ctx) -> None:
    """http://127.0.0.1:9 is loopback 'discard': nothing listens, the connection is refused."""
    verifier = url_verifier("http://127.0.0.1:9/jwks.json")
    for _ in range(2):  # no negative caching that would turn into an accept later
        with pytest.raises(ServiceUnavailable) as caught:
            await verifier.verify(rs_token(url_ctx(ctx, verifier)))
        assert caught.value.status == 503


async def test_r_auth_1_jwks_url_is_fetched_with_timeouts_and_no_redirects(
    ctx: Ctx, fake_idp: FakeIdp
) -> None:
    verifier = url_verifier()
    claims = await verifier.verify(rs_token(url_ctx(ctx, verifier)))
    assert claims.sub == "agent-dinum"
    assert fake_idp.requests == [JWKS_URL]
    (kwargs,) = fake_idp.client_kwargs
    assert kwargs["follow_redirects"] is False
    timeout = kwargs["timeout"]
    assert (timeout.connect, timeout.read) == (2.0, 5.0)


@pytest.mark.parametrize(
    "response",
    [
        pytest.param(httpx.Response(500, text="upstream error"), id="http-500"),
        pytest.param(
            httpx.Response(
                200, text="<html>maintenance</html>", headers={"content-type": "text/html"}
            ),
            id="html-page",
        ),
        pytest.param(httpx.Response(200, json={"nope": []}), id="json-not-a-jwks"),
        pytest.param(
            httpx.Response(
                200, json={"keys": [{"kty": "RSA", "kid": KID, "n": "!!", "e": "AQAB"}]}
            ),
            id="rsa-jwk-with-garbage-modulus",
        ),
        pytest.param(
            httpx.Response(302, headers={"location": "http://169.254.169.254/latest/meta-data"}),
            id="redirect-to-metadata-service",
        ),
    ],
)
async def test_r_auth_1_bad_jwks_response_without_cache_fails_closed_with_503(
    ctx: Ctx, fake_idp: FakeIdp, response: httpx.Response
) -> None:
    fake_idp.respond = lambda request: response
    verifier = url_verifier()
    with pytest.raises(ServiceUnavailable):
        await verifier.verify(rs_token(url_ctx(ctx, verifier)))
    assert fake_idp.requests == [JWKS_URL]  # the redirect was not followed


async def test_r_auth_1_jwks_fetch_failure_keeps_the_cached_keys(
    ctx: Ctx, fake_idp: FakeIdp, monkeypatch: pytest.MonkeyPatch
) -> None:
    verifier = url_verifier()
    c = url_ctx(ctx, verifier)
    await verifier.verify(rs_token(c))  # first fetch fills the cache
    assert len(fake_idp.requests) == 1

    # Within the refresh interval an unknown kid does not hammer the IdP.
    with pytest.raises(Unauthenticated):
        await verifier.verify(rs_token(c, header={"kid": "unknown-1"}))
    assert len(fake_idp.requests) == 1

    # Past the interval, the IdP is down: the unknown kid is refused (401, not accepted, not
    # 503 since keys are cached) and the cached key still verifies.
    monkeypatch.setattr(tokens, "JWKS_REFRESH_MIN_INTERVAL_S", 0.0)

    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    for failure in (
        down,
        lambda request: httpx.Response(503, text="busy"),
        lambda request: httpx.Response(200, text="<html></html>"),
        lambda request: httpx.Response(200, json={"keys": [{"kty": "RSA", "kid": "x", "n": "!"}]}),
    ):
        fake_idp.respond = failure
        before = len(fake_idp.requests)
        with pytest.raises(Unauthenticated):
            await verifier.verify(rs_token(c, key=ctx.attacker, header={"kid": "unknown-2"}))
        assert len(fake_idp.requests) == before + 1
        assert (await verifier.verify(rs_token(c))).sub == "agent-dinum"
        with pytest.raises(Unauthenticated):
            await verifier.verify(rs_token(c, key=ctx.attacker))


async def test_r_auth_1_jwks_rotation_picks_up_a_new_kid(
    ctx: Ctx, fake_idp: FakeIdp, monkeypatch: pytest.MonkeyPatch
) -> None:
    verifier = url_verifier()
    c = url_ctx(ctx, verifier)
    await verifier.verify(rs_token(c))
    monkeypatch.setattr(tokens, "JWKS_REFRESH_MIN_INTERVAL_S", 0.0)
    rotated = new_rsa_key("idp-2024-02")
    fake_idp.respond = lambda request: httpx.Response(200, json={"keys": [rotated.public_jwk()]})
    claims = await verifier.verify(rs_token(c, key=rotated, header={"kid": rotated.kid}))
    assert claims.sub == "agent-dinum"
    # The old key left the JWKS: it is no longer trusted.
    with pytest.raises(Unauthenticated):
        await verifier.verify(rs_token(c))


# -- issue 13: a verified token is not verified again until it expires ---------------------


async def test_a_verified_token_is_served_from_the_cache_until_it_expires(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = make_settings(DB_URL)
    verifier = TokenVerifier(settings)
    now = time.time()
    token = hs256_token(settings, iat=int(now) - 10, exp=int(now) + 60)
    first = await verifier.verify(token)
    decodes: list[str] = []
    real_decode = security.jwt.decode

    def counting_decode(*args: Any, **kwargs: Any) -> Any:
        decodes.append("decode")
        return real_decode(*args, **kwargs)

    monkeypatch.setattr(security.jwt, "decode", counting_decode)
    assert await verifier.verify(token) == first
    assert decodes == []  # the hit skipped the signature check
    # Past exp + leeway (by this module's clock), the cached claims are not served: the token
    # goes through the full check again (jose's own clock, the real one, still accepts it).
    monkeypatch.setattr(tokens.time, "time", lambda: now + 60 + LEEWAY + 1)
    await verifier.verify(token)
    assert decodes == ["decode"]
    # A token that failed is never cached.
    forged = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    monkeypatch.setattr(tokens.time, "time", lambda: now)
    for _ in range(2):
        with pytest.raises(Unauthenticated):
            await verifier.verify(forged)
