"""Async builders: add, flush and return, creating parents on demand."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import select

from app.candidates.models import Candidate
from app.documents.models import Document
from app.programme.models import Programme
from app.projects.models import ExpenseLine, Project
from app.reference.catalogue import get_catalogue
from tests.support import siret_of


async def make_candidate(session: AsyncSession, *, siren: str, **overrides: Any) -> Candidate:
    """A candidate; communes and EPCI take their identity from the reference data, and so are
    `verified` (R-REF-2) as at registration; other organisations are `to_verify`."""
    entry = get_catalogue().by_siren(siren)
    values: dict[str, Any] = {
        "siret": siret_of(siren),
        "siren": siren,
        "name": entry.name if entry else f"Organisation {siren}",
        "kind": entry.kind if entry else "syndicat",
        "departement": (entry.departement if entry else None) or "13",
        "commune_insee": entry.insee_code if entry else None,
        "population": entry.population if entry else None,
        "epci_type": entry.epci_type if entry else None,
        "from_reference": entry is not None,
        "verification": "verified" if entry is not None else "to_verify",
        "created_by": "factory",
    }
    values.update(overrides)
    candidate = Candidate(**values)
    session.add(candidate)
    await session.flush()
    return candidate


async def make_project(
    session: AsyncSession,
    *,
    candidate: Candidate,
    lines: list[tuple[str, int]] | None = None,
    **overrides: Any,
) -> Project:
    """An eligible draft of `candidate` (strand 3c, 20 000 € of development, 10 000 € asked)."""
    programme = (
        await session.execute(select(Programme).where(Programme.code == "FITN7-AXE3"))
    ).scalar_one()
    expense = [
        ExpenseLine(position=i, category=category, label=category, amount_cents=amount)
        for i, (category, amount) in enumerate(lines or [("development", 2_000_000)])
    ]
    values: dict[str, Any] = {
        "candidate_id": candidate.id,
        "programme_id": programme.id,
        "departement": candidate.departement,
        "strand": "3c",
        "title": "Prise de rendez-vous en ligne",
        "description": "Un service de prise de rendez-vous.",
        "nature": "modernisation",
        "start_on": date(2021, 3, 1),
        "end_on": date(2022, 6, 30),
        "sponsor_name": "Mme la Maire",
        "sponsor_role": "Maire",
        "requested_cents": 1_000_000,
        "total_cost_cents": sum(line.amount_cents for line in expense),
        "created_by": "factory",
        "expense_lines": expense,
        "funding_lines": [],
    }
    values.update(overrides)
    project = Project(**values)
    session.add(project)
    await session.flush()
    return project


async def make_documents(
    session: AsyncSession, project: Project, *kinds: str, scan_status: str = "clean"
) -> list[Document]:
    """Documents of `kinds` on the dossier, already scanned (R-DOC-1 counts them): for tests
    that drive a step through the services, below the API's uploads. No bytes are stored."""
    documents = [
        Document(
            project_id=project.id,
            departement=project.departement,
            kind=kind,
            filename=f"{kind}.pdf",
            content_type="application/pdf",
            size_bytes=0,
            sha256="0" * 64,
            storage_key=f"projects/{project.id.hex}/{kind}",
            scan_status=scan_status,
            uploaded_by="factory",
            uploaded_role="prefect",
        )
        for kind in kinds
    ]
    session.add_all(documents)
    await session.flush()
    return documents
