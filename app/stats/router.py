"""GET /stats/national and /stats/departements: JSON, or CSV with `Accept: text/csv`."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel

from app.auth.dependencies import require_roles
from app.auth.principal import Principal, Role
from app.core import tags
from app.core.db import SessionDep
from app.core.errors import problems
from app.core.schemas import IsoDate
from app.programme.dependencies import ProgrammeScope
from app.stats import service as stats_service
from app.stats.rules import csv_document, flatten
from app.stats.schemas import DepartementsStats, NationalStats

router = APIRouter(prefix="/stats", tags=[tags.STATISTIQUES])

National = Annotated[Principal, Depends(require_roles(Role.DINUM, Role.ANCT))]
Readers = Annotated[Principal, Depends(require_roles(Role.PREFECT, Role.DINUM, Role.ANCT))]
PeriodFrom = Annotated[
    IsoDate | None,
    Query(
        alias="from",
        description=(
            "Début de période (inclus, jour de Paris) : date de dépôt pour les dossiers, de "
            "décision pour les subventions et la médiane, de paiement pour les paiements."
        ),
    ),
]
PeriodTo = Annotated[IsoDate | None, Query(alias="to", description="Fin de période (incluse).")]
GroupBy = Annotated[
    Literal["month"] | None,
    Query(description="`month` : ajoute les séries mensuelles (engagements, paiements, dépôts)."),
]
CSV_MEDIA_TYPE = "text/csv; charset=utf-8"


def _responses(model: type[BaseModel]) -> dict[int | str, dict[str, object]]:
    return {
        200: {
            "description": (
                "Les chiffres en JSON ; en CSV (`scope,figure,key,value`, une ligne par nombre) "
                "avec `Accept: text/csv`."
            ),
            "content": {
                "application/json": {"schema": {"$ref": f"#/components/schemas/{model.__name__}"}},
                "text/csv": {"schema": {"type": "string"}},
            },
        },
        **problems(401, 403, 404),
    }


def wants_csv(request: Request) -> bool:
    """`Accept: text/csv` (preferred over JSON by order or weight) asks for the CSV form."""
    best, best_q = "application/json", -1.0
    for part in request.headers.get("accept", "").split(","):
        media, _, params = part.strip().partition(";")
        weight = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name == "q":
                try:
                    weight = float(value)
                except ValueError:
                    weight = 0.0
        if media.strip() in {"text/csv", "application/json"} and weight > best_q:
            best, best_q = media.strip(), weight
    return best == "text/csv" and best_q > 0


def _csv(rows: list[tuple[str, str, str, str]]) -> Response:
    return Response(csv_document(iter(rows)), media_type=CSV_MEDIA_TYPE)


@router.get(
    "/national",
    summary="Lire le tableau de bord national",
    response_model=NationalStats,
    responses=_responses(NationalStats),
)
async def read_national_stats(
    request: Request,
    session: SessionDep,
    principal: National,
    programme: ProgrammeScope,
    period_from: PeriodFrom = None,
    period_to: PeriodTo = None,
    group_by: GroupBy = None,
) -> NationalStats | Response:
    """Tableau de bord national (DINUM, ANCT) : alloué, engagé, payé, disponible, taux
    d'utilisation ; dossiers par état et par volet ; montants demandés et accordés par volet et
    par catégorie de candidat ; médiane des jours du dépôt à la décision ; part des
    bénéficiaires de moins de 5 000 habitants ; agents et usagers concernés ; comités tenus
    sur la période et comités dus aujourd'hui (R-COM-1). D'un programme (`programme`, par
    défaut le programme par défaut du service) ou de tous ensemble (`programme=*` : les
    montants, dossiers et comités s'additionnent ; les bénéficiaires sont comptés une fois ;
    R-PROG-2)."""
    stats = await stats_service.national(
        session,
        principal,
        programme=programme,
        period_from=period_from,
        period_to=period_to,
        series=group_by == "month",
    )
    if wants_csv(request):
        return _csv(list(flatten(stats_service.NATIONAL, stats.model_dump(mode="json"))))
    return stats


@router.get(
    "/departements",
    summary="Lire les chiffres par département",
    response_model=DepartementsStats,
    responses=_responses(DepartementsStats),
)
async def read_departements_stats(
    request: Request,
    session: SessionDep,
    principal: Readers,
    programme: ProgrammeScope,
    period_from: PeriodFrom = None,
    period_to: PeriodTo = None,
    group_by: GroupBy = None,
) -> DepartementsStats | Response:
    """Les mêmes chiffres par département : tous pour la DINUM et l'ANCT, le sien pour un
    préfet (R-ACL-1) ; d'un programme ou de tous (`programme=*`, R-PROG-2)."""
    stats = await stats_service.departements(
        session,
        principal,
        programme=programme,
        period_from=period_from,
        period_to=period_to,
        series=group_by == "month",
    )
    if wants_csv(request):
        rows = [
            row
            for item in stats.items
            for row in flatten(
                item.departement, item.model_dump(mode="json", exclude={"departement"})
            )
        ]
        return _csv(rows)
    return stats
