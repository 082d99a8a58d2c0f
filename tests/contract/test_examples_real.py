"""Issue 27 §2: the contract's examples are real.

Every request example is sent, through the API, in the state its documentation describes (one
scenario: Marseille files a 3c dossier on the suite's clock, the prefect of the 13 scores it,
a committee he chairs grants it, a convention, an advance, a final report; other dossiers are
returned, closed, refused, deferred and cancelled) and must be accepted (2xx). Operations that
cannot be exercised here are listed in NOT_EXERCISED with the reason, never skipped silently.
Every response example validates against its schema and against the rules (no placeholder,
amounts within caps, scores on the whole grid of the strand, a committee chaired by the
prefect). Read on the committed contract (test_openapi_contract.py holds it equal to the app's).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from httpx import AsyncClient
from jsonschema import Draft202012Validator
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.principal import Principal, Role
from app.contract.example_answers import DOCUMENTED_IDS, captured
from app.contract.example_bodies import PROGRAMME_DOCUMENT, PROJECT_ID
from app.programme.seed import GENERAL_CRITERIA, STRANDS
from tests.conftest import Actors
from tests.contract.examples_scenario import (
    API,
    BY_ID,
    CAPTURE_ENV,
    COMPONENTS,
    CONTRACT,
    ROOT,
    WITH_REQUEST_EXAMPLE,
    Capture,
    Scenario,
    examples_of,
    operations,
    request_examples,
)
from tests.factories import make_candidate
from tests.support import file_required_documents

PLACEHOLDERS = ("Texte en français", "lorem ipsum", "string", "TODO", "XXX")

# Operations whose JSON request example the scenario cannot send, and why.
NOT_EXERCISED = {
    "exchange_token": "needs an ID token signed by a ProConnect provider (tests/oidc exchange "
    "one from a fake provider); the example's token is illustrative",
    "logout": "answers only where ProConnect is configured (its end_session endpoint, "
    "tests/oidc); the suite's app has no provider",
}


# Operations whose 2xx answer the scenario cannot capture (their example is built from the
# schema, or set in app/contract/example_bodies.RESPONSE_COMPONENT_EXAMPLES), and why.
NOT_CAPTURED = {
    **NOT_EXERCISED,
    "sync_demarche": "reads démarches-simplifiées (tests/api/ds run it against a fake DS)",
    "get_project_ds": "only for a dossier imported from démarches-simplifiées (tests/api/ds)",
    "upload_candidate_document": "the scenario's candidates are communes: R-DOC-1 asks no "
    "document of their own (a public body's attestation is one, tests/api/documents)",
}


async def test_every_request_example_is_accepted_in_its_documented_state(
    client: AsyncClient,
    session: AsyncSession,
    app: FastAPI,
    headers: Any,
    actors: Actors,
    clock_at: Any,
) -> None:
    capture = Capture()
    client.event_hooks["response"].append(capture)
    run = Scenario(client, headers, actors)
    cand, pref, dinum = actors.cand_a, actors.pref13, actors.dinum

    # 2021-02-15, the window of FITN7 axe 3 open: Marseille registers and files (R-ELIG-8).
    (candidate,) = await run.send("create_candidate", cand, "POST", "/candidates")
    candidate_id = candidate.json()["id"]
    candidate_path = f"/candidates/{candidate_id}"
    await run.send("update_candidate", cand, "PATCH", candidate_path, etag_path=candidate_path)
    # R-REF-2: organisations outside the reference data wait for the prefect's verification;
    # the examples verify one and refuse the other.
    unverified = [
        str((await make_candidate(session, siren=siren, departement="13")).id)
        for siren in ("253800825", "251302319")
    ]
    await session.commit()
    for index, other_id in enumerate(unverified):
        path = f"/candidates/{other_id}"
        await run.send(
            "verify_candidate", pref, "POST", f"{path}/verify", etag_path=path, only=index
        )

    (preview,) = await run.send("preview_programme", cand, "POST", "/programmes/FITN7-AXE3/preview")
    assert preview.json()["eligible"] is True, preview.json()
    # R-HOOK-1: the prefecture's tool subscribes before the dossiers move.
    system = app.state.webhook_resolver

    async def public(host: str, port: int) -> list[str]:
        return ["93.184.216.34"]  # R-HOOK-1: a public address

    app.state.webhook_resolver = public
    try:
        await run.send("create_webhook", dinum, "POST", "/webhooks")
    finally:
        app.state.webhook_resolver = system
    accepted = await run.to_review(cand)
    accepted_path = f"/projects/{accepted}"
    # R-FLOW-3: the draft edited before submission (a second dossier, still a draft)
    (draft,) = await run.send("create_project", cand, "POST", "/projects")
    draft_path = f"/projects/{draft.json()['id']}"
    await run.send("update_project", cand, "PATCH", draft_path, etag_path=draft_path)
    returned, closed, cancelled, refused, deferred = [await run.to_review(cand) for _ in range(5)]
    for operation_id, project_id in (("return_project", returned), ("close_project", closed)):
        path = f"/projects/{project_id}"
        await run.send(
            operation_id, pref, "POST", f"{path}/{operation_id.split('_')[0]}", etag_path=path
        )

    # R-EVAL-1, R-EVAL-2: the prefect scores the whole 3c grid; a colleague recuses himself.
    colleague = Principal("prefet-13-adjoint", Role.PREFECT, departement="13")
    await run.send("create_evaluation", colleague, "POST", f"{accepted_path}/evaluations", only=1)
    (evaluation,) = await run.send(
        "create_evaluation", pref, "POST", f"{accepted_path}/evaluations", only=0
    )
    evaluation_path = f"/evaluations/{evaluation.json()['id']}"
    await run.send("update_evaluation", pref, "PATCH", evaluation_path, etag_path=evaluation_path)

    # The 13's envelope, then its committee of 2021-06-15, chaired by the prefect (R-COM-2).
    await run.send("create_allocation", dinum, "POST", "/envelopes/13/allocations")
    (committee,) = await run.send("create_committee", pref, "POST", "/committees")
    committee_path = f"/committees/{committee.json()['id']}"
    # A dossier withdrawn by its candidate, a committee planned then cancelled.
    (spare,) = await run.send("create_project", cand, "POST", "/projects")
    spare_path = f"/projects/{spare.json()['id']}"
    etag = await run.etag(cand, spare_path)
    withdrawn = await client.post(
        f"{API}{spare_path}/withdraw", headers={**headers(cand), "If-Match": etag}
    )
    assert withdrawn.status_code == 200, withdrawn.text
    (second,) = await run.send("create_committee", pref, "POST", "/committees")
    second_path = f"/committees/{second.json()['id']}"
    etag = await run.etag(pref, second_path)
    dropped = await client.post(
        f"{API}{second_path}/cancel", headers={**headers(pref), "If-Match": etag}
    )
    assert dropped.status_code == 200, dropped.text

    for project_id in (accepted, cancelled, refused, deferred):
        await run.send(
            "change_agenda",
            pref,
            "POST",
            f"{committee_path}/agenda",
            etag_path=committee_path,
            ids={PROJECT_ID: project_id},
        )
    clock_at("2021-06-15")
    decisions = {0: [accepted, cancelled], 1: [refused], 2: [deferred]}
    for index, project_ids in decisions.items():
        for project_id in project_ids:
            await run.send(
                "record_decision",
                pref,
                "POST",
                f"{committee_path}/decisions",
                etag_path=committee_path,
                ids={PROJECT_ID: project_id},
                only=index,
            )
    etag = await run.etag(pref, committee_path)
    closing = await client.post(
        f"{API}{committee_path}/close", headers={**headers(pref), "If-Match": etag}
    )
    assert closing.status_code == 200, closing.text

    # The convention of 2021-09-15, its advance on 2021-10-01 (R-PAY-1), a grant cancelled.
    clock_at("2021-09-15")
    await file_required_documents(client, headers(pref), accepted, step="convention")
    await run.send(
        "sign_convention", pref, "POST", f"{accepted_path}/convention", etag_path=accepted_path
    )
    clock_at("2021-10-01")
    await run.send("create_payment", pref, "POST", f"{accepted_path}/payments")
    cancelled_path = f"/projects/{cancelled}"
    await run.send(
        "cancel_grant", pref, "POST", f"{cancelled_path}/cancel", etag_path=cancelled_path
    )
    # The final report of 2022-11-30 (R-PAY-2, R-PAY-3).
    clock_at("2022-11-30")
    await file_required_documents(client, headers(pref), accepted, step="final_report")
    await run.send(
        "record_final_report",
        pref,
        "POST",
        f"{accepted_path}/final-report",
        etag_path=accepted_path,
    )

    # The prefecture's settings, DINUM's and the integrations'.
    forfaits = "/envelopes/13/forfaits"
    await run.send("set_forfaits", pref, "PUT", forfaits, etag_path=forfaits)
    # Each PUT twice: it creates (201), then replaces (200).
    address = "/notifications/prefectures/13"
    for _ in range(2):
        await run.send("set_prefecture_address", pref, "PUT", address)
    mapping = "/ds/demarches/42/mapping"
    await run.send("put_ds_mapping", dinum, "PUT", mapping, if_match='"v0"')
    await run.send("put_ds_mapping", dinum, "PUT", mapping, etag_path=mapping)
    await run.send("create_mapping_rule", dinum, "POST", "/auth/mappings")
    # The suite seeds the README's programme: the scenario opens it again under another code.
    code = PROGRAMME_DOCUMENT["code"]
    await run.send("create_programme", dinum, "POST", "/programmes", ids={code: f"{code}-BIS"})
    await run.send(
        "edit_programme", dinum, "PATCH", "/programmes/FITN7-AXE3", etag_path="/programme"
    )
    await run.send("update_programme", dinum, "PATCH", "/programme", etag_path="/programme")

    assert set(NOT_EXERCISED) <= set(WITH_REQUEST_EXAMPLE)
    assert run.sent == set(WITH_REQUEST_EXAMPLE) - set(NOT_EXERCISED)

    # The reads, for their answers (captured as the contract's response examples).
    subscription = (await client.get(f"{API}/webhooks", headers=headers(dinum))).json()
    hook = f"/webhooks/{subscription['items'][0]['id']}"
    deliveries = (await client.get(f"{API}{hook}/deliveries", headers=headers(dinum))).json()
    documents = (await client.get(f"{API}{accepted_path}/documents", headers=headers(pref))).json()
    code = f"/programmes/{PROGRAMME_DOCUMENT['code']}-BIS"
    reads: list[tuple[Principal | None, str, str]] = [
        (dinum, "POST", "/audit-events/checkpoints"),
        (dinum, "GET", "/audit-events?limit=2"),
        (dinum, "GET", "/audit-events/checkpoints/latest"),
        (dinum, "GET", "/audit-events/verify"),
        (dinum, "GET", "/auth/mappings?limit=2"),
        (pref, "GET", "/auth/me"),
        (pref, "GET", "/candidates?limit=2"),
        (pref, "GET", candidate_path),
        (pref, "GET", f"{candidate_path}/documents"),
        (pref, "GET", "/committees"),
        (pref, "GET", "/committees/status"),
        (pref, "GET", f"{committee_path}/minutes"),
        (pref, "GET", committee_path),
        (pref, "GET", f"/documents/{documents['items'][0]['id']}"),
        (dinum, "GET", "/ds/demarches/42/mapping"),
        (dinum, "GET", "/ds/syncs"),
        (pref, "GET", "/envelopes"),
        (pref, "GET", "/envelopes/13"),
        (pref, "GET", "/envelopes/13/forfaits"),
        (pref, "GET", "/envelopes/13/ledger?limit=2"),
        (pref, "GET", evaluation_path),
        (pref, "GET", "/notifications/prefectures/13"),
        (pref, "GET", "/notifications/preview/decision"),
        (None, "GET", "/open-data/subventions.json"),
        (dinum, "POST", f"{code}/publish"),
        (dinum, "POST", f"{code}/close"),
        (None, "GET", f"{code}/versions"),
        (None, "GET", "/programmes"),
        (None, "GET", "/programmes/FITN7-AXE3"),
        (None, "GET", "/programme"),
        (pref, "GET", "/projects?limit=2"),
        (pref, "GET", f"{accepted_path}/decision"),
        (pref, "GET", f"{accepted_path}/documents?limit=2"),
        (pref, "GET", f"{accepted_path}/eligibility"),
        (pref, "GET", f"{accepted_path}/evaluations"),
        (pref, "GET", f"{accepted_path}/grant"),
        (pref, "GET", f"{accepted_path}/history"),
        (pref, "GET", f"{accepted_path}/notifications?limit=2"),
        (pref, "GET", accepted_path),
        (pref, "GET", "/reference/collectivites/211300553"),
        (pref, "GET", "/stats/departements"),
        (dinum, "GET", "/stats/national"),
        (dinum, "GET", hook),
        (dinum, "GET", f"{hook}/deliveries"),
        (dinum, "POST", f"{hook}/rotate-secret"),
        (dinum, "POST", f"{hook}/replay?after={deliveries['items'][0]['event_id']}"),
        (dinum, "GET", "/webhooks"),
    ]
    for who, method, path in reads:
        if path.endswith(("/publish", "/close")):
            etag = await run.etag(dinum, code)
            answer = await client.post(f"{API}{path}", headers={**headers(dinum), "If-Match": etag})
        else:
            answer = await client.request(
                method, f"{API}{path}", headers=headers(who) if who else {}
            )
        assert answer.status_code in (200, 201), f"{method} {path}: {answer.text}"
    for path in ("/healthz", "/readyz", "/.well-known/jwks.json"):
        assert (await client.get(path)).status_code == 200
    if os.environ.get(CAPTURE_ENV):
        capture.write(
            {
                accepted: PROJECT_ID,
                candidate_id: DOCUMENTED_IDS["candidate_id"],
                committee_path.rsplit("/", 1)[-1]: DOCUMENTED_IDS["committee_id"],
                evaluation_path.rsplit("/", 1)[-1]: DOCUMENTED_IDS["evaluation_id"],
            }
        )


# -- the examples as read --------------------------------------------------------------------


def _walk_examples(node: Any, where: str = "") -> Iterator[tuple[str, Any]]:
    """Every example value in the contract (`example`, `examples` of media and schemas)."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "example":
                yield f"{where}/example", value
            elif key == "examples" and isinstance(value, list):
                yield from ((f"{where}/examples/{i}", v) for i, v in enumerate(value))
            elif key == "examples" and isinstance(value, dict):
                yield from ((f"{where}/examples/{k}", v.get("value")) for k, v in value.items())
            else:
                yield from _walk_examples(value, f"{where}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _walk_examples(value, f"{where}/{index}")


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def test_no_example_holds_placeholder_text() -> None:
    found = [
        f"{where}: {text!r}"
        for where, example in _walk_examples(CONTRACT)
        for text in _strings(example)
        if any(p.lower() in text.lower() for p in PLACEHOLDERS if p != "string") or text == "string"
    ]
    assert found == []


def test_every_answer_is_captured_from_the_scenario_or_listed() -> None:
    answers = captured()
    assert set(answers) <= set(BY_ID), "captured answers of operations the contract lacks"
    missing = {
        f"{op['operationId']} {status}"
        for _p, _m, op in operations()
        for status, response in op.get("responses", {}).items()
        if status.startswith("2")
        and "application/json" in response.get("content", {})
        and op["operationId"] not in NOT_CAPTURED
        and status not in answers.get(op["operationId"], {})
    }
    assert missing == set(), f"run the scenario with {CAPTURE_ENV}=1"
    for operation_id, by_status in answers.items():
        for status, answer in by_status.items():
            media = BY_ID[operation_id]["responses"][status]["content"]["application/json"]
            assert media["example"] == answer, f"{operation_id} {status}: python -m app openapi"


def test_the_programme_example_is_the_readmes_document() -> None:
    document = ROOT / "examples/programmes/numerique-territoires-2026.json"
    assert json.loads(document.read_text()) == PROGRAMME_DOCUMENT


def response_examples() -> Iterator[tuple[str, dict[str, Any], Any]]:
    for path, method, operation in operations():
        for status, response in operation.get("responses", {}).items():
            if not status.startswith("2"):
                continue
            for media_type, media in response.get("content", {}).items():
                if "json" in media_type:
                    for example in examples_of(media):
                        yield f"{method.upper()} {path} {status}", media["schema"], example


RESPONSES = list(response_examples())


@pytest.mark.parametrize(("where", "schema", "example"), RESPONSES, ids=[r[0] for r in RESPONSES])
def test_every_response_example_validates_against_its_schema(
    where: str, schema: dict[str, Any], example: Any
) -> None:
    validator = Draft202012Validator({**schema, "components": CONTRACT["components"]})
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(example)]
    assert errors == [], where


def _objects_of(component: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every object, in every 2xx example, that stands for `component` (by its schema's ref)."""
    ref = f"#/components/schemas/{component}"

    def visit(schema: dict[str, Any], value: Any, where: str) -> Iterator[tuple[str, Any]]:
        if schema.get("$ref") == ref and isinstance(value, dict):
            yield where, value
        target = schema
        if "$ref" in schema:
            target = COMPONENTS[schema["$ref"].rsplit("/", 1)[-1]]
        for branch in target.get("anyOf", []) + target.get("oneOf", []):
            yield from visit(branch, value, where)
        if isinstance(value, dict):
            for key, sub in target.get("properties", {}).items():
                if key in value:
                    yield from visit(sub, value[key], f"{where}.{key}")
        if isinstance(value, list) and "items" in target:
            for index, item in enumerate(value):
                yield from visit(target["items"], item, f"{where}[{index}]")

    for where, schema, example in RESPONSES:
        yield from visit(schema, example, where)
    for name, sub in COMPONENTS.items():
        for index, example in enumerate(sub.get("examples", [])):
            yield from visit(sub, example, f"{name}.examples[{index}]")
            if name == component:
                yield f"{name}.examples[{index}]", example


def test_r_pay_1_grant_examples_stay_within_their_caps() -> None:
    grants = list(_objects_of("GrantRead"))
    assert grants
    for where, grant in grants:
        terms, amount = grant["terms"], grant["amount_cents"]
        advance_cap = amount * terms["advance_cap_bps"] // 10_000
        assert grant["advance_paid_cents"] <= advance_cap, where
        schedule = (grant.get("convention") or {}).get("schedule") or []
        advances = sum(i["amount_cents"] for i in schedule if i.get("kind") == "advance")
        assert advances <= advance_cap, where  # R-PAY-1
        assert sum(i["amount_cents"] for i in schedule) <= amount, where
        assert grant["paid_cents"] == sum(p["amount_cents"] for p in grant["payments"]), where
        assert grant["net_cents"] == amount - grant["released_cents"], where
        assert 0 <= grant["paid_cents"] <= grant["net_cents"], where  # R-CAP-5
        assert amount <= terms["eligible_cost_cents"], where  # R-CAP-1


def test_open_data_examples_publish_a_real_amount() -> None:
    rows = list(_objects_of("SubventionRecord"))
    assert rows
    for where, row in rows:
        assert row["montant"] > 0, where
        assert row["notificationUE"] is False, where
        assert row["pourcentageSubvention"] == 1.0, where
        assert 0 < row["tauxAide"] <= 1.0, where


def _grid(strand: str) -> set[str]:
    (own,) = [s for s in STRANDS if s["code"] == strand]
    return {c["code"] for c in GENERAL_CRITERIA} | {c["code"] for c in own["criteria"]}


def test_r_eval_1_evaluation_examples_score_the_whole_grid() -> None:
    bodies = request_examples("create_evaluation") + request_examples("update_evaluation")
    scored = [b for b in bodies if b.get("scores")]
    assert scored
    for body in scored:
        assert set(body["scores"]) == _grid("3c")
        assert all(0 <= s <= 5 for s in body["scores"].values())
    evaluations = list(_objects_of("EvaluationRead"))
    assert evaluations
    for where, evaluation in evaluations:
        if evaluation["recused"]:
            assert not evaluation["scores"], where
            continue
        assert {s["code"] for s in evaluation["scores"]} == _grid("3c"), where
        assert all(0 <= s["score"] <= 5 for s in evaluation["scores"]), where
        assert 0 <= float(evaluation["weighted_total"]) <= 5, where


def test_r_com_2_committee_examples_are_chaired_by_the_prefect() -> None:
    bodies = request_examples("create_committee")
    chairs = [b["members"][0] for b in bodies]
    chairs += [c["chair"] for _w, c in _objects_of("CommitteeRead")]
    assert chairs
    for chair in chairs:
        assert chair["role"].startswith(("Préfet", "Préfète")), chair
        assert chair["name"] in {"M. le Préfet", "Mme la Préfète"}, chair


def test_r_cap_1_decision_examples_grant_at_most_the_request_and_the_cap() -> None:
    items = list(_objects_of("AgendaItemRead"))
    assert items
    for where, item in items:
        decision = item.get("decision") or {}
        if decision.get("outcome") == "accepted":
            assert 0 < decision["granted_cents"] <= item["requested_cents"], where
            assert decision["granted_cents"] <= item["max_grant_cents"], where
            before = decision["envelope_available_before_cents"]
            after = decision["envelope_available_after_cents"]
            if before is not None and after is not None:
                assert after == before - decision["granted_cents"], where
