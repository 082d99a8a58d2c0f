"""The committed contract states exactly what the server enforces (issue 8, items 1, 2, 7, 9).

Checked on the contract itself; the behaviour behind each statement is tested through the API
in tests/api/test_query_hardening.py and tests/api/test_request_protocol.py, and schemathesis
(tests/contract/test_schemathesis.py) holds the server to it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest

from app.core.concurrency import IF_MATCH_PATTERN
from app.core.filters import TIMESTAMP_PATTERN
from app.openapi_export import CONTRACT_PATH
from app.reference.catalogue import get_catalogue
from app.reference.departements import DEPARTEMENT_PATTERN

CONTRACT: dict[str, Any] = json.loads(CONTRACT_PATH.read_text())
METHODS = {"get", "post", "put", "patch", "delete"}


def operations() -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in CONTRACT["paths"].items():
        for method, operation in item.items():
            if method in METHODS:
                yield path, method, operation


def parameters(name: str) -> list[tuple[str, dict[str, Any]]]:
    return [
        (operation["operationId"], parameter)
        for _path, _method, operation in operations()
        for parameter in operation.get("parameters", [])
        if parameter["name"] == name
    ]


def test_r_flow_3_if_match_is_required_with_its_pattern_400_412_428_wherever_it_is_read() -> None:
    found = parameters("If-Match")
    assert len(found) >= 10
    by_id = {op["operationId"]: op for _p, _m, op in operations()}
    for operation_id, parameter in found:
        assert parameter["required"] is True, operation_id
        assert parameter["schema"]["pattern"] == IF_MATCH_PATTERN, operation_id
        # 400: a value the pattern refuses (no entity-tag) is a malformed ETag, answered with the
        # expected tag (issue 12); 412 a stale one; 428 none.
        assert {"400", "412", "428"} <= set(by_id[operation_id]["responses"]), operation_id
        example = by_id[operation_id]["responses"]["400"]["content"]["application/problem+json"]
        assert example["example"]["type"].endswith("/malformed-etag"), operation_id


def test_if_match_pattern_takes_entity_tags_and_refuses_star() -> None:
    accepted = ['"v1"', 'W/"v2"', '"v1", "v2"', '"v1" ,W/"v3"']
    refused = ["*", '"v1", *', "v1", '""', '"v"', ' "v1"', '"v1",']
    assert all(re.fullmatch(IF_MATCH_PATTERN, value) for value in accepted)
    assert not any(re.fullmatch(IF_MATCH_PATTERN, value) for value in refused)


# Issue 24: documents are uploaded as multipart/form-data, read as they arrive.
UPLOADS = {"upload_project_document", "upload_candidate_document"}
MULTIPART = ["multipart/form-data"]


def test_every_json_body_documents_415() -> None:
    with_body = [op for _p, _m, op in operations() if "requestBody" in op]
    assert with_body
    for operation in with_body:
        assert "415" in operation["responses"], operation["operationId"]
        expected = MULTIPART if operation["operationId"] in UPLOADS else ["application/json"]
        assert list(operation["requestBody"]["content"]) == expected


@pytest.mark.parametrize("name", ["updated_since", "submitted_from", "submitted_to"])
def test_r_sync_1_every_timestamp_filter_states_format_offset_and_years(name: str) -> None:
    found = parameters(name)
    assert found
    for operation_id, parameter in found:
        schema = parameter["schema"]
        assert schema["type"] == "string" and schema["format"] == "date-time", operation_id
        assert schema["pattern"] == TIMESTAMP_PATTERN, operation_id
        assert "2000 à 2999" in parameter["description"], operation_id
    assert {op for op, _ in parameters("updated_since")} == {
        "list_candidates",
        "list_projects",
        "list_envelopes",
        "read_ledger",
        "list_evaluations",
        "list_committees",
        "list_audit_events",
        "list_webhooks",
        "list_ds_syncs",
        "list_mapping_rules",
        "list_project_documents",
        "list_candidate_documents",
    }


def test_every_list_states_its_own_cursor_format() -> None:
    found = parameters("cursor")
    patterns = {operation_id: p["schema"]["pattern"] for operation_id, p in found}
    assert set(patterns) == {
        "list_candidates",
        "list_projects",
        "list_envelopes",
        "read_ledger",
        "list_evaluations",
        "list_committees",
        "list_audit_events",
        "list_webhooks",
        "list_webhook_deliveries",
        "list_ds_syncs",
        "list_mapping_rules",
        "list_project_documents",
        "list_candidate_documents",
    }
    assert len(set(patterns.values())) == len(patterns)  # a cursor fits one list only
    for operation_id, parameter in found:
        assert "invalid-cursor" in parameter["description"], operation_id
        assert not re.fullmatch(patterns[operation_id], "0")  # the probe's `cursor=0`
    assert re.fullmatch(patterns["list_projects"], "projects.0." + "0" * 32)
    assert not re.fullmatch(patterns["list_candidates"], "projects.0." + "0" * 32)


def test_r_ref_1_every_departement_parameter_lists_exactly_the_cog_codes() -> None:
    found = parameters("departement")
    assert {p["in"] for _op, p in found} == {"query", "path"}
    codes = get_catalogue().departement_codes()
    for operation_id, parameter in found:
        assert parameter["schema"]["pattern"] == DEPARTEMENT_PATTERN, operation_id
    assert all(re.fullmatch(DEPARTEMENT_PATTERN, code) for code in codes)
    assert not any(re.fullmatch(DEPARTEMENT_PATTERN, code) for code in ("20", "96", "00", "2C"))


def test_query_and_header_parameters_are_never_null() -> None:
    for _path, _method, operation in operations():
        for parameter in operation.get("parameters", []):
            assert "anyOf" not in parameter["schema"], (operation["operationId"], parameter)


def test_links_name_operations_and_parameters_that_exist() -> None:
    by_id = {op["operationId"]: op for _p, _m, op in operations()}
    count = 0
    for _path, _method, operation in operations():
        for status, response in operation["responses"].items():
            for name, link in response.get("links", {}).items():
                count += 1
                assert status.startswith("2"), name
                target = by_id[link["operationId"]]
                declared = {(p["in"], p["name"]) for p in target.get("parameters", [])}
                for key in link["parameters"]:
                    where, _, parameter = key.partition(".")
                    assert (where, parameter) in declared, (name, key)
                required = {
                    (p["in"], p["name"]) for p in target.get("parameters", []) if p["required"]
                }
                supplied = {tuple(key.split(".", 1)) for key in link["parameters"]}
                assert required <= supplied, name
    assert count >= 40
