"""The contract's groups of operations (issue 27 §6): French names, each with a description, in
the order app.core.tags declares them; every operation in exactly one declared group, and no
declared group left empty. /docs and /redoc list the operations under these names."""

from __future__ import annotations

import json
import re
from typing import Any

from app.core.tags import TAGS
from app.openapi_export import CONTRACT_PATH

METHODS = {"get", "put", "post", "delete", "patch"}
# The English names the contract used before: none may come back.
ENGLISH = {
    "ops", "auth", "projects", "stats", "candidates", "committees", "reference", "open data",
    "programme", "budgets", "grants", "webhooks", "documents", "evaluations",
}  # fmt: skip


def _contract() -> dict[str, Any]:
    return json.loads(CONTRACT_PATH.read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def test_every_group_is_french_and_described() -> None:
    declared = _contract()["tags"]
    assert [tag["name"] for tag in declared] == [tag["name"] for tag in TAGS]
    for tag in declared:
        assert tag["name"] not in ENGLISH, tag["name"]
        assert re.fullmatch(r"[a-zà-ÿ' -]+", tag["name"]), tag["name"]
        description = tag.get("description", "")
        assert len(description) > 30 and description.endswith("."), tag


def test_every_operation_is_in_exactly_one_declared_group() -> None:
    contract = _contract()
    declared = {tag["name"] for tag in contract["tags"]}
    used: set[str] = set()
    for path, item in contract["paths"].items():
        for method, operation in item.items():
            if method in METHODS:
                tags = operation.get("tags", [])
                assert len(tags) == 1 and tags[0] in declared, (method, path, tags)
                used.add(tags[0])
    assert used == declared  # no empty group in /docs
