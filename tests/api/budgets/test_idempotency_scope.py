"""Idempotency-Key and scope (R-ACL-1): a stored answer is replayed only to the caller who made
the request (subject, role AND scope), and only once the object is found in the caller's scope.

The first probe: the prefect of 13 records a payment with `Idempotency-Key: K`; the prefect of
2A, whose development token carries the same `sub`, sent the same request and received 201
`Idempotent-Replayed: true` with 13's payment, where the same request without the key was 404.
"""

from __future__ import annotations

import uuid

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.principal import Principal, Role
from app.candidates.models import Candidate
from tests.api.budgets.conftest import GRANT
from tests.api.budgets.driver import STATE_SIREN, Money, count, problem
from tests.conftest import Actors
from tests.factories import make_candidate, make_project
from tests.support import siret_of

AJACCIO_SIREN = "212000046"  # commune of 2A
KEY = "virement-2021-0042"


def twin_of_pref13(actors: Actors) -> Principal:
    """The prefect of 2A, whose token carries the very `sub` of the prefect of 13."""
    return Principal(actors.pref13.subject, Role.PREFECT, departement="2A")


async def payments_of(session: AsyncSession, project_id: uuid.UUID) -> int:
    return await count(
        session, "SELECT COUNT(*) FROM payment WHERE project_id = :p", p=project_id.hex
    )


async def dossier_of_2a_under_convention(
    money: Money, session: AsyncSession, prefect: Principal
) -> uuid.UUID:
    allocation = await money.allocate(
        "2A",
        10_000_000,
        prefecture=False,
        prefecture_name="Préfecture de la Corse-du-Sud",
        prefecture_siret=siret_of(STATE_SIREN, "0020"),
    )
    assert allocation.status_code == 201, allocation.text
    ajaccio: Candidate = await make_candidate(session, siren=AJACCIO_SIREN)
    project = await make_project(session, candidate=ajaccio, status="in_review")
    await money.commit(project.id, GRANT, who=prefect)
    convention = await money.convention(project.id, who=prefect)
    assert convention.status_code == 200, convention.text
    return project.id


async def test_r_acl_1_a_prefect_sharing_a_sub_gets_404_not_the_replay_of_anothers_payment(
    money: Money, session: AsyncSession, actors: Actors, under_convention: uuid.UUID
) -> None:
    first = await money.pay(under_convention, "advance", 300_000, key=KEY)
    assert first.status_code == 201, first.text
    twin = twin_of_pref13(actors)

    with_key = await money.pay(under_convention, "advance", 300_000, key=KEY, who=twin)
    problem(with_key, 404, "project-not-found")
    assert "Idempotent-Replayed" not in with_key.headers
    assert str(first.json()["id"]) not in with_key.text
    without_key = await money.pay(under_convention, "advance", 300_000, who=twin)
    problem(without_key, 404, "project-not-found")
    assert await payments_of(session, under_convention) == 1

    # the prefect of 13 still gets the replay of its own payment
    again = await money.pay(under_convention, "advance", 300_000, key=KEY)
    assert again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()


async def test_r_acl_1_the_same_key_on_an_out_of_scope_dossier_is_404_not_a_key_reuse(
    money: Money,
    session: AsyncSession,
    actors: Actors,
    under_convention: uuid.UUID,
    paris: Candidate,
) -> None:
    assert (await money.pay(under_convention, "advance", 300_000, key=KEY)).status_code == 201
    elsewhere = await make_project(session, candidate=paris, status="in_review")
    # same key, same body, another dossier, out of the prefect's scope: 404 (R-ACL-1), where a
    # 422 idempotency-key-reused would tell that the dossier exists
    response = await money.pay(elsewhere.id, "advance", 300_000, key=KEY)
    problem(response, 404, "project-not-found")
    unknown = await money.pay(uuid.uuid4(), "advance", 300_000, key=KEY)
    problem(unknown, 404, "project-not-found")
    assert await payments_of(session, under_convention) == 1


async def test_r_acl_1_a_prefect_sharing_a_sub_has_keys_of_its_own_on_its_own_dossier(
    money: Money, session: AsyncSession, actors: Actors, under_convention: uuid.UUID
) -> None:
    twin = twin_of_pref13(actors)
    ours = await dossier_of_2a_under_convention(money, session, twin)
    theirs = await money.pay(under_convention, "advance", 300_000, key=KEY)
    assert theirs.status_code == 201, theirs.text

    mine = await money.pay(ours, "advance", 300_000, key=KEY, who=twin)
    assert mine.status_code == 201, mine.text
    assert "Idempotent-Replayed" not in mine.headers  # a fresh effect, not 13's answer
    assert mine.json()["id"] != theirs.json()["id"]
    assert await payments_of(session, ours) == 1
    assert await payments_of(session, under_convention) == 1

    replay = await money.pay(ours, "advance", 300_000, key=KEY, who=twin)
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert replay.json() == mine.json()
    assert await payments_of(session, ours) == 1

    rows = (
        await session.execute(
            text(
                "SELECT principal_subject, principal_role, principal_scope "
                "FROM idempotency_record WHERE key = :k ORDER BY principal_scope"
            ),
            {"k": KEY},
        )
    ).all()
    assert [tuple(r) for r in rows] == [
        (actors.pref13.subject, "prefect", "13"),
        (actors.pref13.subject, "prefect", "2A"),
    ]
