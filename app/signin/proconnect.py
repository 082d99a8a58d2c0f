"""R-AUTH-2: this service as a ProConnect client (server-side flow): the authorization URL,
the code exchange at the token endpoint, the signed userinfo and the end-session URL."""

from __future__ import annotations

import secrets
from typing import Any
from urllib.parse import urlencode

import httpx
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from app.core.config import Settings
from app.core.errors import ServiceUnavailable, Unauthenticated
from app.core.proconnect import ProviderVerifier
from app.signin.errors import ProConnectNotConfigured


class TokenEndpointResponse(BaseModel):
    """API10: the token endpoint's answer, validated."""

    model_config = ConfigDict(extra="allow")

    id_token: str = Field(max_length=8192)
    access_token: str = Field(max_length=8192)
    token_type: str = Field(max_length=20)


def verifier_of(app_state: Any) -> ProviderVerifier:
    verifier: ProviderVerifier | None = app_state.proconnect
    if verifier is None:
        raise ProConnectNotConfigured()
    return verifier


def client_settings(settings: Settings) -> tuple[str, str, str, str]:
    """The server-side flow's client id, secret, redirect URI and front-end URL."""
    if not (
        settings.proconnect_client_id
        and settings.proconnect_client_secret
        and settings.proconnect_redirect_uri
        and settings.proconnect_frontend_redirect_uri
    ):
        raise ProConnectNotConfigured(
            "Le parcours de connexion ProConnect côté serveur n'est pas configuré."
        )
    return (
        settings.proconnect_client_id,
        settings.proconnect_client_secret.get_secret_value(),
        settings.proconnect_redirect_uri,
        settings.proconnect_frontend_redirect_uri,
    )


async def authorization_url(
    verifier: ProviderVerifier, settings: Settings, *, state: str, nonce: str, challenge: str
) -> str:
    client_id, _, redirect_uri, _ = client_settings(settings)
    metadata = await verifier.metadata()
    query = urlencode(
        {
            "response_type": "code",
            "client_id": client_id,
            "redirect_uri": redirect_uri,  # exactly the registered one
            "scope": settings.proconnect_scopes,
            "state": state,
            "nonce": nonce,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        }
    )
    return f"{metadata.authorization_endpoint}?{query}"


async def redeem_authorization_code(
    verifier: ProviderVerifier, settings: Settings, *, code: str, code_verifier: str, nonce: str
) -> dict[str, Any]:
    """Exchange the provider's code (PKCE), verify the ID token (with its nonce) and, when
    enabled, merge the signed userinfo's claims. Returns the verified claims."""
    client_id, secret, redirect_uri, _ = client_settings(settings)
    metadata = await verifier.metadata()
    timeout = httpx.Timeout(settings.proconnect_timeout_seconds, connect=2.0)
    try:
        async with httpx.AsyncClient(timeout=timeout, follow_redirects=False) as client:
            response = await client.post(
                metadata.token_endpoint,
                data={
                    "grant_type": "authorization_code",
                    "code": code,
                    "redirect_uri": redirect_uri,
                    "code_verifier": code_verifier,
                    "client_id": client_id,
                    "client_secret": secret,
                },
                headers={"Accept": "application/json"},
            )
            if response.status_code in (400, 401):
                raise Unauthenticated("Code ProConnect refusé par le fournisseur d'identité.")
            response.raise_for_status()
            tokens = TokenEndpointResponse.model_validate_json(response.content)
            claims = await verifier.verify_id_token(tokens.id_token, nonce=nonce)
            if settings.proconnect_userinfo and metadata.userinfo_endpoint:
                info = await client.get(
                    metadata.userinfo_endpoint,
                    headers={"Authorization": f"Bearer {tokens.access_token}"},
                )
                info.raise_for_status()
                userinfo = await verifier.verify_userinfo(info.content, client_id=client_id)
                if userinfo.get("sub") != claims["sub"]:
                    raise Unauthenticated("Userinfo ProConnect d'un autre agent.")
                claims = {**claims, **{k: v for k, v in userinfo.items() if k not in _FIXED}}
    except (httpx.HTTPError, ValidationError) as exc:
        raise ServiceUnavailable("Le fournisseur d'identité est injoignable.") from exc
    return claims


_FIXED = frozenset({"iss", "aud", "exp", "iat", "nbf", "sub", "nonce", "azp"})


async def end_session_url(
    verifier: ProviderVerifier, settings: Settings, *, id_token_hint: str | None = None
) -> str:
    metadata = await verifier.metadata()
    if metadata.end_session_endpoint is None:
        raise ProConnectNotConfigured("Le fournisseur d'identité n'annonce pas de déconnexion.")
    params: dict[str, str] = {"state": secrets.token_urlsafe(32)}
    if id_token_hint:
        params["id_token_hint"] = id_token_hint
    if settings.proconnect_client_id:
        params["client_id"] = settings.proconnect_client_id
    if settings.proconnect_post_logout_redirect_uri:
        params["post_logout_redirect_uri"] = settings.proconnect_post_logout_redirect_uri
    return metadata.end_session_endpoint + ("?" + urlencode(params) if params else "")
