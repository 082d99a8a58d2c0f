"""An async client of démarches-simplifiées' GraphQL API v2 (issue 14).

- Bearer token and URL from settings; connect/read timeouts.
- Retries with exponential backoff on 5xx and network errors, and on 429 after the server's
  `Retry-After` (at most `ds_max_retry_after_seconds`); `ds_max_retries` retries in all.
- Paced under `ds_requests_per_minute` per token within this process (DS allows about 400 a
  minute per token), spacing requests evenly.
- A GraphQL `errors` answer is a `DsGraphQLError`; a mutation's payload `errors`
  (ValidationError) a `DsMutationRefused`.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx

from app.core.config import Settings
from app.ds.rules import MutationKind, backoff_seconds, retry_after_seconds

USER_AGENT = "guichet-fitn7-ds/1"


class DsError(Exception):
    """DS could not be read or written; `retryable` tells whether a later try may succeed."""

    retryable = True

    def __init__(self, message: str, *, status_code: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code


class DsUnavailable(DsError):
    """Network error, timeout, 5xx or 429 after every retry."""


class DsGraphQLError(DsError):
    """The answer carried GraphQL `errors` (bad query, unknown démarche, token refused…)."""


class DsMutationRefused(DsError):
    """A mutation's payload listed `errors`: DS refused this change (e.g. wrong state)."""

    retryable = False


class DsNotConfigured(DsError):
    retryable = False


class _Pacer:
    """Evenly spaced request starts: at most `per_minute` a minute."""

    def __init__(self, per_minute: int) -> None:
        self.interval = 60.0 / per_minute
        self.next_at = 0.0
        self.lock = asyncio.Lock()

    async def wait(self) -> None:
        async with self.lock:
            now = time.monotonic()
            delay = self.next_at - now
            self.next_at = max(now, self.next_at) + self.interval
        if delay > 0:
            await asyncio.sleep(delay)


_pacers: dict[tuple[str, int], _Pacer] = {}


def _pacer(token: str, per_minute: int) -> _Pacer:
    key = (hashlib.sha256(token.encode()).hexdigest(), per_minute)
    if key not in _pacers:
        _pacers[key] = _Pacer(per_minute)
    return _pacers[key]


DOSSIERS_QUERY = """
query dossiers($number: Int!, $first: Int!, $after: String, $updatedSince: ISO8601DateTime) {
  demarche(number: $number) {
    id
    number
    dossiers(first: $first, after: $after, updatedSince: $updatedSince) {
      pageInfo { hasNextPage endCursor }
      nodes {
        id number state archived dateDepot dateDerniereModification
        demandeur { __typename ... on PersonneMorale { siret address { departmentCode } } }
        champs {
          __typename id label stringValue
          ... on TextChamp { value }
          ... on DropDownListChamp { value }
          ... on DecimalNumberChamp { value }
          ... on IntegerNumberChamp { value }
          ... on DateChamp { date }
          ... on DepartementChamp { departement { code name } }
          ... on PieceJustificativeChamp {
            files { url filename checksum byteSize: byteSizeBigInt contentType }
          }
          ... on RepetitionChamp {
            rows {
              id
              champs {
                __typename id label stringValue
                ... on TextChamp { value }
                ... on DropDownListChamp { value }
                ... on DecimalNumberChamp { value }
                ... on IntegerNumberChamp { value }
                ... on DateChamp { date }
              }
            }
          }
        }
      }
    }
  }
}
"""


def mutation_query(kind: MutationKind) -> str:
    input_type = kind.value[0].upper() + kind.value[1:] + "Input"
    return (
        f"mutation {kind.value}($input: {input_type}!) {{ {kind.value}(input: $input) "
        "{ dossier { id state } errors { message } } }"
    )


@dataclass(frozen=True)
class Page:
    nodes: list[Any]
    has_next: bool
    end_cursor: str | None


class DsClient:
    def __init__(
        self,
        settings: Settings,
        *,
        retries: int | None = None,
        http: httpx.AsyncClient | None = None,
    ) -> None:
        if settings.ds_api_token is None:
            raise DsNotConfigured("Le jeton de l'API démarches-simplifiées n'est pas configuré.")
        self.settings = settings
        self.url = settings.ds_api_url
        self.token = settings.ds_api_token.get_secret_value()
        self.retries = settings.ds_max_retries if retries is None else retries
        self.pacer = _pacer(self.token, settings.ds_requests_per_minute)
        timeout = settings.ds_timeout_seconds
        self._owned = http is None
        self.http = http or httpx.AsyncClient(
            timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0)),
            follow_redirects=False,
            trust_env=False,
        )

    async def aclose(self) -> None:
        if self._owned:
            await self.http.aclose()

    async def __aenter__(self) -> DsClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def execute(self, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        """POST one GraphQL request; its `data`, or a DsError."""
        headers = {
            "authorization": f"Bearer {self.token}",
            "content-type": "application/json",
            "user-agent": USER_AGENT,
        }
        attempt = 0
        while True:
            attempt += 1
            await self.pacer.wait()
            wait: float | None
            try:
                response = await self.http.post(
                    self.url, json={"query": query, "variables": variables}, headers=headers
                )
            except httpx.HTTPError as exc:
                failure: DsError = DsUnavailable(f"DS injoignable : {type(exc).__name__}")
                wait = backoff_seconds(attempt)
            else:
                status = response.status_code
                if status == 429:
                    failure = DsUnavailable("DS limite le débit (429).", status_code=status)
                    wait = retry_after_seconds(
                        response.headers.get("retry-after"), datetime.now(UTC)
                    )
                    if wait is None:
                        wait = backoff_seconds(attempt)
                    if wait > self.settings.ds_max_retry_after_seconds:
                        raise failure
                elif status >= 500:
                    failure = DsUnavailable(f"DS répond {status}.", status_code=status)
                    wait = backoff_seconds(attempt)
                else:
                    return self._data(response)
            if attempt > self.retries:
                raise failure
            await asyncio.sleep(wait)

    @staticmethod
    def _data(response: httpx.Response) -> dict[str, Any]:
        try:
            body = response.json()
        except ValueError as exc:
            raise DsUnavailable(
                f"Réponse de DS illisible (HTTP {response.status_code}).",
                status_code=response.status_code,
            ) from exc
        if not isinstance(body, dict):
            raise DsUnavailable("Réponse de DS illisible.", status_code=response.status_code)
        errors = body.get("errors")
        if errors:
            messages = "; ".join(
                str(e.get("message", e)) if isinstance(e, dict) else str(e) for e in errors
            )
            raise DsGraphQLError(
                f"DS a répondu par une erreur GraphQL : {messages}"[:500],
                status_code=response.status_code,
            )
        if response.status_code >= 400 or not isinstance(body.get("data"), dict):
            raise DsGraphQLError(
                f"DS refuse la requête (HTTP {response.status_code}).",
                status_code=response.status_code,
            )
        return body["data"]  # type: ignore[no-any-return]

    async def dossiers(
        self, demarche_number: int, *, updated_since: datetime | None
    ) -> AsyncIterator[Page]:
        """Every page of the démarche's dossiers changed since `updated_since` (Relay)."""
        after: str | None = None
        while True:
            variables: dict[str, Any] = {
                "number": demarche_number,
                "first": min(self.settings.ds_page_size, 100),
                "after": after,
                "updatedSince": updated_since.isoformat() if updated_since else None,
            }
            data = await self.execute(DOSSIERS_QUERY, variables)
            demarche = data.get("demarche")
            connection = demarche.get("dossiers") if isinstance(demarche, dict) else None
            info = connection.get("pageInfo") if isinstance(connection, dict) else None
            nodes = connection.get("nodes") if isinstance(connection, dict) else None
            if not isinstance(info, dict) or not isinstance(nodes, list):
                raise DsGraphQLError("Réponse de DS sans page de dossiers lisible.")
            has_next = info.get("hasNextPage") is True
            cursor = info.get("endCursor")
            yield Page(nodes, has_next, cursor if isinstance(cursor, str) else None)
            if not has_next:
                return
            if not isinstance(cursor, str) or cursor == after:
                raise DsGraphQLError("Pagination de DS incohérente (curseur absent ou répété).")
            after = cursor

    async def mutate(
        self,
        kind: MutationKind,
        *,
        dossier_id: str,
        instructeur_id: str,
        client_mutation_id: str,
        motivation: str | None,
    ) -> dict[str, Any]:
        """Send one mutation; the payload's `errors` (ValidationError) raise DsMutationRefused."""
        payload_input: dict[str, Any] = {
            "dossierId": dossier_id,
            "instructeurId": instructeur_id,
            "clientMutationId": client_mutation_id,
        }
        if motivation is not None and kind is not MutationKind.PASSER_EN_INSTRUCTION:
            payload_input["motivation"] = motivation
        data = await self.execute(mutation_query(kind), {"input": payload_input})
        payload = data.get(kind.value)
        if not isinstance(payload, dict):
            raise DsGraphQLError(f"Réponse de DS sans résultat pour {kind.value}.")
        errors = payload.get("errors") or []
        if errors:
            messages = "; ".join(
                str(e.get("message", e)) if isinstance(e, dict) else str(e) for e in errors
            )
            raise DsMutationRefused(f"DS refuse {kind.value} : {messages}"[:500])
        return payload
