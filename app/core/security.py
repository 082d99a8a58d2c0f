"""JWT and JWS through python-jose: the only module that imports `jose` (STYLE.md).

Keys (a JWKS's signing keys, the service's own key and its kid), the jose operations the
verifiers and the audit checkpoints call (headers read unverified, a token decoded and checked
with one algorithm, a JWS signed or verified), why jose refused a token in French, and the
minting of the service's own tokens. R-AUTH-1, R-AUTH-2 and RELIABILITY.md §0: one algorithm
per verifier, passed explicitly; `jku`/`x5u`/`jwk` headers are never followed.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from jose import jwk, jws, jwt
from jose.exceptions import ExpiredSignatureError, JOSEError, JWSError, JWTClaimsError
from pydantic import BaseModel, ConfigDict

from app.core.config import Settings
from app.core.errors import Unauthenticated

TIME_CLAIMS = ("exp", "iat", "nbf")


class JWK(BaseModel):
    """The fields of an RSA or EC public JWK that we use (RFC 7517/7518)."""

    model_config = ConfigDict(extra="allow")

    kty: str
    kid: str | None = None  # optional in RFC 7517; keys without one are never selected
    n: str | None = None  # RSA
    e: str | None = None
    crv: str | None = None  # EC
    x: str | None = None
    y: str | None = None
    alg: str | None = None
    use: str | None = None


class JWKS(BaseModel):
    keys: list[JWK]


# RELIABILITY.md §0: the key type each asymmetric algorithm takes; any other JWK is skipped.
KEY_TYPES = {"RS256": ("RSA", None), "ES256": ("EC", "P-256")}


def signing_keys(jwks: JWKS, algorithm: str = "RS256") -> dict[str, Any]:
    """The `algorithm` signing keys of a JWKS by kid, as JWK objects; ValueError if malformed."""
    kty, crv = KEY_TYPES[algorithm]
    keys: dict[str, Any] = {}
    for key in jwks.keys:
        if key.kty != kty or (key.alg not in (None, algorithm)) or (key.use not in (None, "sig")):
            continue
        if key.kid is None:
            continue
        if kty == "RSA" and (key.n is None or key.e is None):
            raise ValueError(f"JWKS: RSA key {key.kid!r} lacks n or e")
        if kty == "EC" and (key.crv != crv or key.x is None or key.y is None):
            continue  # another curve, or not a public EC point: never selected
        public = key.model_dump(
            exclude_none=True, include={"kty", "kid", "n", "e", "crv", "x", "y"}
        )
        try:
            keys[key.kid] = jwk.construct(public, algorithm=algorithm)
        except (JOSEError, ValueError, TypeError) as exc:
            raise ValueError(f"JWKS: key {key.kid!r} is malformed: {exc}") from exc
    return keys


def _b64u_json(members: dict[str, str]) -> str:
    return json.dumps(members, separators=(",", ":"), sort_keys=True)


@dataclass(frozen=True)
class ServiceKey:
    """R-AUTH-2: the service's own signing key, its public JWK and its kid."""

    algorithm: str
    kid: str
    private: Any
    public: Any
    public_jwk: dict[str, str]

    @classmethod
    def from_settings(cls, settings: Settings) -> ServiceKey | None:
        pem = settings.signing_key_pem()
        if pem is None:
            return None
        algorithm = settings.jwt_algorithm
        if algorithm not in KEY_TYPES:
            raise ValueError("the service's signing key needs RS256 or ES256")
        try:
            private = jwk.construct(pem, algorithm=algorithm)
            public = private.public_key()
            # jose builds an RSA key object around an EC key (and fails only here).
            members = {k: str(v) for k, v in public.to_dict().items() if k in KEY_MEMBERS}
        except (JOSEError, ValueError, TypeError, AttributeError) as exc:
            raise ValueError(f"GUICHET_JWT_SIGNING_KEY is not a {algorithm} private key") from exc
        if members.get("kty") != KEY_TYPES[algorithm][0]:
            raise ValueError(f"GUICHET_JWT_SIGNING_KEY is not a {algorithm} key")
        # RFC 7638 thumbprint: the required members, sorted, no whitespace, SHA-256, base64url.
        required = {k: members[k] for k in THUMBPRINT_MEMBERS[members["kty"]]}
        digest = hashlib.sha256(_b64u_json(required).encode("utf-8")).digest()
        kid = settings.jwt_signing_kid or base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
        public_jwk = {**members, "kid": kid, "alg": algorithm, "use": "sig"}
        return cls(algorithm, kid, private, public, public_jwk)


KEY_MEMBERS = frozenset({"kty", "n", "e", "crv", "x", "y"})
THUMBPRINT_MEMBERS = {"RSA": ("e", "kty", "n"), "EC": ("crv", "kty", "x", "y")}


_MISSING_CLAIM = re.compile(r'missing required key "([a-z_]{1,20})"')


def refusal_detail(exc: Exception, what: str) -> str:
    """Why jose refused a token, in French (RFC 6750 `error_description` folds it to ASCII):
    expired, bad signature, a required claim missing, another audience or issuer… jose checks
    the signature before any claim, so only a genuinely signed token is told "expiré".
    `what` names the token ("jeton", "jeton ProConnect")."""
    token = what[:1].upper() + what[1:]
    text = str(exc)
    if isinstance(exc, ExpiredSignatureError):
        return f"{token} expiré (exp) : obtenez-en un nouveau."
    if isinstance(exc, JWTClaimsError):
        if "audience" in text:
            return f"{token} destiné à un autre service (aud)."
        if "issuer" in text:
            return f"Émetteur du {what} non reconnu (iss)."
        if "not yet valid" in text:
            return f"{token} pas encore valide (nbf)."
        for name in TIME_CLAIMS:
            if f"({name})" in text:
                return f"Date du {what} invalide (claim `{name}`)."
        if "ubject" in text:
            return f"Sujet du {what} (sub) invalide."
        return f"Claims du {what} invalides."
    missing = _MISSING_CLAIM.search(text)
    if missing:
        return f"{token} sans claim obligatoire `{missing.group(1)}`."
    cause = exc.args[0] if exc.args else None
    if isinstance(cause, JWSError) or isinstance(exc, JWSError):
        if "Signature verification failed" in text:
            return f"Signature du {what} invalide."
        return f"{token} mal formé (signature illisible)."
    return f"{token} mal formé ou illisible."


class TokenError(ValueError):
    """jose could not read a token or a JWS (callers catch it as a ValueError)."""


def _unverified(read: Callable[[str], Any], token: str) -> Any:
    try:
        return read(token)
    except JOSEError as exc:
        raise TokenError(str(exc)) from exc


def unverified_header(token: str) -> Any:
    """A JWT's header, read before any check (to pick the key); TokenError when unreadable."""
    return _unverified(jwt.get_unverified_header, token)


def unverified_claims(token: str) -> Any:
    """A JWT's claims, read before any check; TokenError when unreadable."""
    return _unverified(jwt.get_unverified_claims, token)


def decode(
    token: str,
    key: Any,
    *,
    algorithm: str,
    audience: str | None,
    issuer: str,
    options: dict[str, Any],
    what: str,
) -> dict[str, Any]:
    """A JWT's claims once jose checked its signature with `algorithm` (the only one allowed),
    its audience, issuer and the registered claims `options` require; else Unauthenticated
    (401) saying why in French (`refusal_detail`; `what` names the token)."""
    try:
        claims: dict[str, Any] = jwt.decode(
            token, key, algorithms=[algorithm], audience=audience, issuer=issuer, options=options
        )
    except (JOSEError, ValueError, TypeError, OverflowError) as exc:  # exp: Infinity
        raise Unauthenticated(refusal_detail(exc, what)) from exc
    return claims


def sign_jws(payload: dict[str, Any], key: Any, *, headers: dict[str, str], algorithm: str) -> str:
    """A compact JWS of `payload` (the audit checkpoints, R-AUDIT-1)."""
    return str(jws.sign(payload, key, headers=headers, algorithm=algorithm))


def jws_header(token: str) -> Any:
    """A compact JWS's header, read before any check; TokenError when unreadable."""
    return _unverified(jws.get_unverified_header, token)


def verify_jws(token: str, key: Any, *, algorithm: str) -> bytes:
    """A compact JWS's payload once its signature is checked with `algorithm`; else TokenError."""
    try:
        return bytes(jws.verify(token, key, algorithms=[algorithm]))
    except JOSEError as exc:
        raise TokenError(str(exc)) from exc


def encode_access_token(
    settings: Settings,
    *,
    sub: str,
    role: str,
    departement: str | None = None,
    siren: str | None = None,
    ttl_seconds: int | None = None,
    now: float | None = None,
    extra: dict[str, Any] | None = None,
    service_key: ServiceKey | None = None,
) -> str:
    """Mint a token of this service: with its own key (RS256/ES256, `kid` header) when one is
    configured (R-AUTH-2), else HS256 with the development secret; refused otherwise (a
    deployment verifying another issuer's RS256 tokens has nothing to sign with)."""
    key = service_key or ServiceKey.from_settings(settings)
    if key is None and settings.jwt_algorithm != "HS256":
        raise RuntimeError(
            "no signing key: set GUICHET_JWT_SIGNING_KEY (RS256/ES256) to mint tokens here"
        )
    issued = int(now if now is not None else time.time())
    claims: dict[str, Any] = {
        "sub": sub,
        "role": role,
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "iat": issued,
        "exp": issued + (ttl_seconds or settings.dev_token_ttl_seconds),
    }
    if departement is not None:
        claims["departement"] = departement
    if siren is not None:
        claims["siren"] = siren
    if extra:
        claims.update(extra)
    if key is not None:
        return str(
            jwt.encode(claims, key.private, algorithm=key.algorithm, headers={"kid": key.kid})
        )
    return str(jwt.encode(claims, settings.jwt_secret.get_secret_value(), algorithm="HS256"))


def dump_claims(token: str) -> str:
    """Pretty-print a token's unverified claims (for the CLI)."""
    return json.dumps(jwt.get_unverified_claims(token), indent=2, sort_keys=True)


# -- R-AUTH-2: ProConnect ID tokens ---------------------------------------------------------
