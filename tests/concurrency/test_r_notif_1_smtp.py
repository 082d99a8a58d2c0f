"""R-NOTIF-1 against a real SMTP server: `aiosmtpd` listening on 127.0.0.1, started here.

What arrives (headers, both parts, accents, the link), exactly once across a worker crash
between claim and send and across a worker whose lease was taken over, a relay that refuses
(5xx: given up, visible) or is down (4xx, refused connection, timeout: retried), the HTML
escaped, the README's money path end to end (the candidate receives exactly its messages in
order, the prefecture its two kinds), two instances sharing one database sending each message
once, and the development fallback (files under a folder, never dropped).

Sending needs rows committed where the worker's own sessions see them: this module builds its
own fresh database (SQLite, or PostgreSQL with GUICHET_DATABASE_URL) with the suite's 2021
clock, and every request commits. Each test works in its own département and empties the
outbox when it ends.
"""

from __future__ import annotations

import asyncio
import email
import socket
import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from email.message import EmailMessage
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from aiosmtpd.controller import Controller
from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient
from pydantic import SecretStr
from sqlalchemy import delete
from sqlmodel import col, select

from app.auth.principal import Principal, Role
from app.core.clock import use_clock
from app.core.config import Settings
from app.core.db import get_clock, load_clock
from app.main import create_app
from app.notifications import metrics as notification_metrics
from app.notifications.models import Notification, PrefectureAddress
from app.notifications.router import lifespan as notifications_lifespan
from app.notifications.worker import check_due, claim, deliver_once, process
from app.programme.service import seed_programme
from tests.api.budgets.driver import Money
from tests.api.committees.driver import Committees
from tests.concurrency.conftest import commune_sirens, prefect_of
from tests.conftest import ACTORS, AIX_SIREN, MARSEILLE_SIREN
from tests.support import (
    TEST_CLOCK_START,
    auth_headers,
    backend_url,
    clock_starting_at,
    create_database,
    drop_database,
    file_required_documents,
    migrate,
    siret_of,
    test_settings,
)

FRONT = "https://guichet.example.gouv.fr"
DINUM = Principal("agent-dinum-notif", Role.DINUM)


# -- the SMTP server ---------------------------------------------------------------------------


@dataclass
class Relay:
    """An SMTP server: answers RCPT with the scripted replies first (then 250), keeps every
    message accepted."""

    rcpt_replies: list[str] = field(default_factory=list)
    received: list[EmailMessage] = field(default_factory=list)
    envelopes: list[tuple[str, list[str]]] = field(default_factory=list)
    port: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_RCPT(  # noqa: N802 (aiosmtpd's hook names)
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        with self.lock:
            if self.rcpt_replies:
                return self.rcpt_replies.pop(0)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        message = email.message_from_bytes(envelope.content, policy=default_policy)
        with self.lock:
            self.received.append(message)  # type: ignore[arg-type]
            self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 Message accepted"

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.received if m["To"] == address]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def relay() -> Iterator[Relay]:
    target = Relay()
    controller = Controller(target, hostname="127.0.0.1", port=free_port())
    controller.start()
    target.port = controller.port
    try:
        yield target
    finally:
        controller.stop()


def self_signed(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 (its own CA) and its key, as PEM files."""
    import ipaddress
    from datetime import UTC, datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "relais de test")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / "relay.pem", directory / "relay.key"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


@pytest.fixture
def secure_relay(tmp_path: Path) -> Iterator[tuple[Relay, Path, list[str]]]:
    """A relay that requires STARTTLS, then authentication (AUTH only over TLS): yields it,
    its CA file and the logins it accepted."""
    import ssl

    from aiosmtpd.smtp import AuthResult, LoginPassword

    cert_file, key_file = self_signed(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_file, key_file)
    logins: list[str] = []

    def authenticator(
        server: Any, session: Any, envelope: Any, mechanism: str, data: Any
    ) -> AuthResult:
        ok = isinstance(data, LoginPassword) and (data.login, data.password) == (
            b"guichet",
            b"s3cret-relais",
        )
        if ok:
            logins.append(data.login.decode())
        return AuthResult(success=ok, handled=False)  # aiosmtpd answers 235 or 535

    target = Relay()
    controller = Controller(
        target,
        hostname="127.0.0.1",
        port=free_port(),
        tls_context=context,
        require_starttls=True,
        auth_required=True,
        auth_require_tls=True,
        authenticator=authenticator,
    )
    controller.start()
    target.port = controller.port
    try:
        yield target, cert_file, logins
    finally:
        controller.stop()


# -- the service -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Mail:
    app: FastAPI
    settings: Settings
    client: AsyncClient

    @property
    def sessionmaker(self) -> Any:
        return self.app.state.sessionmaker

    def via(self, relay: Relay | None, **extra: Any) -> Settings:
        """The settings a worker sends with: this relay (plain SMTP on loopback)."""
        update: dict[str, Any] = {"smtp_starttls": False, "smtp_timeout_seconds": 2.0, **extra}
        if relay is not None:
            update.update(smtp_host="127.0.0.1", smtp_port=relay.port)
        return self.settings.model_copy(update=update)

    def headers(self, principal: Principal) -> dict[str, str]:
        return auth_headers(self.settings, principal)

    async def rows(self, **where: Any) -> list[Notification]:
        async with self.sessionmaker() as session, session.begin():
            stmt = select(Notification).order_by(col(Notification.id))
            for name, value in where.items():
                stmt = stmt.where(getattr(Notification, name) == value)
            return list((await session.execute(stmt)).scalars().all())


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def mail(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Mail]:
    url = await create_database(tmp_path_factory.mktemp("notifications"), "notifications")
    await migrate(url)
    settings = test_settings(
        url,
        clock_start=TEST_CLOCK_START,
        frontend_url=FRONT,
        notification_mail_dir=tmp_path_factory.mktemp("mail"),
    )
    application = create_app(settings)
    application.state.clock = await load_clock(application.state.sessionmaker, settings)
    use_clock(application.state.clock)
    async with application.state.sessionmaker() as session, session.begin():
        await seed_programme(session)
    transport = ASGITransport(app=application)
    try:
        async with AsyncClient(transport=transport, base_url="http://test") as client:
            yield Mail(application, settings, client)
    finally:
        await application.state.engine.dispose()
        await drop_database(url)


@pytest_asyncio.fixture(autouse=True, loop_scope="session")
async def empty_outbox(mail: Mail) -> AsyncIterator[None]:
    use_clock(mail.app.state.clock)
    yield
    mail.app.dependency_overrides.pop(get_clock, None)
    use_clock(mail.app.state.clock)
    async with mail.sessionmaker() as session, session.begin():
        await session.execute(delete(Notification))


def candidate_of(siren: str) -> Principal:
    return Principal(f"agent-{siren}", Role.CANDIDATE, siren=siren)


async def register(mail: Mail, who: Principal, address: str | None) -> None:
    body: dict[str, Any] = {"siret": siret_of(str(who.siren)), "kind": "commune"}
    if address is not None:
        body["contact"] = {"name": "Élodie Lefèvre", "role": "DGS", "email": address}
    response = await mail.client.post("/api/v1/candidates", json=body, headers=mail.headers(who))
    assert response.status_code == 201, response.text


async def set_address(mail: Mail, departement: str, address: str) -> None:
    response = await mail.client.put(
        f"/api/v1/notifications/prefectures/{departement}",
        json={"email": address},
        headers=mail.headers(prefect_of(departement)),
    )
    assert response.status_code in (200, 201), response.text


async def file(mail: Mail, who: Principal, title: str = "Prise de rendez-vous en ligne") -> str:
    response = await mail.client.post(
        "/api/v1/projects",
        json={
            "strand": "3c",
            "title": title,
            "description": "Un service numérique pour les usagers de la commune.",
            "nature": "modernisation",
            "start_on": "2021-06-01",
            "end_on": "2022-06-30",
            "sponsor": {"name": "Mme la Maire", "role": "Maire"},
            "expense_lines": [
                {"category": "development", "label": "Développement", "amount_cents": 4_000_000}
            ],
            "requested_cents": 1_250_000,
        },
        headers=mail.headers(who),
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def act(mail: Mail, who: Principal, project_id: str, action: str, **body: Any) -> None:
    if action == "submit":  # R-DOC-1: the documents it asks for first
        await file_required_documents(mail.client, mail.headers(who), project_id)
    url = f"/api/v1/projects/{project_id}"
    etag = (await mail.client.get(url, headers=mail.headers(who))).headers["ETag"]
    response = await mail.client.post(
        f"{url}/{action}", json=body or None, headers={**mail.headers(who), "If-Match": etag}
    )
    assert response.status_code == 200, response.text


async def submitted_dossier(
    mail: Mail, departement: str, *, title: str = "Prise de rendez-vous en ligne – état civil"
) -> tuple[str, str]:
    """A commune of the département with a contact, a prefecture address, one dossier
    submitted: returns the dossier's id and the candidate's address."""
    [siren] = commune_sirens(departement, 1)
    address = f"elodie.lefevre@mairie-{departement}.fr"
    who = candidate_of(siren)
    await register(mail, who, address)
    await set_address(mail, departement, f"fitn7@pref-{departement}.gouv.fr")
    project_id = await file(mail, who, title)
    await act(mail, who, project_id, "submit")
    return project_id, address


async def drain(mail: Mail, settings: Settings, **kwargs: Any) -> int:
    total = 0
    while done := await deliver_once(mail.sessionmaker, settings, **kwargs):
        total += done
    return total


def parts(message: EmailMessage) -> tuple[str, str]:
    text = message.get_body(preferencelist=("plain",))
    html = message.get_body(preferencelist=("html",))
    assert text is not None and html is not None
    return text.get_content(), html.get_content()


# -- the tests ---------------------------------------------------------------------------------


async def test_r_notif_1_received_headers_both_parts_accents_and_link(
    mail: Mail, relay: Relay
) -> None:
    project_id, address = await submitted_dossier(mail, "60")
    assert await drain(mail, mail.via(relay)) == 2
    [receipt] = relay.to(address)
    [row] = await mail.rows(kind="submission_receipt")
    assert str(receipt["Message-ID"]).strip() == row.message_id  # (folded: too long a line)
    assert receipt["From"] == mail.settings.smtp_from
    assert receipt["Auto-Submitted"] == "auto-generated"
    assert receipt.get_content_type() == "multipart/alternative"
    subject = str(receipt["Subject"])
    assert subject.startswith("Dossier GUICHET-60-") and "accusé de réception" in subject
    # non-ASCII headers travel encoded (RFC 2047) and decode back
    raw = receipt.as_bytes()
    assert b"=?utf-8?" in raw.lower() and "accusé".encode() not in raw.split(b"\n\n")[0]
    text, html = parts(receipt)
    assert "Bonjour Élodie Lefèvre," in text
    assert "« Prise de rendez-vous en ligne – état civil »" in text
    assert "15 février 2021" in text  # the service's date, written out
    assert f"{FRONT}/dossiers/{project_id}" in text
    assert f'href="{FRONT}/dossiers/{project_id}"' in html
    assert "état civil" in html
    for part in (receipt.get_body(("plain",)), receipt.get_body(("html",))):
        assert part is not None and part.get_content_charset() == "utf-8"
        assert part["Content-Transfer-Encoding"] == "quoted-printable"
    assert max(raw) < 128  # 7-bit clean on the wire: the accents are encoded
    [to_prefecture] = relay.to("fitn7@pref-60.gouv.fr")
    assert "Nouveau dossier déposé (60)" in str(to_prefecture["Subject"])
    assert "12\u202f500,00\u00a0€" in parts(to_prefecture)[0]
    assert [r.status for r in await mail.rows()] == ["sent", "sent"]


async def test_r_notif_1_starttls_and_authentication(
    mail: Mail, secure_relay: tuple[Relay, Path, list[str]]
) -> None:
    relay, ca_file, logins = secure_relay
    _, address = await submitted_dossier(mail, "69")
    secure = {
        "smtp_host": "127.0.0.1",
        "smtp_port": relay.port,
        "smtp_starttls": True,
        "smtp_ca_file": ca_file,
        "smtp_username": "guichet",
    }
    # a wrong password: refused by the relay (535), retried, not given up
    wrong = mail.settings.model_copy(update={**secure, "smtp_password": SecretStr("non")})
    [receipt, _] = await mail.rows()
    assert await deliver_once(mail.sessionmaker, wrong, now=receipt.next_attempt_at) == 2
    rows = await mail.rows()
    assert [r.status for r in rows] == ["pending", "pending"]
    assert all("535" in (r.last_error or "") for r in rows), [r.last_error for r in rows]
    # an unknown CA: the relay's certificate is checked, nothing is sent in clear
    untrusted = mail.settings.model_copy(
        update={**secure, "smtp_ca_file": None, "smtp_password": SecretStr("s3cret-relais")}
    )
    later = receipt.next_attempt_at + timedelta(minutes=1)
    assert await deliver_once(mail.sessionmaker, untrusted, now=later) == 2
    assert relay.received == [] and [r.status for r in await mail.rows()] == ["pending"] * 2
    right = mail.settings.model_copy(update={**secure, "smtp_password": SecretStr("s3cret-relais")})
    assert await drain(mail, right, now=later + timedelta(minutes=5)) == 2
    assert [r.status for r in await mail.rows()] == ["sent", "sent"]
    assert len(relay.to(address)) == 1 and logins == ["guichet", "guichet"]


async def test_r_notif_1_the_html_part_escapes_the_dossier(mail: Mail, relay: Relay) -> None:
    _, address = await submitted_dossier(mail, "61", title="<script>alert('x')</script>")
    await drain(mail, mail.via(relay))
    [receipt] = relay.to(address)
    text, html = parts(receipt)
    assert "<script>" not in html
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in html
    assert "<script>alert('x')</script>" in text  # plain text is text


async def test_r_notif_1_exactly_once_across_a_crash_between_claim_and_send(
    mail: Mail, relay: Relay
) -> None:
    await submitted_dossier(mail, "62")
    settings = mail.via(relay)
    [first] = await mail.rows(kind="submission_receipt")
    start = first.next_attempt_at
    crashed = await claim(mail.sessionmaker, settings, now=start, limit=10)
    assert len(crashed) == 2  # leased, then the worker dies: nothing sent
    assert await deliver_once(mail.sessionmaker, settings, now=start) == 0  # still leased
    later = start + timedelta(seconds=settings.notification_lease_seconds + 1)
    assert await drain(mail, settings, now=later) == 2
    assert await drain(mail, settings, now=later + timedelta(days=1)) == 0
    assert len(relay.received) == 2
    assert len({str(m["Message-ID"]).strip() for m in relay.received}) == 2
    assert [(r.status, r.attempts) for r in await mail.rows()] == [("sent", 2), ("sent", 2)]


async def test_r_notif_1_a_worker_whose_lease_was_taken_over_does_not_send_again(
    mail: Mail, relay: Relay
) -> None:
    await submitted_dossier(mail, "63")
    settings = mail.via(relay)
    [first] = await mail.rows(kind="submission_receipt")
    start = first.next_attempt_at
    slow = await claim(mail.sessionmaker, settings, now=start, limit=10)  # stalls
    later = start + timedelta(seconds=settings.notification_lease_seconds + 1)
    assert await drain(mail, settings, now=later) == 2  # another worker takes over, sends
    await process(mail.sessionmaker, settings, slow)  # the slow one wakes up
    assert len(relay.received) == 2  # the record of the send stopped a second one
    assert all(r.status == "sent" for r in await mail.rows())


async def test_r_notif_1_a_refusing_relay_gives_up_visibly(mail: Mail, relay: Relay) -> None:
    project_id, address = await submitted_dossier(mail, "64")
    relay.rcpt_replies = [f"550 5.1.1 <{address}>: Destinataire inconnu"]
    settings = mail.via(relay)
    assert await drain(mail, settings) == 2
    receipt, to_prefecture = await mail.rows()
    assert (receipt.status, receipt.attempts) == ("failed", 1)  # 5xx: never retried
    assert receipt.last_error is not None and "550" in receipt.last_error
    assert "elodie" not in receipt.last_error  # never the address (personal data)
    assert to_prefecture.status == "sent"
    assert await drain(mail, settings, now=receipt.created_at + timedelta(days=3)) == 0
    assert relay.to(address) == []
    listed = await mail.client.get(
        f"/api/v1/projects/{project_id}/notifications", headers=mail.headers(DINUM)
    )
    first = listed.json()["items"][0]
    assert (first["status"], first["recipient"]) == ("failed", "e***@mairie-64.fr")
    assert "550" in first["last_error"]
    # /metrics shows it (the router's lifespan registers the outbox's gauges)
    async with notifications_lifespan(mail.app):
        metrics = await mail.client.get("/metrics")
    assert "guichet_notification_failed 1.0" in metrics.text
    assert "guichet_notification_outbox_depth 0.0" in metrics.text


async def test_r_notif_1_a_relay_down_or_deferring_is_retried(mail: Mail, relay: Relay) -> None:
    _, address = await submitted_dossier(mail, "65")
    [receipt, to_prefecture] = await mail.rows()
    start = receipt.next_attempt_at
    # refused connection (nothing listens there)
    down = mail.via(None, smtp_host="127.0.0.1", smtp_port=free_port())
    assert await deliver_once(mail.sessionmaker, down, now=start) == 2
    rows = await mail.rows()
    assert [(r.status, r.attempts) for r in rows] == [("pending", 1), ("pending", 1)]
    assert all(r.last_error for r in rows)
    async with mail.sessionmaker() as session, session.begin():
        [gauges] = [
            g
            for g in await notification_metrics.outbox_gauges(session)
            if g.name == "guichet_notification_retrying"
        ]
    assert gauges.samples[0].value == 2
    assert await deliver_once(mail.sessionmaker, down, now=start) == 0  # backing off
    # a relay that accepts the connection and never answers: a timeout, retried
    silent = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = silent.sockets[0].getsockname()[1]
    try:
        mute = mail.via(None, smtp_host="127.0.0.1", smtp_port=port, smtp_timeout_seconds=0.5)
        assert await deliver_once(mail.sessionmaker, mute, now=start + timedelta(seconds=31)) == 2
    finally:
        silent.close()
    rows = await mail.rows()
    assert [(r.status, r.attempts) for r in rows] == [("pending", 2), ("pending", 2)]
    assert all("Timeout" in (r.last_error or "") for r in rows), [r.last_error for r in rows]
    # a 4xx (greylisting) then the relay accepts: one message each, in the end
    relay.rcpt_replies = ["451 4.7.1 Réessayez plus tard"]
    settings = mail.via(relay)
    assert await deliver_once(mail.sessionmaker, settings, now=start + timedelta(minutes=2)) == 2
    assert await drain(mail, settings, now=start + timedelta(minutes=10)) == 1
    assert [(r.status, r.attempts) for r in await mail.rows()] == [("sent", 4), ("sent", 3)]
    assert len(relay.to(address)) == 1 and len(relay.received) == 2


async def test_r_notif_1_gives_up_after_the_configured_tries(mail: Mail) -> None:
    await submitted_dossier(mail, "66")
    down = mail.via(None, smtp_host="127.0.0.1", smtp_port=free_port(), notification_max_attempts=2)
    [receipt, _] = await mail.rows()
    start = receipt.next_attempt_at
    await deliver_once(mail.sessionmaker, down, now=start)
    await deliver_once(mail.sessionmaker, down, now=start + timedelta(minutes=5))
    assert [(r.status, r.attempts) for r in await mail.rows()] == [("failed", 2)] * 2


async def test_r_notif_1_without_a_relay_messages_are_written_never_dropped(
    mail: Mail, tmp_path: Path
) -> None:
    await submitted_dossier(mail, "67")
    settings = mail.via(None, notification_mail_dir=tmp_path / "var" / "mail")
    assert settings.smtp_host is None
    assert await drain(mail, settings) == 2
    files = sorted((tmp_path / "var" / "mail").glob("*.eml"))
    assert len(files) == 2
    ids = {r.message_id for r in await mail.rows()}
    read = [email.message_from_bytes(f.read_bytes(), policy=default_policy) for f in files]
    assert {str(m["Message-ID"]).strip() for m in read} == ids


async def test_r_notif_1_two_instances_send_each_message_once(mail: Mail, relay: Relay) -> None:
    sirens = commune_sirens("68", 6)
    await set_address(mail, "68", "fitn7@pref-68.gouv.fr")
    for siren in sirens:
        who = candidate_of(siren)
        await register(mail, who, f"contact-{siren}@mairie-68.fr")
        await act(mail, who, await file(mail, who), "submit")
    other = create_app(mail.settings)  # a second instance: its own engine and pool
    try:
        settings = mail.via(relay, notification_batch_size=2)

        async def instance(app: FastAPI) -> int:
            total = 0
            while done := await deliver_once(app.state.sessionmaker, settings):
                total += done
            return total

        counts = await asyncio.gather(instance(mail.app), instance(other))
    finally:
        await other.state.engine.dispose()
    assert sum(counts) == 12
    ids = [str(m["Message-ID"]).strip() for m in relay.received]
    assert len(ids) == 12 and len(set(ids)) == 12
    assert all(r.status == "sent" for r in await mail.rows())
    if backend_url() is not None:
        assert all(counts), counts  # PostgreSQL: both instances took a share (SKIP LOCKED)


async def test_r_notif_1_money_path_end_to_end(mail: Mail, relay: Relay) -> None:
    """The README's path with the SMTP server listening: the candidate receives exactly its
    messages, in order; the prefecture its two kinds; nothing else."""
    actors = ACTORS
    client, headers = mail.client, mail.headers
    money = Money(client, None, headers, actors)  # type: ignore[arg-type]
    committees = Committees(client, headers, actors)
    settings = mail.via(relay)
    marseille, aix = "dsi@marseille.fr", "dgs@aix.fr"
    prefecture = "fitn7@bouches-du-rhone.gouv.fr"
    async with mail.sessionmaker() as session, session.begin():  # earlier tests' prefectures
        await session.execute(delete(PrefectureAddress))  # are due too: not told here
    assert (await money.allocate("13", 10_000_000)).status_code == 201
    await set_address(mail, "13", prefecture)
    await register(mail, actors.cand_a, marseille)
    await register(mail, actors.cand_b, aix)
    assert (actors.cand_a.siren, actors.cand_b.siren) == (MARSEILLE_SIREN, AIX_SIREN)

    project = await file(mail, actors.cand_a, "Portail citoyen")
    await act(mail, actors.cand_a, project, "submit")
    await act(mail, actors.pref13, project, "start-review")
    await act(mail, actors.pref13, project, "return", message="Joignez le devis signé.")
    await act(mail, actors.cand_a, project, "submit")
    await act(mail, actors.pref13, project, "start-review")
    await drain(mail, settings)

    # R-COM-1: a month after the first submission the committee is due: told once
    clock = clock_starting_at("2021-03-20T10:00:00+01:00")
    mail.app.dependency_overrides[get_clock] = lambda: clock
    use_clock(clock)
    assert await check_due(mail.sessionmaker, settings) == 1
    assert await check_due(mail.sessionmaker, settings) == 0
    other = await file(mail, actors.cand_b, "Guichet unique")
    await act(mail, actors.cand_b, other, "submit")  # a submission after: not told again
    assert await check_due(mail.sessionmaker, settings) == 0
    await drain(mail, settings)

    committee = await committees.new(meeting_on="2021-03-20")
    assert (await committees.agenda(committee, [project])).status_code == 200
    decided = await committees.decide(committee, project, "accepted", 1_000_000)  # type: ignore[arg-type]
    assert decided.status_code == 200, decided.text
    await drain(mail, settings)
    assert not any("décision" in str(m["Subject"]) for m in relay.to(marseille))  # not yet
    assert (await committees.close(committee, key="close-13-notif")).status_code == 200
    assert await check_due(mail.sessionmaker, settings) == 0  # the count restarted
    signed = await money.convention(
        project,  # type: ignore[arg-type]
        signed_on="2021-03-20",
        schedule=[
            {"label": "Avance", "kind": "advance", "due_on": "2021-03-20", "amount_cents": 300_000},
            {"label": "Solde", "kind": "balance", "due_on": "2021-03-20", "amount_cents": 700_000},
        ],
    )
    assert signed.status_code == 200, signed.text
    paid = await money.pay(project, "advance", 300_000, paid_on="2021-03-20")  # type: ignore[arg-type]
    assert paid.status_code == 201, paid.text
    await drain(mail, settings)

    subjects = [str(m["Subject"]) for m in relay.to(marseille)]
    assert [s.split(" : ", 1)[1] if " : " in s else s for s in subjects] == [
        "accusé de réception",
        "compléments demandés",
        "accusé de réception",
        "décision du comité de sélection",
        "convention enregistrée",
        "versement de 3\u202f000,00\u00a0€",
    ], subjects
    returned_text = parts(relay.to(marseille)[1])[0]
    assert "Joignez le devis signé." in returned_text
    decision_text = parts(relay.to(marseille)[3])[0]
    assert "10\u202f000,00\u00a0€" in decision_text and "20 mars 2021" in decision_text
    payment_text = parts(relay.to(marseille)[5])[0]
    assert "reste à verser : 7\u202f000,00\u00a0€" in payment_text
    assert "20 mars 2021" in payment_text
    assert [str(m["Subject"]).split(" (")[0] for m in relay.to(prefecture)] == [
        "Nouveau dossier déposé",
        "Nouveau dossier déposé",
        "Comité de sélection dû",
        "Nouveau dossier déposé",
    ]
    due_text = parts(relay.to(prefecture)[2])[0]
    assert "dû depuis le 20 mars 2021" in due_text  # the service's day
    assert [str(m["Subject"]).split(" : ")[1] for m in relay.to(aix)] == ["accusé de réception"]
    assert len(relay.received) == 6 + 4 + 1  # nothing else
    for message in relay.received:  # R-EVAL-4: no evaluation, no score
        assert "évaluation" not in parts(message)[0].lower()


async def test_r_notif_1_committee_due_told_once_by_racing_instances(mail: Mail) -> None:
    """R-COM-1: two instances checking at once queue one notice (its key is unique)."""
    await submitted_dossier(mail, "70")
    clock = clock_starting_at("2021-03-20T10:00:00+01:00")  # a month after the submission
    mail.app.dependency_overrides[get_clock] = lambda: clock
    use_clock(clock)
    other = create_app(mail.settings)
    try:
        await asyncio.gather(
            *(check_due(app.state.sessionmaker, mail.settings) for app in [mail.app, other] * 3)
        )
    finally:
        await other.state.engine.dispose()
    due = await mail.rows(kind="committee_due", departement="70")
    assert len(due) == 1
    assert due[0].context["reason"] == "month" and due[0].recipient == "fitn7@pref-70.gouv.fr"
