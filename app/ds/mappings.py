"""A démarche's mapping (issue 14): who sees and configures it, and what it may name.

R-ACL-1 (DINUM: every démarche; a prefect: the national ones and its own), R-PROG-1, R-PROG-2
(the programme it imports into and that programme's strands and categories), R-DOC-1 (the
document kinds it imports), R-FLOW-3 (If-Match, a creation included), R-AUDIT-1.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import select

from app.audit import service as audit
from app.auth.principal import Principal, Role
from app.core.concurrency import check_if_match, flush_versioned
from app.core.db import add_unique
from app.core.errors import PreconditionFailed
from app.core.rules import RuleFailure, raise_failures
from app.core.types import utcnow
from app.ds.errors import DemarcheForbidden, DemarcheNotFound
from app.ds.models import DsDemarche
from app.ds.schemas import MappingIn
from app.programme.dependencies import programme_in_body
from app.programme.models import Programme
from app.programme.rules import Owner, requirements


def _visible(demarche: DsDemarche, principal: Principal) -> bool:
    """R-ACL-1: DINUM sees every démarche, a prefect the national ones and its own."""
    if principal.role is Role.PREFECT:
        return demarche.departement in (None, principal.departement)
    return principal.role is Role.DINUM


async def get_demarche(session: AsyncSession, principal: Principal, *, number: int) -> DsDemarche:
    demarche = await session.get(DsDemarche, number)
    if demarche is None or not _visible(demarche, principal):
        raise DemarcheNotFound(code="R-ACL-1")
    return demarche


def programme_of(demarche: DsDemarche, default: str) -> str:
    """R-PROG-2: the programme a démarche imports into (its mapping's `programme`; a mapping
    stored before several programmes ran: the service's default)."""
    code = demarche.mapping.get("programme")
    return str(code) if code else default


def mapping_view(demarche: DsDemarche, default_programme: str) -> dict[str, Any]:
    return {
        "number": demarche.number,
        "departement": demarche.departement,
        **demarche.mapping,
        "programme": programme_of(demarche, default_programme),
        "version": demarche.version,
        "updated_at": demarche.updated_at,
    }


async def check_document_kinds(session: AsyncSession, data: MappingIn) -> None:
    """R-DOC-1: a champ's documents are imported as a kind some programme files once per
    dossier; every other kind named is listed (422)."""
    importable = {
        r.code
        for stored in (await session.execute(select(Programme.required_documents))).scalars()
        for r in requirements(stored)
        if r.owner is Owner.PROJECT and not r.per_line
    }
    raise_failures(
        [
            RuleFailure(
                "R-DOC-1",
                f"Nature de pièce « {entry.kind} » inconnue ou non importable : "
                f"{', '.join(sorted(importable))} attendu.",
                f"/documents/{i}/kind",
            )
            for i, entry in enumerate(data.documents or [])
            if entry.kind not in importable
        ]
    )


def check_programme_values(programme: Programme, data: MappingIn) -> None:
    """R-PROG-1: the strands and expense categories a mapping imports into are its programme's
    (as its document kinds are, R-DOC-1); every other one named is listed (422)."""
    strands = [str(s["code"]) for s in programme.strands]
    categories = [str(c["code"]) for c in programme.categories]
    raise_failures(
        [
            RuleFailure(
                "R-PROG-1",
                f"Volet « {entry.strand} » inconnu du programme : {', '.join(strands)} attendu.",
                f"/strands/{i}/strand",
            )
            for i, entry in enumerate(data.strands)
            if entry.strand not in strands
        ]
        + [
            RuleFailure(
                "R-PROG-1",
                f"Catégorie « {entry.category} » inconnue du programme : "
                f"{', '.join(categories)} attendu.",
                f"/categories/{i}/category",
            )
            for i, entry in enumerate(data.categories)
            if entry.category not in categories
        ]
    )


async def put_mapping(
    session: AsyncSession,
    principal: Principal,
    *,
    number: int,
    data: MappingIn,
    if_match: str | None,
    default_programme: str,
) -> tuple[DsDemarche, bool]:
    """Create or replace a démarche's mapping. DINUM: any démarche (national or bound to the
    département it names); a prefect: its département's (created bound to it). Replacing
    needs If-Match (R-FLOW-3). Returns the démarche and whether it was created."""
    departement = data.departement
    if principal.role is Role.PREFECT:
        if departement not in (None, principal.departement):
            raise DemarcheForbidden(
                "Un préfet ne configure que les démarches de son département.", code="R-ACL-1"
            )
        departement = principal.departement
    await check_document_kinds(session, data)
    # R-PROG-2: the démarche imports into one programme, named (422 when unknown) or the
    # default one, stored by code (a programme's code never changes).
    programme = await programme_in_body(session, data.programme, default_programme)
    check_programme_values(programme, data)
    stored = data.model_dump(mode="json", exclude={"departement"})
    stored["programme"] = programme.code
    demarche = await session.get(DsDemarche, number)
    if demarche is None:
        # R-FLOW-3: a creation too carries If-Match, "v0" (no mapping yet), so that two
        # concurrent creations cannot both win and a lost read is a 412, not an overwrite.
        check_if_match(if_match, 0)
        demarche = DsDemarche(
            number=number, departement=departement, mapping=stored, updated_by=principal.subject
        )
        # Created meanwhile by a concurrent "v0": ours is stale (R-FLOW-3), a 412, not a 500.
        await add_unique(session, demarche, PreconditionFailed(code="R-FLOW-3"))
        await audit.record(  # R-AUDIT-1
            session,
            principal,
            object_type="ds_demarche",
            object_id=str(number),
            departement=departement,
            action="created",
            after={"departement": departement, "mapping": stored},
        )
        return demarche, True
    if not _visible(demarche, principal):
        raise DemarcheNotFound(code="R-ACL-1")
    if principal.role is Role.PREFECT and demarche.departement is None:
        raise DemarcheForbidden(code="R-ACL-1")
    check_if_match(if_match, demarche.version)
    before = {"departement": demarche.departement, "mapping": demarche.mapping}
    demarche.mapping = stored
    demarche.departement = departement if principal.role is Role.DINUM else demarche.departement
    demarche.updated_by = principal.subject
    demarche.updated_at = utcnow()
    await flush_versioned(session)
    await audit.record(  # R-AUDIT-1
        session,
        principal,
        object_type="ds_demarche",
        object_id=str(number),
        departement=demarche.departement,
        action="updated",
        before=before,
        after={"departement": demarche.departement, "mapping": stored},
    )
    return demarche, False
