"""R-DOC-2: the type is read from the bytes by libmagic, whatever the name says."""

from __future__ import annotations

import io
import zipfile

import pytest

from app.documents.rules import stored_type
from app.documents.upload import detect_type
from app.programme.rules import DOCUMENT_TYPES


def _zip(entries: list[tuple[str, str]]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in entries:
            archive.writestr(name, text)
    return buffer.getvalue()


DOCX = _zip(
    [("[Content_Types].xml", "<Types/>"), ("_rels/.rels", "<x/>"), ("word/document.xml", "<w/>")]
)
XLSX = _zip(
    [("[Content_Types].xml", "<Types/>"), ("_rels/.rels", "<x/>"), ("xl/workbook.xml", "<w/>")]
)
ODT = _zip([("mimetype", "application/vnd.oasis.opendocument.text"), ("content.xml", "<x/>")])
ODS = _zip(
    [("mimetype", "application/vnd.oasis.opendocument.spreadsheet"), ("content.xml", "<x/>")]
)
PNG = bytes.fromhex("89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489")
JPEG = bytes.fromhex("ffd8ffe000104a46494600010100000100010000ffdb004300") + b"\x08" * 64
PDF = b"%PDF-1.7\n1 0 obj\n<< >>\nendobj\n"
CSV = b"siren;montant\n211300553;1000\n211300017;2000\n"
ELF = b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 8 + b"\x02\x00\x3e\x00" + b"\x00" * 100
HTML = b"<!DOCTYPE html><html><script>alert(1)</script></html>"
ZIP = _zip([("payload.exe", "MZ")])


@pytest.mark.parametrize(
    ("content", "stored"),
    [
        (PDF, "application/pdf"),
        (PNG, "image/png"),
        (JPEG, "image/jpeg"),
        (DOCX, "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
        (XLSX, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
        (ODT, "application/vnd.oasis.opendocument.text"),
        (ODS, "application/vnd.oasis.opendocument.spreadsheet"),
        (CSV, "text/csv"),
        (ELF, None),
        (HTML, None),
        (ZIP, None),
        (b"", None),
    ],
)
def test_type_from_the_bytes(content: bytes, stored: str | None) -> None:
    assert stored_type(detect_type(content), DOCUMENT_TYPES) == stored
