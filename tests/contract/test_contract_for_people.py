"""The contract speaks French to people and shows what it means (issue 12).

Read on the committed contract (test_openapi_contract.py holds it equal to the app's): every
operation has a French summary and a description, every schema and property a description,
every request body and 2xx JSON answer an example valid against its schema, every error status
a problem+json example.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from app.openapi_export import CONTRACT_PATH

CONTRACT: dict[str, Any] = json.loads(CONTRACT_PATH.read_text())
COMPONENTS: dict[str, Any] = CONTRACT["components"]["schemas"]
METHODS = {"get", "post", "put", "patch", "delete"}

# Words a generated English summary is made of ("Submit Project", "List Audit Events").
ENGLISH = re.compile(
    r"\b(get|list|create|read|update|delete|set|record|submit|start|return|close|verify|"
    r"cancel|sign|replay|rotate|change|withdraw|project|projects|committee|status|health|"
    r"metrics|readiness|me|the|of)\b",
    re.IGNORECASE,
)
# At least one mark of French: an accented letter, an apostrophe elision or a French word.
FRENCH = re.compile(
    r"[àâäçéèêëîïôöùûüÿœæ]|\b[dlsq]u?'|\b(le|la|les|un|une|des|du|de|d'un|sa|son|ses|sont|est|aux|au|votre|vos|pour|sur|et)\b",
    re.IGNORECASE,
)


def operations() -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in CONTRACT["paths"].items():
        for method, operation in item.items():
            if method in METHODS:
                yield path, method, operation


OPERATIONS = sorted((f"{m.upper()} {p}", op) for p, m, op in operations())
IDS = [where for where, _op in OPERATIONS]


def generated_summary(operation_id: str) -> str:
    """What FastAPI would write from the function's name."""
    return operation_id.replace("_", " ").title()


@pytest.mark.parametrize(("where", "operation"), OPERATIONS, ids=IDS)
def test_every_operation_has_a_french_summary_and_a_description(
    where: str, operation: dict[str, Any]
) -> None:
    summary = operation.get("summary", "")
    assert summary and summary != generated_summary(operation["operationId"]), where
    assert not ENGLISH.search(summary), f"{where}: English word in {summary!r}"
    assert FRENCH.search(summary), f"{where}: {summary!r} does not read as French"
    assert len(operation.get("description", "")) >= 20, f"{where}: no description"


def test_the_french_heuristic_tells_the_two_languages_apart() -> None:
    for english in ("Submit Project", "List Audit Events", "Read Me", "Get Health"):
        assert ENGLISH.search(english) or not FRENCH.search(english), english
    for french in ("Déposer un dossier", "Lister les candidats", "S'abonner aux événements"):
        assert FRENCH.search(french) and not ENGLISH.search(french), french


def test_every_schema_and_every_property_has_a_description() -> None:
    missing = [name for name, schema in COMPONENTS.items() if not schema.get("description")]
    missing += [
        f"{name}.{field}"
        for name, schema in COMPONENTS.items()
        for field, sub in schema.get("properties", {}).items()
        if not sub.get("description")
    ]
    assert missing == []


def valid(schema: dict[str, Any], example: Any) -> list[str]:
    validator = Draft202012Validator({**schema, "components": CONTRACT["components"]})
    return [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(example)]


def example_of(media: dict[str, Any]) -> Any:
    if "example" in media:
        return media["example"]
    if media.get("examples"):
        return next(iter(media["examples"].values()))["value"]
    target = media["schema"]
    ref = target.get("$ref", "")
    if ref:
        target = COMPONENTS[ref.rsplit("/", 1)[1]]
    return target["examples"][0]


@pytest.mark.parametrize(("where", "operation"), OPERATIONS, ids=IDS)
def test_every_request_body_and_2xx_json_answer_has_a_valid_example(
    where: str, operation: dict[str, Any]
) -> None:
    medias = [
        ("request", t, m) for t, m in operation.get("requestBody", {}).get("content", {}).items()
    ]
    medias += [
        (status, t, m)
        for status, response in operation["responses"].items()
        if status.startswith("2")
        for t, m in response.get("content", {}).items()
    ]
    for what, media_type, media in medias:
        if "json" not in media_type:
            continue
        example = example_of(media)
        assert valid(media["schema"], example) == [], f"{where} {what}"


@pytest.mark.parametrize(("where", "operation"), OPERATIONS, ids=IDS)
def test_every_error_status_has_a_problem_example(where: str, operation: dict[str, Any]) -> None:
    errors = {s: r for s, r in operation["responses"].items() if int(s) >= 400}
    assert errors, where
    for status, response in errors.items():
        media = response["content"]["application/problem+json"]
        example = media["example"]
        assert valid(media["schema"], example) == [], f"{where} {status}"
        assert example["status"] == int(status), f"{where} {status}"
        assert example["detail"] and example["code"], f"{where} {status}"
        assert FRENCH.search(example["detail"]), f"{where} {status}: detail not French"


ENGLISH_PROSE = re.compile(r"\b(the|is|are|what|which|whether|with|and)\b")


def test_no_description_of_the_contract_is_english_prose() -> None:
    texts = [(name, schema.get("description", "")) for name, schema in COMPONENTS.items()]
    texts += [
        (f"{name}.{field}", sub.get("description", ""))
        for name, schema in COMPONENTS.items()
        for field, sub in schema.get("properties", {}).items()
    ]
    texts += [(where, operation.get("description", "")) for where, operation in OPERATIONS]
    assert [name for name, text in texts if ENGLISH_PROSE.search(text)] == []
