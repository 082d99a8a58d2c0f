"""Pure rules of documents (R-DOC-1..3): names, keys, types, ranges, who files what."""

from __future__ import annotations

import uuid

import pytest

from app.auth.principal import Principal, Role
from app.documents import rules
from app.documents.rules import ByteRange, ScanStatus
from app.programme.rules import DOCUMENT_TYPES, requirements
from app.programme.seed import REQUIRED_DOCUMENTS

CANDIDATE = Principal("c", Role.CANDIDATE, siren="211300553")
PREFECT = Principal("p", Role.PREFECT, departement="13")
DINUM = Principal("d", Role.DINUM)
# The FITN7 programme's kinds of documents (R-DOC-1): their step and their allowed types.
FITN7 = {r.code: r for r in requirements(REQUIRED_DOCUMENTS)}
EVERY_TYPE = tuple(DOCUMENT_TYPES)


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ("devis.pdf", "devis.pdf"),
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\maire\\délibération.pdf", "délibération.pdf"),
        ("a\x00b\nc.pdf", "a_b_c.pdf"),
        ('mon "devis"?.pdf', "mon _devis_.pdf"),
        ("", "document"),
        (None, "document"),
        ("...", "document"),
        ("e\u0301te\u0301.pdf", "été.pdf"),  # NFC
        ("x" * 300 + ".pdf", "x" * 196 + ".pdf"),
    ],
)
def test_sanitise_filename(given: str | None, kept: str) -> None:
    assert rules.sanitise_filename(given) == kept


def test_storage_key_is_owner_and_hash_never_the_name() -> None:
    project, candidate = uuid.uuid4(), uuid.uuid4()
    digest = "ab" * 32
    assert rules.storage_key(project_id=project, candidate_id=None, sha256=digest) == (
        f"projects/{project.hex}/{digest}"
    )
    assert rules.storage_key(project_id=None, candidate_id=candidate, sha256=digest) == (
        f"candidates/{candidate.hex}/{digest}"
    )
    with pytest.raises(ValueError):
        rules.storage_key(project_id=None, candidate_id=None, sha256=digest)


@pytest.mark.parametrize(
    ("detected", "stored"),
    [
        ("application/pdf", "application/pdf"),
        ("image/png", "image/png"),
        ("image/jpeg", "image/jpeg"),
        (
            "application/vnd.oasis.opendocument.spreadsheet",
            "application/vnd.oasis.opendocument.spreadsheet",
        ),
        ("text/plain", "text/csv"),
        ("text/csv; charset=utf-8", "text/csv"),
        ("application/x-dosexec", None),
        ("application/x-executable", None),
        ("text/html", None),
        ("image/svg+xml", None),
        ("application/zip", None),
        ("application/x-empty", None),
    ],
)
def test_stored_type_r_doc_2(detected: str, stored: str | None) -> None:
    assert rules.stored_type(detected, EVERY_TYPE) == stored


@pytest.mark.parametrize(
    ("kind", "detected", "stored"),
    [
        ("quote", "text/plain", "text/csv"),  # a quote may be a spreadsheet
        (
            "quote",
            "application/vnd.oasis.opendocument.spreadsheet",
            ("application/vnd.oasis.opendocument.spreadsheet"),
        ),
        ("deliberation", "text/csv", None),  # a deliberation may not
        ("deliberation", "image/png", "image/png"),
        ("signed_convention", "application/pdf", "application/pdf"),
        ("signed_convention", "image/jpeg", None),  # the signed convention: a PDF only
        ("attestation", "application/vnd.oasis.opendocument.text", None),
        ("expense_statement", "text/csv; charset=utf-8", "text/csv"),
        ("final_report", "text/plain", None),
        ("final_report", "application/x-dosexec", None),
    ],
)
def test_stored_type_r_doc_2_is_the_kinds_allowed_types(
    kind: str, detected: str, stored: str | None
) -> None:
    assert rules.stored_type(detected, FITN7[kind].allowed_types) == stored


def test_types_fr_names_the_allowed_types_as_people_do() -> None:
    assert rules.types_fr(FITN7["signed_convention"].allowed_types) == "PDF"
    assert rules.types_fr(FITN7["attestation"].allowed_types) == "PDF, PNG ou JPEG"


def test_content_disposition_rfc_6266() -> None:
    header = rules.content_disposition("Délibération n°3 (1).pdf")
    assert header.startswith('attachment; filename="Deliberation n3 _1_.pdf"; ')
    assert header.endswith("filename*=UTF-8''D%C3%A9lib%C3%A9ration%20n%C2%B03%20%281%29.pdf")


@pytest.mark.parametrize(
    ("header", "size", "span"),
    [
        (None, 100, None),
        ("bytes=0-9", 100, ByteRange(0, 9)),
        ("bytes=90-", 100, ByteRange(90, 99)),
        ("bytes=90-500", 100, ByteRange(90, 99)),
        ("bytes=-10", 100, ByteRange(90, 99)),
        ("bytes=-500", 100, ByteRange(0, 99)),
        ("bytes=99-99", 100, ByteRange(99, 99)),
        ("bytes=0-1,5-6", 100, None),  # several ranges: the whole document
        ("items=0-1", 100, None),
        ("bytes=9-3", 100, None),
        ("bytes=-", 100, None),
    ],
)
def test_parse_range(header: str | None, size: int, span: ByteRange | None) -> None:
    assert rules.parse_range(header, size) == span


@pytest.mark.parametrize(
    ("header", "size"), [("bytes=100-", 100), ("bytes=-0", 100), ("bytes=0-", 0)]
)
def test_unsatisfiable_range(header: str, size: int) -> None:
    with pytest.raises(rules.RangeNotSatisfiable):
        rules.parse_range(header, size)


@pytest.mark.parametrize(
    ("who", "kind", "status", "allowed"),
    [
        (CANDIDATE, "deliberation", "draft", True),
        (CANDIDATE, "quote", "draft", True),
        (CANDIDATE, "deliberation", "submitted", False),
        (CANDIDATE, "signed_convention", "accepted", False),
        (PREFECT, "deliberation", "draft", False),
        (PREFECT, "signed_convention", "in_review", False),
        (PREFECT, "signed_convention", "accepted", True),
        (PREFECT, "signed_convention", "under_convention", True),
        (PREFECT, "final_report", "accepted", False),
        (PREFECT, "final_report", "under_convention", True),
        (PREFECT, "expense_statement", "paid", True),
        (DINUM, "deliberation", "draft", False),
    ],
)
def test_project_upload_refusal_r_doc_2(
    who: Principal, kind: str, status: str, allowed: bool
) -> None:
    assert (rules.project_upload_refusal(who, FITN7[kind].step, status) is None) is allowed


@pytest.mark.parametrize(
    ("status", "production", "served"),
    [
        (ScanStatus.CLEAN, True, True),
        (ScanStatus.CLEAN, False, True),
        (ScanStatus.UNSCANNED, False, True),
        (ScanStatus.UNSCANNED, True, False),
        (ScanStatus.PENDING, False, False),
        (ScanStatus.INFECTED, False, False),
    ],
)
def test_servable_r_doc_2(status: ScanStatus, production: bool, served: bool) -> None:
    assert rules.servable(status, production=production) is served


# -- boundaries found by mutation testing (issue 22 point 10) --------------------------------


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ("x" * 300, "x" * 200),  # no extension: cut at 200
        ("x" * 300 + ".c", "x" * 198 + ".c"),  # a one-letter extension is kept
        ("x" * 300 + ".abcdefghij", "x" * 189 + ".abcdefghij"),  # ten letters: kept
        ("x" * 300 + ".abcdefghijk", "x" * 200),  # eleven: no extension, cut at 200
        ("v1." + "x" * 300 + ".pdf", "v1." + "x" * 193 + ".pdf"),  # the last dot's extension
        ("x" * 200, "x" * 200),  # exactly 200: kept whole
    ],
)
def test_sanitise_filename_at_200_characters(given: str, kept: str) -> None:
    assert rules.sanitise_filename(given) == kept
    assert len(kept) <= rules.MAX_NAME_LENGTH


def test_stored_type_reads_the_type_before_every_parameter() -> None:
    assert rules.stored_type("text/csv; charset=utf-8; header=present", EVERY_TYPE) == "text/csv"


def test_content_disposition_without_any_ascii_letter() -> None:
    header = rules.content_disposition("日本")
    assert header == "attachment; filename=\"document\"; filename*=UTF-8''%E6%97%A5%E6%9C%AC"


@pytest.mark.parametrize(
    ("header", "size", "span"),
    [
        ("bytes=-5", 1, ByteRange(0, 0)),  # a suffix longer than a one-byte document
        ("bytes=0- 9", 100, ByteRange(0, 9)),  # spaces inside are ignored
    ],
)
def test_parse_range_edges(header: str, size: int, span: ByteRange) -> None:
    assert rules.parse_range(header, size) == span


def test_a_suffix_of_an_empty_document_is_unsatisfiable() -> None:
    with pytest.raises(rules.RangeNotSatisfiable):
        rules.parse_range("bytes=-5", 0)


def test_scan_retries_grow_then_stay_at_15_minutes() -> None:
    assert [rules.scan_retry_delay(n) for n in range(1, 8)] == [5, 15, 60, 300, 900, 900, 900]
    for never in (0, -1):
        with pytest.raises(ValueError):
            rules.scan_retry_delay(never)


def test_content_disposition_encodes_a_slash() -> None:
    assert rules.content_disposition("a/b").endswith("filename*=UTF-8''a%2Fb")
