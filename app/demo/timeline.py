"""The demo's story as data (pure, deterministic): which dossier is filed when, by whom, on which
strand, and where it ends (its fate), with every date its life needs (R-ELIG-5..8, R-PAY-3).

FITN7 axe 3: dossiers filed from the window's opening (2021-01-25) to December 2022, a number
per month that follows each département's weight; the fate of a dossier depends on when it was
filed (a dossier filed in 2021 has had time to be completed, one filed in late 2022 still waits
for its committee). Every fate of R-FLOW-1 a dossier rests in appears, one completed dossier
settles below its grant, and a cancellation releases an advance's unpaid rest (R-CAP-5).

Numérique des territoires 2026 (R-PROG-2): a handful of dossiers in February 2026, inside its
window, decided in March; two conventions whose schedules run on past the demo's end, so that an
integrator can walk them with `python -m app clock advance`.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from app.core.clock import PARIS
from app.demo.cast import DEPARTEMENTS_CAST, ORGANISATIONS, Organisation
from app.programme.seed import PROGRAMME_CODE
from app.programme.seed_nt2026 import NT2026_CODE
from app.projects.lifecycle_rules import Status

FITN7 = PROGRAMME_CODE
NT2026 = NT2026_CODE
OPENING = date(2021, 1, 25)  # FITN7's window opens (make run's CLOCK_START, 09:00)
FITN7_HORIZON = date(2022, 12, 31)  # its results deadline: the last event of its story
LAST_START = date(2022, 12, 12)
NT2026_DEPARTEMENTS = ("13", "33", "69", "974")  # its envelopes
NT2026_OPENS = date(2026, 2, 1)
# The demo's "now" once loaded: the service's clock reads this (or later) after `load`.
DEMO_END = datetime(2026, 3, 16, 9, 0, tzinfo=PARIS)

DECIDED = frozenset(
    {Status.REJECTED, Status.ACCEPTED, Status.UNDER_CONVENTION, Status.COMPLETED, Status.CANCELLED}
)
FUNDED = DECIDED - {Status.REJECTED}
CATEGORY = {"3a": "consulting", "3b": "training", "3c": "development"}
TITLES = {
    "3a": "Accompagnement à la définition du schéma directeur numérique",
    "3b": "Formation des agents aux outils collaboratifs",
    "3c": "Prise de rendez-vous en ligne pour l'état civil",
    "socle": "Sauvegarde et sécurité des postes partagés des services",
    "services": "Démarches d'état civil en ligne",
}


def at(day: date, hour: int = 10, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=PARIS)


@dataclass
class DossierPlan:
    key: str
    programme: str
    org: Organisation
    strand: str
    fate: Status
    filed: datetime
    requested_cents: int
    granted_cents: int
    line_cents: int
    category: str
    start_on: date
    end_on: date
    settle_below: bool = False  # its balance pays less than the grant's rest
    schedule_days: tuple[int, int] = (7, 120)  # advance, instalment: days after the convention
    ids: dict[str, str] = field(default_factory=dict)  # filled while replaying

    @property
    def departement(self) -> str:
        return self.org.departement


def forfait_cents(org: Organisation) -> int:
    """R-CAP-3, FITN7's default schedule: 5 000 € under 5 000 inhabitants, 10 000 € for other
    communes, 20 000 € for every other kind."""
    if org.kind == "commune":
        return 500_000 if (org.population or 0) < 5_000 else 1_000_000
    return 2_000_000


def _fate(rng: random.Random, filed: date) -> Status:
    s = Status
    if filed < date(2022, 1, 1):
        table = {s.COMPLETED: 26, s.UNDER_CONVENTION: 6, s.CANCELLED: 3, s.REJECTED: 12}
        table |= {s.CLOSED: 5, s.WITHDRAWN: 6, s.DRAFT: 3, s.ACCEPTED: 2}
    elif filed < date(2022, 5, 1):
        table = {s.COMPLETED: 10, s.UNDER_CONVENTION: 24, s.CANCELLED: 3, s.REJECTED: 12}
        table |= {s.CLOSED: 5, s.WITHDRAWN: 6, s.DRAFT: 3, s.ACCEPTED: 3}
    elif filed < date(2022, 10, 1):
        table = {s.UNDER_CONVENTION: 16, s.ACCEPTED: 14, s.REJECTED: 10, s.CLOSED: 4}
        table |= {s.WITHDRAWN: 5, s.DRAFT: 4, s.CANCELLED: 1}
    else:
        table = {s.SUBMITTED: 10, s.IN_REVIEW: 18, s.DRAFT: 5, s.WITHDRAWN: 3}
        if filed < date(2022, 11, 15):  # still decided by a committee of November or December
            table |= {s.REJECTED: 8, s.ACCEPTED: 8}
    return rng.choices(list(table), weights=list(table.values()))[0]


def _months() -> list[date]:
    months, day = [], date(2021, 1, 1)
    while day <= date(2022, 12, 1):
        months.append(day)
        day = date(day.year + day.month // 12, day.month % 12 + 1, 1)
    return months


def fitn7_dossiers(scale: float = 1.0, seed: int = 27) -> list[DossierPlan]:
    """FITN7's dossiers, about 230 at scale 1 (the same ones on every run)."""
    rng = random.Random(seed)
    filers = {
        d.code: [o for o in ORGANISATIONS if o.departement == d.code] for d in DEPARTEMENTS_CAST
    }
    plans: list[DossierPlan] = []
    for month in _months():
        for dep in DEPARTEMENTS_CAST:
            count = int(dep.weight * 0.38 * scale + rng.random())
            for _ in range(count):
                first = max(month, OPENING)
                day = first + timedelta(days=rng.randint(0, 24 - (first.day - month.day)))
                if day > date(2022, 12, 9):
                    continue
                org = rng.choice(filers[dep.code])
                plans.append(_fitn7_plan(rng, len(plans), org, day))
    plans.sort(key=lambda p: p.filed)
    _cover_every_fate(plans)
    return plans


def _fitn7_plan(rng: random.Random, index: int, org: Organisation, day: date) -> DossierPlan:
    strand = rng.choice(("3a", "3b", "3c"))
    fate = _fate(rng, day)
    if strand == "3a":
        requested = forfait_cents(org)  # R-CAP-3: the forfait is a ceiling; ask for it
    else:
        requested = rng.randrange(1_500_000, 12_000_000, 50_000)
    line = requested * 5 // 4
    granted = requested if rng.random() < 0.8 or strand == "3a" else requested * 9 // 10
    start = day + timedelta(days=rng.randint(20, 50))
    if start > LAST_START:  # filed in December 2022: a short project, still by the deadline
        start = max(day + timedelta(days=3), LAST_START)
    months = rng.randint(6, 12) if fate == Status.COMPLETED else rng.randint(10, 20)
    end = min(start + timedelta(days=30 * months), FITN7_HORIZON)
    if fate == Status.COMPLETED:  # its final report and balance by the results deadline
        end = min(end, date(2022, 11, 15))
    return DossierPlan(
        key=f"fitn7-{index:03d}",
        programme=FITN7,
        org=org,
        strand=strand,
        fate=fate,
        filed=at(day, 10 + rng.randint(0, 6), rng.randint(0, 59)),
        requested_cents=requested,
        granted_cents=granted,
        line_cents=line,
        category=CATEGORY[strand],
        start_on=start,
        end_on=end,
        schedule_days=(7, rng.randint(90, 150)),
    )


def _cover_every_fate(plans: list[DossierPlan]) -> None:
    """At any scale, every state a dossier rests in appears; the first completed dossier settles
    below its grant. A missing fate is given to a dossier filed when that fate is possible."""
    windows = {
        Status.COMPLETED: (OPENING, date(2021, 12, 31)),
        Status.CANCELLED: (OPENING, date(2022, 4, 30)),
        Status.UNDER_CONVENTION: (OPENING, date(2022, 9, 30)),
        Status.ACCEPTED: (OPENING, date(2022, 9, 30)),
        Status.REJECTED: (OPENING, date(2022, 9, 30)),
        Status.CLOSED: (OPENING, date(2022, 9, 30)),
        Status.SUBMITTED: (date(2022, 10, 1), date(2022, 12, 31)),
        Status.IN_REVIEW: (date(2022, 10, 1), date(2022, 12, 31)),
        Status.WITHDRAWN: (OPENING, date(2022, 12, 31)),
        Status.DRAFT: (OPENING, date(2022, 12, 31)),
    }
    for fate, (first, last) in windows.items():
        if any(p.fate == fate for p in plans):
            continue
        counts: dict[Status, int] = {}
        for p in plans:
            counts[p.fate] = counts.get(p.fate, 0) + 1
        for plan in plans:
            if first <= plan.filed.date() <= last and counts.get(plan.fate, 0) > 1:
                plan.fate = fate
                if fate == Status.COMPLETED:
                    plan.end_on = min(plan.start_on + timedelta(days=200), date(2022, 11, 15))
                break
    completed = [p for p in plans if p.fate == Status.COMPLETED]
    if completed:
        completed[0].settle_below = True


def nt2026_dossiers() -> list[DossierPlan]:
    """A handful of dossiers on the second call, in its window, early 2026."""
    by_key = {o.key: o for o in ORGANISATIONS}
    rows = [
        ("aix", "services", Status.UNDER_CONVENTION, 2, 4_000_000),
        ("bordeaux-metropole", "socle", Status.UNDER_CONVENTION, 3, 6_000_000),
        ("alleins", "socle", Status.ACCEPTED, 3, 1_200_000),
        ("sauternes", "services", Status.REJECTED, 4, 800_000),
        ("lyon", "services", Status.IN_REVIEW, 5, 5_000_000),
        ("saint-denis", "socle", Status.SUBMITTED, 9, 3_000_000),
        ("merignac", "services", Status.WITHDRAWN, 5, 2_000_000),
        ("cilaos", "services", Status.DRAFT, 10, 600_000),
    ]
    plans = []
    for index, (key, strand, fate, day, line) in enumerate(rows):
        rate = 70 if strand == "services" else 80  # the programme's cap rates
        requested = line * rate // 100
        plans.append(
            DossierPlan(
                key=f"nt2026-{index}",
                programme=NT2026,
                org=by_key[key],
                strand=strand,
                fate=fate,
                filed=at(date(2026, 2, day), 10, 5 * index),
                requested_cents=requested,
                granted_cents=requested,
                line_cents=line,
                category="development" if strand == "services" else "equipment",
                start_on=date(2026, 4, 1),
                end_on=date(2027, 6, 30),
                schedule_days=(3, 98),  # the advance on 2026-03-12, an instalment due in June
            )
        )
    return plans
