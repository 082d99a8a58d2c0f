"""Examples of the contract (issue 12): every request body and every 2xx JSON answer shows one.

An example set on the model or the route (`json_schema_extra`, `openapi_examples`) wins; else
one is built from the schema itself, with realistic values by field name (a dossier of
Marseille, strand 3c, amounts in cents), so that it always matches the schema it illustrates
(the contract test validates each one).
"""

from __future__ import annotations

import re
from typing import Any

from app.contract.example_answers import DOCUMENTED_IDS, captured
from app.contract.example_bodies import (
    OPERATION_REQUEST_EXAMPLES,
    REQUEST_COMPONENT_EXAMPLES,
    RESPONSE_COMPONENT_EXAMPLES,
)

COMPONENT_REF = "#/components/schemas/"

_UUIDS = {
    **DOCUMENTED_IDS,
    "line_id": "2e3f4a5b-6c7d-4e8f-9a0b-1c2d3e4f5a60",
}
_DEFAULT_UUID = "0f1e2d3c-4b5a-4968-8776-5a4b3c2d1e0f"

# Realistic values by field name (a commune of the Bouches-du-Rhône files a 3c dossier).
_VALUES: dict[str, Any] = {
    "departement": "13",
    "to_departement": "84",
    "provider_departement": "13",
    "region": "93",
    "siren": "211300553",
    "siret": "21130055300016",
    "prefecture_siret": "17130001800011",
    "idAttribuant": "17130001800011",
    "idBeneficiaire": "21130055300016",
    "commune_insee": "13055",
    "strand": "3c",
    "category": "development",
    "title": "Prise de rendez-vous en ligne pour l'état civil",
    "description": "Un service en ligne de prise de rendez-vous pour les démarches d'état civil.",
    "objectives": "Réduire l'attente au guichet et ouvrir le service le soir.",
    "replicability": "Reprenable par toute commune : code publié sous licence libre.",
    "name": "Mme Camille Martin",
    "candidate_name": "Commune de Marseille",
    "nomBeneficiaire": "Commune de Marseille",
    "prefecture_name": "Préfecture des Bouches-du-Rhône",
    "role": "Maire",
    "email": "camille.martin@marseille.fr",
    "phone": "04 91 55 11 11",
    "label": "Développement du service de rendez-vous",
    "funder": "Région Provence-Alpes-Côte d'Azur",
    "message": "Précisez le plan de financement : la part régionale manque.",
    "reason": "Projet abandonné par la commune.",
    "status_message": "Précisez le plan de financement : la part régionale manque.",
    "motivation": "Projet déjà financé par un autre dispositif.",
    "reference": "DEC-2021-013-0042",
    "summary": "Service ouvert le 15 mars 2022 : 12 000 rendez-vous pris en trois mois.",
    "comments": "Projet solide, équipe disponible, budget cohérent.",
    "skills": "Chef de projet numérique, développement web",
    "url": "https://hooks.exemple.fr/guichet",
    "secret": "whsec_c2VjcmV0LWV4ZW1wbGU=",
    "hash": "9" * 64,
    "prev_hash": "8" * 64,
    "head_hash": "9" * 64,
    "key_id": "2026-12",
    "jws": "eyJhbGciOiJFUzI1NiIsImtpZCI6Imd1aWNoZXQtMjAyNiIsInR5cCI6ImF1ZGl0LWNoZWNrcG9pbnQrand0In0"
    ".eyJoZWFkX3NlcSI6NDIsImhlYWRfaGFzaCI6Ijk5OTkifQ.c2lnbmF0dXJl",
    "weighted_total": "3.45",
    "mean_weighted_total": "3.45",
    "advisory_mean_weighted_total": "3.10",
    "month": "2021-04",
    "period_from": "2021-01-01",
    "period_to": "2021-12-31",
    "datesPeriodeVersement": "2021-06-01/2022-06-30",
    "code": "impact",
    "field": "seq",
    "if_match": '"v1"',
    "etag": '"v1"',
    "current_etag": '"v1"',
    "detail": "Le dossier a été déposé.",
    "subject": "agent-marseille",
    "actor": "prefet-13",
    "next_cursor": None,
    # Absent in a healthy answer: null rather than an invented error.
    "last_error": None,
    "error": None,
    "disabled_reason": None,
    "flag_reason": None,
    "verification_reason": None,
    "programme": "FITN7-AXE3",
    "programme_code": "FITN7-AXE3",
    "dispositif_aide": "France Relance - Transformation numérique des collectivités (axe 3)",
    "dispositifAide": "France Relance - Transformation numérique des collectivités (axe 3)",
    "nomAttribuant": "Préfecture des Bouches-du-Rhône",
    "objet": "Prise de rendez-vous en ligne pour l'état civil",
    "referenceDecision": "Comité de sélection FITN7 du 15/06/2021",
    "decision_reference": "Comité de sélection FITN7 du 15/06/2021",
    "project_status": "under_convention",
    "forfait_tier": None,
    "filename": "deliberation-conseil-municipal.pdf",
    "content_type": "application/pdf",
    "allowed_types": "application/pdf",
    "uploaded_by": "agent-marseille",
    "uploaded_role": "candidate",
    "evaluator": "prefet-13",
    "actor_role": "prefect",
    "created_by": "agent-dinum",
    "note": "SIRET de la préfecture peu fiable : domaine vérifié par la DINUM.",
    "mapping_rule": "Domaine d'adresse bouches-du-rhone.gouv.fr (préfecture du 13)",
    "dossier_id": "RG9zc2llci0xMjM0NTY3",
    "ds_state": "en_instruction",
    "champ": "Délibération du conseil municipal",
    "message_id": "<3f2c9a1e.decision@guichet.numerique.gouv.fr>",
    "end_session_url": "https://auth.agentconnect.gouv.fr/api/v2/session/end"
    "?state=c3RhdGUtZGUtZGVjb25uZXhpb24",
    "access_token": "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9"
    ".eyJzdWIiOiJwcmVmZXQtMTMiLCJyb2xlIjoicHJlZmVjdCJ9.c2lnbmF0dXJl",
    "revision": "0f3a2b1c4d5e",
    "rule": "R-EXCL-1",
    "action": "project.submitted",
    "expected": "9" * 64,
    "found": "8" * 64,
    "source": "Référentiel des collectivités (INSEE, COG 2021)",
    "text": "Bonjour,\n\nLe comité de sélection du 15 juin 2021 a retenu votre dossier.",
    "html": "<p>Bonjour,</p><p>Le comité de sélection du 15 juin 2021 a retenu votre dossier.</p>",
}

# Where a field's name means different things in different objects: by "Component.field".
_BY_OWNER: dict[str, Any] = {
    "AgendaItemRead.status": "in_review",
    "StatusCount.status": "submitted",
    "SyncItem.status": "submitted",
    "GrantRead.project_status": "under_convention",
    "Health.status": "ok",
    "Readiness.status": "ok",
    "AllowedUpload.kind": "deliberation",
    "AttachmentItem.kind": "deliberation",
    "DocumentRead.kind": "deliberation",
    "DocumentEntry.kind": "deliberation",
    "KindFigures.kind": "commune",
    "MutationRead.kind": "project.status_changed",
    "ChampFields.kind": "Type de collectivité",
    "AuditObject.type": "project",
    "AuditObject.id": "3f2c9a1e-8b4d-4e6f-9a0b-1c2d3e4f5a6b",
    "AuditActor.scope": "13",
    "MeRead.scope": "département 13",
    "TokenResponse.scope": "role:prefect departement:13",
    "MeRead.mapping_rule": None,
    "TokenResponse.mapping_rule": "Domaine d'adresse bouches-du-rhone.gouv.fr (préfecture du 13)",
    "MappingRuleRead.value": "bouches-du-rhone.gouv.fr",
    "PrefectEmailDomainRule.value": "bouches-du-rhone.gouv.fr",
    "NationalSirenRule.value": "130025265",
    "NationalSiretRule.value": "13002526500013",
    "PrefectSiretRule.value": "13002526500138",
    "CandidateRead.epci_type": None,
    "CollectiviteRead.epci_type": None,
    "CollectiviteRead.departements": "13",
    "ForfaitTier.epci_types": "CA",
    "ChampFields.nature": "Nature du projet",
    "ChampFields.requested": "Montant de subvention demandé (€)",
    "ChampFields.sponsor_name": "Nom de l'élu qui porte le projet",
    "ChampFields.sponsor_role": "Fonction de l'élu qui porte le projet",
    "ExpenseFields.amount": "Montant TTC (€)",
    "ExpenseFields.block": "Postes de dépense",
    "ProgrammePreviewRead.submission_documents": "deliberation",
    "RequiredDocument.strands": "3c",
    "SubventionRecord.volet": "3c",
    "CollectiviteRead.source": "Référentiel des collectivités (INSEE, COG 2021)",
}
_DATES = {
    "start_on": "2021-04-01",
    "end_on": "2022-06-30",
    "meeting_on": "2021-06-15",
    "signed_on": "2021-07-01",
    "paid_on": "2021-07-15",
    "due_on": "2021-07-15",
    "received_on": "2022-07-10",
    "window_opens_on": "2021-01-15",
    "window_closes_on": "2021-12-31",
    "results_deadline": "2022-12-31",
}
_DEFAULT_DATE = "2021-03-15"
_DEFAULT_DATETIME = "2021-03-15T09:30:00Z"
_CENTS = {
    "requested_cents": 1_000_000,
    "total_cost_cents": 2_000_000,
    "amount_cents": 2_000_000,
    "granted_cents": 1_000_000,
}


_COUNTS = {
    "agents_impacted": 40,
    "users_impacted": 12_000,
    "availability_pct": 50,
    "max_duration_months": 24,
    "committee_filing_threshold": 10,
    "committee_max_interval_days": 31,
    "small_population_threshold": 5_000,
}


def _resolve(schema: dict[str, Any], components: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith(COMPONENT_REF):
        target: dict[str, Any] = components[ref.removeprefix(COMPONENT_REF)]
        return target
    return schema


def _string(name: str, schema: dict[str, Any], owner: str = "") -> Any:
    fmt = schema.get("format")
    if fmt == "uuid":
        return _UUIDS.get(name, _DEFAULT_UUID)
    if fmt == "date" or name in _DATES:
        return _DATES.get(name, _DEFAULT_DATE)
    if fmt == "date-time":
        return _DEFAULT_DATETIME
    pattern = schema.get("pattern")
    value = _BY_OWNER.get(f"{owner}.{name}", _VALUES.get(name))
    if isinstance(value, str) and (pattern is None or re.search(pattern, value)):
        return _fit(value, schema)
    if pattern is not None:
        found = re.fullmatch(r"\^\(([^|()]+)\|.*\)\$", pattern)
        if found:  # an alternation of words: the first
            return found.group(1)
    # Issue 27 §2: never a placeholder; a field without a value of its own stops the export.
    raise ValueError(f"no example value for the field {owner}.{name}: add one to _VALUES")


def _fit(value: str, schema: dict[str, Any]) -> str:
    limit = schema.get("maxLength")
    return value[:limit] if isinstance(limit, int) else value


def _integer(name: str, schema: dict[str, Any]) -> int:
    if name in _CENTS:
        value = _CENTS[name]
    elif name.endswith("_cents"):
        value = 500_000
    elif name.endswith("_bps"):
        value = 5_000
    elif name == "version":
        value = 1
    elif name == "population":
        value = 870_731
    elif name in _COUNTS:
        value = _COUNTS[name]
    elif name.endswith("status_code"):
        value = 200
    elif name.endswith("latency_ms"):
        value = 120
    else:
        value = 1
    low = schema.get("minimum")
    high = schema.get("maximum")
    if isinstance(low, int | float) and value < low:
        value = int(low)
    if isinstance(high, int | float) and value > high:
        value = int(high)
    return value


def build_example(
    schema: dict[str, Any],
    components: dict[str, Any],
    name: str = "",
    depth: int = 0,
    owner: str = "",
) -> Any:
    """A value of `schema`, realistic by `name` (in the component `owner`), following component
    references."""
    ref = schema.get("$ref")
    here = ref.removeprefix(COMPONENT_REF) if isinstance(ref, str) else owner
    schema = _resolve(schema, components)
    for key in ("example", "const", "default"):
        if key in schema and schema[key] is not None:
            return schema[key]
    if isinstance(schema.get("examples"), list) and schema["examples"]:
        return schema["examples"][0]
    if "enum" in schema:
        return schema["enum"][0]
    for key in ("anyOf", "oneOf", "allOf"):
        branches = schema.get(key)
        if isinstance(branches, list) and branches:
            usable = [b for b in branches if b != {"type": "null"}]
            key = f"{owner}.{name}"
            value = _BY_OWNER[key] if key in _BY_OWNER else _VALUES.get(name, "")
            if not usable or value is None:
                return None
            return build_example(usable[0], components, name, depth, owner)
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        if depth > 6:
            return {}
        properties: dict[str, Any] = schema.get("properties", {})
        return {
            key: build_example(sub, components, key, depth + 1, here)
            for key, sub in properties.items()
        }
    if kind == "array":
        if depth > 6:
            return []
        count = max(1, schema.get("minItems", 1) or 1)
        item = build_example(schema.get("items", {}), components, name, depth + 1, owner)
        return [item] * count
    if kind == "string":
        return _string(name, schema, owner)
    if kind == "integer":
        return _integer(name, schema)
    if kind == "number":
        return 1.0
    if kind == "boolean":
        return name not in {"conflict_of_interest"}
    if kind == "null":
        return None
    return None


def has_example(media: dict[str, Any], components: dict[str, Any]) -> bool:
    if "example" in media or media.get("examples"):
        return True
    target = _resolve(media.get("schema", {}), components)
    return bool(target.get("examples")) or "example" in target


def add_examples(schema: dict[str, Any]) -> None:
    """Give every JSON request body and 2xx JSON answer of the contract an example."""
    components: dict[str, Any] = schema.get("components", {}).get("schemas", {})
    for name, example in (REQUEST_COMPONENT_EXAMPLES | RESPONSE_COMPONENT_EXAMPLES).items():
        if name in components and not components[name].get("examples"):
            components[name]["examples"] = example if isinstance(example, list) else [example]
    for path_item in schema.get("paths", {}).values():
        for operation in path_item.values():
            named = OPERATION_REQUEST_EXAMPLES.get(operation.get("operationId", ""))
            media = operation.get("requestBody", {}).get("content", {}).get("application/json")
            if named is not None and media is not None:
                media.pop("example", None)
                media["examples"] = named
    for item in schema.get("paths", {}).values():
        for method, operation in item.items():
            if method not in {"get", "post", "put", "patch", "delete"}:
                continue
            medias = list(operation.get("requestBody", {}).get("content", {}).items())
            answers = captured().get(operation.get("operationId", ""), {})
            for status, response in operation.get("responses", {}).items():
                if status.startswith("2"):
                    medias += list(response.get("content", {}).items())
                    json_media = response.get("content", {}).get("application/json")
                    if status in answers and json_media is not None:
                        # issue 27 §2: the service's own answer in the scenario
                        json_media.pop("examples", None)
                        json_media["example"] = answers[status]
            for media_type, media in medias:
                if "json" not in media_type or "schema" not in media:
                    continue
                if not has_example(media, components):
                    media["example"] = build_example(media["schema"], components)
