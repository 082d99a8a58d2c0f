"""R-NOTIF-1 through the API: the candidate's contact and the prefecture's address (validated,
personal data shown only to who may edit them), the outbox rows written with the change, the
notifications a dossier's State readers see (masked, R-ACL-1), the preview."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from httpx import AsyncClient
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from app.audit import service as audit
from app.audit.models import AuditEvent
from app.core.clock import PARIS
from app.notifications.models import Notification
from tests.api.committees.test_full_scenario import Front
from tests.conftest import MARSEILLE_SIREN, Actors
from tests.factories import make_candidate, make_project
from tests.support import siret_of

CANDIDATES = "/api/v1/candidates"
ADDRESS = "/api/v1/notifications/prefectures"
CONTACT = {"name": "Marie Martin", "role": "DSI", "email": "marie.martin@mairie-x.fr"}


async def register(client: AsyncClient, headers: Any, actors: Actors, **body: Any) -> Any:
    return await client.post(
        CANDIDATES,
        json={"siret": siret_of(MARSEILLE_SIREN), "kind": "commune", **body},
        headers=headers(actors.cand_a),
    )


async def test_r_notif_1_contact_optional_at_registration_then_editable(
    client: AsyncClient, headers: Any, actors: Actors
) -> None:
    created = await register(client, headers, actors)  # existing clients: no contact
    assert created.status_code == 201, created.text
    assert created.json()["contact"] == {"name": None, "role": None, "email": None, "phone": None}
    url = f"{CANDIDATES}/{created.json()['id']}"
    patched = await client.patch(
        url,
        json={"contact": CONTACT},
        headers={**headers(actors.cand_a), "If-Match": created.headers["ETag"]},
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["contact"] == {**CONTACT, "phone": None}


async def test_r_notif_1_contact_address_validated(
    client: AsyncClient, headers: Any, actors: Actors
) -> None:
    for bad in ("marie@", "marie martin@mairie-x.fr", "marie@mairie"):
        refused = await register(client, headers, actors, contact={"email": bad})
        assert refused.status_code == 422, refused.text
        assert any(e.get("field") == "/contact/email" for e in refused.json()["errors"])


async def test_r_notif_1_contact_shown_only_to_the_candidate_itself(
    client: AsyncClient, headers: Any, actors: Actors, session: AsyncSession
) -> None:
    created = await register(client, headers, actors, contact=CONTACT)
    assert created.json()["contact"]["email"] == CONTACT["email"]
    url = f"{CANDIDATES}/{created.json()['id']}"
    own = await client.get(url, headers=headers(actors.cand_a))
    assert own.json()["contact"]["email"] == CONTACT["email"]
    for who in (actors.pref13, actors.dinum, actors.anct):
        read = await client.get(url, headers=headers(who))
        assert read.status_code == 200 and read.json()["contact"] is None
    for who in (actors.cand_a, actors.pref13, actors.dinum):
        listed = await client.get(CANDIDATES, headers=headers(who))
        assert all(item["contact"] is None for item in listed.json()["items"])
    # never in the audit trail (read by DINUM and prefects): only that it changed
    await client.patch(
        url,
        json={"contact": {"email": "dsi@mairie-x.fr"}},
        headers={**headers(actors.cand_a), "If-Match": own.headers["ETag"]},
    )
    events = (
        (await session.execute(select(AuditEvent).where(AuditEvent.object_type == "candidate")))
        .scalars()
        .all()
    )
    assert events and all("mairie-x.fr" not in str((e.before, e.after)) for e in events)
    assert events[-1].after == {"contact_changed": True}


async def test_r_notif_1_prefecture_address_by_its_prefect_or_dinum(
    client: AsyncClient, headers: Any, actors: Actors
) -> None:
    url = f"{ADDRESS}/13"
    assert (await client.get(url, headers=headers(actors.pref13))).status_code == 404
    created = await client.put(
        url, json={"email": "fitn7@bouches-du-rhone.gouv.fr"}, headers=headers(actors.pref13)
    )
    assert created.status_code == 201, created.text
    replaced = await client.put(
        url, json={"email": "dossiers@bouches-du-rhone.gouv.fr"}, headers=headers(actors.dinum)
    )
    assert replaced.status_code == 200
    read = await client.get(url, headers=headers(actors.pref13))
    assert read.json()["email"] == "dossiers@bouches-du-rhone.gouv.fr"
    # R-ACL-1: another département's prefect gets 404, a candidate 403
    assert (await client.get(url, headers=headers(actors.pref75))).status_code == 404
    put75 = await client.put(url, json={"email": "a@b.fr"}, headers=headers(actors.pref75))
    assert put75.status_code == 404
    assert (await client.get(url, headers=headers(actors.cand_a))).status_code == 403
    bad = await client.put(url, json={"email": "pas-une-adresse"}, headers=headers(actors.pref13))
    assert bad.status_code == 422


async def test_r_notif_1_submission_queues_both_with_the_change_and_masks_them(
    client: AsyncClient, headers: Any, actors: Actors, session: AsyncSession
) -> None:
    await client.put(
        f"{ADDRESS}/13",
        json={"email": "fitn7@bouches-du-rhone.gouv.fr"},
        headers=headers(actors.pref13),
    )
    assert (await register(client, headers, actors, contact=CONTACT)).status_code == 201
    front = Front(client, headers)
    project_id = await front.file(actors.cand_a)
    assert (await session.execute(select(Notification))).scalars().all() == []  # a draft: none
    await front.act(actors.cand_a, project_id, "submit")
    rows = (
        (await session.execute(select(Notification).order_by(col(Notification.id)))).scalars().all()
    )
    assert [(r.kind, r.recipient) for r in rows] == [
        ("submission_receipt", "marie.martin@mairie-x.fr"),
        ("submission_received", "fitn7@bouches-du-rhone.gouv.fr"),
    ]
    # What the messages will say, read with the submission's dossier (issue 28): the dossier
    # as submitted, as a front-end reads it next.
    dossier = await client.get(f"/api/v1/projects/{project_id}", headers=headers(actors.dinum))
    read = dossier.json()
    submitted_on = datetime.fromisoformat(read["submitted_at"]).astimezone(PARIS).date()
    for row in rows:
        assert row.context["submitted_on"] == submitted_on.isoformat()
        assert row.context["requested_cents"] == read["requested_cents"]
        assert row.context["title"] == read["title"]
        assert row.context["candidate_name"] == read["candidate_name"]
        assert row.context["project_id"] == project_id
    assert [r.context["contact_name"] for r in rows] == [CONTACT["name"], None]
    url = f"/api/v1/projects/{project_id}/notifications"
    for who in (actors.dinum, actors.pref13):
        listed = await client.get(url, headers=headers(who))
        assert listed.status_code == 200, listed.text
        items = listed.json()["items"]
        assert [(i["kind"], i["recipient"], i["status"]) for i in items] == [
            ("submission_receipt", "m***@mairie-x.fr", "pending"),
            ("submission_received", "f***@bouches-du-rhone.gouv.fr", "pending"),
        ]
        assert items[0]["message_id"].startswith("<") and "@" in items[0]["message_id"]
    assert (await client.get(url, headers=headers(actors.pref75))).status_code == 404  # R-ACL-1
    assert (await client.get(url, headers=headers(actors.cand_a))).status_code == 403


async def test_r_notif_1_no_address_nothing_queued(
    client: AsyncClient, headers: Any, actors: Actors, session: AsyncSession
) -> None:
    assert (await register(client, headers, actors)).status_code == 201  # no contact
    front = Front(client, headers)
    project_id = await front.file(actors.cand_a)
    await front.act(actors.cand_a, project_id, "submit")  # and no prefecture address
    assert (await session.execute(select(Notification))).scalars().all() == []


async def test_r_notif_1_preview_any_template(
    client: AsyncClient, headers: Any, actors: Actors
) -> None:
    for kind in ("submission_receipt", "decision", "payment", "committee_due"):
        shown = await client.get(
            f"/api/v1/notifications/preview/{kind}", headers=headers(actors.pref13)
        )
        assert shown.status_code == 200, shown.text
        body = shown.json()
        assert body["subject"] and body["text"] and body["html"].startswith("<!DOCTYPE html>")
    assert (
        await client.get("/api/v1/notifications/preview/decision", headers=headers(actors.cand_a))
    ).status_code == 403
    assert (
        await client.get("/api/v1/notifications/preview/nope", headers=headers(actors.dinum))
    ).status_code == 422


async def test_r_notif_1_ds_dossiers_not_told_what_ds_tells(
    client: AsyncClient, headers: Any, actors: Actors, session: AsyncSession
) -> None:
    """A dossier imported from démarches-simplifiées: DS sends its own receipt and the
    decisions written back; this service sends the return, convention and payments, and
    tells the prefecture as for any dossier."""
    await client.put(
        f"{ADDRESS}/13",
        json={"email": "fitn7@bouches-du-rhone.gouv.fr"},
        headers=headers(actors.pref13),
    )
    candidate = await make_candidate(
        session, siren=MARSEILLE_SIREN, contact_email="marie.martin@mairie-x.fr"
    )
    project = await make_project(
        session, candidate=candidate, status="submitted", ds_dossier_number=424242
    )
    for transition in ("submit", "return"):
        await audit.record(
            session,
            actors.pref13,
            object_type="project",
            object_id=project.id,
            departement="13",
            action="status_changed",
            after={"transition": transition, "message": "Joignez le devis."},
        )
    await session.commit()
    rows = (
        (await session.execute(select(Notification).order_by(col(Notification.id)))).scalars().all()
    )
    assert [(r.kind, r.audience) for r in rows] == [
        ("submission_received", "prefecture"),
        ("returned", "candidate"),
    ]
