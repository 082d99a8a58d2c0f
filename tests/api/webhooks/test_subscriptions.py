"""R-HOOK-1 subscriptions through the API: who subscribes to what, the secret shown once and
rotated, scope (R-ACL-1), the target URL checked at registration, the outbox written with the
change."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from httpx import AsyncClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from app.audit import service as audit
from app.audit.models import AuditEvent
from tests.api.committees.test_full_scenario import Front
from tests.conftest import MARSEILLE_SIREN, Actors
from tests.support import siret_of

HOOKS = "/api/v1/webhooks"
TARGET = "https://93.184.216.34/guichet"  # a public address: no DNS needed


@pytest.fixture
def loopback(app: FastAPI) -> Iterator[None]:
    """Development settings: http and loopback targets allowed (port 9 allowed too)."""
    production_like = app.state.settings
    app.state.settings = production_like.model_copy(
        update={"webhook_allow_loopback": True, "webhook_allowed_ports": [9]}
    )
    yield
    app.state.settings = production_like


async def create(
    client: AsyncClient, headers: Any, who: Any, url: str = TARGET, types: Any = None
) -> Any:
    return await client.post(
        HOOKS,
        json={"url": url, "event_types": types or ["project.status_changed"]},
        headers=headers(who),
    )


async def test_r_hook_1_dinum_subscribes_and_sees_the_secret_once(
    client: AsyncClient, headers: Any, actors: Actors
) -> None:
    response = await create(client, headers, actors.dinum, types=["grant.committed"])
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["secret"].startswith("whsec_")
    assert body["departement"] is None and body["status"] == "active"
    read = await client.get(f"{HOOKS}/{body['id']}", headers=headers(actors.dinum))
    assert read.status_code == 200
    assert "secret" not in read.json()
    listed = await client.get(HOOKS, headers=headers(actors.dinum))
    assert [s["id"] for s in listed.json()["items"]] == [body["id"]]
    assert all("secret" not in s for s in listed.json()["items"])


async def test_r_hook_1_a_prefect_subscribes_for_its_departement_only(
    client: AsyncClient, headers: Any, actors: Actors
) -> None:
    mine = (await create(client, headers, actors.pref13)).json()
    assert mine["departement"] == "13"
    other = (await create(client, headers, actors.pref75)).json()
    # R-ACL-1: another département's subscription is not found, for every operation.
    for method, suffix in [
        ("GET", ""),
        ("DELETE", ""),
        ("POST", "/rotate-secret"),
        ("GET", "/deliveries"),
    ]:
        response = await client.request(
            method, f"{HOOKS}/{other['id']}{suffix}", headers=headers(actors.pref13)
        )
        assert response.status_code == 404, (method, suffix)
    listed = await client.get(HOOKS, headers=headers(actors.pref13))
    assert [s["id"] for s in listed.json()["items"]] == [mine["id"]]
    everything = await client.get(HOOKS, headers=headers(actors.dinum))
    assert len(everything.json()["items"]) == 2


@pytest.mark.parametrize("who", ["cand_a", "anct"])
async def test_r_hook_1_candidates_and_anct_cannot_subscribe(
    client: AsyncClient, headers: Any, actors: Actors, who: str
) -> None:
    response = await create(client, headers, getattr(actors, who))
    assert response.status_code == 403


@pytest.mark.parametrize(
    "url",
    [
        "http://93.184.216.34/guichet",  # not https
        "https://user:pw@93.184.216.34/",  # credentials in the URL
        "https://127.0.0.1/guichet",  # loopback (production rules)
        "https://10.1.2.3/guichet",  # private
        "https://169.254.169.254/latest/meta-data",  # link-local: cloud metadata
        "https://[::1]/guichet",
        # Issue 23, point 3: IPv6 transition forms of non-public IPv4 addresses, and ports.
        "https://[64:ff9b::a9fe:a9fe]/",  # NAT64 → 169.254.169.254
        "https://[64:ff9b::a00:1]/",  # NAT64 → 10.0.0.1
        "https://[64:ff9b:1::a9fe:a9fe]/",  # NAT64 local-use
        "https://[::ffff:0:a9fe:a9fe]/",  # IPv4-translated → 169.254.169.254
        "https://[::127.0.0.1]/",  # IPv4-compatible → 127.0.0.1
        "https://[2002:7f00:1::1]/",  # 6to4 → 127.0.0.1
        "https://1.1.1.1:22/",  # not port 443
    ],
)
async def test_r_hook_1_target_url_refused_at_registration(
    client: AsyncClient, headers: Any, actors: Actors, url: str
) -> None:
    response = await create(client, headers, actors.dinum, url=url)
    assert response.status_code == 422
    body = response.json()
    assert body["type"].endswith("/webhook-target-refused")
    assert body["code"] == "R-HOOK-1" and "R-HOOK-1" in body["detail"]
    assert [(e["code"], e["field"]) for e in body["errors"]] == [("R-HOOK-1", "/url")]


async def test_r_hook_1_loopback_is_for_development_only(
    client: AsyncClient, headers: Any, actors: Actors, loopback: None
) -> None:
    response = await create(client, headers, actors.dinum, url="http://127.0.0.1:9/hooks")
    assert response.status_code == 201, response.text


async def test_r_hook_1_the_allow_list_restricts_hosts(
    app: FastAPI, client: AsyncClient, headers: Any, actors: Actors
) -> None:
    settings = app.state.settings
    app.state.settings = settings.model_copy(update={"webhook_allowed_hosts": ["93.184.216.35"]})
    try:
        refused = await create(client, headers, actors.dinum)
        allowed = await create(client, headers, actors.dinum, url="https://93.184.216.35/h")
    finally:
        app.state.settings = settings
    assert refused.status_code == 422
    assert allowed.status_code == 201


async def test_r_hook_1_the_operator_allows_other_ports(
    app: FastAPI, client: AsyncClient, headers: Any, actors: Actors
) -> None:
    settings = app.state.settings
    app.state.settings = settings.model_copy(update={"webhook_allowed_ports": [8443]})
    try:
        allowed = await create(client, headers, actors.dinum, url="https://1.1.1.1:8443/h")
        refused = await create(client, headers, actors.dinum, url="https://1.1.1.1:22/h")
    finally:
        app.state.settings = settings
    assert allowed.status_code == 201, allowed.text
    assert refused.status_code == 422 and refused.json()["code"] == "R-HOOK-1"


@pytest.fixture
def resolves_to(app: FastAPI) -> Iterator[dict[str, list[str]]]:
    """The guard's resolver, answering what the test puts in the returned mapping."""
    answers: dict[str, list[str]] = {}

    async def resolver(host: str, port: int) -> list[str]:
        return answers[host]

    system = app.state.webhook_resolver
    app.state.webhook_resolver = resolver
    yield answers
    app.state.webhook_resolver = system


@pytest.mark.parametrize(
    ("answer", "status"),
    [
        (["93.184.216.34"], 201),
        (["2606:4700::1111", "1.1.1.1"], 201),
        (["64:ff9b::a9fe:a9fe"], 422),  # a name resolving to NAT64 of the metadata address
        (["1.1.1.1", "::ffff:10.0.0.1"], 422),  # one refused answer is enough
        (["169.254.169.254"], 422),
    ],
)
async def test_r_hook_1_a_host_name_is_judged_by_every_address_it_resolves_to(
    client: AsyncClient,
    headers: Any,
    actors: Actors,
    resolves_to: dict[str, list[str]],
    answer: list[str],
    status: int,
) -> None:
    resolves_to["hooks.example.org"] = answer
    response = await create(client, headers, actors.dinum, url="https://hooks.example.org/h")
    assert response.status_code == status, response.text


async def test_r_hook_1_rotation_gives_a_new_secret_and_a_grace_period(
    client: AsyncClient, headers: Any, actors: Actors
) -> None:
    created = (await create(client, headers, actors.dinum)).json()
    rotated = await client.post(
        f"{HOOKS}/{created['id']}/rotate-secret", headers=headers(actors.dinum)
    )
    assert rotated.status_code == 200, rotated.text
    body = rotated.json()
    assert body["secret"].startswith("whsec_") and body["secret"] != created["secret"]
    assert body["previous_secret_until"] is not None


async def test_r_hook_1_delete(client: AsyncClient, headers: Any, actors: Actors) -> None:
    created = (await create(client, headers, actors.dinum)).json()
    deleted = await client.delete(f"{HOOKS}/{created['id']}", headers=headers(actors.dinum))
    assert deleted.status_code == 204
    again = await client.get(f"{HOOKS}/{created['id']}", headers=headers(actors.dinum))
    assert again.status_code == 404


async def test_r_hook_1_the_outbox_row_is_written_with_the_change_and_listed(
    client: AsyncClient, headers: Any, actors: Actors, session: AsyncSession
) -> None:
    created = (await create(client, headers, actors.pref13, types=["committee.closed"])).json()
    for departement in ("13", "75"):
        await audit.record(
            session,
            actors.dinum,
            object_type="committee",
            object_id="c-" + departement,
            departement=departement,
            action="closed",
        )
    await session.commit()
    outbox = (await session.execute(text("SELECT COUNT(*) FROM webhook_delivery"))).scalar_one()
    assert outbox == 1  # the 75's event is not for the prefect of the 13
    listed = await client.get(f"{HOOKS}/{created['id']}/deliveries", headers=headers(actors.pref13))
    assert listed.status_code == 200, listed.text
    [delivery] = listed.json()["items"]
    assert delivery["event_type"] == "committee.closed"
    assert delivery["status"] == "pending" and delivery["attempts"] == 0
    assert delivery["next_attempt_at"] is not None


async def test_r_hook_1_a_submission_s_deliveries_from_the_subscriptions_read_with_it(
    client: AsyncClient, headers: Any, actors: Actors, session: AsyncSession
) -> None:
    """Issue 28: a submission reads the active subscriptions with its dossier, not at its
    commit: each active one that reaches the dossier's département gets its delivery, named by
    the event's place in the chain; another département's and a deleted one get none."""
    national = (await create(client, headers, actors.dinum)).json()
    local = (await create(client, headers, actors.pref13)).json()
    await create(client, headers, actors.pref75)  # R-HOOK-1: another département's
    gone = (await create(client, headers, actors.dinum)).json()
    await client.delete(f"{HOOKS}/{gone['id']}", headers=headers(actors.dinum))
    candidate = await client.post(
        "/api/v1/candidates",
        json={"siret": siret_of(MARSEILLE_SIREN), "kind": "commune"},
        headers=headers(actors.cand_a),
    )
    assert candidate.status_code == 201, candidate.text
    front = Front(client, headers)
    project_id = await front.file(actors.cand_a)
    await front.act(actors.cand_a, project_id, "submit")
    [submitted] = (
        await session.execute(
            select(AuditEvent).where(
                col(AuditEvent.object_id) == project_id,
                col(AuditEvent.action) == "status_changed",
            )
        )
    ).scalars()
    deliveries = (
        await session.execute(
            text("SELECT subscription_id, event_seq, event_type FROM webhook_delivery")
        )
    ).all()
    assert sorted((str(uuid.UUID(str(s))), q, t) for s, q, t in deliveries) == sorted(
        (subscription["id"], submitted.seq, "project.status_changed")
        for subscription in (national, local)
    )


async def test_r_hook_1_replay_needs_a_known_event(
    client: AsyncClient, headers: Any, actors: Actors
) -> None:
    created = (await create(client, headers, actors.dinum)).json()
    response = await client.post(
        f"{HOOKS}/{created['id']}/replay",
        params={"after": "00000000-0000-0000-0000-000000000001"},
        headers=headers(actors.dinum),
    )
    assert response.status_code == 404


async def test_r_audit_1_subscriptions_are_audited_without_their_secrets(
    client: AsyncClient, headers: Any, actors: Actors
) -> None:
    created = (await create(client, headers, actors.pref13)).json()
    await client.post(f"{HOOKS}/{created['id']}/rotate-secret", headers=headers(actors.pref13))
    await client.delete(f"{HOOKS}/{created['id']}", headers=headers(actors.pref13))
    response = await client.get(
        "/api/v1/audit-events", params={"object_type": "webhook"}, headers=headers(actors.pref13)
    )
    found = response.json()["items"]
    assert [e["action"] for e in found] == ["created", "secret_rotated", "deleted"]
    assert all(e["object"]["departement"] == "13" for e in found)
    assert "whsec_" not in response.text
