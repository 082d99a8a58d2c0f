"""Schemathesis (RELIABILITY.md §2) over every operation of the committed contract, in process.

Every built-in check runs (`all`): no server error, nothing that breaks the contract, schema-valid
data accepted, schema-invalid data refused, missing required headers refused, ignored auth,
unsupported methods… Two phases:

- per operation (examples, coverage, fuzzing): each generated case is sent once per role, with
  a valid token, and once anonymously, with a fixed example budget per operation;
- stateful: the contract's OpenAPI links (create → read → patch → submit…, ETag → If-Match)
  chain calls, once per role and once anonymously.

The app runs against its own migrated database (the fuzzer commits what it creates), with a
NullPool: schemathesis drives the ASGI app from its own event-loop thread, so no connection
may outlive the loop that opened it. The setup runs in a fresh loop on a worker thread, away
from the suite's session loop.

`GUICHET_FUZZ_EXAMPLES` and `GUICHET_FUZZ_STATEFUL` raise the budgets for a deeper (nightly) run.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections import Counter
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
    # R-ELIG-1/2, R-REF-1: the SIRET key, the kind, and the reference data (name, population,
    # INSEE code, département of a commune or EPCI) are checked against the bundled catalogue.
    "create_candidate": "R-ELIG-1, R-ELIG-2, R-REF-1, R-NOTIF-1 contact address",
    # R-REF-1 still holds on an edit: a commune's or EPCI's name and population are the
    # reference data's.
    "update_candidate": "R-REF-1, R-NOTIF-1 contact address",
    # R-FLOW-2: submitting runs every eligibility rule (R-ELIG-*, R-CAP-*, R-EXCL-*) over the
    # draft; the stateful phase reaches it with the right ETag.
    "submit_project": "R-FLOW-2 eligibility at submission",
    # R-ELIG-1: a forfait tier may only target eligible kinds of organisation, checked across
    # each tier's `kinds` (value_error).
    "set_forfaits": "R-ELIG-1 on forfait tiers",
    # The programme's dates must stay ordered (invalid-programme): a rule across fields.
    "update_programme": "programme date order",
    # `to_departement` is required for a transfer and only then: a cross-field rule (value_error)
    # the schema does not state (it could, with a oneOf on `kind`).
    "create_allocation": "to_departement iff kind=transfer",
    # R-EVAL-1/R-EVAL-2: the scores must cover exactly the criteria of the strand's current
    # grid (data the schema cannot name), with a recommendation, unless the evaluator recuses
    # itself (then neither): cross-field rules.
    "create_evaluation": "R-EVAL-1, R-EVAL-2 scores against the grid, recusal",
    "update_evaluation": "R-EVAL-1, R-EVAL-2 scores against the grid, recusal",
    # R-HOOK-1 SSRF guard: the target URL must resolve to public addresses (and belong to the
    # allow-list when one is set), on port 443 unless allowed, which no schema can state.
    "create_webhook": "R-HOOK-1 target resolves to public addresses",
    # R-AUTH-2: the subject token must be a ProConnect ID token that verifies (401), the
    # one-time code one the callback issued (422), the state one /proconnect/login stored (422)
    # and bound to the browser by its cookie (403); without ProConnect configured they answer
    # 404. A rule already present is a 409.
    "exchange_token": "R-AUTH-2 ID token, one-time code",
    "proconnect_callback": "R-AUTH-2 state of a pending login",
    "create_mapping_rule": "R-AUTH-2 duplicate rule",
    # R-AUDIT-1: `checkpoint` must be a JWS that this service signed (its signature, its
    # claims), which no schema can state: anything else is 422 audit-checkpoint-invalid.
    "verify_audit_chain": "R-AUDIT-1 checkpoint signed by the service",
    # R-COM-2: a committee meets inside the programme's dates (data, not schema) and not before
    # the service's today; its agenda takes only ids of dossiers in review of its département
    # (any other id: one 422 naming it).
    "create_committee": "R-COM-2 meeting date",
    "change_agenda": "R-COM-2 dossiers in review of the département",
    # R-NOTIF-1: an e-mail address is checked by email-validator (its syntax, RFC 5321/5322,
    # special-use domains), more than a schema's pattern can say: a value_error otherwise.
    "set_prefecture_address": "R-NOTIF-1 address checked by email-validator",
    # R-DOC-1: a DS champ's documents are imported under a kind the programme files once per
    # dossier (its `required_documents`: data, not schema); any other kind is one 422 naming it.
    "put_ds_mapping": "R-DOC-1 document kinds of the programme",
}

# Statuses the checks accept beyond their defaults, each one what the contract documents:
# - positive_data_acceptance, 412: a well-formed If-Match that is not the resource's current
#   ETag (a random "v7", a weak W/"v1") is refused as stale (R-FLOW-3, RFC 9110 §13.1.1). The
#   stateful phase sends the ETag read, and gets 2xx.
# - missing_required_header, 428: a missing If-Match answers 428 Precondition Required
#   (R-FLOW-3, RFC 6585 §3), the status made for exactly that case, not a 400/422.
EXTRA_EXPECTED = {"positive_data_acceptance": "412", "missing_required_header": "428"}

EXAMPLES = int(os.environ.get("GUICHET_FUZZ_EXAMPLES", "10"))  # per operation (fuzzing phase)
STATEFUL_SCENARIOS = int(os.environ.get("GUICHET_FUZZ_STATEFUL", "10"))  # per role
STATEFUL_STEPS = 6

schema = schemathesis.openapi.from_path(CONTRACT_PATH)
for _check, _status in EXTRA_EXPECTED.items():
    _config = getattr(schema.config.checks, _check)
    _config.expected_statuses = [*_config.expected_statuses, _status]

# Requests sent, per operation and per phase (reported at the end, asserted to cover all).
SENT: Counter[tuple[str, str]] = Counter()
# Stateful answers per operation and status class: 2xx on a write shows a link carried its ETag.
STATEFUL_ANSWERS: Counter[tuple[str, int]] = Counter()


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


def _checks_for(operation: dict[str, Any]) -> dict[str, Any]:
    excluded = [positive_data_acceptance] if operation["operationId"] in RULE_REJECTIONS else []
    return {"excluded_checks": excluded, "additional_checks": [rule_rejections_only]}


def _without_token(case: schemathesis.Case) -> None:
    case.headers = {k: v for k, v in (case.headers or {}).items() if k.lower() != "authorization"}


def _roles_for(
    case: schemathesis.Case, operation: dict[str, Any], phase: str, target: Target
) -> list[dict[str, str]]:
    """The roles a case is sent as: all four in the examples and fuzzing phases.

    The coverage phase sends many deterministic probes (every boundary, every missing or
    malformed parameter, every other method) whose answer does not depend on who asks once the
    role is refused: 403 from `require_roles` before anything is read (tests/contract/
    test_role_matrix.py holds every role × operation cell). There, a case goes to the roles the
    operation admits (`x-roles`), and a probe of another method to the first of them only.
    """
    if phase != "coverage":
        return list(target.roles.values())
    admitted = [h for role, h in target.roles.items() if role in operation.get("x-roles", [])]
    if case.method.upper() != case.operation.method.upper():
        return admitted[:1]
    return admitted


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
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
    checks = _checks_for(operation)
    phase = case.meta.phase.name.value if case.meta is not None else "explicit"
    generated = {name.lower() for name in case.headers or {}}
    # A secured case generated without Authorization is negative *because* it lacks
    # credentials: a token would void that negation, so it is only sent as generated.
    if not (operation.get("security") and "authorization" not in generated):
        for role_headers in _roles_for(case, operation, phase, target):
            SENT[operation["operationId"], phase] += 1
            case.call_and_validate(headers=role_headers, **checks)  # replaces the generated token
    _without_token(case)
    SENT[operation["operationId"], phase] += 1
    case.call_and_validate(**checks)  # anonymously


@pytest.mark.parametrize("role", [*ROLES, "anonymous"])
def test_stateful_links_hold_for_every_role(role: str, target: Target) -> None:
    """Chains of calls along the contract's OpenAPI links, with every check, as `role`."""
    schema.app = target.app
    role_headers = target.roles.get(role, {})

    class Links(schema.as_state_machine()):  # type: ignore[misc]
        def get_call_kwargs(self, case: schemathesis.Case) -> dict[str, Any]:
            operation = case.operation.definition.raw
            SENT[operation["operationId"], "stateful"] += 1
            generated = {name.lower() for name in case.headers or {}}
            # As above: a secured case generated without credentials goes as generated.
            if not role_headers or (operation.get("security") and "authorization" not in generated):
                _without_token(case)
                return {}
            return {"headers": dict(role_headers)}  # replaces the generated token

        def validate_response(
            self,
            response: schemathesis.Response,
            case: schemathesis.Case,
            additional_checks: Any = None,
            **kwargs: Any,
        ) -> None:
            operation_id = case.operation.definition.raw["operationId"]
            STATEFUL_ANSWERS[operation_id, response.status_code // 100] += 1
            checks = _checks_for(case.operation.definition.raw)
            case.validate_response(
                response,
                excluded_checks=checks["excluded_checks"],
                additional_checks=checks["additional_checks"],
                headers=role_headers,
                transport_kwargs=kwargs or None,
                recorder=getattr(self, "recorder", None),
            )

    Links.run(
        settings=settings(
            max_examples=STATEFUL_SCENARIOS,
            stateful_step_count=STATEFUL_STEPS,
            deadline=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
        )
    )


def test_every_operation_was_exercised(request: pytest.FixtureRequest) -> None:
    """Runs last (file order): every operation got requests; the counts go to the report."""
    if not any(phase != "stateful" for _operation, phase in SENT):
        pytest.skip("the per-operation tests above were not selected")
    operations = {
        operation.ok().definition.raw["operationId"] for operation in schema.get_all_operations()
    }
    by_operation = Counter[str]()
    by_phase = Counter[str]()
    for (operation_id, phase), count in SENT.items():
        by_operation[operation_id] += count
        by_phase[phase] += count
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    if reporter is not None and capture is not None:
        capture.suspend_global_capture(in_=False)
        reporter.write_line(
            f"schemathesis: {sum(SENT.values())} requests over {len(by_operation)} operations "
            f"({', '.join(f'{p} {n}' for p, n in sorted(by_phase.items()))})"
        )
        linked = sorted(op for (op, status), n in STATEFUL_ANSWERS.items() if status == 2 and n)
        reporter.write_line(f"schemathesis stateful 2xx: {', '.join(linked)}")
        capture.resume_global_capture()
    assert operations <= set(by_operation), operations - set(by_operation)
