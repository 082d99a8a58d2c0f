"""Drives committees through the API as a front-end would: plan, set the agenda, decide,
close, read the minutes and a dossier's decision."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from httpx import AsyncClient, Response

from app.auth.principal import Principal
from app.core import clock
from tests.api.budgets.driver import Headers
from tests.conftest import Actors

COMMITTEES = "/api/v1/committees"
PROJECTS = "/api/v1/projects"
MEMBERS = [
    {"name": "M. le Préfet", "role": "Préfet"},
    {"name": "Mme la Sous-préfète", "role": "Sous-préfète à la relance"},
]


class Committees:
    def __init__(self, client: AsyncClient, headers: Headers, actors: Actors) -> None:
        self.client, self.headers, self.actors = client, headers, actors

    def _h(self, who: Principal | None, **extra: str | None) -> dict[str, str]:
        values = self.headers(who or self.actors.pref13)
        values.update({k: v for k, v in extra.items() if v is not None})
        return values

    async def create(
        self, *, who: Principal | None = None, meeting_on: str | None = None, **extra: Any
    ) -> Response:
        """Plan a committee meeting on `meeting_on`, by default the service's today (R-COM-2:
        decisions are recorded on or after the meeting date)."""
        body = {"meeting_on": meeting_on or clock.today().isoformat(), "members": MEMBERS, **extra}
        return await self.client.post(COMMITTEES, json=body, headers=self._h(who))

    async def new(self, *, who: Principal | None = None, **extra: Any) -> str:
        response = await self.create(who=who, **extra)
        assert response.status_code == 201, response.text
        return str(response.json()["id"])

    async def etag(self, committee_id: str, who: Principal | None = None) -> str:
        """The committee's ETag as `who` reads it (a dummy one when `who` cannot read it)."""
        read = await self.read(committee_id, who=who)
        return str(read.headers["ETag"]) if read.status_code == 200 else '"v1"'

    async def _if_match(
        self, committee_id: str, who: Principal | None, etag: str | None
    ) -> str | None:
        """If-Match: the ETag read just before unless given; "" sends none (R-FLOW-3 tests)."""
        if etag is None:
            return await self.etag(committee_id, who)
        return etag or None

    async def agenda(
        self,
        committee_id: str,
        add: Sequence[uuid.UUID] = (),
        remove: Sequence[uuid.UUID] = (),
        *,
        who: Principal | None = None,
        etag: str | None = None,
    ) -> Response:
        if_match = await self._if_match(committee_id, who, etag)
        return await self.client.post(
            f"{COMMITTEES}/{committee_id}/agenda",
            json={"add": [str(p) for p in add], "remove": [str(p) for p in remove]},
            headers=self._h(who, **{"If-Match": if_match}),
        )

    async def decide(
        self,
        committee_id: str,
        project_id: uuid.UUID,
        outcome: str,
        granted_cents: int | None = None,
        motivation: str | None = None,
        *,
        who: Principal | None = None,
        key: str | None = None,
        etag: str | None = None,
    ) -> Response:
        if_match = await self._if_match(committee_id, who, etag)
        body: dict[str, Any] = {"project_id": str(project_id), "outcome": outcome}
        if granted_cents is not None:
            body["granted_cents"] = granted_cents
        if motivation is not None:
            body["motivation"] = motivation
        return await self.client.post(
            f"{COMMITTEES}/{committee_id}/decisions",
            json=body,
            headers=self._h(who, **{"Idempotency-Key": key, "If-Match": if_match}),
        )

    async def close(
        self,
        committee_id: str,
        *,
        who: Principal | None = None,
        key: str | None = None,
        etag: str | None = None,
    ) -> Response:
        if_match = await self._if_match(committee_id, who, etag)
        return await self.client.post(
            f"{COMMITTEES}/{committee_id}/close",
            headers=self._h(who, **{"Idempotency-Key": key, "If-Match": if_match}),
        )

    async def cancel(
        self, committee_id: str, *, who: Principal | None = None, etag: str | None = None
    ) -> Response:
        if_match = await self._if_match(committee_id, who, etag)
        return await self.client.post(
            f"{COMMITTEES}/{committee_id}/cancel", headers=self._h(who, **{"If-Match": if_match})
        )

    async def read(self, committee_id: str, *, who: Principal | None = None) -> Response:
        return await self.client.get(f"{COMMITTEES}/{committee_id}", headers=self._h(who))

    async def minutes(self, committee_id: str, *, who: Principal | None = None) -> Response:
        return await self.client.get(f"{COMMITTEES}/{committee_id}/minutes", headers=self._h(who))

    async def status(self, *, who: Principal | None = None) -> dict[str, dict[str, Any]]:
        response = await self.client.get(f"{COMMITTEES}/status", headers=self._h(who))
        assert response.status_code == 200, response.text
        return {row["departement"]: row for row in response.json()["items"]}

    async def decision(self, project_id: uuid.UUID, *, who: Principal | None = None) -> Response:
        return await self.client.get(f"{PROJECTS}/{project_id}/decision", headers=self._h(who))

    async def grant(
        self, project_id: uuid.UUID, amount_cents: int, *, who: Principal | None = None
    ) -> dict[str, Any]:
        """What a whole committee does for one dossier: plan, put it on the agenda, accept it
        with `amount_cents`, close. Returns the closed committee."""
        committee_id = await self.new(who=who)
        assert (await self.agenda(committee_id, [project_id], who=who)).status_code == 200
        decided = await self.decide(committee_id, project_id, "accepted", amount_cents, who=who)
        assert decided.status_code == 200, decided.text
        closed = await self.close(committee_id, who=who)
        assert closed.status_code == 200, closed.text
        return closed.json()  # type: ignore[no-any-return]
