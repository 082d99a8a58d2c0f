"""R-DOC-1 for the demo loader, the tests and the benchmarks: file what a dossier's next step asks
for, through the API, as a front-end would."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

API = "/api/v1"


# A small valid PDF, a type every kind of document of the FITN7 programme allows (R-DOC-2).
STUB_PDF = b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< >>\n%%EOF\n"


async def file_required_documents(
    client: httpx.AsyncClient,
    headers: Mapping[str, str],
    project_id: object,
    *,
    step: str = "submission",
    api: str = API,
) -> list[dict[str, Any]]:
    """R-DOC-1 through the API, as a front-end would: for each document the dossier's programme
    (`GET /programmes/{code}`, its `required_documents`) asks of this dossier at `step` — for its
    strand and its candidate's kind, a per-line kind once per expense line above its threshold
    — that the dossier (or, for a candidate's document, its candidate) does not hold yet, upload
    a small PDF as the holder of `headers` (the candidate at submission, the prefect after).
    Returns the documents filed; raises RuntimeError on any refusal."""

    async def read(path: str) -> Any:
        response = await client.get(f"{api}{path}", headers=dict(headers))
        if response.status_code != 200:
            raise RuntimeError(f"GET {path}: {response.status_code} {response.text}")
        return response.json()

    async def current(path: str) -> set[tuple[str, str | None]]:
        page = await read(f"{path}/documents?limit=200")
        return {(d["kind"], d["expense_line_id"]) for d in page["items"] if not d["superseded_at"]}

    project = await read(f"/projects/{project_id}")
    programme = await read(f"/programmes/{project['programme']}")  # R-PROG-2: its own call
    wanted = [r for r in programme["required_documents"] if r["step"] == step]
    kind = None
    if any(r["candidate_kinds"] is not None for r in wanted):
        kind = (await read(f"/candidates/{project['candidate_id']}"))["kind"]
    wanted = [
        r
        for r in wanted
        if (r["strands"] is None or project["strand"] in r["strands"])
        and (r["candidate_kinds"] is None or kind in r["candidate_kinds"])
    ]
    owners = {
        "project": f"/projects/{project['id']}",
        "candidate": f"/candidates/{project['candidate_id']}",
    }
    held = {
        owner: await current(path)
        for owner, path in owners.items()
        if any(r["owner"] == owner for r in wanted)
    }
    filed: list[dict[str, Any]] = []
    for required in wanted:
        threshold = required["per_line_above_cents"]
        lines: list[str | None] = (
            [None]
            if threshold is None
            else [
                str(line["id"])
                for line in project["expense_lines"]
                if line["amount_cents"] > threshold
            ]
        )
        for line in lines:
            if (required["code"], line) in held[required["owner"]]:
                continue
            data = {"kind": required["code"]}
            if line is not None:
                data["expense_line_id"] = line
            # Distinct bytes for each document: its own hash, its own stored object.
            content = STUB_PDF + f"% {required['code']} {line or project['id']}\n".encode()
            path = f"{owners[required['owner']]}/documents"
            response = await client.post(
                f"{api}{path}",
                data=data,
                files={"file": (f"{required['code']}.pdf", content, "application/pdf")},
                headers=dict(headers),
            )
            if response.status_code != 201:
                raise RuntimeError(f"POST {path}: {response.status_code} {response.text}")
            filed.append(response.json())
    return filed
