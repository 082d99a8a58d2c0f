"""Hand-built JWTs for the R-AUTH-1 tests (no `jose` here: the forgeries must not depend on it).

Every token is assembled from base64url segments, so the tests can produce what an attacker
would: `alg: none`, an HS256 MAC keyed with the RSA public key (PEM or DER), embedded `jwk`
headers, missing claims, oversize tokens.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from app.core.config import Settings

DROP: Any = object()
"""Claim or header value meaning 'leave this key out'."""


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _uint_b64(value: int) -> str:
    return b64url(value.to_bytes((value.bit_length() + 7) // 8, "big"))


def segment(obj: Any) -> str:
    return b64url(json.dumps(obj, separators=(",", ":")).encode("utf-8"))


def _clean(values: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not DROP}


def signing_input(header: dict[str, Any], claims: dict[str, Any]) -> bytes:
    return f"{segment(_clean(header))}.{segment(_clean(claims))}".encode("ascii")


def assemble(header: dict[str, Any], claims: dict[str, Any], signature: bytes = b"") -> str:
    return f"{signing_input(header, claims).decode('ascii')}.{b64url(signature)}"


def sign_hs256(header: dict[str, Any], claims: dict[str, Any], secret: bytes) -> str:
    mac = hmac.new(secret, signing_input(header, claims), hashlib.sha256).digest()
    return assemble(header, claims, mac)


def sign_rs256(header: dict[str, Any], claims: dict[str, Any], key: rsa.RSAPrivateKey) -> str:
    signature = key.sign(signing_input(header, claims), padding.PKCS1v15(), hashes.SHA256())
    return assemble(header, claims, signature)


@dataclass(frozen=True)
class RsaKey:
    kid: str
    private: rsa.RSAPrivateKey

    def public_jwk(self, kid: str | None = None) -> dict[str, Any]:
        numbers = self.private.public_key().public_numbers()
        return {
            "kty": "RSA",
            "kid": kid or self.kid,
            "use": "sig",
            "alg": "RS256",
            "n": _uint_b64(numbers.n),
            "e": _uint_b64(numbers.e),
        }

    def public_pem(self) -> bytes:
        return self.private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def public_der(self) -> bytes:
        return self.private.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def public_pkcs1_pem(self) -> bytes:
        return self.private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.PKCS1
        )


def new_rsa_key(kid: str) -> RsaKey:
    return RsaKey(kid, rsa.generate_private_key(public_exponent=65537, key_size=2048))


def claims_for(settings: Settings, now: float | None = None, **overrides: Any) -> dict[str, Any]:
    """Valid DINUM claims for this verifier's audience/issuer; `DROP` removes a claim."""
    issued = int(now if now is not None else time.time())
    values: dict[str, Any] = {
        "sub": "agent-dinum",
        "role": "dinum",
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "iat": issued,
        "exp": issued + 600,
    }
    values.update(overrides)
    return values


def hs256_token(settings: Settings, header: dict[str, Any] | None = None, **claims: Any) -> str:
    """An HS256 token MAC'd with the settings' secret (valid unless the claims say otherwise)."""
    secret = settings.jwt_secret.get_secret_value().encode("utf-8")
    return sign_hs256(
        {"alg": "HS256", "typ": "JWT", **(header or {})}, claims_for(settings, **claims), secret
    )
