"""R-HOOK-1, the SSRF guard at delivery: the host is resolved once, by a resolver the test
controls, every answer is checked, and the worker connects to the checked address (DNS
rebinding after registration is refused; the name is never resolved a second time; over TLS the
host stays the server name the certificate is checked against).

The names used here end in `.test` (RFC 6761): the system resolver cannot answer them, so a
delivery that arrives was connected to the address the guard checked.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import ssl
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
import uvicorn
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from app.core.config import Settings
from app.webhooks import service as webhooks_service
from app.webhooks.rules import EventType
from app.webhooks.schemas import SubscriptionCreate
from app.webhooks.worker import deliver_once
from tests.concurrency import test_r_hook_1_webhook_delivery as delivery
from tests.concurrency.conftest import DINUM, World
from tests.concurrency.test_r_hook_1_webhook_delivery import Receiver, committee_closes, deliveries

# The delivery tests' fixtures: their receiver on 127.0.0.1, its settings, the subscriptions
# deleted at the end, committee events carrying their summary.
receiver = delivery.receiver
settings = delivery.settings
subscriptions = delivery.subscriptions
summaries_for_committees = delivery.summaries_for_committees

HOST = "hooks.rebind.test"


class ScriptedResolver:
    """Answers `answers[i]` to its i-th call (the last one after that); counts its calls."""

    def __init__(self, *answers: list[str]) -> None:
        self.answers = answers
        self.calls: list[tuple[str, int]] = []

    async def __call__(self, host: str, port: int) -> list[str]:
        self.calls.append((host, port))
        return self.answers[min(len(self.calls), len(self.answers)) - 1]


async def test_r_hook_1_dns_rebinding_after_registration_is_refused_at_delivery(
    world: World, receiver: Receiver, subscriptions: list[uuid.UUID]
) -> None:
    production = world.settings  # https, port 443, public addresses only
    resolver = ScriptedResolver(["93.184.216.34"], ["127.0.0.1"])
    subscription_id, _ = await subscribe_with(
        world, production, subscriptions, f"https://{HOST}/hooks", resolver
    )
    await committee_closes(world, ["72"])
    assert await deliver_once(world.sessionmaker, production, resolver=resolver) == 1
    assert resolver.calls == [(HOST, 443), (HOST, 443)]
    assert receiver.requests == []
    [refused] = await deliveries(world, subscription_id)
    assert refused.status == "pending" and refused.last_status_code is None
    assert refused.last_error is not None and "127.0.0.1" in refused.last_error


async def test_r_hook_1_delivery_connects_to_the_checked_address_and_resolves_once(
    world: World, settings: Settings, receiver: Receiver, subscriptions: list[uuid.UUID]
) -> None:
    # Registration and the delivery's check answer the receiver's address; any later call
    # (a second resolution after the check) would answer an address nothing listens on.
    resolver = ScriptedResolver(["127.0.0.1"], ["127.0.0.1"], ["10.255.255.1"])
    url = f"http://{HOST}:{receiver.port}/hooks"
    subscription_id, _ = await subscribe_with(world, settings, subscriptions, url, resolver)
    await committee_closes(world, ["73"])
    assert await deliver_once(world.sessionmaker, settings, resolver=resolver) == 1
    assert len(resolver.calls) == 2  # registration, then the delivery's check: no third
    [received] = receiver.requests
    assert received.headers["host"] == f"{HOST}:{receiver.port}"
    [delivered] = await deliveries(world, subscription_id)
    assert delivered.status == "delivered", delivered.last_error


async def subscribe_with(
    world: World,
    settings: Settings,
    created: list[uuid.UUID],
    url: str,
    resolver: ScriptedResolver,
) -> tuple[uuid.UUID, str]:
    async with world.sessionmaker() as session, session.begin():
        subscription, secret = await webhooks_service.create_subscription(
            session,
            DINUM,
            data=SubscriptionCreate(url=url, event_types=[EventType.COMMITTEE_CLOSED]),
            settings=settings,
            resolver=resolver,
        )
    created.append(subscription.id)
    return subscription.id, secret


# -- over TLS: the checked address, the host's name for SNI and the certificate ---------------


def self_signed(name: str, directory: Path) -> tuple[Path, Path, str]:
    """A certificate for `name` only (no IP address in it), its key, and its PEM."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    pem = certificate.public_bytes(serialization.Encoding.PEM).decode("ascii")
    cert_file, key_file = directory / f"{name}.pem", directory / f"{name}.key"
    cert_file.write_text(pem)
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file, pem


@pytest_asyncio.fixture
async def tls_receiver(tmp_path: Path) -> AsyncIterator[tuple[Receiver, str]]:
    """A receiver on 127.0.0.1 over TLS, with a certificate for HOST; and the PEM to trust."""
    cert_file, key_file, pem = self_signed(HOST, tmp_path)
    target = Receiver()
    server = uvicorn.Server(
        uvicorn.Config(
            target,
            host="127.0.0.1",
            port=0,
            lifespan="off",
            log_level="warning",
            ssl_certfile=str(cert_file),
            ssl_keyfile=str(key_file),
        )
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
    target.port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield target, pem
    finally:
        server.should_exit = True
        await task


@pytest.mark.parametrize("host", [HOST, "other.rebind.test"])
async def test_r_hook_1_over_tls_the_host_is_the_server_name_of_the_checked_address(
    world: World,
    tls_receiver: tuple[Receiver, str],
    subscriptions: list[uuid.UUID],
    host: str,
) -> None:
    target, pem = tls_receiver
    settings = world.settings.model_copy(
        update={"webhook_allow_loopback": True, "webhook_allowed_ports": [target.port]}
    )
    resolver = ScriptedResolver(["127.0.0.1"])  # both names: the receiver's address
    subscription_id, _ = await subscribe_with(
        world, settings, subscriptions, f"https://{host}:{target.port}/hooks", resolver
    )
    await committee_closes(world, ["74"])
    async with httpx.AsyncClient(verify=ssl.create_default_context(cadata=pem)) as client:
        done = await deliver_once(world.sessionmaker, settings, client=client, resolver=resolver)
    assert done == 1
    [row] = await deliveries(world, subscription_id)
    if host == HOST:
        # The certificate names HOST, not 127.0.0.1: it verified because HOST was the server
        # name, while the connection went to the checked address.
        assert row.status == "delivered", row.last_error
        [received] = target.requests
        assert received.headers["host"] == f"{HOST}:{target.port}"
    else:
        # Same address, another name: the certificate is checked against the URL's host.
        assert row.status == "pending" and target.requests == []
        assert row.last_error is not None and "hostname" in row.last_error.lower()
