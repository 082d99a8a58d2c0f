"""Idempotency-Key under concurrency (RELIABILITY.md §4, tests 2 and 6).

Twenty identical POSTs with one key at once: one effect, and every other answer is either the
replay of the first (201, `Idempotent-Replayed: true`, same body) or 409 idempotency-in-flight.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid

from httpx import AsyncClient, Response

from tests.concurrency.conftest import DINUM, World

log = logging.getLogger("tests.concurrency")


def _is_in_flight(response: Response) -> bool:
    if response.status_code != 409:
        return False
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    return bool(body["code"] == "idempotency-in-flight" and body["status"] == 409)


async def test_r_cap_4_concurrent_identical_posts_with_one_idempotency_key_move_money_once(
    world: World, http: AsyncClient
) -> None:
    departement, allocated, top_up, calls = "05", 1_000_000, 250_000, 20
    await world.open_envelope(departement, allocated)
    headers = {**world.headers(DINUM), "Idempotency-Key": str(uuid.uuid4())}
    url = f"/api/v1/envelopes/{departement}/allocations"
    payload = {"kind": "top_up", "amount_cents": top_up, "reference": "Abondement unique"}

    started = time.perf_counter()
    responses = await asyncio.gather(
        *(http.post(url, json=payload, headers=headers) for _ in range(calls))
    )
    elapsed = time.perf_counter() - started
    assert all(r.status_code < 500 for r in responses), [r.text for r in responses]
    created = [r for r in responses if r.status_code == 201]
    originals = [r for r in created if "idempotent-replayed" not in r.headers]
    replays = [r for r in created if r.headers.get("idempotent-replayed") == "true"]
    in_flight = [r for r in responses if _is_in_flight(r)]
    log.info(
        "idempotency: 1 original, %d replays, %d in flight (409) in %.2fs",
        len(replays),
        len(in_flight),
        elapsed,
    )
    assert len(originals) == 1, [(r.status_code, r.headers) for r in responses]
    assert len(originals) + len(replays) + len(in_flight) == calls
    original = originals[0].json()
    assert all(r.json() == original for r in replays)
    assert original["envelope"]["allocated_cents"] == allocated + top_up

    figures = await world.figures(departement)
    figures.assert_reconciled()
    assert figures.allocated == allocated + top_up
    assert figures.movements == 2  # the initial allocation and ONE top-up

    retry = await http.post(url, json=payload, headers=headers)
    assert retry.status_code == 201
    assert retry.headers.get("idempotent-replayed") == "true"
    assert retry.json() == original
    assert (await world.figures(departement)).movements == 2


async def test_concurrent_posts_with_distinct_idempotency_keys_all_take_effect(
    world: World, http: AsyncClient
) -> None:
    """The in-flight guard is per key: distinct keys never block one another."""
    departement, allocated, top_up, calls = "08", 1_000_000, 10_000, 20
    await world.open_envelope(departement, allocated)
    url = f"/api/v1/envelopes/{departement}/allocations"
    base = world.headers(DINUM)

    responses = await asyncio.gather(
        *(
            http.post(
                url,
                json={"kind": "top_up", "amount_cents": top_up, "reference": f"Abondement {i}"},
                headers={**base, "Idempotency-Key": str(uuid.uuid4())},
            )
            for i in range(calls)
        )
    )
    assert [r.status_code for r in responses] == [201] * calls
    assert not any("idempotent-replayed" in r.headers for r in responses)
    figures = await world.figures(departement)
    figures.assert_reconciled()
    assert figures.allocated == allocated + calls * top_up
    assert figures.movements == 1 + calls
