"""Drives envelopes and grants through the API as a front-end would (and commits grants as a
committee will, through the service: there is no HTTP decision endpoint yet)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from httpx import AsyncClient, Response
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.principal import Principal, Role
from app.budgets import grants as grants_service
from app.budgets.models import Grant
from app.core import clock
from app.documents.rules import project_upload_refusal
from app.programme.rules import Step
from tests.conftest import Actors
from tests.support import file_required_documents, siret_of

ENVELOPES = "/api/v1/envelopes"
PROJECTS = "/api/v1/projects"
STATE_SIREN = "130025265"
PREFECTURES = {
    "13": {
        "prefecture_name": "Préfecture des Bouches-du-Rhône",
        "prefecture_siret": siret_of(STATE_SIREN, "0013"),
    },
    "75": {
        "prefecture_name": "Préfecture de la région d'Île-de-France, préfecture de Paris",
        "prefecture_siret": siret_of(STATE_SIREN, "0075"),
    },
}
Headers = Callable[[Principal], dict[str, str]]


def today() -> str:
    """The service's today (its clock), the date conventions, payments and reports are
    plausible at (R-PAY-3)."""
    return clock.today().isoformat()


def problem(response: Response, status: int, code: str) -> dict[str, Any]:
    """The RFC 9457 body of `response`, checked for its status and `code` (rule id or slug)."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json", response.text
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["code"] == code, body
    return body


def figures(envelope: dict[str, Any]) -> tuple[int, int, int, int]:
    return (
        envelope["allocated_cents"],
        envelope["committed_cents"],
        envelope["paid_cents"],
        envelope["available_cents"],
    )


def ledger_sums(movements: list[dict[str, Any]]) -> tuple[int, int, int]:
    return (
        sum(m["allocated_delta_cents"] for m in movements),
        sum(m["committed_delta_cents"] for m in movements),
        sum(m["paid_delta_cents"] for m in movements),
    )


async def sql_envelope_and_ledger(
    session: AsyncSession, departement: str
) -> tuple[tuple[int, int, int], tuple[int, int, int], int]:
    """(envelope row figures, sums of its ledger deltas, number of movements), straight in SQL."""
    row = (
        await session.execute(
            text(
                "SELECT e.allocated_cents, e.committed_cents, e.paid_cents, "
                "COALESCE(SUM(m.allocated_delta_cents), 0), "
                "COALESCE(SUM(m.committed_delta_cents), 0), "
                "COALESCE(SUM(m.paid_delta_cents), 0), COUNT(m.id) "
                "FROM envelope e LEFT JOIN ledger_movement m ON m.envelope_id = e.id "
                "WHERE e.departement = :dep "
                "GROUP BY e.id, e.allocated_cents, e.committed_cents, e.paid_cents"
            ),
            {"dep": departement},
        )
    ).one()
    values = [int(v) for v in row]
    return (values[0], values[1], values[2]), (values[3], values[4], values[5]), values[6]


async def count(session: AsyncSession, sql: str, **params: Any) -> int:
    return int((await session.execute(text(sql), params)).scalar_one())


class Money:
    def __init__(
        self, client: AsyncClient, session: AsyncSession, headers: Headers, actors: Actors
    ) -> None:
        self.client, self.session, self.headers, self.actors = client, session, headers, actors

    def _headers(self, who: Principal | None, **extra: str | None) -> dict[str, str]:
        values = self.headers(who) if who is not None else {}
        values.update({k: v for k, v in extra.items() if v is not None})
        return values

    # -- envelopes --------------------------------------------------------------------------

    async def allocate(
        self,
        departement: str = "13",
        amount_cents: int = 10_000_000,
        *,
        kind: str = "allocation",
        who: Principal | None | str = "dinum",
        key: str | None = None,
        reference: str | None = None,
        prefecture: bool = True,
        **extra: Any,
    ) -> Response:
        body: dict[str, Any] = {
            "kind": kind,
            "amount_cents": amount_cents,
            "reference": reference or f"Arrêté {kind} {departement} {amount_cents}",
        }
        if kind == "allocation" and prefecture:
            body.update(PREFECTURES[departement])
        body.update(extra)
        principal = self.actors.dinum if who == "dinum" else who
        assert not isinstance(principal, str)
        return await self.client.post(
            f"{ENVELOPES}/{departement}/allocations",
            json=body,
            headers=self._headers(principal, **{"Idempotency-Key": key}),
        )

    async def envelope(self, departement: str = "13") -> dict[str, Any]:
        response = await self.client.get(
            f"{ENVELOPES}/{departement}", headers=self.headers(self.actors.dinum)
        )
        assert response.status_code == 200, response.text
        return response.json()  # type: ignore[no-any-return]

    async def ledger(
        self, departement: str = "13", who: Principal | None = None, limit: int = 200
    ) -> list[dict[str, Any]]:
        """Every movement, following `next_cursor` page after page."""
        items: list[dict[str, Any]] = []
        params: dict[str, Any] = {"limit": limit}
        while True:
            response = await self.client.get(
                f"{ENVELOPES}/{departement}/ledger",
                params=params,
                headers=self.headers(who or self.actors.dinum),
            )
            assert response.status_code == 200, response.text
            page = response.json()
            items += page["items"]
            if not page.get("next_cursor"):
                return items
            params["cursor"] = page["next_cursor"]

    # -- grants -----------------------------------------------------------------------------

    async def commit(
        self,
        project_id: uuid.UUID,
        amount_cents: int,
        *,
        reference: str = "Comité du 15/06/2021",
        who: Principal | None = None,
    ) -> Grant:
        """What a committee decision will do: commit the grant, then end the 'request'."""
        grant = await grants_service.commit_grant(
            self.session,
            who or self.actors.pref13,
            project_id=project_id,
            amount_cents=amount_cents,
            reference=reference,
        )
        await self.session.commit()
        return grant

    async def project(self, project_id: uuid.UUID) -> Response:
        return await self.client.get(
            f"{PROJECTS}/{project_id}", headers=self.headers(self.actors.dinum)
        )

    async def etag(self, project_id: uuid.UUID) -> str:
        return str((await self.project(project_id)).headers["ETag"])

    async def status(self, project_id: uuid.UUID) -> str:
        return str((await self.project(project_id)).json()["status"])

    async def file_documents(self, project_id: uuid.UUID, step: Step) -> None:
        """R-DOC-1: the documents `step` asks of the dossier, filed by its département's
        prefect when the dossier takes them (R-DOC-2), so that what a test sees of the step is
        its own rules' answer (R-DOC-1 has its own tests)."""
        project = (await self.project(project_id)).json()
        dep = project["departement"]
        prefect = Principal(f"prefet-{dep}", Role.PREFECT, departement=dep)
        if project_upload_refusal(prefect, step, project["status"]) is None:
            await file_required_documents(self.client, self.headers(prefect), project_id, step=step)

    async def convention(
        self,
        project_id: uuid.UUID,
        *,
        who: Principal | None = None,
        etag: str | None = None,
        schedule: list[dict[str, Any]] | None = None,
        reference: str = "CRTE-13-2021-042",
        signed_on: str | None = None,
    ) -> Response:
        await self.file_documents(project_id, Step.CONVENTION)
        if etag is None:
            etag = await self.etag(project_id)
        body = {
            "reference": reference,
            "kind": "crte",
            "signed_on": signed_on or today(),
            "schedule": schedule
            if schedule is not None
            else [
                {"label": "Avance", "kind": "advance", "due_on": today(), "amount_cents": 300_000},
                {"label": "Solde", "kind": "balance", "due_on": today(), "amount_cents": 700_000},
            ],
        }
        return await self.client.post(
            f"{PROJECTS}/{project_id}/convention",
            json=body,
            headers=self._headers(who or self.actors.pref13, **{"If-Match": etag}),
        )

    async def pay(
        self,
        project_id: uuid.UUID,
        kind: str,
        amount_cents: int,
        *,
        who: Principal | None = None,
        key: str | None = None,
        paid_on: str | None = None,
        reference: str | None = None,
    ) -> Response:
        body: dict[str, Any] = {
            "kind": kind,
            "amount_cents": amount_cents,
            "paid_on": paid_on or today(),
        }
        if reference is not None:
            body["reference"] = reference
        return await self.client.post(
            f"{PROJECTS}/{project_id}/payments",
            json=body,
            headers=self._headers(who or self.actors.pref13, **{"Idempotency-Key": key}),
        )

    async def final_report(
        self,
        project_id: uuid.UUID,
        *,
        who: Principal | None = None,
        received_on: str | None = None,
        etag: str | None = None,
    ) -> Response:
        """The final report with the dossier's ETag read just before (R-FLOW-3) unless `etag`
        is given; "" sends none."""
        await self.file_documents(project_id, Step.FINAL_REPORT)
        if etag is None:
            etag = await self.etag(project_id)
        return await self.client.post(
            f"{PROJECTS}/{project_id}/final-report",
            json={"received_on": received_on or today(), "summary": "Service en ligne ouvert."},
            headers=self._headers(who or self.actors.pref13, **{"If-Match": etag or None}),
        )

    async def cancel(
        self,
        project_id: uuid.UUID,
        *,
        who: Principal | None = None,
        etag: str | None = None,
        reason: str = "Projet abandonné par la collectivité.",
    ) -> Response:
        if etag is None:
            etag = await self.etag(project_id)
        return await self.client.post(
            f"{PROJECTS}/{project_id}/cancel",
            json={"reason": reason},
            headers=self._headers(who or self.actors.pref13, **{"If-Match": etag}),
        )

    async def grant(self, project_id: uuid.UUID, *, who: Principal | None = None) -> Response:
        return await self.client.get(
            f"{PROJECTS}/{project_id}/grant", headers=self.headers(who or self.actors.dinum)
        )
