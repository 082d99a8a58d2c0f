"""Schemathesis (RELIABILITY.md §2) over every operation of the committed contract, in process.

Each generated case is sent once per role, with a valid token, and once anonymously; every
default check must pass: no server error, no response that breaks the contract.

The app runs against its own migrated database (the fuzzer commits what it creates), with a
NullPool: schemathesis drives the ASGI app from its own event-loop thread, so no connection
may outlive the loop that opened it. The setup runs in a fresh loop on a worker thread, away
from the suite's session loop.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, settings
from schemathesis.checks import positive_data_acceptance
from schemathesis.python import asgi as schemathesis_asgi

from app.auth.principal import Principal, Role
from app.main import create_app
from app.openapi_export import CONTRACT_PATH
from app.programme.service import seed_programme
from tests import support
from tests.factories import make_candidate

T = TypeVar("T")

MARSEILLE_SIREN = "211300553"  # commune of the 13
AIX_SIREN = "211300017"  # commune of the 13
PARIS_SIREN = "217500016"  # commune of the 75

ROLES = {
    "candidate": Principal("fuzz-marseille", Role.CANDIDATE, siren=MARSEILLE_SIREN),
    "prefect": Principal("fuzz-prefet-13", Role.PREFECT, departement="13"),
    "dinum": Principal("fuzz-dinum", Role.DINUM),
    "anct": Principal("fuzz-anct", Role.ANCT),
}

# positive_data_acceptance expects schema-valid data to be accepted. It is off for exactly these
# operations, where a schema-valid request can fail a documented business rule that JSON Schema
# cannot state. `rule_rejections_only` (below) still runs there: a 422 to schema-valid data must
# name a rule, never a field check the contract could have carried.
RULE_REJECTIONS = {
    # `cursor` is an opaque keyset token: any string that matches its pattern but was not issued
    # by the server answers 422 invalid-cursor.
    "list_candidates": "opaque cursor (invalid-cursor)",
    "list_projects": "opaque cursor (invalid-cursor)",
    "list_envelopes": "opaque cursor (invalid-cursor)",
    "read_ledger": "opaque cursor (invalid-cursor)",
    # R-ELIG-1/2, R-REF-1: the SIRET key, the kind, and the reference data (name, population,
    # INSEE code, département of a commune or EPCI) are checked against the bundled catalogue.
    "create_candidate": "R-ELIG-1, R-ELIG-2, R-REF-1",
    # R-FLOW-3: If-Match is optional in the schema (a missing one is 428, not 422); the
    # programme dates must stay ordered (invalid-programme).
    "update_programme": "R-FLOW-3 If-Match (428/412), programme date order",
    "set_forfaits": "R-FLOW-3 If-Match (428/412)",
    # `to_departement` is required for a transfer and only then: a cross-field rule (value_error)
    # the schema does not state (it could, with a oneOf on `kind`).
    "create_allocation": "to_departement iff kind=transfer",
}

schema = schemathesis.openapi.from_path(CONTRACT_PATH)


def _run(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run `coroutine` to completion in a fresh event loop on a worker thread."""
    result: list[T] = []
    error: list[BaseException] = []

    def target() -> None:
        try:
            result.append(asyncio.run(coroutine))
        except BaseException as exc:  # re-raised in the caller's thread
            error.append(exc)

    thread = threading.Thread(target=target, name="fuzz-setup")
    thread.start()
    thread.join()
    if error:
        raise error[0]
    return result[0]


@dataclass(frozen=True)
class Target:
    app: FastAPI
    roles: dict[str, dict[str, str]]  # role -> Authorization header with a valid token


async def _prepare_database(directory: Path) -> str:
    url = await support.create_database(directory, "fuzz")
    await support.migrate(url)
    return url


async def _seed(app: FastAPI) -> None:
    async with app.state.sessionmaker() as session, session.begin():
        await seed_programme(session)
        for siren in (MARSEILLE_SIREN, AIX_SIREN, PARIS_SIREN):
            await make_candidate(session, siren=siren)
    # Empty the pool: its connections belong to this setup loop; schemathesis then opens its
    # own on the single event loop it drives the app from (a pool is 2–5× faster than none).
    await app.state.engine.dispose()


@pytest.fixture(scope="session")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    url = _run(_prepare_database(tmp_path_factory.mktemp("fuzz")))
    app = create_app(support.test_settings(url))
    try:
        _run(_seed(app))
        roles = {
            role: support.auth_headers(app.state.settings, principal)
            for role, principal in ROLES.items()
        }
        yield Target(app=app, roles=roles)
    finally:
        schemathesis_asgi.shutdown_lifespans()  # the app's lifespan disposes its engine
        _run(app.state.engine.dispose())
        _run(support.drop_database(url))


def rule_rejections_only(
    ctx: Any, response: schemathesis.Response, case: schemathesis.Case
) -> None:
    """A 422 to schema-valid data names a rule (or a cross-field `value_error`), never a check
    of a single field that the contract could have stated (type, bound, pattern, missing…)."""
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive or response.status_code != 422:
        return
    body = response.json()
    if body.get("code") != "validation-error":
        return
    field_checks = [e for e in body.get("errors", []) if e.get("code") != "value_error"]
    assert not field_checks, f"schema-valid data refused by a field check: {field_checks}"


def test_rule_rejections_name_operations_of_the_contract() -> None:
    operation_ids = {
        operation.ok().definition.raw.get("operationId")
        for operation in schema.get_all_operations()
    }
    assert set(RULE_REJECTIONS) <= operation_ids


@schema.parametrize()
@settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    # Every case is an HTTP round trip (five of them) with the database in the loop, and bodies
    # can be large: generation speed is not what this test is about.
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
def test_contract_holds_for_every_role(case: schemathesis.Case, target: Target) -> None:
    # What `from_asgi` does: the checks that send probes of their own (ignored_auth…) reach
    # the app through the schema's transport.
    case.operation.app = case.operation.schema.app = target.app
    operation = case.operation.definition.raw
    excluded = [positive_data_acceptance] if operation["operationId"] in RULE_REJECTIONS else []
    checks = {"excluded_checks": excluded, "additional_checks": [rule_rejections_only]}
    generated = {name.lower() for name in case.headers or {}}
    # A secured case generated without Authorization is negative *because* it lacks
    # credentials: a token would void that negation, so it is only sent as generated.
    if not (operation.get("security") and "authorization" not in generated):
        for role_headers in target.roles.values():
            case.call_and_validate(headers=role_headers, **checks)  # replaces the generated token
    case.headers = {k: v for k, v in (case.headers or {}).items() if k.lower() != "authorization"}
    case.call_and_validate(**checks)  # anonymously
