"""A fake démarches-simplifiées GraphQL API on 127.0.0.1 (an ASGI app served by uvicorn in
the test): the sample dossiers of ../shared/reference/ds/, real cursor pagination ordered by
last change, `updatedSince`, scripted failures (429 with Retry-After, 503, GraphQL `errors`),
and every mutation it accepted, recorded.

Written from the notes on DS's format (reference/ds/README.md), not from the app's client.
"""

from __future__ import annotations

import asyncio
import base64
import copy
import json
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import uvicorn

# The two sample pages of reference/ds (copied beside this file, with their notes).
REFERENCE = Path(__file__).parent / "samples"
TOKEN = "ds-test-token"
DEMARCHE = 40321


def sample_nodes() -> list[dict[str, Any]]:
    nodes: list[dict[str, Any]] = []
    for name in ("dossiers-page-1.json", "dossiers-page-2.json"):
        page = json.loads((REFERENCE / name).read_text(encoding="utf-8"))
        nodes += page["data"]["demarche"]["dossiers"]["nodes"]
    return nodes


def _modified(node: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(node["dateDerniereModification"])


def _cursor(node: dict[str, Any]) -> str:
    return base64.b64encode(
        f"{node['dateDerniereModification']};{node['number']}".encode()
    ).decode()


@dataclass
class Scripted:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: dict[str, Any] | None = None


@dataclass
class FakeDS:
    nodes: list[dict[str, Any]] = field(default_factory=sample_nodes)
    # Answers served before the normal one, to queries (dossiers) or mutations.
    query_script: list[Scripted] = field(default_factory=list)
    mutation_script: list[Scripted] = field(default_factory=list)
    mutations: list[dict[str, Any]] = field(default_factory=list)
    # The n-th dossiers query (1-based) answers GraphQL `errors` (0: never).
    errors_on_query: int = 0
    # When set, an accepted mutation moves the dossier on DS and stamps this change time.
    mutated_at: str | None = None
    requests: list[dict[str, Any]] = field(default_factory=list)
    url: str = ""
    # Files DS serves (issue 24): path → (status, headers, body); each GET of one, recorded.
    files: dict[str, tuple[int, dict[str, str], bytes]] = field(default_factory=dict)
    file_requests: list[str] = field(default_factory=list)

    def file_url(self, path: str) -> str:
        return self.url.split("/api/", 1)[0] + path

    def node(self, number: int) -> dict[str, Any]:
        return next(n for n in self.nodes if n.get("number") == number)

    def edit(self, number: int, modified: str, **champs: Any) -> dict[str, Any]:
        """Change champs of a dossier (by label) and its dateDerniereModification."""
        node = self.node(number)
        node["dateDerniereModification"] = modified
        for champ in node["champs"]:
            if champ["label"] in champs:
                value = champs[champ["label"]]
                champ["stringValue"] = str(value)
                if "value" in champ:
                    champ["value"] = value
        return node

    def page(self, variables: dict[str, Any]) -> dict[str, Any]:
        first = variables.get("first") or 100
        assert 1 <= first <= 100, "DS: first ≤ 100"
        ordered = sorted(self.nodes, key=lambda n: (_modified(n), n["number"]))
        since = variables.get("updatedSince")
        if since:
            bound = datetime.fromisoformat(since)
            ordered = [n for n in ordered if _modified(n) >= bound]
        after = variables.get("after")
        if after:
            keys = [_cursor(n) for n in ordered]
            ordered = ordered[keys.index(after) + 1 :]
        chunk, rest = ordered[:first], ordered[first:]
        return {
            "demarche": {
                "id": "UHJvY2VkdXJlLTQwMzIx",
                "number": DEMARCHE,
                "dossiers": {
                    "pageInfo": {
                        "hasNextPage": bool(rest),
                        "endCursor": _cursor(chunk[-1]) if chunk else None,
                    },
                    "nodes": copy.deepcopy(chunk),
                },
            }
        }

    def mutate(self, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        name = query.split("(", 1)[0].split()[-1]
        data = variables["input"]
        state = {
            "dossierPasserEnInstruction": "en_instruction",
            "dossierAccepter": "accepte",
            "dossierRefuser": "refuse",
            "dossierClasserSansSuite": "sans_suite",
        }[name]
        self.mutations.append({"mutation": name, **data})
        if self.mutated_at is not None:
            for node in self.nodes:
                if node.get("id") == data["dossierId"]:
                    node["state"] = state
                    node["dateDerniereModification"] = self.mutated_at
        return {name: {"dossier": {"id": data["dossierId"], "state": state}, "errors": None}}

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        assert scope["type"] == "http"
        if scope["method"] == "GET":  # a file of a PieceJustificativeChamp
            self.file_requests.append(scope["path"])
            status, extra, content = self.files.get(scope["path"], (404, {}, b"not found"))
            file_headers = [(k.encode(), v.encode()) for k, v in extra.items()]
            await send({"type": "http.response.start", "status": status, "headers": file_headers})
            await send({"type": "http.response.body", "body": content})
            return
        body, more = b"", True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        headers = {k.decode(): v.decode() for k, v in scope["headers"]}
        request = json.loads(body)
        query: str = request["query"]
        is_mutation = query.lstrip().startswith("mutation")
        self.requests.append({"mutation": is_mutation, **request})
        script = self.mutation_script if is_mutation else self.query_script
        if headers.get("authorization") != f"Bearer {TOKEN}":
            answer = Scripted(401, body={"errors": [{"message": "Unauthorized"}]})
        elif script:
            answer = script.pop(0)
        elif not is_mutation and self.errors_on_query == sum(
            1 for r in self.requests if not r["mutation"]
        ):
            answer = Scripted(
                200,
                body={
                    "data": None,
                    "errors": [{"message": "Internal error", "extensions": {"code": "internal"}}],
                },
            )
        elif is_mutation:
            answer = Scripted(200, body={"data": self.mutate(query, request["variables"])})
        else:
            answer = Scripted(200, body={"data": self.page(request["variables"])})
        payload = json.dumps(answer.body or {}).encode()
        raw_headers = [(b"content-type", b"application/json")] + [
            (k.encode(), v.encode()) for k, v in answer.headers.items()
        ]
        await send({"type": "http.response.start", "status": answer.status, "headers": raw_headers})
        await send({"type": "http.response.body", "body": payload})


@asynccontextmanager
async def serve(fake: FakeDS) -> AsyncIterator[FakeDS]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(fake, host="127.0.0.1", port=port, lifespan="off", log_level="warning")
    )
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        await asyncio.sleep(0.01)
    fake.url = f"http://127.0.0.1:{port}/api/v2/graphql"
    try:
        yield fake
    finally:
        server.should_exit = True
        await task
        sock.close()
