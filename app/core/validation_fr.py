"""Validation errors told in French, with what the client needs to fix them (issue 27 point 4).

Pydantic's messages are English ("Input should be…", "Value error, …"): none of them reaches a
client. Each error type is told in French with its constraint (the allowed values of an enum,
the bound of a number, the length of a text or a list, the pattern of a text, the expected form
of a date); the app's own validators (`PydanticCustomError`, `ValueError`) already speak French
and are kept, without pydantic's "Value error, " prefix. A built-in type not listed here gets a
French generic message, never pydantic's English.

`body_pointer` turns a body error's location into the JSON pointer of the field as the client
sent it: pydantic inserts the tag of a discriminated union (`/rejected/motivation`) or a member's
name of a plain union into the location; those steps are not in the body and are dropped.
"""

from __future__ import annotations

import re
import typing
from collections.abc import Callable, Mapping
from typing import Any

from pydantic_core.core_schema import ErrorType

BUILTIN_ERROR_TYPES = frozenset(typing.get_args(ErrorType))

_QUOTED = re.compile(r"^'(.*)'$|^\"(.*)\"$")


def allowed_values(expected: str) -> list[str]:
    """The values of pydantic's `expected` ("'3a', '3b' or '3c'") as sent by a client."""
    parts = [p.strip() for p in expected.replace(" or ", ", ").split(", ") if p.strip()]
    values = []
    for part in parts:
        quoted = _QUOTED.match(part)
        values.append(next(g for g in quoted.groups() if g is not None) if quoted else part)
    return values


def _number(value: Any) -> str:
    return str(value)


def _sentence(text: str) -> str:
    """A French message of a validator ("un entier JSON est attendu") as a sentence."""
    text = text.strip()
    if not text:
        return "Valeur invalide."
    text = text[0].upper() + text[1:]
    return text if text.endswith((".", "!", "?", ")")) else text + "."


def _one_of(ctx: Mapping[str, Any]) -> str:
    values = allowed_values(str(ctx.get("expected", "")))
    if not values:
        return "Valeur non autorisée."
    if len(values) == 1:
        return f"Valeur non autorisée : attendu {values[0]}."
    return f"Valeur non autorisée : attendu l'une de : {', '.join(values)}."


def _unquoted(value: Any) -> str:
    values = allowed_values(str(value or ""))
    return values[0] if values else ""


def _items(count: Any) -> str:
    return "élément" if count == 1 else "éléments"


def _chars(count: Any) -> str:
    return "caractère" if count == 1 else "caractères"


# Speedate's reasons (pydantic's date and date-time parsing), by a word they contain.
_DATE_REASONS = (
    ("month", "mois hors de 01 à 12"),
    ("day value", "jour inexistant dans ce mois"),
    ("hour", "heure hors de 00 à 23"),
    ("minute", "minutes hors de 00 à 59"),
    ("second", "secondes invalides"),
    ("timezone", "décalage horaire invalide"),
    ("year", "année invalide"),
)

DATE_FORM = "AAAA-MM-JJ (ex. 2021-03-01)"
DATETIME_FORM = "date-heure ISO 8601 (ex. 2021-03-01T08:30:00Z)"


def _date_reason(ctx: Mapping[str, Any]) -> str:
    error = str(ctx.get("error", ""))
    for word, reason in _DATE_REASONS:
        if word in error:
            return f" ({reason})"
    return ""


def _date(ctx: Mapping[str, Any]) -> str:
    return f"Date invalide{_date_reason(ctx)} : attendu {DATE_FORM}."


def _datetime(ctx: Mapping[str, Any]) -> str:
    return f"Date-heure invalide{_date_reason(ctx)} : attendu une {DATETIME_FORM}."


def _too_short(ctx: Mapping[str, Any]) -> str:
    n = ctx.get("min_length")
    return f"Liste trop courte : au moins {n} {_items(n)}."


def _too_long(ctx: Mapping[str, Any]) -> str:
    n = ctx.get("max_length")
    return f"Liste trop longue : au plus {n} {_items(n)}."


def _validator(ctx: Mapping[str, Any]) -> str:
    return _sentence(str(ctx.get("error", "")))


_MESSAGES: dict[str, Callable[[Mapping[str, Any]], str]] = {
    "missing": lambda c: "Champ obligatoire manquant.",
    "extra_forbidden": lambda c: (
        "Champ inconnu ou réservé au serveur : il ne peut pas être envoyé."
    ),
    "string_too_short": lambda c: (
        f"Texte trop court : au moins {c.get('min_length')} {_chars(c.get('min_length'))}."
    ),
    "string_too_long": lambda c: (
        f"Texte trop long : au plus {c.get('max_length')} {_chars(c.get('max_length'))}."
    ),
    "string_pattern_mismatch": lambda c: (
        f"Format invalide : le texte doit suivre le motif {c.get('pattern')}."
    ),
    "too_short": _too_short,
    "too_long": _too_long,
    "greater_than_equal": lambda c: f"Valeur trop petite : minimum {_number(c.get('ge'))}.",
    "greater_than": lambda c: f"Valeur trop petite : strictement plus de {_number(c.get('gt'))}.",
    "less_than_equal": lambda c: f"Valeur trop grande : maximum {_number(c.get('le'))}.",
    "less_than": lambda c: f"Valeur trop grande : strictement moins de {_number(c.get('lt'))}.",
    "multiple_of": lambda c: (
        f"Valeur invalide : multiple de {_number(c.get('multiple_of'))} attendu."
    ),
    "enum": _one_of,
    "literal_error": _one_of,
    "int_parsing": lambda c: "Un entier est attendu.",
    "int_type": lambda c: "Un entier est attendu.",
    "int_from_float": lambda c: "Un entier est attendu (sans partie décimale).",
    "float_parsing": lambda c: "Un nombre est attendu.",
    "float_type": lambda c: "Un nombre est attendu.",
    "finite_number": lambda c: "Un nombre fini est attendu.",
    "bool_parsing": lambda c: "Un booléen est attendu (true ou false).",
    "bool_type": lambda c: "Un booléen est attendu (true ou false).",
    "string_type": lambda c: "Un texte est attendu.",
    "string_unicode": lambda c: "Un texte Unicode valide est attendu.",
    "dict_type": lambda c: "Un objet JSON est attendu.",
    "model_type": lambda c: "Un objet JSON est attendu.",
    "model_attributes_type": lambda c: "Un objet JSON est attendu.",
    "list_type": lambda c: "Une liste JSON est attendue.",
    "set_type": lambda c: "Une liste JSON (sans doublon) est attendue.",
    "tuple_type": lambda c: "Une liste JSON est attendue.",
    "none_required": lambda c: "La valeur doit être null.",
    "uuid_parsing": lambda c: "Identifiant (UUID) invalide.",
    "uuid_type": lambda c: "Identifiant (UUID) invalide.",
    "uuid_version": lambda c: f"Identifiant (UUID) de version {c.get('expected_version')} attendu.",
    "date_parsing": _date,
    "date_from_datetime_parsing": _date,
    "date_from_datetime_inexact": _date,
    "date_type": _date,
    "datetime_parsing": _datetime,
    "datetime_from_date_parsing": _datetime,
    "datetime_type": _datetime,
    "datetime_object_invalid": _datetime,
    "timezone_aware": lambda c: (
        "Date-heure avec décalage horaire attendue (ex. 2021-03-01T08:30:00Z)."
    ),
    "timezone_naive": lambda c: "Date-heure sans décalage horaire attendue.",
    "url_parsing": lambda c: "Adresse (URL) invalide : une URL absolue est attendue.",
    "url_type": lambda c: "Adresse (URL) invalide : une URL absolue est attendue.",
    "url_too_long": lambda c: (
        f"Adresse (URL) trop longue : au plus {c.get('max_length')} caractères."
    ),
    "url_scheme": lambda c: f"Schéma d'URL non autorisé : attendu {c.get('expected_schemes')}.",
    "union_tag_invalid": lambda c: (
        f"Valeur non autorisée pour {_unquoted(c.get('discriminator'))} : attendu l'une de : "
        f"{', '.join(allowed_values(str(c.get('expected_tags', ''))))}."
    ),
    "union_tag_not_found": lambda c: (
        f"Champ obligatoire manquant : {_unquoted(c.get('discriminator'))}."
    ),
    "value_error": _validator,
    "assertion_error": _validator,
    "recursion_loop": lambda c: "Structure trop imbriquée ou circulaire.",
}


def french_message(err: Mapping[str, Any]) -> str:
    """The French message of one pydantic error: never pydantic's English."""
    err_type = str(err.get("type", ""))
    ctx: Mapping[str, Any] = err.get("ctx") or {}
    tell = _MESSAGES.get(err_type)
    if tell is not None:
        return tell(ctx)
    if err_type in BUILTIN_ERROR_TYPES:
        return "Valeur invalide."
    # The app's own PydanticCustomError: its message is French already.
    return _sentence(str(err.get("msg", "")))


def body_pointer(parts: list[str | int], body: Any) -> list[str]:
    """The steps of a body error's location that exist in the body as sent.

    A step that names no key (nor index) of the value reached is pydantic's own (a union tag,
    a union member's name) and is dropped, unless it is the last one under an object: a
    missing field is named by it.
    """
    if not isinstance(body, Mapping | list):
        return [str(p) for p in parts]  # the body as sent is unknown: the location as it is
    steps: list[str] = []
    node: Any = body
    for index, part in enumerate(parts):
        if isinstance(node, Mapping) and str(part) in node:
            node = node[str(part)]
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            node = node[part]
        elif isinstance(node, Mapping) and index == len(parts) - 1:
            node = None  # a missing field
        else:
            continue  # a tag or member name of a union: not in the body
        steps.append(str(part))
    return steps
