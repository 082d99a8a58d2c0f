"""Issue 9, end to end and through the API only, as front-ends would drive it: candidates
register, file and submit; the 13 becomes due at its 10th dossier (R-COM-1); the prefecture
and ANCT evaluate (R-EVAL-1..4); a committee decides and closes (R-COM-2, R-COM-3), which
commits exactly the accepted grants (R-CAP-4); the count restarts; the candidate reads its
decision; a convention and payments take the accepted dossier to `completed` (R-PAY-1, R-PAY-2).
"""

from __future__ import annotations

from typing import Any

from httpx import AsyncClient, Response

from app.auth.principal import Principal
from app.core import clock
from tests.api.budgets.driver import Money, figures, problem
from tests.api.committees.driver import Committees
from tests.api.evaluations.driver import Evaluations, body as evaluation_body
from tests.conftest import AIX_SIREN, MARSEILLE_SIREN, PARIS_SIREN, Actors
from tests.support import file_required_documents, siret_of

PROJECTS = "/api/v1/projects"


class Front:
    """What a candidates' front-end sends."""

    def __init__(self, client: AsyncClient, headers: Any) -> None:
        self.client, self.headers = client, headers

    async def register(self, who: Principal, siren: str) -> None:
        response = await self.client.post(
            "/api/v1/candidates",
            json={"siret": siret_of(siren), "kind": "commune"},
            headers=self.headers(who),
        )
        assert response.status_code == 201, response.text

    async def file(
        self, who: Principal, *, strand: str = "3c", requested_cents: int = 1_000_000
    ) -> str:
        response = await self.client.post(
            PROJECTS,
            json={
                "strand": strand,
                "title": f"Projet {strand} de {who.subject}",
                "description": "Un service numérique pour les usagers de la commune.",
                "nature": "modernisation",
                # Starts the day it is filed (R-ELIG-8), so that its final report, received
                # today, is not before the project's start (R-PAY-3).
                "start_on": clock.today().isoformat(),
                "end_on": "2022-06-30",
                "sponsor": {"name": "Mme la Maire", "role": "Maire"},
                "expense_lines": [
                    {"category": "development", "label": "Développement", "amount_cents": 4_000_000}
                ],
                "requested_cents": requested_cents,
            },
            headers=self.headers(who),
        )
        assert response.status_code == 201, response.text
        return str(response.json()["id"])

    async def read(self, who: Principal, project_id: str) -> Response:
        return await self.client.get(f"{PROJECTS}/{project_id}", headers=self.headers(who))

    async def act(self, who: Principal, project_id: str, action: str, **body: Any) -> None:
        if action == "submit":  # R-DOC-1: the documents it asks for first
            await file_required_documents(self.client, self.headers(who), project_id)
        etag = (await self.read(who, project_id)).headers["ETag"]
        response = await self.client.post(
            f"{PROJECTS}/{project_id}/{action}",
            json=body or None,
            headers={**self.headers(who), "If-Match": etag},
        )
        assert response.status_code == 200, response.text


async def test_issue_9_from_submission_to_completion_through_the_api(
    client: AsyncClient, headers: Any, actors: Actors, session: Any
) -> None:
    front = Front(client, headers)
    committees = Committees(client, headers, actors)
    evaluations = Evaluations(client, headers)
    money = Money(client, session, headers, actors)
    pref = actors.pref13
    assert (await money.allocate("13", 10_000_000)).status_code == 201
    await front.register(actors.cand_a, MARSEILLE_SIREN)
    await front.register(actors.cand_b, AIX_SIREN)
    await front.register(actors.cand_paris, PARIS_SIREN)

    # -- R-COM-1: nine dossiers of the 13 do not make it due; the next door's do not count ---
    marseille = [await front.file(actors.cand_a, requested_cents=3_000_000) for _ in range(8)]
    aix_3b = await front.file(actors.cand_b, strand="3b", requested_cents=2_000_000)
    for project_id in [*marseille, aix_3b]:
        await front.act(
            actors.cand_a if project_id != aix_3b else actors.cand_b, project_id, "submit"
        )
    for _ in range(3):
        await front.act(actors.cand_paris, await front.file(actors.cand_paris), "submit")
    withdrawn = await front.file(actors.cand_a)
    await front.act(actors.cand_a, withdrawn, "submit")
    await front.act(actors.cand_a, withdrawn, "withdraw")  # withdrawn ones do not count
    status = await committees.status(who=actors.dinum)
    assert (status["13"]["due"], status["13"]["submitted_since_last"]) == (False, 9)
    assert (status["75"]["due"], status["75"]["submitted_since_last"]) == (False, 3)
    tenth = await front.file(actors.cand_a, requested_cents=1_500_000)
    await front.act(actors.cand_a, tenth, "submit")
    status = await committees.status()
    assert set(status) == {"13"}  # the prefect sees its own département only
    assert (status["13"]["due"], status["13"]["reason"]) == (True, "threshold")
    assert (status["13"]["submitted_since_last"], status["13"]["since"]) == (10, None)

    # -- instruction and evaluations (R-EVAL-1..4) ----------------------------------------
    accepted, rejected, deferred = marseille[0], marseille[1], marseille[2]
    on_agenda = [accepted, aix_3b, rejected, deferred]
    for project_id in on_agenda:
        await front.act(pref, project_id, "start-review")
    await evaluations.evaluate(pref, accepted, evaluation_body("3c", 4))
    await evaluations.evaluate(pref, aix_3b, evaluation_body("3b", 3))
    await evaluations.evaluate(pref, rejected, evaluation_body("3c", 1))
    advisory = await evaluations.evaluate(actors.anct, aix_3b, evaluation_body("3b", 5))
    assert advisory["advisory"] is True  # R-EVAL-3
    refused = await evaluations.post(actors.anct, accepted, evaluation_body("3c", 5))
    problem(refused, 403, "R-EVAL-3")
    read_by_state = (await front.read(actors.dinum, aix_3b)).json()["evaluations"]
    assert read_by_state == {
        "count": 1,
        "mean_weighted_total": "3.00",
        "advisory_count": 1,
        "advisory_mean_weighted_total": "5.00",
    }
    # R-EVAL-4: the candidate sees neither the evaluations nor their count nor a score
    assert (await front.read(actors.cand_b, aix_3b)).json()["evaluations"] is None
    assert (await evaluations.list(actors.cand_b, aix_3b)).status_code == 403

    # -- the committee: agenda ordered by the prefecture's mean, decisions, close ----------
    committee_id = await committees.new(meeting_on=clock.today().isoformat())
    agenda = await committees.agenda(committee_id, on_agenda)
    assert agenda.status_code == 200, agenda.text
    assert [row["project_id"] for row in agenda.json()["agenda"]] == [
        accepted,
        aix_3b,
        rejected,
        deferred,
    ]
    for project_id, outcome, amount, motivation in [
        (accepted, "accepted", 3_000_000, None),
        (aix_3b, "accepted", 1_500_000, None),
        (rejected, "rejected", None, "Le projet ne démontre pas d'effet sur les usagers."),
        (deferred, "deferred", None, None),
    ]:
        decided = await committees.decide(committee_id, project_id, outcome, amount, motivation)
        assert decided.status_code == 200, decided.text
    assert (await committees.decision(accepted, who=actors.cand_a)).status_code == 404
    closed = await committees.close(committee_id, key="close-13-1")
    assert closed.status_code == 200, closed.text
    assert closed.json()["status"] == "closed"

    # the close committed exactly the accepted amounts: envelope and ledger read back
    assert figures(await money.envelope("13")) == (10_000_000, 4_500_000, 0, 5_500_000)
    commitments = [m for m in await money.ledger("13") if m["kind"] == "commitment"]
    assert sorted((m["project_id"], m["committed_delta_cents"]) for m in commitments) == sorted(
        [(accepted, 3_000_000), (aix_3b, 1_500_000)]
    )
    states = {p: (await front.read(pref, p)).json()["status"] for p in on_agenda}
    assert states == {
        accepted: "accepted",
        aix_3b: "accepted",
        rejected: "rejected",
        deferred: "in_review",
    }
    minutes = (await committees.minutes(committee_id, who=actors.dinum)).json()
    assert len(minutes["decisions"]) == 4

    # R-COM-1: the count restarts at the close
    status = await committees.status()
    assert (status["13"]["due"], status["13"]["submitted_since_last"]) == (False, 0)
    assert status["13"]["since"] is not None

    # -- the candidate reads its decisions once the committee is closed ----------------------
    seen = (await committees.decision(accepted, who=actors.cand_a)).json()
    assert (seen["outcome"], seen["granted_cents"], seen["final"]) == ("accepted", 3_000_000, True)
    motivated = (await committees.decision(rejected, who=actors.cand_a)).json()
    assert (motivated["outcome"], motivated["motivation"]) == (
        "rejected",
        "Le projet ne démontre pas d'effet sur les usagers.",
    )
    grant = await client.get(f"{PROJECTS}/{accepted}/grant", headers=headers(actors.cand_a))
    assert grant.status_code == 200, grant.text
    assert grant.json()["amount_cents"] == 3_000_000
    assert committee_id in grant.json()["decision_reference"]

    # -- convention, advance, instalment, final report, balance: completed -----------------
    schedule = [
        {
            "label": "Avance",
            "kind": "advance",
            "due_on": clock.today().isoformat(),
            "amount_cents": 900_000,
        },
        {
            "label": "Acompte",
            "kind": "instalment",
            "due_on": clock.today().isoformat(),
            "amount_cents": 1_500_000,
        },
        {
            "label": "Solde",
            "kind": "balance",
            "due_on": clock.today().isoformat(),
            "amount_cents": 600_000,
        },
    ]
    signed = await money.convention(accepted, schedule=schedule)
    assert signed.status_code == 200, signed.text
    for kind, amount in [("advance", 900_000), ("instalment", 1_500_000)]:
        assert (await money.pay(accepted, kind, amount)).status_code == 201
    # R-PAY-2: nothing beyond 80 % before the final report
    problem(await money.pay(accepted, "balance", 600_000), 409, "R-PAY-2")
    assert (await money.final_report(accepted)).status_code == 200
    assert (await money.pay(accepted, "balance", 600_000)).status_code == 201
    assert (await front.read(actors.cand_a, accepted)).json()["status"] == "completed"
    assert figures(await money.envelope("13")) == (10_000_000, 4_500_000, 3_000_000, 5_500_000)
