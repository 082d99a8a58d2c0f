"""Issue 14 through the API against a fake démarches-simplifiées on 127.0.0.1 (fake_ds.py):
the mapping, the import of the three sample dossiers, re-sync, a changed dossier, refusals, a
GraphQL failure, and the decisions written back after a committee closes."""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
import pytest_asyncio
from fastapi import FastAPI
from httpx import AsyncClient, Response
from pydantic import SecretStr
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.auth.principal import Principal, Role
from app.ds.worker import deliver_once
from app.ds.write_back import real_now
from tests.api.budgets.driver import STATE_SIREN, Money
from tests.api.committees.driver import Committees
from tests.api.ds.fake_ds import DEMARCHE, TOKEN, FakeDS, Scripted, serve
from tests.conftest import Actors
from tests.support import siret_of

DS = "/api/v1/ds"
PROJECTS = "/api/v1/projects"
PREF47 = Principal("prefet-47", Role.PREFECT, departement="47")
PREF33 = Principal("prefet-33", Role.PREFECT, departement="33")
INSTRUCTEUR = "SW5zdHJ1Y3RldXItNDI="
VILLENEUVE, AGGLO, AGME = 1032882, 1032917, 1033140

MAPPING: dict[str, Any] = {
    "fields": {
        "siret": "SIRET de la collectivité",
        "kind": "Type de collectivité",
        "departement": "Département",
        "strand": "Volet sollicité",
        "title": "Intitulé du projet",
        "description": "Description du projet",
        "start_on": "Date de début du projet",
        "end_on": "Date de fin du projet",
        "requested": "Montant de subvention demandé (€)",
        "sponsor_name": "Élu ou responsable qui porte le projet",
        "sponsor_role": "Élu ou responsable qui porte le projet",
    },
    "nature": "modernisation",
    "kinds": [
        {"label": "Commune", "kind": "commune"},
        {"label": "EPCI - Communauté d'agglomération", "kind": "epci"},
    ],
    "strands": [
        {"label": "3a - Accompagnement par un expert du numérique", "strand": "3a"},
        {"label": "3b - Formation au numérique des agents", "strand": "3b"},
        {"label": "3c - Projet améliorant la relation à l'usager", "strand": "3c"},
    ],
    "expenses": {
        "block": "Postes de dépense",
        "category": "Nature de la dépense",
        "label": "Libellé",
        "amount": "Montant TTC (€)",
    },
    "categories": [
        {"label": "Prestation de développement", "category": "development"},
        {"label": "Formation des agents", "category": "training"},
        {"label": "Étude / diagnostic", "category": "study"},
        {
            "label": "Licence logicielle (éditeur hors UE)",
            "category": "software_licence",
            "vendor_origin": "extra_eu",
        },
        {"label": "Équipement informatique des agents", "category": "equipment_agents"},
    ],
}


@pytest_asyncio.fixture
async def fake(app: FastAPI) -> AsyncIterator[FakeDS]:
    """The fake DS, and the app's settings pointing at it (restored afterwards)."""
    async with serve(FakeDS()) as server:
        saved = app.state.settings
        app.state.settings = saved.model_copy(
            update={
                "ds_api_url": server.url,
                "ds_api_token": SecretStr(TOKEN),
                "ds_instructeur_id": INSTRUCTEUR,
                "ds_page_size": 2,  # the three dossiers come in two pages, as in the samples
                "ds_max_retries": 3,
                "ds_requests_per_minute": 400,
            }
        )
        try:
            yield server
        finally:
            app.state.settings = saved


class Ds:
    def __init__(self, client: AsyncClient, headers: Any, actors: Actors) -> None:
        self.client, self.headers, self.actors = client, headers, actors

    async def put_mapping(
        self,
        body: dict[str, Any] | None = None,
        *,
        who: Principal | None = None,
        etag: str | None = '"v0"',
        **extra: str,
    ) -> Response:
        """PUT the mapping; If-Match `etag` ("v0", a mapping not created yet, by default;
        None sends none) unless `extra` gives one."""
        headers = {**self.headers(who or self.actors.dinum)}
        if etag is not None:
            headers["If-Match"] = etag
        return await self.client.put(
            f"{DS}/demarches/{DEMARCHE}/mapping",
            json=body or MAPPING,
            headers={**headers, **extra},
        )

    async def sync(self, who: Principal | None = None) -> Response:
        return await self.client.post(
            f"{DS}/demarches/{DEMARCHE}/sync", headers=self.headers(who or self.actors.dinum)
        )

    async def synced(self, who: Principal | None = None) -> dict[str, Any]:
        response = await self.sync(who)
        assert response.status_code == 200, response.text
        return response.json()  # type: ignore[no-any-return]

    async def project(self, project_id: str, who: Principal | None = None) -> dict[str, Any]:
        response = await self.client.get(
            f"{PROJECTS}/{project_id}", headers=self.headers(who or self.actors.dinum)
        )
        assert response.status_code == 200, response.text
        return response.json()  # type: ignore[no-any-return]

    async def get(self, path: str, who: Principal | None = None) -> dict[str, Any]:
        response = await self.client.get(path, headers=self.headers(who or self.actors.dinum))
        assert response.status_code == 200, response.text
        return response.json()  # type: ignore[no-any-return]


@pytest.fixture
def ds(client: AsyncClient, headers: Any, actors: Actors) -> Ds:
    return Ds(client, headers, actors)


def by_number(report: dict[str, Any]) -> dict[int, dict[str, Any]]:
    return {item["dossier_number"]: item for item in report["items"]}


async def imported(ds: Ds) -> dict[int, dict[str, Any]]:
    assert (await ds.put_mapping()).status_code == 201
    report = await ds.synced()
    return by_number(report)


async def test_the_three_sample_dossiers_import_with_their_candidates_strands_costs_and_outcomes(
    ds: Ds, fake: FakeDS, clock_at: Any
) -> None:
    """R-REF-1, R-REF-2, R-FLOW-2, R-ELIG-8 (against dateDepot), R-EXCL-1, R-EXCL-2."""
    clock_at("2021-04-10")  # after the 3c dossier's start (2021-04-01), after its dateDepot
    fake.query_script.append(Scripted(429, headers={"Retry-After": "1"}))  # once
    assert (await ds.put_mapping()).status_code == 201
    report = await ds.synced()
    queries = [r for r in fake.requests if not r["mutation"]]
    assert len(queries) == 3  # the 429, then two pages; the 429 was waited out and retried
    assert queries[1]["variables"]["first"] == 2 and queries[1]["variables"]["after"] is None
    assert queries[2]["variables"]["after"] is not None
    assert (report["created"], report["updated"], report["refused"]) == (3, 0, 0)
    assert (report["pages"], report["fetched"], report["drafts"]) == (2, 3, 1)
    items = by_number(report)

    # 3c, Villeneuve-sur-Lot: en_instruction on DS → in review here. R-ELIG-8 measured on
    # dateDepot (2021-03-02), not on today (2021-04-10, after its start).
    v = await ds.project(items[VILLENEUVE]["project_id"])
    assert (v["status"], v["strand"], v["departement"]) == ("in_review", "3c", "47")
    assert v["total_cost_cents"] == 4_800_000 and v["requested_cents"] == 2_400_000
    assert [
        (line["category"], line["amount_cents"], line["vendor_origin"])
        for line in v["expense_lines"]
    ] == [
        ("development", 3_600_000, None),
        ("training", 400_000, None),
        ("software_licence", 800_000, "extra_eu"),
    ]
    assert v["sponsor"] == {
        "name": "Maire de Villeneuve-sur-Lot",
        "role": "Maire de Villeneuve-sur-Lot",
    }
    eligibility = await ds.get(f"{PROJECTS}/{v['id']}/eligibility")
    # R-EXCL-2: extra-EU licences capped at 10 % of the eligible cost: 40 000 € → 4 444,44 €
    assert eligibility["eligible_cost_cents"] == 4_000_000 + 444_444
    candidate = await ds.get(f"/api/v1/candidates/{v['candidate_id']}")
    # R-REF-1 / R-REF-2: the commune's identity comes from the reference data, verified.
    assert (candidate["siren"], candidate["kind"], candidate["verification"]) == (
        "214703233",
        "commune",
        "verified",
    )
    assert candidate["population"] == 22350
    side = await ds.get(f"{PROJECTS}/{v['id']}/ds")
    assert (side["dossier_number"], side["dossier_id"], side["ds_state"]) == (
        VILLENEUVE,
        "RG9zc2llci0xMDMyODgy",
        "en_instruction",
    )
    assert side["mutations"] == []  # imported in instruction: nothing to tell DS

    # 3a, the agglomération: en_construction on DS → submitted here, an EPCI of the reference.
    a = await ds.project(items[AGGLO]["project_id"])
    assert (a["status"], a["strand"], a["total_cost_cents"]) == ("submitted", "3a", 2_500_000)
    agglo = await ds.get(f"/api/v1/candidates/{a['candidate_id']}")
    assert (agglo["kind"], agglo["siren"], agglo["verification"]) == (
        "epci",
        "200023307",
        "verified",
    )

    # 3b, Agmé: the tablet is agents' equipment (R-EXCL-1), excluded: 2 400 € eligible for
    # 3 000 € requested (R-CAP-1): imported as a draft with its report, listed so (R-FLOW-2).
    g = await ds.project(items[AGME]["project_id"])
    assert (g["status"], g["strand"]) == ("draft", "3b")
    assert items[AGME]["draft"] is True and items[AGME]["outcome"] == "created"
    assert "R-CAP-1" in {r["code"] for r in items[AGME]["reasons"]}
    report_g = await ds.get(f"{PROJECTS}/{g['id']}/eligibility")
    assert report_g["eligible_cost_cents"] == 240_000
    assert [(x["label"], x["excluded_cents"], x["rule"]) for x in report_g["excluded"]] == [
        ("Tablette pour l'atelier", 60_000, "R-EXCL-1")
    ]
    assert [line["category"] for line in g["expense_lines"]] == ["training", "equipment_agents"]


async def test_a_second_sync_with_nothing_new_changes_nothing(ds: Ds, fake: FakeDS) -> None:
    items = await imported(ds)
    before = {n: await ds.project(i["project_id"]) for n, i in items.items()}
    first = (await ds.get(f"{DS}/syncs"))["items"][-1]
    again = await ds.synced()
    assert (again["created"], again["updated"], again["refused"], again["flagged"]) == (0, 0, 0, 0)
    assert again["updated_since"] == first["high_water"]  # updatedSince = the high-water mark
    assert fake.requests[-1]["variables"]["updatedSince"] is not None
    for number, item in items.items():
        assert await ds.project(item["project_id"]) == before[number]
    runs = (await ds.get(f"{DS}/syncs"))["items"]
    assert [(r["created"], r["updated"]) for r in runs] == [(3, 0), (0, 0)]


async def test_a_dossier_corrected_on_ds_is_updated_and_submitted(ds: Ds, fake: FakeDS) -> None:
    """R-FLOW-2: the draft imported ineligible is submitted once corrected on DS."""
    items = await imported(ds)
    fake.edit(
        AGME,
        "2021-03-25T09:00:00+01:00",
        **{"Montant de subvention demandé (€)": 2400.0, "Intitulé du projet": "Ateliers"},
    )
    report = await ds.synced()
    assert (report["created"], report["updated"]) == (0, 1)
    assert by_number(report)[AGME]["outcome"] == "updated"
    g = await ds.project(items[AGME]["project_id"])
    assert (g["status"], g["requested_cents"], g["title"]) == ("submitted", 240_000, "Ateliers")


async def test_bad_nodes_are_refused_with_their_reason_and_the_rest_imported(
    ds: Ds, fake: FakeDS
) -> None:
    villeneuve, agglo = fake.node(VILLENEUVE), fake.node(AGGLO)
    villeneuve["champs"][0]["stringValue"] = "21470323300013"  # R-ELIG-2: Luhn fails
    agglo["champs"][12]["rows"][0]["champs"][0]["value"] = "Abonnement"  # unknown category
    agglo["champs"][12]["rows"][0]["champs"][0]["stringValue"] = "Abonnement"
    malformed = copy.deepcopy(fake.node(AGME))
    malformed.update(id="RG9zc2llci0x", number=1, champs="?")
    missing = copy.deepcopy(fake.node(AGME))
    missing.update(id="RG9zc2llci0y", number=2)
    missing["champs"] = [c for c in missing["champs"] if c["label"] != "Intitulé du projet"]
    fake.nodes += [malformed, missing]
    assert (await ds.put_mapping()).status_code == 201
    report = await ds.synced()
    items = by_number(report)
    assert (report["created"], report["refused"]) == (1, 4)
    assert items[AGME]["outcome"] == "created"
    reasons = {n: {r["reason"] for r in i["reasons"]} for n, i in items.items()}
    assert reasons[VILLENEUVE] == {"invalid_siret"}
    assert reasons[AGGLO] == {"unknown_value"}
    assert reasons[1] == {"malformed"}
    assert reasons[2] == {"unmapped_champ"}
    assert "Intitulé du projet" in items[2]["reasons"][0]["message"]
    assert items[VILLENEUVE]["reasons"][0]["code"] == "R-ELIG-2"
    projects = await ds.get(PROJECTS)
    assert len(projects["items"]) == 1


async def test_a_prefect_imports_only_its_departement(ds: Ds, fake: FakeDS) -> None:
    """R-ACL-1: another département's dossiers are reported out of scope."""
    assert (await ds.put_mapping()).status_code == 201
    report = await ds.synced(PREF33)
    assert (report["created"], report["refused"]) == (0, 3)
    assert {r["reason"] for i in report["items"] for r in i["reasons"]} == {"out_of_scope"}
    report = await ds.synced(PREF47)
    assert report["created"] == 3
    runs = (await ds.get(f"{DS}/syncs", PREF33))["items"]
    assert [r["departement"] for r in runs] == ["33"]


async def test_a_graphql_error_fails_the_sync_with_nothing_written(ds: Ds, fake: FakeDS) -> None:
    fake.errors_on_query = 2  # the second page
    assert (await ds.put_mapping()).status_code == 201
    response = await ds.sync()
    assert response.status_code == 502, response.text
    assert response.json()["code"] == "DS-GRAPHQL"
    assert "Internal error" in response.json()["detail"]
    assert (await ds.get(PROJECTS))["items"] == []
    assert (await ds.get("/api/v1/candidates"))["items"] == []
    assert (await ds.get(f"{DS}/syncs"))["items"] == []


async def test_mapping_needs_if_match_and_stays_in_scope(ds: Ds, fake: FakeDS) -> None:
    """R-FLOW-3 and R-ACL-1 on the mapping: even its creation carries If-Match, "v0" (the
    version of a mapping that does not exist yet), so that two creations never overwrite."""
    assert (await ds.put_mapping(who=PREF47, etag=None)).status_code == 428
    assert (await ds.put_mapping(who=PREF47, etag='"v1"')).status_code == 412
    created = await ds.put_mapping(who=PREF47)
    assert created.status_code == 201 and created.json()["departement"] == "47"
    etag = created.headers["ETag"]
    assert etag == '"v1"'
    assert (await ds.put_mapping(who=PREF47, etag=None)).status_code == 428
    assert (await ds.put_mapping(who=PREF47)).status_code == 412  # "v0": it exists now
    assert (await ds.put_mapping(who=PREF47, **{"If-Match": '"v9"'})).status_code == 412
    assert (await ds.put_mapping(who=PREF33, **{"If-Match": etag})).status_code == 404
    read = await ds.client.get(f"{DS}/demarches/{DEMARCHE}/mapping", headers=ds.headers(PREF33))
    assert read.status_code == 404
    changed = {**MAPPING, "nature": "innovation"}
    replaced = await ds.put_mapping(changed, who=PREF47, **{"If-Match": etag})
    assert replaced.status_code == 200 and replaced.json()["nature"] == "innovation"
    assert replaced.headers["ETag"] != etag


def worker_sessions(session: AsyncSession) -> async_sessionmaker[AsyncSession]:
    """The worker's sessions, on the test's connection (its transaction is rolled back)."""
    return async_sessionmaker(
        bind=session.bind, expire_on_commit=False, join_transaction_mode="create_savepoint"
    )


async def drain(app: FastAPI, session: AsyncSession) -> None:
    """Run the worker until nothing is due, jumping over the backoff."""
    sessions, moment = worker_sessions(session), real_now()
    for _ in range(10):
        moment += timedelta(hours=1)
        if not await deliver_once(sessions, app.state.settings, now=moment):
            return


async def test_decisions_after_a_committee_close_reach_ds_exactly_once_through_an_outage(
    ds: Ds,
    fake: FakeDS,
    app: FastAPI,
    session: AsyncSession,
    money: Money,
    committees: Committees,
) -> None:
    items = await imported(ds)
    villeneuve, agglo = items[VILLENEUVE]["project_id"], items[AGGLO]["project_id"]
    assert (
        await money.allocate(
            "47",
            10_000_000,
            prefecture=False,
            prefecture_name="Préfecture de Lot-et-Garonne",
            prefecture_siret=siret_of(STATE_SIREN, "0047"),
        )
    ).status_code == 201
    etag = (await ds.client.get(f"{PROJECTS}/{agglo}", headers=ds.headers(PREF47))).headers["ETag"]
    review = await ds.client.post(
        f"{PROJECTS}/{agglo}/start-review", headers={**ds.headers(PREF47), "If-Match": etag}
    )
    assert review.status_code == 200, review.text
    committee = await committees.new(who=PREF47)
    assert (await committees.agenda(committee, [villeneuve, agglo], who=PREF47)).status_code == 200
    decided = await committees.decide(committee, villeneuve, "accepted", 2_000_000, who=PREF47)
    assert decided.status_code == 200, decided.text
    refused = await committees.decide(
        committee, agglo, "rejected", motivation="Projet hors des priorités du comité.", who=PREF47
    )
    assert refused.status_code == 200, refused.text
    assert fake.mutations == []  # nothing sent before the close, nor inside its transaction
    closed = await committees.close(committee, who=PREF47)
    assert closed.status_code == 200, closed.text

    fake.mutation_script.append(Scripted(503))  # DS is down for the first mutation sent
    fake.mutated_at = "2021-07-01T10:00:00+02:00"
    await drain(app, session)
    sent = sorted((m["dossierId"], m["mutation"]) for m in fake.mutations)
    assert sent == [
        ("RG9zc2llci0xMDMyODgy", "dossierAccepter"),
        ("RG9zc2llci0xMDMyOTE3", "dossierPasserEnInstruction"),
        ("RG9zc2llci0xMDMyOTE3", "dossierRefuser"),
    ]
    order = [m["mutation"] for m in fake.mutations if m["dossierId"] == "RG9zc2llci0xMDMyOTE3"]
    assert order == ["dossierPasserEnInstruction", "dossierRefuser"]  # DS decides from instruction
    assert {m["instructeurId"] for m in fake.mutations} == {INSTRUCTEUR}
    assert len({m["clientMutationId"] for m in fake.mutations}) == 3
    accept = next(m for m in fake.mutations if m["mutation"] == "dossierAccepter")
    assert "20\u202f000,00 €" in accept["motivation"]
    refuse = next(m for m in fake.mutations if m["mutation"] == "dossierRefuser")
    assert refuse["motivation"] == "Projet hors des priorités du comité."
    attempts = [r for r in fake.requests if r["mutation"]]
    assert len(attempts) == 4  # one 503, then each of the three once

    side = await ds.get(f"{PROJECTS}/{villeneuve}/ds", PREF47)
    assert side["ds_state"] == "accepte"
    assert [(m["kind"], m["status"]) for m in side["mutations"]] == [
        ("dossierAccepter", "delivered")
    ]
    await drain(app, session)
    assert len(fake.mutations) == 3  # exactly once

    # DS now shows the decisions it was sent: a re-sync sees them and changes nothing.
    report = await ds.synced()
    assert (report["updated"], report["flagged"]) == (0, 0)
    # An edit on DS after the decision is flagged, not applied.
    fake.edit(VILLENEUVE, "2021-07-02T10:00:00+02:00", **{"Intitulé du projet": "Autre"})
    report = await ds.synced()
    assert by_number(report)[VILLENEUVE]["outcome"] == "flagged"
    assert (await ds.project(villeneuve))[
        "title"
    ] == "Portail citoyen et prise de rendez-vous en ligne"
    side = await ds.get(f"{PROJECTS}/{villeneuve}/ds")
    assert side["flagged_at"] is not None


async def test_r_elig_8_a_start_before_the_ds_filing_day_keeps_the_dossier_a_draft(
    ds: Ds, fake: FakeDS
) -> None:
    """R-ELIG-8 measured against dateDepot (2021-03-02 11:02 Paris), not against today."""
    for champ in fake.node(AGGLO)["champs"]:
        if champ["label"] == "Date de début du projet":
            champ.update(date="2021-03-01", stringValue="2021-03-01")
    items = await imported(ds)
    assert items[AGGLO]["outcome"] == "created" and items[AGGLO]["draft"] is True
    assert {r["code"] for r in items[AGGLO]["reasons"]} == {"R-ELIG-8"}
    assert "02/03/2021" in items[AGGLO]["reasons"][0]["message"]
    assert (await ds.project(items[AGGLO]["project_id"]))["status"] == "draft"


async def test_classer_sans_suite_by_the_prefect_is_written_back_with_its_reason(
    ds: Ds, fake: FakeDS, app: FastAPI, session: AsyncSession
) -> None:
    items = await imported(ds)
    villeneuve = items[VILLENEUVE]["project_id"]
    etag = (await ds.client.get(f"{PROJECTS}/{villeneuve}", headers=ds.headers(PREF47))).headers[
        "ETag"
    ]
    closed = await ds.client.post(
        f"{PROJECTS}/{villeneuve}/close",
        json={"reason": "La commune a renoncé au projet."},
        headers={**ds.headers(PREF47), "If-Match": etag},
    )
    assert closed.status_code == 200, closed.text
    pending = await ds.get(f"{PROJECTS}/{villeneuve}/ds", PREF47)
    assert [(m["kind"], m["status"]) for m in pending["mutations"]] == [
        ("dossierClasserSansSuite", "pending")
    ]
    await drain(app, session)
    assert [(m["mutation"], m["motivation"]) for m in fake.mutations] == [
        ("dossierClasserSansSuite", "La commune a renoncé au projet.")
    ]
    candidate_view = await ds.client.get(
        f"{PROJECTS}/{villeneuve}/ds", headers=ds.headers(ds.actors.cand_a)
    )
    assert candidate_view.status_code == 403  # the DS side is for State roles


async def test_a_dossier_moved_to_another_siret_on_ds_is_flagged_not_moved(
    ds: Ds, fake: FakeDS
) -> None:
    items = await imported(ds)
    before = await ds.project(items[AGME]["project_id"])
    fake.edit(AGME, "2021-03-25T09:00:00+01:00", **{"SIRET de la collectivité": "20002330700016"})
    report = await ds.synced()
    item = by_number(report)[AGME]
    assert (item["outcome"], item["reasons"][0]["reason"]) == ("flagged", "candidate_changed")
    assert await ds.project(items[AGME]["project_id"]) == before


async def test_a_mutation_ds_refuses_fails_at_once_and_shows_why(
    ds: Ds, fake: FakeDS, app: FastAPI, session: AsyncSession
) -> None:
    """The payload's `errors` (ValidationError) are checked: no retry can help, it fails."""
    items = await imported(ds)
    villeneuve = items[VILLENEUVE]["project_id"]
    etag = (await ds.client.get(f"{PROJECTS}/{villeneuve}", headers=ds.headers(PREF47))).headers[
        "ETag"
    ]
    closed = await ds.client.post(
        f"{PROJECTS}/{villeneuve}/close",
        json={"reason": "Doublon d'un autre dossier."},
        headers={**ds.headers(PREF47), "If-Match": etag},
    )
    assert closed.status_code == 200, closed.text
    refusal = {"dossier": None, "errors": [{"message": "Le dossier est déjà traité"}]}
    fake.mutation_script.append(Scripted(200, body={"data": {"dossierClasserSansSuite": refusal}}))
    await drain(app, session)
    side = await ds.get(f"{PROJECTS}/{villeneuve}/ds", PREF47)
    [mutation] = side["mutations"]
    assert (mutation["status"], mutation["attempts"]) == ("failed", 1)
    assert "déjà traité" in mutation["last_error"]
    assert fake.mutations == []


NT2026 = "NUMERIQUE-TERRITOIRES-2026"
# The same démarche's answers, imported into NT2026's strands and categories (R-PROG-1).
NT_MAPPING: dict[str, Any] = {
    **MAPPING,
    "programme": NT2026,
    "strands": [
        {"label": "3a - Accompagnement par un expert du numérique", "strand": "socle"},
        {"label": "3b - Formation au numérique des agents", "strand": "socle"},
        {"label": "3c - Projet améliorant la relation à l'usager", "strand": "services"},
    ],
    "categories": [
        {"label": "Prestation de développement", "category": "development"},
        {"label": "Formation des agents", "category": "study"},
        {"label": "Étude / diagnostic", "category": "study"},
        {
            "label": "Licence logicielle (éditeur hors UE)",
            "category": "software_licence",
            "vendor_origin": "extra_eu",
        },
        {"label": "Équipement informatique des agents", "category": "equipment"},
    ],
}


async def test_r_prog_2_a_demarche_imports_into_its_mappings_programme(
    ds: Ds, fake: FakeDS, clock_at: Any
) -> None:
    """R-PROG-2: a mapping names its programme (the default one when it names none); its
    imports are that programme's dossiers; an unknown programme is refused (422)."""
    clock_at("2021-04-10")
    unknown = await ds.put_mapping({**MAPPING, "programme": "NOPE-2030"})
    assert unknown.status_code == 422 and unknown.json()["code"] == "R-PROG-2", unknown.text
    created = await ds.put_mapping(NT_MAPPING)
    assert created.status_code == 201, created.text
    assert created.json()["programme"] == NT2026
    replaced = await ds.put_mapping(etag=created.headers["ETag"])  # names none: the default
    assert replaced.status_code == 200 and replaced.json()["programme"] == "FITN7-AXE3"
    again = await ds.put_mapping(NT_MAPPING, etag=replaced.headers["ETag"])
    assert again.status_code == 200, again.text
    report = await ds.synced()
    assert report["created"] == 3, report
    listed = await ds.get(f"{PROJECTS}?programme={NT2026}")
    assert [p["programme"] for p in listed["items"]] == [NT2026] * 3
    assert (await ds.get(PROJECTS))["items"] == []


async def test_r_prog_1_a_closed_programme_takes_no_imported_dossier(
    ds: Ds, fake: FakeDS, clock_at: Any, session: AsyncSession
) -> None:
    clock_at("2021-04-10")
    assert (await ds.put_mapping(NT_MAPPING)).status_code == 201
    await session.execute(
        text("UPDATE programme SET status = 'closed', version = version + 7 WHERE code = :c"),
        {"c": NT2026},
    )
    await session.commit()
    report = await ds.synced()
    assert (report["created"], report["refused"]) == (0, 3), report
    assert {(r["reason"], r["code"]) for item in report["items"] for r in item["reasons"]} == {
        ("programme_closed", "R-PROG-1")
    }


async def test_r_prog_1_the_mapping_imports_into_a_programmes_strands_and_categories(
    ds: Ds, fake: FakeDS
) -> None:
    """R-PROG-1: a mapping's strands and categories are a programme's (as its document kinds
    are, R-DOC-1); another code is refused with each listed (422), none is guessed."""
    wrong = {
        **MAPPING,
        "strands": [*MAPPING["strands"], {"label": "Volet 4", "strand": "volet_4"}],
        "categories": [*MAPPING["categories"], {"label": "Repas", "category": "repas"}],
    }
    refused = await ds.put_mapping(wrong)
    assert refused.status_code == 422, refused.text
    errors = refused.json()["errors"]
    assert [(e["code"], e["field"]) for e in errors] == [
        ("R-PROG-1", f"/strands/{len(MAPPING['strands'])}/strand"),
        ("R-PROG-1", f"/categories/{len(MAPPING['categories'])}/category"),
    ]
    # another programme's strand: refused on the default programme, taken on its own
    services = [{"label": "Services aux usagers", "strand": "services"}]
    elsewhere = await ds.put_mapping({**MAPPING, "strands": services})
    assert elsewhere.status_code == 422, elsewhere.text
    assert (await ds.put_mapping({**NT_MAPPING, "strands": services})).status_code == 201
