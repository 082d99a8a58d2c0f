"""API shapes of the dashboards (JSON; the same figures flatten to CSV, see app.stats.rules)."""

from __future__ import annotations

from pydantic import Field

from app.core.schemas import Cents, Count, JsonInt, ReadModel
from app.programme.schemas import MAX_STRANDS, StrandCode

Month = str
GRANTED_NET = (
    "Accordé net (§5) : somme des montants nets des subventions (accordé moins ce qui a été "
    "libéré au solde ou à l'annulation) ; une subvention annulée compte pour ce qu'elle a "
    "versé. Le total par volet égale le total par catégorie et l'engagé des enveloppes."
)


class StatusCount(ReadModel):
    status: str = Field(max_length=20)
    projects: Count


class StrandFigures(ReadModel):
    strand: StrandCode
    projects: Count
    requested_cents: Cents = Field(description="Demandé par les dossiers déposés.")
    granted_cents: Cents = Field(description=GRANTED_NET)


class KindFigures(ReadModel):
    kind: str = Field(max_length=40, description="Catégorie de candidat (R-ELIG-1).")
    requested_cents: Cents
    granted_cents: Cents = Field(description=GRANTED_NET)


class MonthFigures(ReadModel):
    month: Month = Field(pattern=r"^[0-9]{4}-[0-9]{2}$", description="AAAA-MM (UTC).")
    submissions: Count
    commitments: Count = Field(
        description="Subventions décidées ce mois dont le montant net est positif."
    )
    commitments_cents: Cents = Field(
        description="Somme des montants nets des subventions décidées ce mois."
    )
    payments: Count
    payments_cents: Cents


class Figures(ReadModel):
    """Les chiffres d'un périmètre (national ou un département)."""

    allocated_cents: Cents
    committed_cents: Cents
    paid_cents: Cents
    available_cents: Cents = Field(description="Alloué − engagé.")
    use_rate_bps: JsonInt = Field(ge=0, le=10_000, description="Engagé / alloué (points de base).")
    projects_by_status: list[StatusCount] = Field(max_length=20)
    by_strand: list[StrandFigures] = Field(
        max_length=5 * MAX_STRANDS,
        description="Les volets du programme (de tous les programmes avec `programme=*`).",
    )
    by_candidate_kind: list[KindFigures] = Field(max_length=20)
    decisions: Count = Field(description="Décisions (acceptations et refus) de la période.")
    median_days_to_decision: float | None = Field(
        ge=0,
        le=100_000,
        description="Médiane des jours du dépôt à la décision (null sans décision).",
    )
    beneficiaries: Count = Field(
        description="Bénéficiaires distincts d'une subvention de montant net positif (une "
        "subvention annulée sans versement ne compte pas)."
    )
    small_beneficiaries: Count = Field(
        description="Dont communes de moins de 5 000 habitants (seuil du programme)."
    )
    small_beneficiary_share_bps: JsonInt | None = Field(
        ge=0, le=10_000, description="Part des petits bénéficiaires (points de base)."
    )
    agents_impacted: Count = Field(description="Agents concernés par les projets financés.")
    users_impacted: Count = Field(description="Usagers concernés par les projets financés.")
    series: list[MonthFigures] | None = Field(
        max_length=1200, description="Séries mensuelles (`group_by=month` seulement)."
    )
    committees_held: Count = Field(
        description="Comités clos sur la période (date de clôture, Europe/Paris)."
    )
    committees_due: Count = Field(
        description="Départements dont le comité est dû aujourd'hui (R-COM-1) : pour un "
        "département, 1 s'il est dû, 0 sinon ; au national, leur nombre."
    )


class NationalStats(Figures):
    """Tableau de bord national (DINUM, ANCT)."""

    period_from: str | None = Field(pattern=r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
    period_to: str | None = Field(pattern=r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")


class DepartementFigures(Figures):
    departement: str = Field(max_length=3)


class DepartementsStats(ReadModel):
    """Un tableau de bord par département (un préfet : le sien)."""

    period_from: str | None = Field(pattern=r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
    period_to: str | None = Field(pattern=r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
    items: list[DepartementFigures] = Field(max_length=200)
