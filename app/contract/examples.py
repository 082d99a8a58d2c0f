"""Examples of the contract (issue 12): every request body and every 2xx JSON answer shows one.

An example set on the model or the route (`json_schema_extra`, `openapi_examples`) wins; else
one is built from the schema itself, with realistic values by field name (a dossier of
Marseille, strand 3c, amounts in cents), so that it always matches the schema it illustrates
(the contract test validates each one).
"""

from __future__ import annotations

import re
from typing import Any

COMPONENT_REF = "#/components/schemas/"

_UUIDS = {
    "project_id": "3f2c9a1e-8b4d-4e6f-9a0b-1c2d3e4f5a6b",
    "candidate_id": "7a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d",
    "committee_id": "5b6c7d8e-9f0a-4b1c-8d2e-3f4a5b6c7d8e",
    "evaluation_id": "9c8b7a6f-5e4d-4c3b-8a29-18f7e6d5c4b3",
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


def _string(name: str, schema: dict[str, Any]) -> Any:
    fmt = schema.get("format")
    if fmt == "uuid":
        return _UUIDS.get(name, _DEFAULT_UUID)
    if fmt == "date" or name in _DATES:
        return _DATES.get(name, _DEFAULT_DATE)
    if fmt == "date-time":
        return _DEFAULT_DATETIME
    pattern = schema.get("pattern")
    value = _VALUES.get(name)
    if isinstance(value, str) and (pattern is None or re.search(pattern, value)):
        return _fit(value, schema)
    if pattern is not None:
        found = re.fullmatch(r"\^\(([^|()]+)\|.*\)\$", pattern)
        if found:  # an alternation of words: the first
            return found.group(1)
        for candidate in _PATTERN_CANDIDATES:
            if re.search(pattern, candidate):
                return _fit(candidate, schema)
    return _fit("Texte en français.", schema)


# Tried in turn on a pattern no value by name matches.
_PATTERN_CANDIDATES = ("3c", "impact", "2021-06-15", "13", "Texte en français.")


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
    schema: dict[str, Any], components: dict[str, Any], name: str = "", depth: int = 0
) -> Any:
    """A value of `schema`, realistic by `name`, following component references."""
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
            if not usable or (name in _VALUES and _VALUES[name] is None):
                return None
            return build_example(usable[0], components, name, depth)
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        if depth > 6:
            return {}
        properties: dict[str, Any] = schema.get("properties", {})
        return {
            key: build_example(sub, components, key, depth + 1) for key, sub in properties.items()
        }
    if kind == "array":
        if depth > 6:
            return []
        count = max(1, schema.get("minItems", 1) or 1)
        item = build_example(schema.get("items", {}), components, name, depth + 1)
        return [item] * count
    if kind == "string":
        return _string(name, schema)
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


# The examples of bodies that name the default programme's data (its strands, its expense
# categories): documentation data, kept here rather than in the models (issue 26: no call in
# the code), set on their component unless it has its own.
COMPONENT_EXAMPLES: dict[str, dict[str, Any]] = {
    "ProjectCreate": {
        "strand": "3c",
        "title": "Prise de rendez-vous en ligne pour l'état civil",
        "description": "Un service de prise de rendez-vous en ligne et par téléphone.",
        "nature": "modernisation",
        "start_on": "2021-03-01",
        "end_on": "2022-06-30",
        "sponsor": {"name": "Mme la Maire", "role": "Maire"},
        "agents_impacted": 40,
        "users_impacted": 20000,
        "expense_lines": [
            {"category": "development", "label": "Développement", "amount_cents": 4_000_000},
            {
                "category": "software_licence",
                "label": "Licence",
                "amount_cents": 300_000,
                "vendor_origin": "extra_eu",
            },
        ],
        "other_funding": [{"funder": "Région", "amount_cents": 500_000}],
        "requested_cents": 3_000_000,
    },
    "MappingIn": {
        "fields": {
            "siret": "SIRET de la collectivité",
            "kind": "Type de collectivité",
            "departement": "Département",
            "strand": "Volet sollicité",
            "title": "Intitulé du projet",
            "description": "Description du projet",
            "start_on": "Date de début du projet",
            "end_on": "Date de fin du projet",
            "requested": "Montant de subvention demandé (€)",
            "sponsor_name": "Élu ou responsable qui porte le projet",
            "sponsor_role": "Élu ou responsable qui porte le projet",
        },
        "nature": "modernisation",
        "kinds": [{"label": "Commune", "kind": "commune"}],
        "strands": [{"label": "3c - Projet améliorant la relation à l'usager", "strand": "3c"}],
        "expenses": {
            "block": "Postes de dépense",
            "category": "Nature de la dépense",
            "label": "Libellé",
            "amount": "Montant TTC (€)",
        },
        "categories": [{"label": "Formation des agents", "category": "training"}],
    },
}


def add_examples(schema: dict[str, Any]) -> None:
    """Give every JSON request body and 2xx JSON answer of the contract an example."""
    components: dict[str, Any] = schema.get("components", {}).get("schemas", {})
    for name, example in COMPONENT_EXAMPLES.items():
        if name in components and not components[name].get("examples"):
            components[name]["examples"] = [example]
    for item in schema.get("paths", {}).values():
        for method, operation in item.items():
            if method not in {"get", "post", "put", "patch", "delete"}:
                continue
            medias = list(operation.get("requestBody", {}).get("content", {}).items())
            for status, response in operation.get("responses", {}).items():
                if status.startswith("2"):
                    medias += list(response.get("content", {}).items())
            for media_type, media in medias:
                if "json" not in media_type or "schema" not in media:
                    continue
                if not has_example(media, components):
                    media["example"] = build_example(media["schema"], components)
