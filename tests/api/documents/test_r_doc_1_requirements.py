"""R-DOC-1 through the API, on both storage backends: the programme lists the documents each
step requires; submission, the convention and the final report are refused naming each one
missing (with every other failed rule, R-FLOW-2), then accepted once they are filed."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from fastapi import FastAPI
from httpx import AsyncClient, Response
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.candidates.models import Candidate
from app.documents import worker
from app.documents.storage import DocumentStorage
from tests.api.budgets.driver import Money, today
from tests.api.documents.conftest import EICAR_PDF
from tests.api.documents.test_documents import API, PDF, upload
from tests.api.documents.test_scan import scanning, worker_sessions
from tests.conftest import MARSEILLE_SIREN, Actors
from tests.factories import make_candidate, make_project
from tests.support import TEST_CLOCK_START

# Two lines: a quote is asked for the first only (above 5,000 €, R-DOC-1's threshold).
LINES = [("development", 2_000_000), ("development", 400_000)]
__all__ = ["scanning"]  # the clamd fixture, used below


def rule_items(response: Response) -> list[tuple[str, str]]:
    return [(e["code"], e["field"]) for e in response.json()["errors"]]


async def submit(client: AsyncClient, headers: Any, actors: Actors, project_id: Any) -> Response:
    etag = (
        await client.get(f"{API}/projects/{project_id}", headers=headers(actors.cand_a))
    ).headers["ETag"]
    return await client.post(
        f"{API}/projects/{project_id}/submit",
        headers={**headers(actors.cand_a), "If-Match": etag},
    )


async def test_r_doc_1_the_programme_lists_each_steps_documents(
    client: AsyncClient,
) -> None:
    programme = (await client.get(f"{API}/programme")).json()
    steps = {d["code"]: (d["owner"], d["step"]) for d in programme["required_documents"]}
    assert steps == {
        "deliberation": ("project", "submission"),
        "quote": ("project", "submission"),
        "attestation": ("candidate", "submission"),
        "signed_convention": ("project", "convention"),
        "final_report": ("project", "final_report"),
        "expense_statement": ("project", "final_report"),
    }
    quote = next(d for d in programme["required_documents"] if d["code"] == "quote")
    assert quote["per_line_above_cents"] == 500_000
    attestation = next(d for d in programme["required_documents"] if d["code"] == "attestation")
    assert attestation["candidate_kinds"] == ["public_body"]


async def test_r_doc_1_submission_refused_for_its_missing_deliberation_and_quote_then_accepted(
    client: AsyncClient,
    headers: Any,
    actors: Actors,
    session: AsyncSession,
    storage: DocumentStorage,
) -> None:
    marseille = await make_candidate(session, siren=MARSEILLE_SIREN)
    project = await make_project(session, candidate=marseille, lines=LINES, end_on=None)
    line_ids = [str(line.id) for line in project.expense_lines]

    refused = await submit(client, headers, actors, project.id)
    assert refused.status_code == 422, refused.text
    # R-FLOW-2: the documents with every other failed rule (here the missing end date).
    assert set(rule_items(refused)) == {
        ("R-ELIG-6", "/end_on"),
        ("R-DOC-1", "/documents/deliberation"),
        ("R-DOC-1", "/expense_lines/0/documents/quote"),
    }
    messages = " ".join(e["message"] for e in refused.json()["errors"])
    assert "Délibération ou lettre de l'exécutif" in messages
    assert "Devis de la ligne" in messages

    report = (
        await client.get(f"{API}/projects/{project.id}/eligibility", headers=headers(actors.cand_a))
    ).json()
    assert report["eligible"] is False
    assert report["documents_step"] == "submission"
    assert {(f["code"], f["field"]) for f in report["failures"]} == set(rule_items(refused))
    assert [(f["code"], f["field"]) for f in report["missing_documents"]] == [
        ("R-DOC-1", "/documents/deliberation"),
        ("R-DOC-1", "/expense_lines/0/documents/quote"),
    ]

    path = f"/projects/{project.id}/documents"
    filed = await upload(client, headers(actors.cand_a), path, kind="deliberation")
    assert filed.status_code == 201, filed.text
    # A quote names its line; one for the small line does not stand for the large one.
    small = await upload(client, headers(actors.cand_a), path, kind="quote", line=line_ids[1])
    assert small.status_code == 201, small.text
    still = await submit(client, headers, actors, project.id)
    assert ("R-DOC-1", "/expense_lines/0/documents/quote") in rule_items(still)
    assert ("R-DOC-1", "/documents/deliberation") not in rule_items(still)
    big = await upload(client, headers(actors.cand_a), path, kind="quote", line=line_ids[0])
    assert big.status_code == 201, big.text

    etag = (
        await client.get(f"{API}/projects/{project.id}", headers=headers(actors.cand_a))
    ).headers["ETag"]
    fixed = await client.patch(
        f"{API}/projects/{project.id}",
        json={"end_on": "2022-06-30"},
        headers={**headers(actors.cand_a), "If-Match": etag},
    )
    assert fixed.status_code == 200, fixed.text
    report = (
        await client.get(f"{API}/projects/{project.id}/eligibility", headers=headers(actors.cand_a))
    ).json()
    assert report["eligible"] is True and report["missing_documents"] == []
    accepted = await submit(client, headers, actors, project.id)
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["status"] == "submitted"


async def test_r_doc_1_a_quote_must_name_a_line_of_the_dossier(
    client: AsyncClient,
    headers: Any,
    actors: Actors,
    session: AsyncSession,
    storage: DocumentStorage,
) -> None:
    marseille = await make_candidate(session, siren=MARSEILLE_SIREN)
    project = await make_project(session, candidate=marseille, lines=LINES)
    path = f"/projects/{project.id}/documents"
    no_line = await upload(client, headers(actors.cand_a), path, kind="quote")
    assert no_line.status_code == 422
    assert no_line.json()["errors"][0]["field"] == "/expense_line_id"
    foreign = await upload(
        client, headers(actors.cand_a), path, kind="quote", line=str(uuid.uuid4())
    )
    assert foreign.status_code == 422
    unknown = await upload(client, headers(actors.cand_a), path, kind="passport")
    assert unknown.status_code == 422
    assert "deliberation" in unknown.json()["errors"][0]["message"]


async def test_r_doc_1_a_public_body_files_its_attestation_on_itself(
    client: AsyncClient,
    headers: Any,
    actors: Actors,
    session: AsyncSession,
    storage: DocumentStorage,
) -> None:
    body = await make_candidate(
        session, siren=MARSEILLE_SIREN, kind="public_body", from_reference=False
    )
    project = await make_project(
        session, candidate=body, lines=[("development", 400_000)], requested_cents=200_000
    )
    path = f"/projects/{project.id}/documents"
    assert (
        await upload(client, headers(actors.cand_a), path, kind="deliberation")
    ).status_code == 201
    refused = await submit(client, headers, actors, project.id)
    assert refused.status_code == 422, refused.text
    assert rule_items(refused) == [("R-DOC-1", "/documents/attestation")]
    # The attestation is a candidate's document, not a dossier's.
    wrong = await upload(client, headers(actors.cand_a), path, kind="attestation")
    assert wrong.status_code == 422
    filed = await upload(
        client, headers(actors.cand_a), f"/candidates/{body.id}/documents", kind="attestation"
    )
    assert filed.status_code == 201, filed.text
    assert (await submit(client, headers, actors, project.id)).status_code == 200


async def test_r_doc_2_a_kind_accepts_only_its_programme_types(
    client: AsyncClient,
    headers: Any,
    actors: Actors,
    session: AsyncSession,
    storage: DocumentStorage,
) -> None:
    """The signed convention is a PDF only: a PNG, typed from its bytes, is 415 (R-DOC-2)."""
    marseille = await make_candidate(session, siren=MARSEILLE_SIREN)
    project = await make_project(session, candidate=marseille, status="accepted")
    png = bytes.fromhex("89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489")
    refused = await upload(
        client,
        headers(actors.pref13),
        f"/projects/{project.id}/documents",
        kind="signed_convention",
        content=png,
        name="convention.pdf",
    )
    assert refused.status_code == 415, refused.text
    assert refused.json()["code"] == "R-DOC-2"
    assert "PDF" in refused.json()["detail"]


@pytest.fixture
def money(client: AsyncClient, session: AsyncSession, headers: Any, actors: Actors) -> Money:
    return Money(client, session, headers, actors)


async def test_r_doc_1_the_convention_and_the_final_report_need_their_documents(
    client: AsyncClient,
    headers: Any,
    actors: Actors,
    session: AsyncSession,
    storage: DocumentStorage,
    money: Money,
) -> None:
    marseille = await make_candidate(session, siren=MARSEILLE_SIREN)
    project = await make_project(
        session, candidate=marseille, status="in_review", start_on=TEST_CLOCK_START.date()
    )
    assert (await money.allocate("13", 10_000_000)).status_code == 201
    await money.commit(project.id, 1_000_000)
    path = f"/projects/{project.id}/documents"
    convention: dict[str, Any] = {
        "reference": "CRTE-13-2021-042",
        "kind": "crte",
        "signed_on": today(),
        "schedule": [
            {"label": "Avance", "kind": "advance", "due_on": today(), "amount_cents": 300_000},
            {"label": "Solde", "kind": "balance", "due_on": today(), "amount_cents": 700_000},
        ],
    }

    async def sign(body: dict[str, Any]) -> Response:
        return await client.post(
            f"{API}/projects/{project.id}/convention",
            json=body,
            headers={**headers(actors.pref13), "If-Match": await money.etag(project.id)},
        )

    # Refused without the signed convention, with the other failed rule (a future date).
    refused = await sign({**convention, "signed_on": "2099-01-01"})
    assert refused.status_code == 422, refused.text
    codes = rule_items(refused)
    assert ("R-DOC-1", "/documents/signed_convention") in codes
    assert any(code == "R-PAY-3" for code, _ in codes)
    report = (
        await client.get(f"{API}/projects/{project.id}/eligibility", headers=headers(actors.pref13))
    ).json()
    assert report["documents_step"] == "convention"
    assert [f["field"] for f in report["missing_documents"]] == ["/documents/signed_convention"]
    # The candidate does not file the convention; the prefecture does.
    by_candidate = await upload(client, headers(actors.cand_a), path, kind="signed_convention")
    assert by_candidate.status_code == 409
    filed = await upload(client, headers(actors.pref13), path, kind="signed_convention")
    assert filed.status_code == 201, filed.text
    signed = await sign(convention)
    assert signed.status_code == 200, signed.text
    assert signed.json()["project_status"] == "under_convention"

    report_body = {"received_on": today(), "summary": "Service en ligne ouvert."}
    missing = await client.post(
        f"{API}/projects/{project.id}/final-report",
        json=report_body,
        headers={**headers(actors.pref13), "If-Match": await money.etag(project.id)},
    )
    assert missing.status_code == 422, missing.text
    assert rule_items(missing) == [
        ("R-DOC-1", "/documents/final_report"),
        ("R-DOC-1", "/documents/expense_statement"),
    ]
    for kind in ("final_report", "expense_statement"):
        answer = await upload(client, headers(actors.pref13), path, kind=kind, content=PDF)
        assert answer.status_code == 201, answer.text
    recorded = await client.post(
        f"{API}/projects/{project.id}/final-report",
        json=report_body,
        headers={**headers(actors.pref13), "If-Match": await money.etag(project.id)},
    )
    assert recorded.status_code == 200, recorded.text


async def test_r_doc_1_dinum_changes_what_the_programme_requires_every_problem_listed(
    client: AsyncClient,
    headers: Any,
    actors: Actors,
    session: AsyncSession,
    storage: DocumentStorage,
) -> None:
    read = await client.get(f"{API}/programme")
    required = read.json()["required_documents"]
    inconsistent = [
        *required,
        {**required[0]},  # the délibération twice
        {**required[1], "code": "plan", "strands": ["3a", "9z"]},
    ]
    refused = await client.patch(
        f"{API}/programme",
        json={"required_documents": inconsistent},
        headers={**headers(actors.dinum), "If-Match": read.headers["ETag"]},
    )
    assert refused.status_code == 422, refused.text
    assert [(e["code"], e["field"]) for e in refused.json()["errors"]] == [
        ("R-DOC-1", f"/required_documents/{len(required)}/code"),
        ("R-DOC-1", f"/required_documents/{len(required) + 1}/strands"),
    ]
    # Without the quote, a dossier with a large line submits with its délibération alone.
    changed = await client.patch(
        f"{API}/programme",
        json={"required_documents": [d for d in required if d["code"] != "quote"]},
        headers={**headers(actors.dinum), "If-Match": read.headers["ETag"]},
    )
    assert changed.status_code == 200, changed.text
    marseille = await make_candidate(session, siren=MARSEILLE_SIREN)
    project = await make_project(session, candidate=marseille, lines=LINES)
    path = f"/projects/{project.id}/documents"
    assert (
        await upload(client, headers(actors.cand_a), path, kind="deliberation")
    ).status_code == 201
    assert (await submit(client, headers, actors, project.id)).status_code == 200


async def test_r_doc_1_a_document_counts_once_scanned_clean_never_while_pending_or_infected(
    app: FastAPI,
    client: AsyncClient,
    headers: Any,
    actors: Actors,
    session: AsyncSession,
    storage: DocumentStorage,
    scanning: str,
) -> None:
    """With a real clamd: a pending délibération does not count, an infected one is named as
    such, a clean one lets the dossier be submitted."""
    marseille = await make_candidate(session, siren=MARSEILLE_SIREN)
    project = await make_project(
        session, candidate=marseille, lines=[("development", 400_000)], requested_cents=200_000
    )
    path = f"/projects/{project.id}/documents"
    sessions = worker_sessions(session)

    infected = await upload(
        client, headers(actors.cand_a), path, kind="deliberation", content=EICAR_PDF
    )
    assert infected.json()["scan_status"] == "pending"
    pending = await submit(client, headers, actors, project.id)
    assert pending.status_code == 422
    assert rule_items(pending) == [("R-DOC-1", "/documents/deliberation")]
    assert "en cours d'analyse" in pending.json()["errors"][0]["message"]
    assert await worker.scan_once(sessions, app.state.settings, storage) == 1
    refused = await submit(client, headers, actors, project.id)
    assert "refusée par l'antivirus" in refused.json()["errors"][0]["message"]

    clean = await upload(client, headers(actors.cand_a), path, kind="deliberation", content=PDF)
    assert clean.status_code == 201, clean.text
    assert (await submit(client, headers, actors, project.id)).status_code == 422
    assert await worker.scan_once(sessions, app.state.settings, storage) == 1
    accepted = await submit(client, headers, actors, project.id)
    assert accepted.status_code == 200, accepted.text


async def test_r_doc_1_allowed_uploads_say_what_the_caller_may_file_now(
    client: AsyncClient,
    headers: Any,
    actors: Actors,
    session: AsyncSession,
    storage: DocumentStorage,
) -> None:
    marseille = await make_candidate(session, siren=MARSEILLE_SIREN)
    draft = await make_project(session, candidate=marseille, lines=LINES)
    accepted = await make_project(session, candidate=marseille, status="accepted")

    async def allowed(who: Any, path: str) -> list[tuple[str, Any]]:
        page = await client.get(f"{API}{path}", headers=headers(who))
        assert page.status_code == 200, page.text
        return [(u["kind"], u["expense_line_ids"]) for u in page.json()["allowed_uploads"]]

    big_line = str(draft.expense_lines[0].id)
    assert await allowed(actors.cand_a, f"/projects/{draft.id}/documents") == [
        ("deliberation", None),
        ("quote", [big_line]),  # the 4,000 € line needs no quote
    ]
    assert await allowed(actors.pref13, f"/projects/{draft.id}/documents") == []
    assert await allowed(actors.dinum, f"/projects/{draft.id}/documents") == []
    assert await allowed(actors.pref13, f"/projects/{accepted.id}/documents") == [
        ("signed_convention", None)
    ]
    assert await allowed(actors.cand_a, f"/projects/{accepted.id}/documents") == []
    # A commune is asked no attestation; a public body is.
    assert await allowed(actors.cand_a, f"/candidates/{marseille.id}/documents") == []
    await session.execute(
        update(Candidate).where(col(Candidate.id) == marseille.id).values(kind="public_body")
    )
    assert await allowed(actors.cand_a, f"/candidates/{marseille.id}/documents") == [
        ("attestation", None)
    ]


async def test_r_doc_1_a_hundred_lines_and_two_per_line_kinds_are_all_listed(
    client: AsyncClient,
    headers: Any,
    actors: Actors,
    session: AsyncSession,
) -> None:
    """The largest dossier (100 lines, each above the threshold) under a programme asking two
    documents per line: every one is listed, in the report and in submit's 422 (not a 500 on
    the report's bounds)."""
    read = await client.get(f"{API}/programme")
    required = read.json()["required_documents"]
    quote = next(d for d in required if d["code"] == "quote")
    changed = await client.patch(
        f"{API}/programme",
        json={"required_documents": [*required, {**quote, "code": "invoice", "label": "Facture"}]},
        headers={**headers(actors.dinum), "If-Match": read.headers["ETag"]},
    )
    assert changed.status_code == 200, changed.text
    marseille = await make_candidate(session, siren=MARSEILLE_SIREN)
    project = await make_project(
        session, candidate=marseille, lines=[("development", 600_000)] * 100
    )
    report = await client.get(
        f"{API}/projects/{project.id}/eligibility", headers=headers(actors.cand_a)
    )
    assert report.status_code == 200, report.text
    assert len(report.json()["missing_documents"]) == 1 + 2 * 100
    refused = await submit(client, headers, actors, project.id)
    assert refused.status_code == 422
    assert sum(code == "R-DOC-1" for code, _ in rule_items(refused)) == 1 + 2 * 100
