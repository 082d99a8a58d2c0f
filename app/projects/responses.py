"""The problems the /projects routes document in OpenAPI: not found, each transition's 409s,
an edit's conflicts (the examples a front-end developer reads).
"""

from __future__ import annotations

from typing import Any

from app.core.concurrency import ETAG
from app.core.errors import example_problem, problems
from app.projects.lifecycle_rules import TRANSITIONS, Action, Status

EXAMPLE_PROJECT = "/api/v1/projects/3f2c9a1e-8b4d-4e6f-9a0b-1c2d3e4f5a6b"


def problem_response(
    status: int, slug: str, title: str, detail: str, code: str, **extra: Any
) -> dict[str, Any]:
    """A problem+json example of the /projects routes' contract (issue 12)."""
    return example_problem(status, slug, title, detail, code, instance=EXAMPLE_PROJECT, **extra)


NOT_FOUND = problem_response(
    404,
    "project-not-found",
    "Dossier introuvable",
    "Ce dossier n'existe pas ou n'est pas dans votre périmètre.",
    "R-ACL-1",
)


def transition_responses(
    action: Action, current: Status, label: str, allowed: list[str]
) -> dict[int | str, dict[str, object]]:
    """The documented answers of a transition, with the 409 a UI meets most (R-FLOW-1)."""
    target = TRANSITIONS[action][1]
    conflict = problem_response(
        409,
        "invalid-transition",
        "Transition interdite",
        f"Transition « {action.value} » impossible : le dossier est « {label} » "
        f"({current.value}), la transition mènerait à « {target.value} ».",
        "R-FLOW-1",
        current_status=current.value,
        requested_status=target.value,
        allowed_actions=allowed,
    )
    conflict["instance"] = f"{conflict['instance']}/{action.value}"
    examples: dict[int, dict[str, object]] = {409: conflict, 404: NOT_FOUND}
    if action is Action.SUBMIT:
        examples[422] = problem_response(
            422,
            "project-ineligible",
            "Dossier inéligible",
            "Le dossier ne peut pas être déposé : voir chaque règle non respectée dans "
            "`errors` (R-FLOW-2).",
            "R-FLOW-2",
            errors=[
                {
                    "code": "R-ELIG-3",
                    "field": "/sponsor/name",
                    "in": "body",
                    "message": "Le dossier doit nommer son porteur (élu ou cadre dirigeant).",
                },
                {
                    "code": "R-ELIG-6",
                    "field": "/end_on",
                    "in": "body",
                    "message": "Le projet dure au plus 24 mois.",
                },
            ],
        )
        return {
            200: {"headers": ETAG},
            **problems(401, 403, 404, 409, 412, 422, 428, examples=examples),
        }
    return {200: {"headers": ETAG}, **problems(401, 403, 404, 409, 412, 428, examples=examples)}


EDIT_CONFLICT = problem_response(
    409,
    "project-not-editable",
    "Dossier non modifiable",
    "Le dossier est « déposé » : seuls les brouillons sont modifiables (R-FLOW-3).",
    "R-FLOW-3",
    status_current="submitted",
    allowed_actions=["withdraw"],
)
