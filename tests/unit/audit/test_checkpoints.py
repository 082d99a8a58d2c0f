"""R-AUDIT-1: signed checkpoints of the chain head (compact JWS with the service's key), and
what an auditor checks with the public JWKS alone."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from jose import jws

from app.audit import checkpoints
from app.audit.errors import CheckpointInvalid
from app.core.config import Settings
from app.core.security import ServiceKey
from tests.unit.auth.test_service_key import es256_pem, rs256_pem, settings_with

CLAIMS = checkpoints.CheckpointClaims(
    head_seq=42, head_hash="ab" * 32, key_id="k1", issued_at=datetime(2026, 12, 5, tzinfo=UTC)
)


def _service(pem: str, algorithm: str = "ES256") -> tuple[Settings, ServiceKey]:
    settings = settings_with(jwt_algorithm=algorithm, jwt_signing_key=pem)
    key = ServiceKey.from_settings(settings)
    assert key is not None
    return settings, key


@pytest.mark.parametrize(("pem", "algorithm"), [(es256_pem, "ES256"), (rs256_pem, "RS256")])
def test_r_audit_1_a_checkpoint_verifies_with_the_public_jwks_alone(
    pem: object, algorithm: str
) -> None:
    settings, key = _service(pem(), algorithm)  # type: ignore[operator]
    token = checkpoints.sign(settings, key, CLAIMS)
    assert checkpoints.is_anchored(token)
    # The auditor's check: the JWKS's public key by kid, nothing of the service's secrets.
    header = jws.get_unverified_header(token)
    assert (header["typ"], header["kid"]) == ("audit-checkpoint+jwt", key.public_jwk["kid"])
    payload = json.loads(jws.verify(token, key.public_jwk, algorithms=[algorithm]))
    assert (payload["head_seq"], payload["head_hash"]) == (42, "ab" * 32)
    assert checkpoints.verify(settings, key, token) == CLAIMS


def test_r_audit_1_a_checkpoint_of_another_key_or_altered_is_refused() -> None:
    settings, key = _service(es256_pem())
    _other_settings, other = _service(es256_pem())
    forged_key = ServiceKey(other.algorithm, key.kid, other.private, other.public, {})
    with pytest.raises(CheckpointInvalid):
        checkpoints.verify(settings, key, checkpoints.sign(settings, forged_key, CLAIMS))
    head, _payload, signature = checkpoints.sign(settings, key, CLAIMS).split(".")
    altered = jws.sign({"head_seq": 1}, "x", algorithm="HS256").split(".")[1]
    with pytest.raises(CheckpointInvalid):
        checkpoints.verify(settings, key, f"{head}.{altered}.{signature}")


def test_r_audit_1_an_hs256_checkpoint_is_refused_once_the_service_has_its_key() -> None:
    development = settings_with()
    token = checkpoints.sign(development, None, CLAIMS)
    assert not checkpoints.is_anchored(token)
    assert checkpoints.verify(development, None, token) == CLAIMS
    settings, key = _service(es256_pem())
    with pytest.raises(CheckpointInvalid):
        checkpoints.verify(settings, key, token)


@pytest.mark.parametrize(
    "claims",
    [
        {"head_seq": 2**40, "head_hash": "a" * 64, "key_id": "k", "iat": 1},
        {"head_seq": 1, "head_hash": "a" * 64, "key_id": "k" * 41, "iat": 1},
        {"head_seq": 1, "head_hash": "A" * 64, "key_id": "k", "iat": 1},
        {"head_seq": 1.0, "head_hash": "a" * 64, "key_id": "k", "iat": 1},
        {"head_seq": 1, "head_hash": "a" * 64, "key_id": "k", "iat": 10**30},
        {"head_seq": 1, "head_hash": "a" * 64, "key_id": "k"},
    ],
)
def test_r_audit_1_a_signed_checkpoint_out_of_bounds_is_refused(claims: dict[str, object]) -> None:
    settings = settings_with()
    payload = {"iss": settings.jwt_issuer, **claims}
    token = jws.sign(
        payload,
        settings.jwt_secret.get_secret_value(),
        headers={"kid": checkpoints.HS256_KID, "typ": checkpoints.CHECKPOINT_TYPE},
        algorithm="HS256",
    )
    with pytest.raises(CheckpointInvalid):
        checkpoints.verify(settings, None, token)
