"""R-AUTH-2 and RELIABILITY.md §0: the service's own signing key (ES256 or RS256, from
settings) signs the exchanged tokens and the CLI's development tokens, and verifies them with
exactly that one algorithm; HS256 stays the embedded development default only."""

from __future__ import annotations

import asyncio
import base64
import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from pydantic import ValidationError

from app.core.config import Settings
from app.core.errors import Unauthenticated
from app.core.security import ServiceKey, encode_access_token
from app.core.tokens import TokenVerifier
from tests.unit.auth.jwt_forge import assemble, claims_for, hs256_token, sign_hs256

DB_URL = "sqlite+aiosqlite:///:memory:"


def _pem(key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode("ascii")


def es256_pem() -> str:
    return _pem(ec.generate_private_key(ec.SECP256R1()))


def rs256_pem() -> str:
    return _pem(rsa.generate_private_key(public_exponent=65537, key_size=2048))


def settings_with(**values: object) -> Settings:
    return Settings(_env_file=None, database_url=DB_URL, **values)  # type: ignore[call-arg, arg-type]


def header_of(token: str) -> dict[str, str]:
    segment = token.split(".")[0]
    result: dict[str, str] = json.loads(
        base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    )
    return result


@pytest.mark.parametrize(
    ("algorithm", "pem", "kty"), [("ES256", es256_pem, "EC"), ("RS256", rs256_pem, "RSA")]
)
def test_r_auth_2_the_service_key_signs_and_verifies_its_tokens(
    algorithm: str, pem: object, kty: str
) -> None:
    settings = settings_with(jwt_algorithm=algorithm, jwt_signing_key=pem())  # type: ignore[operator]
    key = ServiceKey.from_settings(settings)
    assert key is not None and key.public_jwk["kty"] == kty
    assert key.public_jwk["alg"] == algorithm and "d" not in key.public_jwk
    token = encode_access_token(settings, sub="agent", role="prefect", departement="13")
    assert header_of(token) == {"alg": algorithm, "kid": key.kid, "typ": "JWT"}
    claims = asyncio.run(TokenVerifier(settings).verify(token))
    assert (claims.sub, claims.role, claims.departement) == ("agent", "prefect", "13")


def test_r_auth_2_the_kid_defaults_to_the_rfc7638_thumbprint() -> None:
    pem = es256_pem()
    one = ServiceKey.from_settings(settings_with(jwt_algorithm="ES256", jwt_signing_key=pem))
    two = ServiceKey.from_settings(settings_with(jwt_algorithm="ES256", jwt_signing_key=pem))
    assert one is not None and two is not None and one.kid == two.kid and len(one.kid) == 43


def test_r_auth_2_an_es256_deployment_refuses_hs256_and_none(tmp_path: Path) -> None:
    settings = settings_with(jwt_algorithm="ES256", jwt_signing_key=es256_pem())
    verifier = TokenVerifier(settings)
    key = verifier.service_key
    assert key is not None
    forged = [
        hs256_token(settings),  # the development secret is not this deployment's
        sign_hs256(
            {"alg": "HS256", "kid": key.kid},
            claims_for(settings),
            json.dumps(key.public_jwk).encode(),
        ),
        assemble({"alg": "none", "kid": key.kid}, claims_for(settings)),
        encode_access_token(  # another ES256 key under the same kid
            settings_with(
                jwt_algorithm="ES256", jwt_signing_key=es256_pem(), jwt_signing_kid=key.kid
            ),
            sub="x",
            role="dinum",
        ),
    ]
    for token in forged:
        with pytest.raises(Unauthenticated):
            asyncio.run(verifier.verify(token))


def test_r_auth_2_the_cli_signs_with_the_service_key(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    from app import __main__ as cli
    from app.core.config import get_settings

    key_file = tmp_path / "key.pem"
    key_file.write_text(es256_pem(), encoding="utf-8")
    monkeypatch.setenv("GUICHET_JWT_ALGORITHM", "ES256")
    monkeypatch.setenv("GUICHET_JWT_SIGNING_KEY_FILE", str(key_file))
    get_settings.cache_clear()
    try:
        assert cli.main(["token", "--role", "dinum"]) == 0
        token = capsys.readouterr().out.strip()
        assert header_of(token)["alg"] == "ES256"
        assert asyncio.run(TokenVerifier(get_settings()).verify(token)).role == "dinum"
    finally:
        get_settings.cache_clear()


def test_r_auth_2_settings_keep_one_algorithm() -> None:
    with pytest.raises(ValidationError, match="RS256 or ES256"):
        settings_with(jwt_signing_key=es256_pem())  # HS256 with a signing key
    with pytest.raises(ValueError, match="not a RS256"):
        ServiceKey.from_settings(settings_with(jwt_algorithm="RS256", jwt_signing_key=es256_pem()))
    production = settings_with(
        environment="production",
        jwt_algorithm="ES256",
        jwt_signing_key=es256_pem(),
        audit_keys={"k": "k" * 40},  # R-AUDIT-1: production has its own audit key
        documents_scanner_url="unix:///run/clamav/clamd.ctl",
    )
    assert production.has_signing_key
    with pytest.raises(ValidationError, match="ES256 needs"):
        settings_with(environment="production", jwt_algorithm="ES256")
    with pytest.raises(ValidationError, match="PROCONNECT_ALLOW_HTTP"):
        settings_with(
            environment="production",
            jwt_algorithm="ES256",
            jwt_signing_key=es256_pem(),
            proconnect_allow_http=True,
        )
