"""Issue 23: `POST /auth/logout` with a long `id_token_hint` answered 500 (the end-session URL
outgrew its own schema). The hint is bounded (422 beyond), and the longest hint accepted gives
an end-session URL within the contract (R-AUTH-2)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from httpx import AsyncClient
from pydantic import ValidationError

from app.core.config import Settings
from app.core.proconnect import ProviderMetadata
from app.signin import proconnect
from app.signin.schemas import LogoutRequest, LogoutResponse
from tests.conftest import ACTORS

HINT_MAX = 2048  # the bound of LogoutRequest.id_token_hint


async def test_r_auth_2_an_overlong_id_token_hint_is_a_422(
    client: AsyncClient, headers: Any
) -> None:
    response = await client.post(
        "/api/v1/auth/logout",
        json={"id_token_hint": "a" * 4000},
        headers=headers(ACTORS.dinum),
    )
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    # `=` is no base64url character: urlencode would triple it
    padded = await client.post(
        "/api/v1/auth/logout", json={"id_token_hint": "a.b.c=="}, headers=headers(ACTORS.dinum)
    )
    assert padded.status_code == 422, padded.text


@dataclass
class FakeVerifier:
    async def metadata(self) -> ProviderMetadata:
        base = "https://auth.agentconnect.gouv.fr/api/v2"
        return ProviderMetadata(
            issuer=base,
            authorization_endpoint=f"{base}/authorize",
            token_endpoint=f"{base}/token",
            jwks_uri=f"{base}/jwks",
            end_session_endpoint=f"{base}/session/end",
        )


async def test_r_auth_2_the_longest_hint_gives_an_end_session_url_within_the_contract(
    settings: Settings,
) -> None:
    hint = "eyJ" + "A" * (HINT_MAX - 3)
    LogoutRequest(id_token_hint=hint)  # accepted
    with pytest.raises(ValidationError):
        LogoutRequest(id_token_hint=hint + "A")
    local = settings.model_copy(
        update={
            "proconnect_client_id": "a" * 64,
            "proconnect_post_logout_redirect_uri": "https://guichet.example.gouv.fr/"
            + "deconnexion/" * 20,
        }
    )
    url = await proconnect.end_session_url(FakeVerifier(), local, id_token_hint=hint)  # type: ignore[arg-type]
    LogoutResponse(end_session_url=url)  # within its schema: no 500
