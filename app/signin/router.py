"""/auth/token, /auth/mappings, /auth/proconnect/{login,callback}, /auth/logout and
/.well-known/jwks.json (R-AUTH-2)."""

from __future__ import annotations

import secrets
import uuid
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Body, Depends, Query, Request, Response
from fastapi.responses import RedirectResponse

from app.auth.dependencies import CurrentPrincipal, require_roles
from app.auth.principal import Principal, Role
from app.core import tags
from app.core.config import Settings
from app.core.db import SessionDep
from app.core.errors import example_problem, problems
from app.core.filters import UpdatedSince
from app.core.pagination import CursorFormat, PageParams, page_params_for
from app.core.tokens import TokenVerifier
from app.signin import proconnect, service
from app.signin.errors import LoginFromAnotherBrowser, LoginStateUnknown
from app.signin.models import MappingRule
from app.signin.rules import identity_from_claims
from app.signin.schemas import (
    CodeExchangeRequest,
    LogoutRequest,
    LogoutResponse,
    MappingRuleCreate,
    MappingRuleList,
    MappingRuleRead,
    TokenRequest,
    TokenResponse,
)

router = APIRouter(prefix="/auth", tags=[tags.CONNEXION])
wellknown_router = APIRouter(tags=[tags.CONNEXION])
RULES_CURSOR = CursorFormat("mappings")
Dinum = Annotated[Principal, Depends(require_roles(Role.DINUM))]
# R-AUTH-2 (RFC 6749 §10.12): the login's `state` is bound to the browser that started it by
# this cookie, checked at the callback. `__Host-`: Secure, Path=/ and no Domain, so that no
# other host, subdomain or path can set or overwrite it; HttpOnly; SameSite=Lax, so that it
# rides the top-level GET redirect back from ProConnect and no cross-site subrequest.
LOGIN_COOKIE = "__Host-guichet-proconnect"
LOGIN_COOKIE_ATTRIBUTES = "Path=/; Secure; HttpOnly; SameSite=Lax"
LOGIN_REDIRECT: dict[int | str, dict[str, Any]] = {
    303: {
        "description": "Redirection vers ProConnect (en-tête Location), avec le cookie qui lie "
        "la connexion à ce navigateur.",
        "headers": {
            "Location": {"schema": {"type": "string", "maxLength": 4096}},
            "Set-Cookie": {
                "description": f"`{LOGIN_COOKIE}=<state>; Max-Age=<durée de la connexion>; "
                f"{LOGIN_COOKIE_ATTRIBUTES}` : le `state` de cette connexion, que le retour "
                "de ProConnect doit présenter (R-AUTH-2).",
                "schema": {"type": "string", "maxLength": 512},
            },
        },
    }
}
CALLBACK_REDIRECT: dict[int | str, dict[str, Any]] = {
    303: {
        "description": "Redirection vers la page du front-end (en-tête Location) ; le cookie de "
        "connexion est effacé.",
        "headers": {
            "Location": {"schema": {"type": "string", "maxLength": 4096}},
            "Set-Cookie": {
                "description": f"`{LOGIN_COOKIE}=; Max-Age=0; {LOGIN_COOKIE_ATTRIBUTES}` : "
                "le cookie de connexion, effacé après usage.",
                "schema": {"type": "string", "maxLength": 512},
            },
        },
    }
}

CALLBACK_PROBLEMS = problems(
    401,
    403,
    404,
    422,
    503,
    examples={
        403: example_problem(
            403,
            LoginFromAnotherBrowser.slug,
            LoginFromAnotherBrowser.title,
            LoginFromAnotherBrowser.default_detail,
            "R-AUTH-2",
            instance="/api/v1/auth/proconnect/callback",
        )
    },
)
CALLBACK_PROBLEMS[403]["description"] = (
    "Connexion commencée dans un autre navigateur : cookie de connexion absent ou d'une autre "
    "connexion (R-AUTH-2)."
)


def _cleared_login_cookie() -> str:
    """The Set-Cookie value that removes the login cookie (same attributes, Max-Age=0)."""
    return f"{LOGIN_COOKIE}=; Max-Age=0; {LOGIN_COOKIE_ATTRIBUTES}"


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _service_key(request: Request) -> Any:
    verifier: TokenVerifier = request.app.state.token_verifier
    return verifier.service_key


@router.post(
    "/token",
    summary="Échanger un jeton d'identité ProConnect",
    response_model=TokenResponse,
    responses=problems(401, 403, 404, 422, 503),
)
async def exchange_token(
    request: Request, session: SessionDep, body: Annotated[TokenRequest, Body()]
) -> TokenResponse:
    """Échange (RFC 8693) d'un jeton d'identité ProConnect, ou du code à usage unique remis par
    /auth/proconnect/callback, contre un jeton du service ; le rôle et le périmètre viennent
    des règles de correspondance (R-AUTH-2). Refus : 403 avec la règle appliquée, le SIRET,
    l'organisation et qui contacter."""
    settings = _settings(request)
    spent_code = None
    if isinstance(body, CodeExchangeRequest):
        identity = await service.redeem_code(session, body.code)
        via, spent_code = "server-side code", body.code
    else:
        verifier = proconnect.verifier_of(request.app.state)
        claims = await verifier.verify_id_token(body.subject_token)
        identity = identity_from_claims(claims)
        via = "token exchange"
    return await service.exchange(
        session,
        identity=identity,
        settings=settings,
        service_key=_service_key(request),
        sessionmaker=request.app.state.sessionmaker,
        via=via,
        spent_code=spent_code,
    )


@router.get(
    "/proconnect/login",
    summary="Se connecter à l'aide de ProConnect",
    status_code=303,
    response_class=RedirectResponse,
    responses={**LOGIN_REDIRECT, **problems(404, 503)},
)
async def proconnect_login(request: Request, session: SessionDep) -> RedirectResponse:
    """Démarre la connexion ProConnect (code d'autorisation + PKCE, `state` et `nonce` de
    43 caractères gardés en base) : redirige vers le fournisseur d'identité et pose le cookie
    `__Host-guichet-proconnect` (Secure, HttpOnly, SameSite=Lax, Path=/) qui lie la connexion
    à ce navigateur ; le retour de ProConnect sans ce cookie est refusé (R-AUTH-2)."""
    settings = _settings(request)
    verifier = proconnect.verifier_of(request.app.state)
    proconnect.client_settings(settings)
    state, challenge = await service.start_login(session, settings)
    url = await proconnect.authorization_url(
        verifier, settings, state=state.state, nonce=state.nonce, challenge=challenge
    )
    response = RedirectResponse(url, status_code=303)
    response.set_cookie(
        LOGIN_COOKIE,
        state.state,
        max_age=settings.signin_state_ttl_seconds,
        path="/",
        secure=True,
        httponly=True,
        samesite="lax",
    )
    return response


@router.get(
    "/proconnect/callback",
    summary="Retour de ProConnect après connexion",
    status_code=303,
    response_class=RedirectResponse,
    responses={**CALLBACK_REDIRECT, **CALLBACK_PROBLEMS},
)
async def proconnect_callback(
    request: Request,
    session: SessionDep,
    state: Annotated[str, Query(pattern=r"^[A-Za-z0-9_-]{43}$")],
    code: Annotated[str | None, Query(min_length=1, max_length=512)] = None,
    error: Annotated[str | None, Query(max_length=100, pattern=r"^[a-z_]+$")] = None,
) -> RedirectResponse:
    """Retour de ProConnect : vérifie que le navigateur présente le cookie
    `__Host-guichet-proconnect` posé par /auth/proconnect/login pour ce `state` (sinon 403,
    R-AUTH-2 : connexion commencée dans un autre navigateur), consomme le `state` (usage
    unique), échange le code (PKCE), vérifie le jeton d'identité (`nonce`), puis redirige vers
    la page du front-end avec un code à usage unique et de courte durée (jamais un jeton dans
    une URL), que la page échange sur /auth/token. Le cookie est effacé après usage."""
    settings = _settings(request)
    verifier = proconnect.verifier_of(request.app.state)
    _, _, _, frontend = proconnect.client_settings(settings)
    # R-AUTH-2 (RFC 6749 §10.12): only the browser that started this login may finish it.
    # Checked before the state is consumed: another browser's attempt leaves it to its owner.
    bound = request.cookies.get(LOGIN_COOKIE, "")
    if not secrets.compare_digest(bound.encode("utf-8"), state.encode("ascii")):
        raise LoginFromAnotherBrowser(code="R-AUTH-2")
    cleared = {"Set-Cookie": _cleared_login_cookie()}
    pending = await service.take_login_state(request.app.state.sessionmaker, state)
    if pending is None:
        raise LoginStateUnknown(code="R-AUTH-2", headers=cleared)
    if error is not None or code is None:
        query = urlencode({"error": error or "invalid_request"})
        return RedirectResponse(f"{frontend}?{query}", status_code=303, headers=cleared)
    claims = await proconnect.redeem_authorization_code(
        verifier, settings, code=code, code_verifier=pending.code_verifier, nonce=pending.nonce
    )
    one_time = await service.issue_code(session, identity_from_claims(claims), settings)
    return RedirectResponse(
        f"{frontend}?{urlencode({'code': one_time})}", status_code=303, headers=cleared
    )


@router.post(
    "/logout",
    summary="Se déconnecter de ProConnect",
    response_model=LogoutResponse,
    responses=problems(401, 404, 503),
)
async def logout(
    request: Request,
    principal: CurrentPrincipal,
    body: Annotated[LogoutRequest | None, Body()] = None,
) -> LogoutResponse:
    """L'adresse de déconnexion ProConnect (end_session, avec `state` et, si le front-end le
    donne, `id_token_hint`) où envoyer l'agent ; le jeton du service expire de lui-même."""
    verifier = proconnect.verifier_of(request.app.state)
    url = await proconnect.end_session_url(
        verifier, _settings(request), id_token_hint=body.id_token_hint if body else None
    )
    return LogoutResponse(end_session_url=url)


@router.get(
    "/mappings",
    summary="Lister les règles de correspondance des rôles",
    response_model=MappingRuleList,
    responses=problems(401, 403, 422),
)
async def list_mapping_rules(
    session: SessionDep,
    principal: Dinum,
    page: Annotated[PageParams, Depends(page_params_for(RULES_CURSOR))],
    updated_since: UpdatedSince = None,
) -> MappingRuleList:
    """Les règles de correspondance ProConnect → rôle (R-AUTH-2), gérées par la DINUM."""
    rows, next_cursor = await service.list_rules(session, page=page, updated_since=updated_since)
    return MappingRuleList(
        items=[MappingRuleRead.model_validate(r) for r in rows], next_cursor=next_cursor
    )


MAPPING_RULE_EXAMPLES = {
    "prefet": {
        "summary": "Préfet des Bouches-du-Rhône par le domaine de son adresse",
        "value": {
            "kind": "prefect_email_domain",
            "departement": "13",
            "value": "bouches-du-rhone.gouv.fr",
            "note": "SIRET de la préfecture peu fiable : domaine vérifié par la DINUM.",
        },
    },
    "dinum": {
        "summary": "Agents de la DINUM par le SIREN de leur organisation",
        "value": {"kind": "national_siren", "role": "dinum", "value": "130025265"},
    },
}


@router.post(
    "/mappings",
    summary="Créer une règle de correspondance des rôles",
    status_code=201,
    response_model=MappingRuleRead,
    responses=problems(401, 403, 409, 422),
)
async def create_mapping_rule(
    session: SessionDep,
    principal: Dinum,
    body: Annotated[MappingRuleCreate, Body(openapi_examples=MAPPING_RULE_EXAMPLES)],
) -> MappingRule:
    """Ajoute une règle (R-AUTH-2) : SIRET/SIREN DINUM ou ANCT, SIRET de préfecture ou domaine
    d'adresse d'un département. Chaque ajout est audité."""
    return await service.create_rule(session, principal, body=body)


@router.delete(
    "/mappings/{rule_id}",
    summary="Supprimer une règle de correspondance des rôles",
    status_code=204,
    response_class=Response,
    responses=problems(401, 403, 404),
)
async def delete_mapping_rule(
    rule_id: uuid.UUID, session: SessionDep, principal: Dinum
) -> Response:
    """Retire une règle (R-AUTH-2) ; audité."""
    await service.delete_rule(session, principal, rule_id=rule_id)
    return Response(status_code=204)


@wellknown_router.get("/.well-known/jwks.json", summary="Clés publiques des jetons du service")
async def jwks(request: Request) -> dict[str, list[dict[str, str]]]:
    """Les clés publiques des jetons émis par le service (R-AUTH-2)."""
    key = _service_key(request)
    return {"keys": [key.public_jwk] if key is not None else []}
