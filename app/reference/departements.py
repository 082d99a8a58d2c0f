"""The département code of every query and path parameter: one validated type.

Its pattern lists exactly the COG codes of the bundled reference data (R-REF-1): `20` (split
into 2A and 2B in 1976) and `96` are not codes, so both answer 422 wherever a list is filtered
or an envelope is named. The list is read once, when the API's schemas are built. (Body fields
go through R-ELIG-2, which names the unknown code in its message.)
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query

from app.reference.catalogue import get_catalogue

DEPARTEMENT_CODES: tuple[str, ...] = tuple(get_catalogue().departement_codes())
DEPARTEMENT_PATTERN = "^(" + "|".join(DEPARTEMENT_CODES) + ")$"
_DESCRIPTION = "Code COG du département (ex. 13, 2A, 974), d'après le découpage administratif."

DepartementQuery = Annotated[
    str | None,
    Query(pattern=DEPARTEMENT_PATTERN, description="Seulement ce département. " + _DESCRIPTION),
]
DepartementPath = Annotated[str, Path(pattern=DEPARTEMENT_PATTERN, description=_DESCRIPTION)]
