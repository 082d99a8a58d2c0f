"""Pure rules of the DS import: reading a node through the mapping (never guessing), the
write-back's mutations per DS state, Retry-After and backoff."""

from __future__ import annotations

import copy
import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from app.ds.dossier_rules import Attachment, Mapping, parse_node
from app.ds.rules import (
    DsState,
    MutationKind,
    Reason,
    backoff_seconds,
    mutations_for,
    retry_after_seconds,
)

SAMPLES = Path(__file__).parents[2] / "api" / "ds" / "samples"
STORED: dict[str, Any] = {
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
        "sponsor_role": None,
        "nature": None,
    },
    "nature": "modernisation",
    "kinds": [{"label": "Commune", "kind": "commune"}],
    "strands": [
        {"label": "3b - Formation au numérique des agents", "strand": "3b"},
        {"label": "3c - Projet améliorant la relation à l'usager", "strand": "3c"},
    ],
    "expenses": {
        "block": "Postes de dépense",
        "category": "Nature de la dépense",
        "label": "Libellé",
        "amount": "Montant TTC (€)",
    },
    "categories": [
        {"label": "Prestation de développement", "category": "development"},
        {"label": "Formation des agents", "category": "training"},
        {
            "label": "Licence logicielle (éditeur hors UE)",
            "category": "software_licence",
            "vendor_origin": "extra_eu",
        },
        {"label": "Équipement informatique des agents", "category": "equipment_agents"},
    ],
}
MAPPING = Mapping.from_data(STORED)


def node(number: int) -> dict[str, Any]:
    for name in ("dossiers-page-1.json", "dossiers-page-2.json"):
        page = json.loads((SAMPLES / name).read_text(encoding="utf-8"))
        for item in page["data"]["demarche"]["dossiers"]["nodes"]:
            if item["number"] == number:
                return item  # type: ignore[no-any-return]
    raise KeyError(number)


def test_the_3c_sample_reads_into_the_dossier_fields() -> None:
    result = parse_node(node(1032882), MAPPING)
    assert result.refusals == []
    dossier = result.dossier
    assert dossier is not None
    assert (dossier.number, dossier.state) == (1032882, DsState.EN_INSTRUCTION)
    assert dossier.filed_on == date(2021, 3, 2)  # R-ELIG-8: dateDepot, in Paris
    content = dossier.content
    assert (content.siret, content.kind, content.departement, content.strand) == (
        "21470323300012",
        "commune",
        "47",
        "3c",
    )
    assert (content.start_on, content.end_on) == (date(2021, 4, 1), date(2022, 6, 30))
    assert content.requested_cents == 2_400_000
    assert content.nature == "modernisation"  # the démarche's declared nature (R-ELIG-4)
    assert [(x.category, x.amount_cents, x.vendor_origin) for x in content.expense_lines] == [
        ("development", 3_600_000, None),
        ("training", 400_000, None),
        ("software_licence", 800_000, "extra_eu"),
    ]


def test_agents_equipment_is_mapped_as_such_never_dropped() -> None:
    """R-EXCL-1 is the eligibility's: the import keeps the line with its category."""
    result = parse_node(node(1033140), MAPPING)
    assert result.dossier is not None
    lines = result.dossier.content.expense_lines
    assert [x.category for x in lines] == ["training", "equipment_agents"]


def _without(label: str) -> dict[str, Any]:
    changed = copy.deepcopy(node(1032882))
    changed["champs"] = [c for c in changed["champs"] if c["label"] != label]
    return changed


def _with(label: str, **values: Any) -> dict[str, Any]:
    changed = copy.deepcopy(node(1032882))
    for champ in changed["champs"]:
        if champ["label"] == label:
            champ.update(values)
    return changed


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        (_without("Intitulé du projet"), Reason.UNMAPPED_CHAMP),
        (_without("Postes de dépense"), Reason.UNMAPPED_CHAMP),
        (_with("Type de collectivité", value="Syndicat mixte"), Reason.UNKNOWN_VALUE),
        (_with("Volet sollicité", value="3d - Laboratoires"), Reason.UNKNOWN_VALUE),
        (_with("Date de début du projet", date="bientôt", stringValue="bientôt"), Reason.MALFORMED),
        (_with("Montant de subvention demandé (€)", value=12.345), Reason.MALFORMED),
        (_with("Montant de subvention demandé (€)", value=-1.0), Reason.MALFORMED),
        ({**node(1032882), "state": "brouillon"}, Reason.MALFORMED),
        ({**node(1032882), "champs": None}, Reason.MALFORMED),
        ({**node(1032882), "dateDepot": "2021-03-02"}, Reason.MALFORMED),  # no offset
        ("not a node", Reason.MALFORMED),
    ],
)
def test_what_is_missing_or_unknown_is_reported_never_guessed(bad: Any, reason: Reason) -> None:
    result = parse_node(bad, MAPPING)
    assert result.dossier is None
    assert reason in {r.reason for r in result.refusals}


def test_an_unknown_expense_category_refuses_the_dossier() -> None:
    changed = copy.deepcopy(node(1032882))
    row = changed["champs"][12]["rows"][1]["champs"][0]
    row.update(value="Mobilier", stringValue="Mobilier")
    result = parse_node(changed, MAPPING)
    assert result.dossier is None
    assert [r.reason for r in result.refusals] == [Reason.UNKNOWN_VALUE]
    assert "Mobilier" in result.refusals[0].message and "ligne 2" in result.refusals[0].message


def test_a_champ_is_found_by_its_descriptor_id_too() -> None:
    stored = copy.deepcopy(STORED)
    stored["fields"]["title"] = "Q2hhbXAtMzE4NTAyNQ=="
    result = parse_node(node(1032882), Mapping.from_data(stored))
    assert result.dossier is not None
    assert result.dossier.content.title == "Portail citoyen et prise de rendez-vous en ligne"


def test_the_content_hash_changes_with_the_content_only() -> None:
    first = parse_node(node(1032882), MAPPING).dossier
    again = parse_node(copy.deepcopy(node(1032882)), MAPPING).dossier
    edited = parse_node(_with("Intitulé du projet", value="Autre"), MAPPING).dossier
    assert first and again and edited
    assert first.content.digest() == again.content.digest() != edited.content.digest()


@pytest.mark.parametrize(
    ("state", "decision", "expected"),
    [
        ("en_construction", MutationKind.PASSER_EN_INSTRUCTION, ["dossierPasserEnInstruction"]),
        ("en_instruction", MutationKind.PASSER_EN_INSTRUCTION, []),
        ("en_instruction", MutationKind.ACCEPTER, ["dossierAccepter"]),
        (
            "en_construction",
            MutationKind.REFUSER,
            ["dossierPasserEnInstruction", "dossierRefuser"],
        ),
        ("en_instruction", MutationKind.CLASSER_SANS_SUITE, ["dossierClasserSansSuite"]),
        ("accepte", MutationKind.ACCEPTER, []),
        ("refuse", MutationKind.ACCEPTER, []),
    ],
)
def test_mutations_bring_the_ds_dossier_to_the_decision(
    state: str, decision: MutationKind, expected: list[str]
) -> None:
    assert [k.value for k in mutations_for(state, decision)] == expected


NOW = datetime(2021, 3, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("1", 1.0),
        ("120", 120.0),
        ("Mon, 01 Mar 2021 12:00:30 GMT", 30.0),
        ("Mon, 01 Mar 2021 11:00:00 GMT", 0.0),
        (None, None),
        ("soon", None),
    ],
)
def test_retry_after(header: str | None, seconds: float | None) -> None:
    assert retry_after_seconds(header, NOW) == seconds


def test_backoff_doubles_and_is_capped() -> None:
    assert [backoff_seconds(n) for n in (1, 2, 3, 4)] == [0.5, 1.0, 2.0, 4.0]
    assert backoff_seconds(20) == 30.0


# -- attachments (issue 24) -------------------------------------------------------------------


def test_the_mapped_attachment_champs_give_their_files() -> None:
    """Issue 24: each file of a mapped PieceJustificativeChamp (`files`, or the older `file`),
    with what DS says of it; an unmapped champ, a missing one or a garbled file gives nothing
    wrong; the content's digest ignores attachments (they are judged by their bytes)."""
    mapping = Mapping.from_data(
        {
            **STORED,
            "documents": [
                {"champ": "Délibération", "kind": "deliberation"},
                {"champ": "Q2hhbXAtNw==", "kind": "final_report"},
                {"champ": "Absent", "kind": "expense_statement"},
            ],
        }
    )
    raw = node(1032882)
    plain = parse_node(copy.deepcopy(raw), MAPPING).dossier
    raw["champs"] += [
        {
            "__typename": "PieceJustificativeChamp",
            "id": "Q2hhbXAtNg==",
            "label": "Délibération",
            "files": [
                {
                    "url": "https://files.example/a?sig=1",
                    "filename": "a.pdf",
                    "checksum": "xyz==",
                    "byteSize": "1234",
                },
                {"url": None, "filename": "", "byteSize": "-3"},
                "garbled",
            ],
        },
        {
            "__typename": "PieceJustificativeChamp",
            "id": "Q2hhbXAtNw==",
            "label": "Rapport",
            "file": {"url": "https://files.example/b", "filename": "b.pdf", "byteSize": 9},
        },
        {"__typename": "PieceJustificativeChamp", "id": "x", "label": "Non suivi", "files": []},
    ]
    parsed = parse_node(raw, mapping).dossier
    assert parsed is not None and plain is not None
    assert parsed.attachments == (
        Attachment(
            "Délibération", "deliberation", "https://files.example/a?sig=1", "a.pdf", "xyz==", 1234
        ),
        Attachment("Délibération", "deliberation", None, None, None, None),
        Attachment("Q2hhbXAtNw==", "final_report", "https://files.example/b", "b.pdf", None, 9),
    )
    assert parsed.content.digest() == plain.content.digest()
    assert plain.attachments == ()  # a mapping without a documents table (stored before)
