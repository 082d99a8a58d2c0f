"""ProConnect ID tokens and signed userinfo (R-AUTH-2), verified with one algorithm.

The discovery document and the JWKS are fetched from the configured issuer's origin only
(API7, API10), the JWKS cached and refetched at most once per interval on an unknown kid; a
failed fetch keeps the cached keys, and with none answers 503. jose itself is reached through
`app.core.security`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from typing import Any

import httpx
from pydantic import BaseModel, ConfigDict, ValidationError

from app.core import security
from app.core.config import Settings
from app.core.errors import ServiceUnavailable, Unauthenticated
from app.core.security import JWKS, signing_keys
from app.core.tokens import check_registered_claims

logger = logging.getLogger("app.security")


class ProviderMetadata(BaseModel):
    """The fields of the provider's discovery document that we use (API10: validated)."""

    model_config = ConfigDict(extra="allow")

    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    userinfo_endpoint: str | None = None
    end_session_endpoint: str | None = None


def _same_origin(url: str, issuer: str, *, allow_http: bool) -> bool:
    """API7: every URL we fetch for the provider is on the configured issuer's origin."""
    target, base = httpx.URL(url), httpx.URL(issuer)
    schemes = ("https", "http") if allow_http else ("https",)
    return target.scheme in schemes and (target.scheme, target.host, target.port) == (
        base.scheme,
        base.host,
        base.port,
    )


class ProviderVerifier:
    """Verifies ProConnect ID tokens (and signed userinfo) with one algorithm from settings.

    The discovery document is read once from the configured issuer; the JWKS from its
    `jwks_uri` (same origin) and cached. An unknown `kid` refetches it at most once per
    `proconnect_jwks_min_refresh_seconds` (key rotation at the provider), never per request;
    a failed fetch keeps the cached keys, and with none answers 503 (never "accept").
    """

    def __init__(self, settings: Settings) -> None:
        if settings.proconnect_issuer is None:
            raise ValueError("GUICHET_PROCONNECT_ISSUER is not set")
        self.issuer = settings.proconnect_issuer
        self.client_ids = tuple(settings.proconnect_client_ids)
        self.algorithm = settings.proconnect_id_token_alg
        self.allow_http = settings.proconnect_allow_http
        self.leeway = min(settings.jwt_leeway_seconds, 60)
        self.max_bytes = settings.jwt_max_token_bytes
        self.max_lifetime = settings.jwt_max_lifetime_seconds
        self.min_refresh = settings.proconnect_jwks_min_refresh_seconds
        self.timeout = httpx.Timeout(settings.proconnect_timeout_seconds, connect=2.0)
        self._metadata: ProviderMetadata | None = None
        self._keys: dict[str, Any] = {}
        self._fetched_at: float | None = None
        self._lock = asyncio.Lock()
        self.jwks_fetches = 0  # observed by the key-rotation test

    async def _get(self, url: str) -> httpx.Response:
        if not _same_origin(url, self.issuer, allow_http=self.allow_http):
            raise ServiceUnavailable("Point d'accès du fournisseur d'identité non autorisé.")
        try:
            async with httpx.AsyncClient(timeout=self.timeout, follow_redirects=False) as client:
                response = await client.get(url, headers={"Accept": "application/json"})
            response.raise_for_status()
        except httpx.HTTPError as exc:
            logger.warning("ProConnect fetch of %s failed: %s", url, exc)
            raise ServiceUnavailable("Le fournisseur d'identité est injoignable.") from exc
        return response

    async def metadata(self) -> ProviderMetadata:
        if self._metadata is None:
            url = self.issuer.rstrip("/") + "/.well-known/openid-configuration"
            response = await self._get(url)
            try:
                metadata = ProviderMetadata.model_validate_json(response.content)
            except ValidationError as exc:
                raise ServiceUnavailable("Document de découverte ProConnect invalide.") from exc
            if metadata.issuer != self.issuer:
                raise ServiceUnavailable("Le document de découverte annonce un autre émetteur.")
            fetched = (metadata.jwks_uri, metadata.token_endpoint, metadata.userinfo_endpoint)
            for url in filter(None, fetched):
                if not _same_origin(url, self.issuer, allow_http=self.allow_http):
                    raise ServiceUnavailable(
                        "Point d'accès du fournisseur d'identité non autorisé."
                    )
            self._metadata = metadata
        return self._metadata

    async def _refresh(self) -> None:
        """Fetch the JWKS unless it was fetched within the minimum interval."""
        async with self._lock:
            now = time.monotonic()
            if self._fetched_at is not None and now - self._fetched_at < self.min_refresh:
                return
            metadata = await self.metadata()
            self._fetched_at = now
            self.jwks_fetches += 1
            try:
                response = await self._get(metadata.jwks_uri)
                self._keys = signing_keys(
                    JWKS.model_validate_json(response.content), self.algorithm
                )
            except (ServiceUnavailable, ValidationError, ValueError) as exc:
                logger.warning("ProConnect JWKS refresh failed, keeping %d keys", len(self._keys))
                if not self._keys:
                    raise ServiceUnavailable(
                        "Les clés du fournisseur d'identité sont momentanément indisponibles."
                    ) from exc

    async def _key_for(self, token: str) -> Any:
        if len(token.encode("utf-8", "ignore")) > self.max_bytes:
            raise Unauthenticated("Jeton ProConnect trop volumineux.")
        try:
            header = security.unverified_header(token)
        except (ValueError, TypeError) as exc:
            raise Unauthenticated("Jeton ProConnect mal formé.") from exc
        # RELIABILITY.md §0: the algorithm is the deployment's, never the token's.
        if header.get("alg") != self.algorithm:
            raise Unauthenticated("Algorithme de signature du jeton ProConnect refusé.")
        if "crit" in header:
            raise Unauthenticated("Extension critique (crit) non prise en charge.")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise Unauthenticated("Jeton ProConnect sans identifiant de clé (kid).")
        if kid not in self._keys:
            await self._refresh()  # rotation at the provider: at most once per interval
        if kid not in self._keys:
            raise Unauthenticated("Clé de signature ProConnect inconnue (kid).")
        return self._keys[kid]

    def _audience(self, token: str) -> str:
        """The allowed client id the token is for (jose then checks it against `aud`)."""
        try:
            unverified = security.unverified_claims(token)
        except (ValueError, TypeError) as exc:
            raise Unauthenticated("Jeton ProConnect mal formé.") from exc
        aud = unverified.get("aud")
        audiences: Sequence[Any] = aud if isinstance(aud, list) else [aud]
        for client_id in self.client_ids:
            if client_id in audiences:
                azp = unverified.get("azp")
                if len(audiences) > 1 and azp != client_id:
                    break
                return client_id
        raise Unauthenticated("Jeton ProConnect destiné à un autre client (aud).")

    async def verify_id_token(self, token: str, *, nonce: str | None = None) -> dict[str, Any]:
        """R-AUTH-2: the verified claims of a ProConnect ID token, or Unauthenticated (401)."""
        key = await self._key_for(token)
        audience = self._audience(token)
        claims = security.decode(
            token,
            key,
            algorithm=self.algorithm,
            audience=audience,
            issuer=self.issuer,
            options={
                "require_exp": True,
                "require_iat": True,
                "require_aud": True,
                "require_iss": True,
                "require_sub": True,
                "verify_at_hash": False,  # the front-end checks at_hash and nonce
                "leeway": self.leeway,
            },
            what="jeton ProConnect",
        )
        check_registered_claims(
            claims, leeway=self.leeway, max_lifetime=self.max_lifetime, what="jeton ProConnect"
        )
        if nonce is not None and claims.get("nonce") != nonce:
            raise Unauthenticated("Jeton ProConnect rejoué ou d'une autre connexion (nonce).")
        return claims

    async def verify_userinfo(self, body: bytes, *, client_id: str) -> dict[str, Any]:
        """The claims of a signed userinfo response (a JWT for our client, same keys)."""
        token = body.decode("ascii", "replace").strip()
        key = await self._key_for(token)
        try:
            claims = security.decode(
                token,
                key,
                algorithm=self.algorithm,
                audience=client_id,
                issuer=self.issuer,
                options={"require_sub": True, "verify_at_hash": False, "leeway": self.leeway},
                what="réponse userinfo ProConnect",
            )
        except Unauthenticated as exc:  # one answer, whatever jose refused
            raise Unauthenticated("Réponse userinfo ProConnect invalide.") from exc
        return claims
