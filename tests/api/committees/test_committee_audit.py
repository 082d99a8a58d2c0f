"""R-AUDIT-1 / R-HOOK-1 for evaluations and committees: each change writes one chained event in
its transaction (a refused close writes none), and a committee's close reaches a subscriber as
`committee.closed` carrying the committee as the API reads it to that subscriber."""

from __future__ import annotations

from typing import Any

from httpx import AsyncClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.principal import Principal, Role
from app.candidates.models import Candidate
from app.webhooks.models import WebhookDelivery
from app.webhooks.worker import RENDERERS
from tests.api.audit.test_audit_events import events, verify
from tests.api.budgets.driver import Money
from tests.api.committees.driver import Committees
from tests.api.committees.test_committees import dossier
from tests.api.evaluations.driver import Evaluations, body as evaluation_body
from tests.conftest import Actors


async def test_r_audit_1_evaluations_and_committees_are_audited_and_chained(
    client: AsyncClient,
    headers: Any,
    actors: Actors,
    session: AsyncSession,
    committees: Committees,
    money: Money,
    marseille: Candidate,
    envelope_13: Any,
) -> None:
    granted = await dossier(session, marseille, requested=1_000_000)
    big = [await dossier(session, marseille, requested=5_000_000) for _ in range(2)]
    evaluation = await Evaluations(client, headers).evaluate(
        actors.pref13, granted, evaluation_body("3c", 4)
    )
    committee_id = await committees.new()
    assert (await committees.agenda(committee_id, [granted])).status_code == 200
    decided = await committees.decide(committee_id, granted, "accepted", 1_000_000)
    assert decided.status_code == 200, decided.text
    assert (await committees.close(committee_id)).status_code == 200

    # a refused close (R-COM-3: 90 000 € left for 2 × 50 000 €) is rolled back with every
    # event its first commitment had written
    other = await committees.new()
    assert (await committees.agenda(other, big)).status_code == 200
    before = len(await events(client, headers, actors.dinum))
    for project_id in big:
        decided = await committees.decide(other, project_id, "accepted", 5_000_000)
        assert decided.status_code == 200, decided.text
    refused = await committees.close(other)
    assert refused.status_code == 409, refused.text
    after = await events(client, headers, actors.dinum)
    assert [e["action"] for e in after[before:]] == ["decision_recorded", "decision_recorded"]
    assert (await money.envelope("13"))["available_cents"] == 9_000_000

    mine = await events(client, headers, actors.pref13, object_id=committee_id)
    assert [e["action"] for e in mine] == [
        "created",
        "agenda_changed",
        "decision_recorded",
        "closed",
    ]
    assert mine[1]["after"] == {"agenda": [str(granted)]}
    assert mine[2]["after"]["outcome"] == "accepted"
    assert mine[2]["after"]["granted_cents"] == 1_000_000
    assert mine[3]["after"]["decisions"] == [
        {"project_id": str(granted), "outcome": "accepted", "granted_cents": 1_000_000}
    ]
    (scored,) = await events(client, headers, actors.dinum, object_id=evaluation["id"])
    assert (scored["object"]["type"], scored["action"]) == ("evaluation", "created")
    assert scored["after"]["weighted_total_centi"] == 400
    # the close's own transitions and commitment are in the chain too, which holds
    transitions = await events(client, headers, actors.dinum, object_id=str(granted))
    assert "status_changed" in [e["action"] for e in transitions]
    checked = await verify(client, headers, actors)
    assert checked["valid"] is True, checked
    assert checked["verified_up_to"] == after[-1]["seq"] == len(after)


async def test_r_hook_1_a_committee_close_reaches_subscribers_as_the_api_reads_it(
    client: AsyncClient,
    headers: Any,
    actors: Actors,
    session: AsyncSession,
    committees: Committees,
    marseille: Candidate,
    envelope_13: Any,
) -> None:
    subscribed = await client.post(
        "/api/v1/webhooks",
        json={"url": "https://93.184.216.34/guichet", "event_types": ["committee.closed"]},
        headers=headers(actors.pref13),
    )
    assert subscribed.status_code == 201, subscribed.text
    project_id = await dossier(session, marseille)
    committee = await committees.grant(project_id, 800_000)
    row = (
        await session.execute(
            text("SELECT id FROM webhook_delivery WHERE event_type = 'committee.closed'")
        )
    ).one()
    delivery = await session.get_one(WebhookDelivery, row[0])
    assert delivery.object_id == committee["id"]
    subscriber = Principal(actors.pref13.subject, Role.PREFECT, departement="13")
    data = await RENDERERS["committee"](session, subscriber, delivery)
    assert (data["id"], data["status"]) == (committee["id"], "closed")
    assert data["agenda"][0]["decision"]["granted_cents"] == 800_000
