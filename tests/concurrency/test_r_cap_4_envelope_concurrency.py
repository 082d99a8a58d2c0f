"""R-CAP-4 under real concurrency: committed ≤ allocated, whatever the interleaving.

RELIABILITY.md §3 recipe: many transactions at once, each in its own session from a pool wider
than one; count the successes and the refusals, then reconcile the envelope with its ledger and
its grants. Runs on SQLite (BEGIN IMMEDIATE serialises writers) and on PostgreSQL (the
conditional UPDATE's row lock does).
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
import uuid
from typing import Any

import pytest
from httpx import AsyncClient
from sqlalchemy import text

from app.auth.principal import Principal
from app.budgets.errors import EnvelopeExhausted, GrantRefused
from app.budgets.grants import commit_grant
from app.projects.errors import InvalidTransition
from tests.concurrency.conftest import DINUM, World, prefect_of

log = logging.getLogger("tests.concurrency")

OK = "ok"


async def try_commit(
    world: World, principal: Principal, project_id: uuid.UUID, amount: int
) -> str | EnvelopeExhausted:
    """One committee decision in its own session and transaction; R-CAP-4 refusals returned."""
    try:
        async with world.sessionmaker() as session, session.begin():
            await commit_grant(
                session,
                principal,
                project_id=project_id,
                amount_cents=amount,
                reference=f"Comité {project_id.hex[:8]}",
            )
    except EnvelopeExhausted as exc:
        return exc
    return OK


def split(results: list[Any]) -> tuple[int, list[EnvelopeExhausted]]:
    """(successes, R-CAP-4 refusals); anything else (database is locked, deadlock, …) fails."""
    unexpected = [r for r in results if r != OK and not isinstance(r, EnvelopeExhausted)]
    assert not unexpected, f"unexpected outcomes: {unexpected!r}"
    refusals = [r for r in results if isinstance(r, EnvelopeExhausted)]
    assert all(r.code == "R-CAP-4" and r.status == 409 for r in refusals)
    return len(results) - len(refusals), refusals


async def test_r_cap_4_concurrent_commitments_through_the_service_never_over_commit(
    world: World,
) -> None:
    departement, allocated, amount, dossiers = "01", 1_000_000, 70_000, 56
    await world.open_envelope(departement, allocated)
    ids = await world.dossiers_in_review(departement, dossiers)
    prefect = prefect_of(departement)

    started = time.perf_counter()
    results = await asyncio.gather(
        *(try_commit(world, prefect, pid, amount) for pid in ids), return_exceptions=True
    )
    elapsed = time.perf_counter() - started
    successes, refusals = split(list(results))
    log.info("R-CAP-4 same amounts: %d ok, %d refused in %.2fs", successes, len(refusals), elapsed)

    expected = allocated // amount  # 14
    assert successes == expected
    assert len(refusals) == dossiers - expected
    figures = await world.figures(departement)
    figures.assert_reconciled()
    assert figures.committed == expected * amount <= allocated
    assert figures.grants_count == expected
    assert figures.movements == 1 + expected  # the allocation, then one commitment per grant
    assert figures.statuses == {"accepted": expected, "in_review": dossiers - expected}
    statuses = await world.project_statuses(ids)
    accepted = [pid for pid, result in zip(ids, results, strict=True) if result == OK]
    assert {pid for pid, s in statuses.items() if s == "accepted"} == set(accepted)


async def test_r_cap_4_concurrent_commitments_of_mixed_amounts_never_over_commit(
    world: World,
) -> None:
    departement, allocated, dossiers = "02", 1_000_000, 52
    await world.open_envelope(departement, allocated)
    ids = await world.dossiers_in_review(departement, dossiers)
    rng = random.Random(20210301)
    amounts = [rng.randrange(15_000, 160_001, 1_000) for _ in ids]
    assert sum(amounts) > 3 * allocated
    prefect = prefect_of(departement)

    started = time.perf_counter()
    results = await asyncio.gather(
        *(try_commit(world, prefect, pid, a) for pid, a in zip(ids, amounts, strict=True)),
        return_exceptions=True,
    )
    elapsed = time.perf_counter() - started
    successes, refusals = split(list(results))
    granted = [a for a, r in zip(amounts, results, strict=True) if r == OK]
    refused = [a for a, r in zip(amounts, results, strict=True) if r != OK]
    log.info(
        "R-CAP-4 mixed amounts: %d ok (%d cents), %d refused in %.2fs",
        successes,
        sum(granted),
        len(refusals),
        elapsed,
    )

    figures = await world.figures(departement)
    figures.assert_reconciled()
    assert figures.committed == sum(granted) <= allocated
    assert figures.grants_count == successes == len(granted)
    # Availability only shrinks here, so every refusal was right: even at the end, none of the
    # refused amounts would fit (no spurious refusal, e.g. from a lock error in disguise).
    available = figures.allocated - figures.committed
    assert all(a > available for a in refused), (available, sorted(refused)[:3])
    assert figures.statuses == {"accepted": successes, "in_review": dossiers - successes}


async def test_r_cap_4_concurrent_accepts_of_one_dossier_grant_it_once(world: World) -> None:
    departement, allocated, amount = "07", 1_000_000, 70_000
    await world.open_envelope(departement, allocated)
    (pid,) = await world.dossiers_in_review(departement, 1)
    prefect = prefect_of(departement)

    async def attempt() -> str | Exception:
        try:
            return await try_commit(world, prefect, pid, amount)
        except (GrantRefused, InvalidTransition) as exc:
            return exc

    results = await asyncio.gather(*(attempt() for _ in range(12)), return_exceptions=True)
    assert results.count(OK) == 1, results
    others = [r for r in results if r != OK]
    # SQLite serialises: the later ones see the dossier accepted (R-FLOW-1). PostgreSQL: those
    # that read it in review meet the first grant on UNIQUE(project_id), and roll back.
    assert all(isinstance(r, GrantRefused | InvalidTransition) for r in others), others
    figures = await world.figures(departement)
    figures.assert_reconciled()
    assert figures.committed == amount and figures.grants_count == 1


async def test_r_cap_4_concurrent_api_reductions_never_go_below_committed(
    world: World, http: AsyncClient
) -> None:
    departement, allocated, grant, reduction, calls = "03", 1_000_000, 100_000, 60_000, 25
    await world.open_envelope(departement, allocated)
    prefect = prefect_of(departement)
    for pid in await world.dossiers_in_review(departement, 3):
        assert await try_commit(world, prefect, pid, grant) == OK
    committed = 3 * grant
    headers = world.headers(DINUM)

    async def reduce(i: int) -> Any:
        return await http.post(
            f"/api/v1/envelopes/{departement}/allocations",
            json={"kind": "reduction", "amount_cents": reduction, "reference": f"Réduction {i}"},
            headers=headers,
        )

    started = time.perf_counter()
    responses = await asyncio.gather(*(reduce(i) for i in range(calls)))
    elapsed = time.perf_counter() - started
    statuses = [r.status_code for r in responses]
    log.info(
        "R-CAP-4 API reductions: %d × 201, %d × 409 in %.2fs",
        statuses.count(201),
        statuses.count(409),
        elapsed,
    )

    expected = (allocated - committed) // reduction  # 11
    assert statuses.count(201) == expected, statuses
    assert statuses.count(409) == calls - expected, statuses
    for response in responses:
        if response.status_code == 409:
            assert response.headers["content-type"].startswith("application/problem+json")
            body = response.json()
            assert body["status"] == 409 and body["code"] == "R-CAP-4"
            assert body["type"].endswith("/envelope-exhausted")
            assert body["committed_cents"] == committed
    figures = await world.figures(departement)
    figures.assert_reconciled()
    assert figures.allocated == allocated - expected * reduction >= figures.committed == committed
    assert figures.movements == 1 + 3 + expected


async def test_r_cap_4_concurrent_api_reductions_racing_commitments_keep_the_invariant(
    world: World, http: AsyncClient
) -> None:
    departement, allocated = "04", 2_000_000
    commitment, reduction, dossiers, reductions = 70_000, 100_000, 40, 20
    await world.open_envelope(departement, allocated)
    ids = await world.dossiers_in_review(departement, dossiers)
    prefect = prefect_of(departement)
    headers = world.headers(DINUM)

    async def reduce(i: int) -> Any:
        return await http.post(
            f"/api/v1/envelopes/{departement}/allocations",
            json={"kind": "reduction", "amount_cents": reduction, "reference": f"Réduction {i}"},
            headers=headers,
        )

    commits = [try_commit(world, prefect, pid, commitment) for pid in ids]
    cuts = [reduce(i) for i in range(reductions)]
    # Interleave the two kinds so neither gets a head start.
    calls: list[Any] = []
    for i in range(max(len(commits), len(cuts))):
        calls.extend(c[i] for c in (commits, cuts) if i < len(c))
    started = time.perf_counter()
    results = await asyncio.gather(*calls, return_exceptions=True)
    elapsed = time.perf_counter() - started

    commit_results = [r for r in results if not hasattr(r, "status_code")]
    http_statuses = [r.status_code for r in results if hasattr(r, "status_code")]
    granted, refusals = split(commit_results)
    cut = http_statuses.count(201)
    assert cut + http_statuses.count(409) == reductions, http_statuses  # no 5xx, nothing else
    log.info(
        "R-CAP-4 race: %d/%d commitments, %d/%d reductions in %.2fs",
        granted,
        dossiers,
        cut,
        reductions,
        elapsed,
    )

    figures = await world.figures(departement)
    figures.assert_reconciled()
    assert figures.allocated == allocated - cut * reduction
    assert figures.committed == granted * commitment <= figures.allocated
    assert figures.grants_count == granted
    assert figures.movements == 1 + granted + cut
    # Both movements only shrink what is available: whatever was refused still would not fit.
    available = figures.allocated - figures.committed
    if refusals:
        assert available < commitment
    if cut < reductions:
        assert available < reduction


async def test_r_cap_4_naive_read_check_write_does_over_commit(world: World) -> None:
    """Test of the test (RELIABILITY.md §3): without the conditional UPDATE, the same race
    loses updates and over-commits, so the tests above would catch a regression."""
    if not world.is_postgres:
        pytest.skip(
            "SQLite takes the write lock at BEGIN IMMEDIATE, so even read-check-write is "
            "serialised there: the naive variant cannot fail on this backend"
        )
    departement, allocated, amount, writers = "06", 1_000_000, 70_000, 20
    envelope_id = await world.open_envelope(departement, allocated)

    async def naive_commit() -> bool:
        async with world.sessionmaker() as session, session.begin():
            row = (
                await session.execute(
                    text("SELECT allocated_cents, committed_cents FROM envelope WHERE id = :id"),
                    {"id": envelope_id},
                )
            ).one()
            await asyncio.sleep(0.05)  # every reader reads before any writer writes
            if row.committed_cents + amount > row.allocated_cents:
                return False
            await session.execute(
                text("UPDATE envelope SET committed_cents = :value WHERE id = :id"),
                {"value": row.committed_cents + amount, "id": envelope_id},
            )
            return True

    async def reset() -> None:
        async with world.sessionmaker() as session, session.begin():
            await session.execute(
                text("UPDATE envelope SET committed_cents = 0 WHERE id = :id"), {"id": envelope_id}
            )

    violations = []
    try:
        for _ in range(3):
            await reset()
            accepted = sum(await asyncio.gather(*(naive_commit() for _ in range(writers))))
            committed = (await world.figures(departement)).committed
            if accepted > allocated // amount or committed != accepted * amount:
                violations.append((accepted, committed))
    finally:
        await reset()
    log.info("naive read-check-write: %d/3 runs violated: %s", len(violations), violations)
    assert violations, "the naive variant should over-commit or lose updates"
