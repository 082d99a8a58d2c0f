"""Issue 13: load a database with the shape of the real guichet at a hundred times its load.

    .venv/bin/python bench/generate.py \
        --url postgresql+asyncpg://postgres@127.0.0.1:5432/guichet_bench --dump var/bench/g.dump
    .venv/bin/python bench/generate.py \
        --url sqlite+aiosqlite:///var/bench/guichet.db --dossiers 20000

The database is created through the migrations (alembic upgrade head) and the programme seeded
as `python -m app seed` does; then, seeded by `--seed` (same numbers, same rows):

- the 101 départements, each with an envelope (prefecture name and SIRET);
- candidates taken from the reference data (communes and EPCI of each département);
- `--dossiers` dossiers (200,000) across the strands 3a/3b/3c and every status, each with
  `--lines` expense lines (8) and one funding line;
- evaluations (prefecture and ANCT) on the dossiers past submission, their summary stored on
  the dossier as the service does;
- closed committees (one a month per département), grants for the accepted dossiers onward;
- `--movements` ledger movements (1,000,000): each envelope's allocation, each grant's
  commitment and payments, then allocation adjustments up to the count; the envelopes' figures
  are the sums of their movements;
- for each draft, the documents its submission requires (R-DOC-1, read from the seeded
  programme: the deliberation, a quote per expense line above the threshold, a candidate's
  attestation when its kind needs one) as rows of `document`, scanned clean, with a storage key
  and no bytes (submission and the eligibility report read the rows only).

PostgreSQL is loaded with COPY (asyncpg `copy_records_to_table`), SQLite with multi-row
inserts. `--dump FILE` writes a `pg_dump -Fc` of the result, which `bench/run.py` restores
instead of generating again.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import random
import subprocess
import sys
import time
import uuid
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import insert, select, text, update  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402
from sqlmodel import col  # noqa: E402

from app.budgets.models import Convention, Envelope, Grant, LedgerMovement  # noqa: E402
from app.candidates.models import Candidate  # noqa: E402
from app.committees.models import Committee  # noqa: E402
from app.core.config import Settings  # noqa: E402
from app.core.db import make_engine, make_sessionmaker  # noqa: E402
from app.documents.models import Document  # noqa: E402
from app.documents.rules import storage_key  # noqa: E402
from app.evaluations.models import Evaluation  # noqa: E402
from app.opendata import publish  # noqa: E402
from app.programme.models import Programme, ScoringGrid  # noqa: E402
from app.programme.rules import Owner, Requirement, Step, requirements  # noqa: E402
from app.programme.service import seed_programme  # noqa: E402
from app.projects.models import ExpenseLine, FundingLine, Project  # noqa: E402
from app.reference.catalogue import get_catalogue  # noqa: E402
from app.reference.departements import DEPARTEMENT_CODES  # noqa: E402
from app.stats import counters  # noqa: E402
from tests.support import siret_of  # noqa: E402

# Bumped whenever the generated rows change shape: a cached dump of another version is not
# restored (bench/run.py names dumps by it). 2: the drafts' documents (R-DOC-1).
GENERATOR_VERSION = 2
BATCH = 20_000
START = datetime(2021, 2, 1, 8, tzinfo=UTC)
SPAN_SECONDS = 200 * 24 * 3600  # dossiers created over about seven months
# Status shares of a call's life (a draft-heavy guichet with decisions made).
STATUSES = (
    ("draft", 18),
    ("submitted", 12),
    ("in_review", 14),
    ("accepted", 8),
    ("rejected", 10),
    ("withdrawn", 4),
    ("closed", 2),
    ("under_convention", 14),
    ("paid", 10),
    ("completed", 6),
    ("cancelled", 2),
)
GRANTED = {"accepted", "under_convention", "paid", "completed", "cancelled"}
EVALUATED = {"in_review"} | GRANTED | {"rejected", "closed"}
CATEGORIES = ("development", "study", "integration", "consulting", "training")


def pg_dsn(url: str) -> str:
    """The asyncpg / libpq spelling of a SQLAlchemy PostgreSQL URL."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def recreate_pg_database(url: str) -> None:
    """Drop the URL's PostgreSQL database (its sessions cut) and create it empty."""
    import asyncpg

    name = make_url(url).database
    admin = await asyncpg.connect(pg_dsn(str(make_url(url).set(database="postgres"))))
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()


async def migrate_and_seed(url: str) -> None:
    """A fresh database at head, with the programme (as `python -m app migrate` and `seed`)."""
    backend = make_url(url).get_backend_name()
    if backend == "postgresql":
        await recreate_pg_database(url)
    else:
        path = Path(make_url(url).database or "")
        path.parent.mkdir(parents=True, exist_ok=True)
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
    env = {"GUICHET_DATABASE_URL": url}
    subprocess.run(
        [sys.executable, "-m", "alembic", "upgrade", "head"],
        check=True,
        env={**__import__("os").environ, **env},
        cwd=Path(__file__).resolve().parents[1],
        stdout=subprocess.DEVNULL,
    )


class Loader:
    """Writes rows: COPY on PostgreSQL, multi-row INSERTs on SQLite."""

    def __init__(self, url: str, sessionmaker: Any) -> None:
        self.url, self.sessionmaker = url, sessionmaker
        self.pg = make_url(url).get_backend_name() == "postgresql"
        self.conn: Any = None
        self.counts: dict[str, int] = {}

    async def __aenter__(self) -> Loader:
        if self.pg:
            import asyncpg

            self.conn = await asyncpg.connect(pg_dsn(self.url))
        return self

    async def __aexit__(self, *_exc: object) -> None:
        if self.conn is not None:
            await self.conn.close()

    async def load(self, model: Any, rows: list[dict[str, Any]]) -> None:
        if not rows:
            return
        table = model.__table__
        defaults = {
            c.name: c.default.arg
            for c in table.columns
            if c.name not in rows[0] and c.default is not None and c.default.is_scalar
        }
        if defaults:
            rows = [{**defaults, **row} for row in rows]
        self.counts[table.name] = self.counts.get(table.name, 0) + len(rows)
        if self.pg:
            columns = list(rows[0])
            records = [
                tuple(
                    json.dumps(v) if isinstance(v, dict | list) else v
                    for v in (row[c] for c in columns)
                )
                for row in rows
            ]
            await self.conn.copy_records_to_table(table.name, records=records, columns=columns)
            return
        async with self.sessionmaker() as session, session.begin():
            await session.execute(insert(table), rows)


def weighted(rng: random.Random, choices: Iterable[tuple[str, int]]) -> list[str]:
    values, weights = zip(*choices, strict=True)
    return rng.choices(list(values), weights=list(weights), k=1)


async def generate(args: argparse.Namespace) -> dict[str, Any]:
    started = time.perf_counter()
    await migrate_and_seed(args.url)
    settings = Settings(database_url=args.url, environment="test")
    engine = make_engine(settings)
    sessionmaker = make_sessionmaker(engine)
    rng = random.Random(args.seed)
    # The documents draw from their own sequence: the other rows stay those of version 1.
    documents_rng = random.Random(args.seed + 1)
    async with sessionmaker() as session, session.begin():
        await seed_programme(session)
    async with sessionmaker() as session:
        programme = (await session.execute(select(Programme))).scalar_one()
        programme_id = programme.id
        submission_documents = [
            r for r in requirements(programme.required_documents) if r.step is Step.SUBMISSION
        ]
        grids = {
            g.strand: g
            for g in (await session.execute(select(ScoringGrid))).scalars()
            if g.version == 1
        }
    catalogue = get_catalogue()
    by_dep: dict[str, list[Any]] = {d: [] for d in DEPARTEMENT_CODES}
    for siren in sorted(catalogue.sirens()):
        entry = catalogue.by_siren(siren)
        if entry is not None and entry.departement in by_dep:
            by_dep[entry.departement].append(entry)

    async with Loader(args.url, sessionmaker) as loader:
        envelopes: dict[str, dict[str, Any]] = {}
        for dep in DEPARTEMENT_CODES:
            envelopes[dep] = {
                "id": uuid.UUID(int=rng.getrandbits(128), version=4), "programme_id": programme_id,
                "departement": dep, "prefecture_name": f"Préfecture du {dep}",
                "prefecture_siret": siret_of("130025265", f"{DEPARTEMENT_CODES.index(dep):04d}"),
                "allocated_cents": 0, "committed_cents": 0, "paid_cents": 0, "version": 1,
                "created_at": START, "updated_at": START,
            }  # fmt: skip
        # Candidates: up to --candidates-per-dep reference bodies of each département.
        candidates: list[dict[str, Any]] = []
        for dep in DEPARTEMENT_CODES:
            entries = by_dep[dep]
            for entry in rng.sample(entries, min(len(entries), args.candidates_per_dep)):
                candidates.append(
                    {"id": uuid.UUID(int=rng.getrandbits(128), version=4),
                     "siret": siret_of(entry.siren), "siren": entry.siren, "name": entry.name,
                     "kind": entry.kind, "epci_type": entry.epci_type, "departement": dep,
                     "commune_insee": entry.insee_code, "population": entry.population,
                     "from_reference": True, "verification": "verified",
                     "created_by": "bench", "version": 1, "created_at": START,
                     "updated_at": START}
                )  # fmt: skip
        await loader.load(Candidate, candidates)
        by_candidate_dep: dict[str, list[dict[str, Any]]] = {}
        for c in candidates:
            by_candidate_dep.setdefault(c["departement"], []).append(c)
        deps = [d for d in DEPARTEMENT_CODES if by_candidate_dep.get(d)]

        committees: list[dict[str, Any]] = []
        committee_of: dict[tuple[str, int], str] = {}
        for dep in deps:
            for month in range(2, 9):
                meeting = date(2021, month, 20)
                cid = uuid.UUID(int=rng.getrandbits(128), version=4)
                closed = datetime(2021, month, 20, 16, tzinfo=UTC)
                committees.append(
                    {"id": cid, "programme_id": programme_id, "departement": dep,
                     "title": f"Comité de sélection {dep} {month:02d}/2021", "meeting_on": meeting,
                     "members": [{"name": "M. le Préfet", "role": "Préfet"}],
                     "status": "closed", "closed_at": closed, "closed_by": f"prefet-{dep}",
                     "created_by": f"prefet-{dep}", "version": 3, "created_at": closed,
                     "updated_at": closed}
                )  # fmt: skip
                committee_of[(dep, month)] = f"Comité de sélection {dep} {month:02d}/2021"
        await loader.load(Committee, committees)
        await loader.load(Envelope, [dict(envelopes[d]) for d in deps])

        movements: list[dict[str, Any]] = []
        movement_id = 0

        def movement(envelope: dict[str, Any], at: datetime, **deltas: Any) -> None:
            nonlocal movement_id
            movement_id += 1
            movements.append(
                {"id": movement_id, "envelope_id": envelope["id"], "kind": deltas.pop("kind"),
                 "allocated_delta_cents": deltas.pop("allocated", 0),
                 "committed_delta_cents": deltas.pop("committed", 0),
                 "paid_delta_cents": deltas.pop("paid", 0),
                 "project_id": deltas.pop("project_id", None),
                 "reference": deltas.pop("reference", None),
                 "actor_subject": deltas.pop("actor", "agent-dinum"),
                 "actor_role": deltas.pop("role", "dinum"), "at": at}
            )  # fmt: skip

        for dep in deps:
            movement(envelopes[dep], START, kind="allocation", allocated=10**12)

        created_step = SPAN_SECONDS / max(args.dossiers, 1)
        attested: set[uuid.UUID] = set()  # candidates whose attestation is loaded
        for first in range(0, args.dossiers, BATCH):
            projects, lines, funding, evaluations, grants, conventions = [], [], [], [], [], []
            documents: list[dict[str, Any]] = []
            for i in range(first, min(first + BATCH, args.dossiers)):
                dep = deps[rng.randrange(len(deps))]
                candidate = rng.choice(by_candidate_dep[dep])
                status = weighted(rng, STATUSES)[0]
                strand = rng.choice(("3a", "3b", "3c"))
                created = START + timedelta(seconds=i * created_step + rng.random())
                submitted = None if status == "draft" else created + timedelta(days=2)
                pid = uuid.UUID(int=rng.getrandbits(128), version=4)
                amounts = [rng.randrange(100_000, 2_000_000, 100) for _ in range(args.lines)]
                total = sum(amounts)
                requested = total * 4 // 10
                project = {
                    "id": pid, "candidate_id": candidate["id"], "programme_id": programme_id,
                    "departement": dep, "strand": strand,
                    "title": f"Projet numérique n° {i} : démarches en ligne",
                    "description": "Dématérialisation des démarches. " * 20,
                    "objectives": "Réduire les délais de traitement. " * 10,
                    "nature": rng.choice(("transformation", "innovation", "modernisation")),
                    "start_on": date(2021, 3, 1), "end_on": date(2022, 6, 30),
                    "sponsor_name": "Mme la Maire", "sponsor_role": "Maire",
                    "team": [{"name": "Chef de projet", "role": "DSI", "availability_pct": 50}] * 3,
                    "agents_impacted": 5, "users_impacted": 500,
                    "replicability": "Réutilisable par les communes voisines.",
                    "open_source": bool(i % 2), "requested_cents": requested,
                    "total_cost_cents": total, "status": status, "status_message": None,
                    "submitted_at": submitted, "created_by": f"agent-{candidate['siren']}",
                    "evaluation_count": 0, "mean_score_centi": None, "advisory_count": 0,
                    "advisory_mean_centi": None, "version": 3, "created_at": created,
                    "updated_at": submitted or created,
                }  # fmt: skip
                for pos, amount in enumerate(amounts):
                    lines.append(
                        {"id": uuid.UUID(int=rng.getrandbits(128), version=4), "project_id": pid,
                         "position": pos, "category": CATEGORIES[pos % len(CATEGORIES)],
                         "label": f"Poste {pos + 1}", "amount_cents": amount}
                    )  # fmt: skip
                funding.append(
                    {"id": uuid.UUID(int=rng.getrandbits(128), version=4), "project_id": pid,
                     "position": 0, "funder": "Fonds propres", "amount_cents": total - requested}
                )  # fmt: skip
                if status == "draft":
                    documents += draft_documents(
                        documents_rng, submission_documents, project, candidate,
                        lines[-len(amounts) :], attested,
                    )  # fmt: skip
                if status in EVALUATED:
                    grid = grids[strand]
                    totals = []
                    for k in range(rng.randint(1, 3)):
                        score = rng.randrange(100, 500)
                        totals.append(score)
                        evaluations.append(
                            {"id": uuid.UUID(int=rng.getrandbits(128), version=4),
                             "project_id": pid, "evaluator_subject": f"prefet-{dep}-{k}",
                             "evaluator_role": "prefect", "advisory": False, "recused": False,
                             "grid_id": grid.id, "grid_version": grid.version,
                             "scores": {"general": 3}, "weighted_total_centi": score,
                             "recommendation": "fund", "comments": "Dossier solide.",
                             "version": 1, "created_at": submitted + timedelta(days=3 + k),
                             "updated_at": submitted + timedelta(days=3 + k)}
                        )  # fmt: skip
                    project["evaluation_count"] = len(totals)
                    project["mean_score_centi"] = sum(totals) // len(totals)
                if status in GRANTED:
                    envelope = envelopes[dep]
                    month = min(8, max(2, submitted.month))
                    decided = datetime(2021, month, 20, 16, tzinfo=UTC)
                    reference = committee_of[(dep, month)]
                    paid = requested if status in {"paid", "completed"} else 0
                    grants.append(
                        {"id": uuid.UUID(int=rng.getrandbits(128), version=4),
                         "project_id": pid, "envelope_id": envelope["id"],
                         "amount_cents": requested, "paid_cents": paid,
                         "advance_paid_cents": paid * 3 // 10, "released_cents": 0,
                         "status": "cancelled" if status == "cancelled" else "active",
                         "reference": reference, "committed_at": decided,
                         "updated_at": decided,
                         # R-PAY-4: the terms frozen at the committee's close.
                         "eligible_cost_cents": total,
                         "aid_rate_bps": programme.funding_cap_rate_bps,
                         "advance_cap_bps": programme.advance_cap_bps,
                         "pre_final_payment_cap_bps": programme.pre_final_payment_cap_bps,
                         "programme_version": programme.version,
                         "grid_version": grids[strand].version}
                    )  # fmt: skip
                    if status in {"under_convention", "paid", "completed"}:
                        signed = decided.date() + timedelta(days=10)
                        conventions.append(
                            {"id": uuid.UUID(int=rng.getrandbits(128), version=4),
                             "project_id": pid, "reference": f"CONV-{dep}-{i}", "kind": "crte",
                             "signed_on": signed, "created_by": f"prefet-{dep}",
                             "created_at": decided + timedelta(days=10),
                             "schedule": [
                                 {"label": "Avance", "kind": "advance",
                                  "due_on": signed.isoformat(),
                                  "amount_cents": requested * 3 // 10},
                                 {"label": "Solde", "kind": "balance",
                                  "due_on": (signed + timedelta(days=365)).isoformat(),
                                  "amount_cents": requested - requested * 3 // 10},
                             ]}
                        )  # fmt: skip
                    if status != "cancelled":
                        movement(envelope, decided, kind="commitment", committed=requested,
                                 project_id=pid, reference=reference,
                                 actor=f"prefet-{dep}", role="prefect")  # fmt: skip
                        if paid:
                            movement(envelope, decided + timedelta(days=30), kind="payment",
                                     paid=paid, project_id=pid, reference=reference,
                                     actor=f"prefet-{dep}", role="prefect")  # fmt: skip
                projects.append(project)
            await loader.load(Project, projects)
            await loader.load(ExpenseLine, lines)
            await loader.load(FundingLine, funding)
            await loader.load(Evaluation, evaluations)
            await loader.load(Grant, grants)
            await loader.load(Convention, conventions)
            await loader.load(Document, documents)
            print(f"  {first + len(projects)} dossiers", file=sys.stderr)  # noqa: T201
        # Allocation adjustments (+1 €) up to the number of movements; the envelopes' figures
        # are the sums of their movements.
        while movement_id < args.movements:
            dep = deps[movement_id % len(deps)]
            at = START + timedelta(seconds=rng.randrange(SPAN_SECONDS))
            movement(envelopes[dep], at, kind="allocation", allocated=100)
        async with sessionmaker() as session, session.begin():
            for dep in deps:
                e = envelopes[dep]
                await session.execute(
                    update(Envelope)
                    .where(col(Envelope.id) == e["id"])
                    .values(allocated_cents=e["allocated_cents"],
                            committed_cents=e["committed_cents"], paid_cents=e["paid_cents"])
                )  # fmt: skip
            # Issue 28: the export reads the published rows, which the API writes with each
            # change; the bulk load bypasses it, so they are written from what was loaded.
            await session.run_sync(publish.refresh, None)
        for first in range(0, len(movements), 100_000):
            await loader.load(LedgerMovement, movements[first : first + 100_000])
        async with sessionmaker() as session, session.begin():
            if loader.pg:  # one pass over every dossier: past the service's statement timeout
                await session.execute(text("SET LOCAL statement_timeout = 0"))
            await counters.recount(session)  # issue 28: the dashboards' counters of these rows
        if loader.pg:
            await loader.conn.execute(
                "SELECT setval(pg_get_serial_sequence('ledger_movement', 'id'), $1)", movement_id
            )
            await loader.conn.execute("VACUUM ANALYZE")
        else:
            async with engine.begin() as conn:
                await conn.execute(text("ANALYZE"))
        counts = dict(loader.counts)
    await engine.dispose()
    result = {"url": make_url(args.url).render_as_string(), "seed": args.seed, "rows": counts,
              "seconds": round(time.perf_counter() - started, 1)}  # fmt: skip
    if args.dump and make_url(args.url).get_backend_name() == "postgresql":
        Path(args.dump).parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(["pg_dump", "-Fc", "-Z1", "-f", args.dump, pg_dsn(args.url)], check=True)
        result["dump"] = args.dump
    return result


def draft_documents(
    rng: random.Random,
    required: list[Requirement],
    project: dict[str, Any],
    candidate: dict[str, Any],
    lines: list[dict[str, Any]],
    attested: set[uuid.UUID],
) -> list[dict[str, Any]]:
    """R-DOC-1: the rows of the documents a draft's submission requires, scanned clean: the
    dossier's (once, or one per expense line above the kind's threshold) and its candidate's
    (once per candidate, in `attested`). Metadata only: no bytes are stored."""
    out: list[dict[str, Any]] = []
    at = project["created_at"] + timedelta(hours=1)
    for req in required:
        if not req.applies(strand=project["strand"], candidate_kind=candidate["kind"]):
            continue
        if req.owner is Owner.CANDIDATE:
            if candidate["id"] in attested:
                continue
            attested.add(candidate["id"])
            targets: list[Any] = [None]
        elif req.per_line:
            threshold = req.per_line_above_cents or 0
            targets = [line["id"] for line in lines if line["amount_cents"] > threshold]
        else:
            targets = [None]
        for line_id in targets:
            on_project = req.owner is Owner.PROJECT
            sha = hashlib.sha256(rng.getrandbits(128).to_bytes(16, "big")).hexdigest()
            project_id = project["id"] if on_project else None
            candidate_id = None if on_project else candidate["id"]
            out.append(
                {"id": uuid.UUID(int=rng.getrandbits(128), version=4), "project_id": project_id,
                 "candidate_id": candidate_id, "expense_line_id": line_id,
                 "departement": project["departement"], "kind": req.code,
                 "filename": f"{req.code}.pdf", "content_type": "application/pdf",
                 "size_bytes": 50_000, "sha256": sha,
                 "storage_key": storage_key(project_id=project_id, candidate_id=candidate_id,
                                            sha256=sha),
                 "scan_status": "clean", "scanned_at": at, "uploaded_by": project["created_by"],
                 "uploaded_role": "candidate", "created_at": at, "updated_at": at}
            )  # fmt: skip
    return out


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--url", required=True)
    p.add_argument("--dossiers", type=int, default=200_000)
    p.add_argument("--lines", type=int, default=8)
    p.add_argument("--movements", type=int, default=1_000_000)
    p.add_argument("--candidates-per-dep", type=int, default=60)
    p.add_argument("--seed", type=int, default=13)
    p.add_argument("--dump", default=None, help="pg_dump -Fc file to write (PostgreSQL)")
    return p


if __name__ == "__main__":
    print(json.dumps(asyncio.run(generate(parser().parse_args())), indent=2))  # noqa: T201
