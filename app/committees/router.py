"""/committees: R-COM-1 status, committees, agenda, decisions, close, minutes; and
/projects/{id}/decision, the committee's decision on a dossier."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.dependencies import Read, read_access, require_roles
from app.auth.principal import Principal, Role
from app.committees import (
    access as committees_access,
    agenda as committees_agenda,
    cancel as committees_cancel,
    close as committees_close,
    committee_reads,
    decisions as committees_decisions,
    due as committees_due,
    minutes as committees_minutes,
    planning as committees_planning,
    views as committees_views,
)
from app.committees.rules import CommitteeStatus
from app.committees.schemas import (
    AgendaChange,
    CommitteeCreate,
    CommitteeDueRead,
    CommitteeList,
    CommitteeRead,
    CommitteeStatusList,
    CommitteeSummary,
    DecisionCreate,
    LeftAgendaRead,
    MinutesDecision,
    MinutesRead,
    ProjectDecisionRead,
    StrandTotal,
)
from app.core import tags
from app.core.concurrency import ETAG, IfMatchHeader, etag_for
from app.core.db import SessionDep
from app.core.errors import problems
from app.core.filters import UpdatedSince
from app.core.idempotency import REPLAYED, IdempotencyKeyHeader, run_idempotent
from app.core.lean_route import LeanRoute, lean
from app.core.location import set_location
from app.core.pagination import CursorFormat, PageParams, page_params_for
from app.programme.dependencies import (
    ProgrammeParam,
    ProgrammeRef,
    default_code,
    programme_in_body,
)
from app.reference.departements import DepartementQuery

router = APIRouter(prefix="/committees", tags=[tags.COMITES], route_class=LeanRoute)
decisions_router = APIRouter(prefix="/projects", tags=[tags.COMITES], route_class=LeanRoute)
COMMITTEES_CURSOR = CursorFormat("committees")
StateReaders = Annotated[Principal, Depends(require_roles(Role.PREFECT, Role.DINUM, Role.ANCT))]
# Issue 28: the hot reads take their caller and their connection from one dependency.
ReadByAnyone = Annotated[Read, read_access(Role.CANDIDATE, Role.PREFECT, Role.DINUM, Role.ANCT)]
SnapshotByState = Annotated[Read, read_access(Role.PREFECT, Role.DINUM, Role.ANCT, snapshot=True)]
Prefect = Annotated[Principal, Depends(require_roles(Role.PREFECT))]


def committee_read(view: committees_views.CommitteeView, response: Response) -> CommitteeRead:
    """The committee a write answers with (its ORM view), as the lean read builds it."""
    response.headers["ETag"] = etag_for(view.committee.version)
    lines = [committee_reads.line_of(row) for row in view.agenda]  # in R-COM-4 order
    fields = committee_reads.committee_fields(view.committee, view.programme, lines)
    return CommitteeRead.model_validate(fields)


async def _idempotent_write(
    session: AsyncSession,
    principal: Principal,
    response: Response,
    *,
    committee_id: uuid.UUID,
    key: str | None,
    operation: str,
    payload: Any,
    write: Callable[[], Awaitable[committees_views.CommitteeView]],
) -> Any:
    """A decision or a close under `Idempotency-Key`: run once, replayed afterwards, and only to
    a caller who reaches the committee (404 otherwise, R-ACL-1)."""

    async def action() -> CommitteeRead:
        return committee_read(await write(), response)

    async def authorize() -> None:
        await committees_access.get_committee(session, principal, committee_id=committee_id)

    return await run_idempotent(
        session,
        principal,
        response,
        key=key,
        operation=operation,
        payload=payload,
        status_code=200,
        authorize=authorize,
        action=action,
    )


@router.get(
    "/status",
    summary="Savoir si un comité est dû",
    response_model=CommitteeStatusList,
    responses=problems(401, 403, 404),
)
async def committee_status(
    session: SessionDep, principal: StateReaders, programme: ProgrammeParam
) -> CommitteeStatusList:
    """R-COM-1 : pour chaque département du périmètre (préfet : le sien ; DINUM, ANCT : ceux
    qui ont une enveloppe ou un dépôt), le comité est-il dû, pourquoi, combien de dossiers en
    attente (déposés ou en instruction ; renvoyés, retirés et classés sans suite ne comptent
    pas), combien d'entre eux déposés depuis le dernier comité clos, et depuis quand ; sur le
    programme `programme` (par défaut, le programme par défaut du service ; R-PROG-2) : ses
    comités, ses dossiers, ses enveloppes, son seuil et son intervalle."""
    rows = await committees_due.committee_status(session, principal, programme=programme)
    return CommitteeStatusList(
        items=[
            CommitteeDueRead(
                departement=r.departement,
                due=r.reason is not None,
                reason=r.reason,
                submitted_since_last=r.submitted_since_last,
                waiting=r.waiting,
                since=r.since,
                first_submitted_at=r.first_submitted_at,
                threshold=r.threshold,
            )
            for r in rows
        ]
    )


@router.post(
    "",
    summary="Planifier un comité de sélection",
    status_code=201,
    response_model=CommitteeRead,
    responses={201: {"headers": ETAG}, **problems(401, 403, 413, 422)},
)
async def create_committee(
    request: Request,
    response: Response,
    session: SessionDep,
    principal: Prefect,
    data: CommitteeCreate,
) -> CommitteeRead:
    """Planifier un comité de sélection de son département (préfet) : date, membres (le
    premier préside). La date de séance est dans le programme (au plus tôt l'ouverture de
    l'appel, au plus tard la date limite des résultats) et pas dans le passé (422, R-COM-2).

    Le comité appartient au programme que nomme `programme` (par défaut, le programme par
    défaut du service ; inconnu : 422, R-PROG-2) : son ordre du jour ne prend que les dossiers
    de ce programme.

    Règles : R-COM-1, R-COM-2, R-ACL-1, R-PROG-2.
    """
    programme = await programme_in_body(session, data.programme, default_code(request))
    committee = await committees_planning.create_committee(
        session, principal, programme=programme, data=data
    )
    set_location(response, f"/committees/{committee.id}")
    return committee_read(await committees_views.committee_view(session, committee), response)


@router.get(
    "",
    summary="Lister les comités de sélection",
    response_model=CommitteeList,
    responses=problems(401, 403, 404),
)
async def list_committees(
    session: SessionDep,
    principal: StateReaders,
    programme: ProgrammeRef,
    page: Annotated[PageParams, Depends(page_params_for(COMMITTEES_CURSOR))],
    departement: DepartementQuery = None,
    status: Annotated[CommitteeStatus | None, Query(description="Seulement cet état.")] = None,
    updated_since: UpdatedSince = None,
) -> CommitteeList:
    """Les comités du périmètre (préfet : son département ; DINUM, ANCT : tous) sur le
    programme `programme` (par défaut, le programme par défaut du service).

    Règles : R-ACL-1 (périmètre), R-COM-1, R-SYNC-1 (`updated_since`), R-PROG-2.
    """
    rows, next_cursor = await committees_access.list_committees(
        session,
        principal,
        programme_id=programme.id,
        page=page,
        departement=departement,
        status=status,
        updated_since=updated_since,
    )
    return CommitteeList(
        items=[
            CommitteeSummary(**committee_reads.summary_fields(c, n, programme.code))
            for c, n in rows
        ],
        next_cursor=next_cursor,
    )


@router.get(
    "/{committee_id}",
    summary="Lire un comité et son ordre du jour",
    response_model=CommitteeRead,
    responses={200: {"headers": ETAG}, **problems(401, 403, 404)},
)
@lean
async def read_committee(
    committee_id: uuid.UUID,
    response: Response,
    read: SnapshotByState,
) -> dict[str, Any]:
    """Un comité et son ordre du jour, trié par note moyenne décroissante, les candidats de
    moins de 5 000 habitants signalés (R-COM-4)."""
    # Issue 28: Core statements on one snapshot, no ORM session.
    committee, fields = await committee_reads.read_committee(
        read.connection, read.principal, committee_id=committee_id
    )
    response.headers["ETag"] = etag_for(committee["version"])
    return fields


@router.post(
    "/{committee_id}/agenda",
    summary="Modifier l'ordre du jour d'un comité",
    response_model=CommitteeRead,
    responses={200: {"headers": ETAG}, **problems(401, 403, 404, 409, 412, 413, 428)},
)
async def change_agenda(
    committee_id: uuid.UUID,
    response: Response,
    session: SessionDep,
    principal: Prefect,
    data: AgendaChange,
    if_match: IfMatchHeader = None,
) -> CommitteeRead:
    """Inscrire (`add`) ou retirer (`remove`) des dossiers tant que le comité est ouvert ;
    les retraits d'abord. R-COM-2 : seulement des dossiers en instruction du département (tout
    autre identifiant, d'un autre département, inconnu ou pas en instruction : 422 nommant
    chacun, la même réponse pour tous), sur un seul comité ouvert à la fois (409). If-Match du
    comité."""
    view = await committees_agenda.change_agenda(
        session, principal, committee_id=committee_id, if_match=if_match, data=data
    )
    return committee_read(view, response)


@router.post(
    "/{committee_id}/decisions",
    summary="Décider d'un dossier en comité",
    response_model=CommitteeRead,
    responses={
        200: {"headers": {**ETAG, **REPLAYED}},
        **problems(401, 403, 404, 409, 412, 413, 428),
    },
)
async def record_decision(
    committee_id: uuid.UUID,
    response: Response,
    session: SessionDep,
    principal: Prefect,
    data: DecisionCreate,
    if_match: IfMatchHeader = None,
    idempotency_key: IdempotencyKeyHeader = None,
) -> Any:
    """Décider d'un dossier de l'ordre du jour : accepté (montant ≤ plafonds, sinon 422 :
    R-CAP-1, R-CAP-2, R-CAP-3), refusé (motivation obligatoire) ou ajourné. Une nouvelle
    décision remplace la précédente jusqu'à la clôture ; la première ouvre la séance ; pas
    avant la date de séance (409, R-COM-2). L'agent qui a déclaré un conflit d'intérêts sur le
    dossier ne décide pas (403, R-EVAL-2). If-Match du comité ; accepte `Idempotency-Key`."""
    return await _idempotent_write(
        session,
        principal,
        response,
        committee_id=committee_id,
        key=idempotency_key,
        operation=f"committee-decision:{committee_id}",
        payload=data.model_dump(mode="json"),
        write=lambda: committees_decisions.record_decision(
            session, principal, committee_id=committee_id, if_match=if_match, data=data
        ),
    )


@router.post(
    "/{committee_id}/close",
    summary="Clore un comité de sélection",
    response_model=CommitteeRead,
    responses={200: {"headers": {**ETAG, **REPLAYED}}, **problems(401, 403, 404, 409, 412, 428)},
)
async def close_committee(
    committee_id: uuid.UUID,
    response: Response,
    session: SessionDep,
    principal: Prefect,
    if_match: IfMatchHeader = None,
    idempotency_key: IdempotencyKeyHeader = None,
) -> Any:
    """Clore le comité (R-COM-3), en une transaction : les subventions acceptées sont
    engagées (R-CAP-1 à R-CAP-4, R-REF-2), les refus motivés, les ajournés restent en
    instruction et quittent l'ordre du jour. Au moindre échec : 409 listant chaque dossier en
    échec avec sa règle, et pour l'enveloppe le manque (`shortfall_cents`) ; rien ne change.
    Un comité sans décision ne se clôt jamais (409, R-COM-2) : il s'annule. If-Match du
    comité ; accepte `Idempotency-Key`."""
    return await _idempotent_write(
        session,
        principal,
        response,
        committee_id=committee_id,
        key=idempotency_key,
        operation=f"committee-close:{committee_id}",
        payload={},
        write=lambda: committees_close.close_committee(
            session, principal, committee_id=committee_id, if_match=if_match
        ),
    )


@router.post(
    "/{committee_id}/cancel",
    summary="Annuler un comité de sélection",
    response_model=CommitteeRead,
    responses={200: {"headers": ETAG}, **problems(401, 403, 404, 409, 412, 428)},
)
async def cancel_committee(
    committee_id: uuid.UUID,
    response: Response,
    session: SessionDep,
    principal: Prefect,
    if_match: IfMatchHeader = None,
) -> CommitteeRead:
    """Annuler un comité qui n'a enregistré aucune décision (R-COM-2) : il passe `cancelled`,
    ses dossiers quittent l'ordre du jour et peuvent aller à un autre comité ; le décompte
    R-COM-1 n'est pas remis à zéro (seule une clôture le fait). Un comité qui a des décisions
    ne s'annule pas (409) : il se clôt. Préfet du département ; If-Match du comité."""
    view = await committees_cancel.cancel_committee(
        session, principal, committee_id=committee_id, if_match=if_match
    )
    return committee_read(view, response)


@router.get(
    "/{committee_id}/minutes",
    summary="Lire le procès-verbal d'un comité",
    response_model=MinutesRead,
    responses=problems(401, 403, 404),
)
async def read_minutes(
    committee_id: uuid.UUID, session: SessionDep, principal: StateReaders
) -> MinutesRead:
    """Le procès-verbal : membres, président, date, chaque décision avec son montant et sa
    motivation, l'enveloppe avant et après, les totaux par volet.

    Règles : R-COM-3, R-COM-4, R-ACL-1.
    """
    view = await committees_views.read_committee(session, principal, committee_id=committee_id)
    committee = view.committee
    members = committee_reads.members(committee)
    totals = committees_minutes.strand_totals(view.agenda)
    return MinutesRead(
        committee_id=committee.id,
        departement=committee.departement,
        title=committee.title,
        meeting_on=committee.meeting_on,
        status=CommitteeStatus(committee.status),
        chair=members[0],
        members=members,
        closed_at=committee.closed_at,
        envelope_available_before_cents=committee.envelope_available_before_cents,
        envelope_available_after_cents=committee.envelope_available_after_cents,
        decisions=[
            MinutesDecision(
                project_id=row.project.id,
                title=row.project.title,
                candidate_name=row.candidate.name,
                strand=row.project.strand,
                requested_cents=row.project.requested_cents,
                decision=committee_reads.decision_read(row.item),
                left_agenda=LeftAgendaRead(at=row.item.left_at, reason=row.item.left_reason)
                if row.item.left_at is not None and row.item.left_reason is not None
                else None,
            )
            for row in view.agenda
        ],
        totals=[StrandTotal.model_validate(t, from_attributes=True) for t in totals],
        accepted_cents=sum(t.accepted_cents for t in totals),
    )


@decisions_router.get(
    "/{project_id}/decision",
    summary="Lire la décision du comité sur un dossier",
    response_model=ProjectDecisionRead,
    responses=problems(401, 403, 404),
)
@lean
async def read_project_decision(
    project_id: uuid.UUID,
    read: ReadByAnyone,
) -> dict[str, Any]:
    """La décision du comité sur un dossier : issue, montant accordé, motivation. Le candidat
    ne la voit qu'une fois le comité clos (404 avant) ; préfet, DINUM et ANCT voient aussi la
    décision en cours d'un comité ouvert (`final` faux).

    Règles : R-COM-3, R-ACL-1.
    """
    # Issue 28: one statement on a pooled connection, no ORM session.
    return await committees_decisions.project_decision(
        read.connection, read.principal, project_id=project_id
    )
