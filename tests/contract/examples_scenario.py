"""The contract's examples, read and sent (issue 27 §2): the helpers of
tests/contract/test_examples_real.py (the contract as committed, the request examples of an
operation, the scenario that sends them, the capture of its answers)."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from httpx import AsyncClient, Response

from app.auth.principal import Principal
from app.contract.example_answers import ANSWERS_PATH, mask
from app.openapi_export import CONTRACT_PATH
from tests.conftest import Actors
from tests.support import file_required_documents

CONTRACT: dict[str, Any] = json.loads(CONTRACT_PATH.read_text())
COMPONENTS: dict[str, Any] = CONTRACT["components"]["schemas"]
METHODS = {"get", "post", "put", "patch", "delete"}
ROOT = Path(__file__).resolve().parents[2]
API = "/api/v1"

# `GUICHET_CAPTURE_EXAMPLES=1 pytest tests/contract/test_examples_real.py -k request_example`
# writes the scenario's answers as the contract's response examples (ANSWERS_PATH); then
# `python -m app openapi`.
CAPTURE_ENV = "GUICHET_CAPTURE_EXAMPLES"


def operations() -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in CONTRACT["paths"].items():
        for method, operation in item.items():
            if method in METHODS:
                yield path, method, operation


BY_ID = {op["operationId"]: op for _p, _m, op in operations()}


def examples_of(media: dict[str, Any]) -> list[Any]:
    """Every example of a media object: its own, or its schema component's."""
    if "example" in media:
        return [media["example"]]
    if media.get("examples"):
        return [named["value"] for named in media["examples"].values()]
    ref = media.get("schema", {}).get("$ref", "")
    return list(COMPONENTS.get(ref.rsplit("/", 1)[-1], {}).get("examples", []))


def request_examples(operation_id: str) -> list[Any]:
    media = BY_ID[operation_id]["requestBody"]["content"]["application/json"]
    examples = examples_of(media)
    assert examples, f"{operation_id}: no request example"
    return examples


WITH_REQUEST_EXAMPLE = sorted(
    op["operationId"]
    for _p, _m, op in operations()
    if "application/json" in op.get("requestBody", {}).get("content", {})
)


def _substitute(body: Any, ids: dict[str, str]) -> Any:
    """The example with its documented ids replaced by the scenario's."""
    text = json.dumps(body)
    for documented, real in ids.items():
        text = text.replace(documented, real)
    return json.loads(text)


UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def _route_table() -> list[tuple[str, re.Pattern[str], str]]:
    table = []
    for path, method, operation in operations():
        pattern = re.sub(r"\\{[^}]+\\}", "[^/]+", re.escape(path))
        table.append((method.upper(), re.compile(f"^{pattern}$"), operation["operationId"]))
    return table


class Capture:
    """The last 2xx JSON answer of each operation the scenario called, by status."""

    def __init__(self) -> None:
        self.table = _route_table()
        self.answers: dict[str, dict[str, Any]] = {}

    async def __call__(self, response: Response) -> None:
        await response.aread()
        if not (200 <= response.status_code < 300) or "json" not in response.headers.get(
            "content-type", ""
        ):
            return
        path = response.request.url.path
        for method, pattern, operation_id in self.table:
            if method == response.request.method and pattern.match(path):
                self.answers.setdefault(operation_id, {})[str(response.status_code)] = (
                    response.json()
                )
                return

    def write(self, ids: dict[str, str]) -> None:
        text = json.dumps(mask(self.answers), ensure_ascii=False, sort_keys=True, indent=1)
        for real, documented in ids.items():
            text = text.replace(real, documented)
        # The other ids, numbered in order of appearance: a new capture differs only where
        # the answers do.
        others: dict[str, str] = {}
        for found in UUID.findall(text):
            if found not in ids.values():
                others.setdefault(found, str(uuid.uuid5(uuid.NAMESPACE_URL, str(len(others)))))
        text = UUID.sub(lambda m: others.get(m.group(0), m.group(0)), text)
        ANSWERS_PATH.write_text(text + "\n", encoding="utf-8")


class Scenario:
    """Sends the contract's request examples as the front-ends would, counting what it sent."""

    def __init__(self, client: AsyncClient, headers: Any, actors: Actors) -> None:
        self.client, self.headers, self.actors = client, headers, actors
        self.sent: set[str] = set()

    async def etag(self, who: Principal, path: str) -> str:
        read = await self.client.get(f"{API}{path}", headers=self.headers(who))
        assert read.status_code == 200, read.text
        return str(read.headers["ETag"])

    async def send(
        self,
        operation_id: str,
        who: Principal,
        method: str,
        path: str,
        *,
        etag_path: str | None = None,
        if_match: str | None = None,
        ids: dict[str, str] | None = None,
        only: int | None = None,
    ) -> list[Response]:
        """Each request example of the operation (or the `only`-th), with `ids` substituted and
        If-Match read from `etag_path` before each; every answer must be 2xx."""
        answers = []
        examples = request_examples(operation_id)
        for index, example in enumerate(examples):
            if only is not None and index != only:
                continue
            headers = self.headers(who)
            if etag_path is not None:
                headers["If-Match"] = await self.etag(who, etag_path)
            elif if_match is not None:
                headers["If-Match"] = if_match
            body = _substitute(example, ids or {})
            response = await self.client.request(method, f"{API}{path}", json=body, headers=headers)
            assert 200 <= response.status_code < 300, (
                f"{operation_id} example {index} refused: {response.status_code} {response.text}"
            )
            answers.append(response)
        self.sent.add(operation_id)
        return answers

    async def to_review(self, who: Principal) -> str:
        """A dossier filed from the ProjectCreate example, its documents, submitted, reviewed."""
        (created,) = await self.send("create_project", who, "POST", "/projects")
        project_id = str(created.json()["id"])
        await file_required_documents(self.client, self.headers(who), project_id)
        for actor, step in ((who, "submit"), (self.actors.pref13, "start-review")):
            etag = await self.etag(actor, f"/projects/{project_id}")
            moved = await self.client.post(
                f"{API}/projects/{project_id}/{step}",
                headers={**self.headers(actor), "If-Match": etag},
            )
            assert moved.status_code == 200, moved.text
        return project_id
