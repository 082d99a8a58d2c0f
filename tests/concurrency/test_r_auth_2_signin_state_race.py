"""R-AUTH-2 under real concurrency (issue 23.2): six ProConnect callbacks carrying one `state`
(and its browser's cookie) at once. The state is single use: exactly one callback exchanges the
code and hands the front-end a one-time code, the five others are refused (422 R-AUTH-2), and
exactly one one-time code is stored. The code was read and then deleted without checking that
the delete removed the row: on PostgreSQL all six went through, each issuing a code.

The provider's code exchange is replaced by a stub that takes a little while (as the network
round trip does), so that the six callbacks overlap past the state's consumption.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import pytest_asyncio
from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient
from sqlalchemy import func
from sqlmodel import select

from app.core.clock import use_clock
from app.core.db import load_clock
from app.main import create_app
from app.signin import proconnect, service
from app.signin.models import OneTimeCode
from tests.concurrency.conftest import POOL_SIZE, World
from tests.support import test_settings

CALLBACK = "/api/v1/auth/proconnect/callback"
LOGIN_COOKIE = "__Host-guichet-proconnect"
FRONT_PAGE = "http://front.test/connexion/code"
CALLS = 6


@pytest_asyncio.fixture(loop_scope="session")
async def signin_app(world: World) -> AsyncIterator[FastAPI]:
    """The concurrency database behind an app whose server-side ProConnect flow is configured
    (the provider itself is never reached: the code exchange is stubbed below)."""
    settings = test_settings(
        world.settings.database_url,
        database_pool_size=POOL_SIZE,
        database_connect_timeout_seconds=30,
        database_pool_timeout_seconds=30,
        proconnect_issuer="http://127.0.0.1:9",
        proconnect_client_ids=["guichet-api"],
        proconnect_allow_http=True,
        proconnect_client_id="guichet-api",
        proconnect_client_secret="api-secret-0123456789abcdef0123456789ab",  # noqa: S106
        proconnect_redirect_uri=f"http://test{CALLBACK}",
        proconnect_frontend_redirect_uri=FRONT_PAGE,
    )
    application = create_app(settings)
    # The state's expiry is written by the test on the app's clock (an earlier module may have
    # left another one current), as the requests read it.
    application.state.clock = await load_clock(application.state.sessionmaker, settings)
    try:
        yield application
    finally:
        await application.state.engine.dispose()


async def _codes_stored(app: FastAPI) -> int:
    async with app.state.sessionmaker() as session:
        return int((await session.execute(select(func.count()).select_from(OneTimeCode))).one()[0])


async def test_r_auth_2_six_concurrent_callbacks_with_one_state_issue_one_code(
    signin_app: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    exchanged: list[str] = []

    async def redeem(*_: Any, code: str, code_verifier: str, nonce: str, **__: Any) -> Any:
        exchanged.append(code)
        await asyncio.sleep(0.05)  # the provider's round trip
        return {"sub": "agent-race", "siret": "13002526500013", "iss": "x", "aud": "y"}

    monkeypatch.setattr(proconnect, "redeem_authorization_code", redeem)
    use_clock(signin_app.state.clock)
    async with signin_app.state.sessionmaker() as session, session.begin():
        pending, _ = await service.start_login(session, signin_app.state.settings)
    before = await _codes_stored(signin_app)
    headers = {"Cookie": f"{LOGIN_COOKIE}={pending.state}"}
    params = {"state": pending.state, "code": "provider-code"}
    transport = ASGITransport(app=signin_app)
    async with AsyncClient(transport=transport, base_url="http://test") as http:
        responses = await asyncio.gather(
            *(http.get(CALLBACK, params=params, headers=headers) for _ in range(CALLS))
        )
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [303] + [422] * (CALLS - 1), [r.text for r in responses]
    (won,) = [r for r in responses if r.status_code == 303]
    assert set(parse_qs(urlsplit(won.headers["location"]).query)) == {"code"}
    for refused in (r for r in responses if r.status_code == 422):
        assert refused.json()["code"] == "R-AUTH-2"
        assert refused.json()["type"].endswith("signin-state-invalid")
    assert len(exchanged) == 1  # the provider's code was redeemed once
    assert await _codes_stored(signin_app) == before + 1
