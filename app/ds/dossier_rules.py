"""Pure rules of reading a DS dossier node through a démarche's mapping (issue 14), never guessing.

A node either becomes a `ParsedDossier` (every mapped champ found, every value known) or a
list of `Refusal`s naming the champ, the value or the shape in cause; its attachments are
listed as the mapping names them.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from app.ds.rules import PARIS, DsState, Reason, Refusal


@dataclass(frozen=True)
class CategoryTarget:
    category: str
    vendor_origin: str | None = None


@dataclass(frozen=True)
class ExpenseMap:
    block: str
    category: str
    label: str
    amount: str


@dataclass(frozen=True)
class Mapping:
    """A démarche's mapping, as stored (see schemas.MappingIn for each field's meaning)."""

    fields: dict[str, str]
    kinds: dict[str, str]
    strands: dict[str, str]
    expenses: ExpenseMap
    categories: dict[str, CategoryTarget]
    nature: str | None = None
    documents: dict[str, str] = field(default_factory=dict)  # champ → document kind (issue 24)

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> Mapping:
        """From the stored form (the API's): tables as lists of entries, the last one of a
        repeated label winning."""
        return cls(
            fields={k: v for k, v in data["fields"].items() if v is not None},
            kinds={e["label"]: e["kind"] for e in data["kinds"]},
            strands={e["label"]: e["strand"] for e in data["strands"]},
            expenses=ExpenseMap(**data["expenses"]),
            categories={
                e["label"]: CategoryTarget(e["category"], e.get("vendor_origin"))
                for e in data["categories"]
            },
            nature=data.get("nature"),
            # a mapping stored before issue 24 has no table: no attachment imported
            documents={e["champ"]: e["kind"] for e in data.get("documents") or []},
        )


@dataclass(frozen=True)
class ParsedLine:
    category: str
    label: str
    amount_cents: int
    vendor_origin: str | None


@dataclass(frozen=True)
class ParsedContent:
    """What the applicant filed, as this service's fields: its hash tells a change."""

    siret: str
    kind: str
    departement: str | None
    strand: str
    title: str
    description: str
    nature: str | None
    start_on: date | None
    end_on: date | None
    requested_cents: int
    sponsor_name: str | None
    sponsor_role: str | None
    expense_lines: tuple[ParsedLine, ...]

    def digest(self) -> str:
        text = json.dumps(asdict(self), sort_keys=True, default=str, ensure_ascii=False)
        return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class Attachment:
    """One file of a mapped `PieceJustificativeChamp` (issue 24): where DS serves it (a URL
    that expires), and what DS says of it. None where DS's answer lacks or garbles a field."""

    champ: str
    kind: str
    url: str | None
    filename: str | None
    checksum: str | None  # ActiveStorage's: the base64 of the file's MD5
    byte_size: int | None


@dataclass(frozen=True)
class ParsedDossier:
    id: str
    number: int
    state: DsState
    filed_on: date  # R-ELIG-8: dateDepot, Europe/Paris
    modified_at: datetime  # dateDerniereModification (DS's own clock: the sync's high-water)
    content: ParsedContent
    # Not in the content's digest: a file is judged by its bytes when imported.
    attachments: tuple[Attachment, ...] = ()


@dataclass
class NodeResult:
    number: int | None
    id: str | None
    dossier: ParsedDossier | None = None
    refusals: list[Refusal] = field(default_factory=list)


def _timestamp(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def _find(champs: list[Any], selector: str) -> dict[str, Any] | None:
    """The champ whose label or descriptor id is `selector` (first one)."""
    for champ in champs:
        if isinstance(champ, dict) and selector in (champ.get("label"), champ.get("id")):
            return champ
    return None


def _text(champ: dict[str, Any]) -> str | None:
    value = champ.get("value")
    text = value if isinstance(value, str) else champ.get("stringValue")
    if not isinstance(text, str) or not text.strip():
        return None
    return text.strip()


def _cents(champ: dict[str, Any]) -> int | None:
    """A money champ in cents: DecimalNumberChamp.value is a Float, IntegerNumberChamp.value a
    BigInt as a string; never more precise than a cent."""
    value = champ.get("value")
    if value is None or isinstance(value, bool):
        value = champ.get("stringValue")
    if value is None or isinstance(value, bool) or value == "":
        return None
    try:
        amount = Decimal(str(value)) * 100
    except InvalidOperation:
        return None
    if not amount.is_finite() or amount != amount.to_integral_value() or amount < 0:
        return None
    return int(amount)


def _date(champ: dict[str, Any]) -> date | None:
    raw = champ.get("date") or champ.get("stringValue")
    if not isinstance(raw, str):
        return None
    try:
        return date.fromisoformat(raw[:10])
    except ValueError:
        return None


def _departement(champ: dict[str, Any]) -> str | None:
    dep = champ.get("departement")
    if isinstance(dep, dict) and isinstance(dep.get("code"), str):
        return str(dep["code"])
    text = _text(champ)
    return text.split()[0] if text else None


class _Reader:
    def __init__(self, champs: list[Any]) -> None:
        self.champs = champs
        self.refusals: list[Refusal] = []

    def missing(self, selector: str) -> None:
        self.refusals.append(
            Refusal(
                Reason.UNMAPPED_CHAMP,
                "DS-MAPPING",
                f"Champ « {selector} » absent du dossier ou vide : le dossier n'est pas importé.",
            )
        )

    def unreadable(self, selector: str, what: str) -> None:
        self.refusals.append(
            Refusal(Reason.MALFORMED, "DS-MALFORMED", f"Champ « {selector} » : {what} illisible.")
        )

    def champ(self, selector: str | None, *, required: bool = True) -> dict[str, Any] | None:
        if selector is None:
            return None
        found = _find(self.champs, selector)
        if found is None and required:
            self.missing(selector)
        return found

    def text(self, selector: str | None, *, required: bool = True) -> str | None:
        champ = self.champ(selector, required=required)
        if champ is None:
            return None
        value = _text(champ)
        if value is None and required:
            assert selector is not None
            self.missing(selector)
        return value

    def known(self, selector: str, table: dict[str, str], what: str) -> str | None:
        """A value looked up in a mapping table: an unknown one is reported, never guessed."""
        value = self.text(selector)
        if value is None:
            return None
        if value not in table:
            self.refusals.append(
                Refusal(
                    Reason.UNKNOWN_VALUE,
                    "DS-MAPPING",
                    f"{what} « {value} » (champ « {selector} ») inconnu de la correspondance "
                    "de la démarche : le dossier n'est pas importé.",
                )
            )
            return None
        return table[value]

    def day(self, selector: str) -> date | None:
        champ = self.champ(selector)
        if champ is None:
            return None
        value = _date(champ)
        if value is None:
            self.unreadable(selector, "date")
        return value

    def cents(self, selector: str) -> int | None:
        champ = self.champ(selector)
        if champ is None:
            return None
        value = _cents(champ)
        if value is None:
            self.unreadable(selector, "montant")
        return value


def _lines(reader: _Reader, mapping: Mapping) -> tuple[ParsedLine, ...]:
    spec = mapping.expenses
    block = reader.champ(spec.block)
    if block is None:
        return ()
    rows = block.get("rows")
    if not isinstance(rows, list):
        reader.unreadable(spec.block, "bloc répété")
        return ()
    lines = []
    for i, row in enumerate(rows, start=1):
        champs = row.get("champs") if isinstance(row, dict) else None
        if not isinstance(champs, list):
            reader.unreadable(f"{spec.block} #{i}", "ligne")
            continue
        sub = _Reader(champs)
        label_of_category = sub.text(spec.category)
        label = sub.text(spec.label)
        amount = sub.cents(spec.amount)
        target = None
        if label_of_category is not None:
            target = mapping.categories.get(label_of_category)
            if target is None:
                sub.refusals.append(
                    Refusal(
                        Reason.UNKNOWN_VALUE,
                        "DS-MAPPING",
                        f"Catégorie de dépense « {label_of_category} » (ligne {i}) inconnue de "
                        "la correspondance de la démarche : le dossier n'est pas importé.",
                    )
                )
        reader.refusals += sub.refusals
        if target is not None and label is not None and amount is not None:
            lines.append(ParsedLine(target.category, label[:300], amount, target.vendor_origin))
    return tuple(lines)


def _optional_text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _byte_size(value: Any) -> int | None:
    """`File.byteSizeBigInt` (queried as `byteSize`): a BigInt, which DS writes as a string."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value >= 0 else None
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None


def attachments_of(champs: list[Any], mapping: Mapping) -> tuple[Attachment, ...]:
    """The files of the mapped attachment champs (`files`, or the older single `file`). A
    mapped champ the dossier lacks, or left empty, gives nothing: a missing document is
    R-DOC-1's to report, not a reason to refuse the dossier."""
    found: list[Attachment] = []
    for selector, kind in mapping.documents.items():
        champ = _find(champs, selector)
        if champ is None:
            continue
        files = champ.get("files")
        if not isinstance(files, list):
            single = champ.get("file")
            files = [single] if isinstance(single, dict) else []
        for file in files:
            if not isinstance(file, dict):
                continue
            found.append(
                Attachment(
                    champ=selector,
                    kind=kind,
                    url=_optional_text(file.get("url")),
                    filename=_optional_text(file.get("filename")),
                    checksum=_optional_text(file.get("checksum")),
                    byte_size=_byte_size(file.get("byteSize")),
                )
            )
    return tuple(found)


def parse_node(node: Any, mapping: Mapping) -> NodeResult:
    """Read one `Dossier` node of DS's answer through the démarche's mapping."""
    if not isinstance(node, dict):
        return NodeResult(
            None,
            None,
            refusals=[Refusal(Reason.MALFORMED, "DS-MALFORMED", "Nœud de dossier illisible.")],
        )
    number = node.get("number") if isinstance(node.get("number"), int) else None
    ident = node.get("id") if isinstance(node.get("id"), str) else None
    result = NodeResult(number, ident)
    filed = _timestamp(node.get("dateDepot"))
    modified = _timestamp(node.get("dateDerniereModification"))
    champs = node.get("champs")
    state = node.get("state")
    shape = []
    if number is None or ident is None:
        shape.append("numéro ou identifiant")
    if state not in set(DsState):
        shape.append("état")
    if filed is None or modified is None:
        shape.append("dates de dépôt ou de modification")
    if not isinstance(champs, list):
        shape.append("champs")
    if shape:
        result.refusals.append(
            Refusal(
                Reason.MALFORMED,
                "DS-MALFORMED",
                f"Dossier mal formé ({', '.join(shape)}) : il n'est pas importé.",
            )
        )
        return result
    assert isinstance(champs, list) and filed is not None and modified is not None
    reader = _Reader(champs)
    f = mapping.fields
    siret = reader.text(f["siret"])
    kind = reader.known(f["kind"], mapping.kinds, "Type de collectivité")
    departement = None
    if "departement" in f:
        champ = reader.champ(f["departement"])
        departement = _departement(champ) if champ is not None else None
    strand = reader.known(f["strand"], mapping.strands, "Volet")
    title = reader.text(f["title"])
    description = reader.text(f["description"])
    nature = mapping.nature
    if "nature" in f:
        nature = reader.text(f["nature"])
    start_on = reader.day(f["start_on"])
    end_on = reader.day(f["end_on"])
    requested = reader.cents(f["requested"])
    sponsor_name = reader.text(f.get("sponsor_name"), required=False)
    sponsor_role = reader.text(f.get("sponsor_role"), required=False)
    lines = _lines(reader, mapping)
    result.refusals += reader.refusals
    if result.refusals:
        return result
    assert siret and kind and strand and title and description and requested is not None
    result.dossier = ParsedDossier(
        id=str(ident),
        number=int(number),  # type: ignore[arg-type]
        state=DsState(str(state)),
        filed_on=filed.astimezone(PARIS).date(),
        modified_at=modified,
        content=ParsedContent(
            siret=siret.replace(" ", ""),
            kind=kind,
            departement=departement,
            strand=strand,
            title=title[:200],
            description=description,
            nature=nature,
            start_on=start_on,
            end_on=end_on,
            requested_cents=requested,
            sponsor_name=sponsor_name,
            sponsor_role=sponsor_role,
            expense_lines=lines,
        ),
        attachments=attachments_of(champs, mapping),
    )
    return result
