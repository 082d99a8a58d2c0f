"""R-HOOK-1: the SSRF guard of webhook targets.

A target is refused unless its URL is https (http only when loopback is allowed, for
development), on port 443 or a port the operator allows (`webhook_allowed_ports`), names a host
(one of the operator's `webhook_allowed_hosts` when that list is set), and every address the host
resolves to is public.

The address rule is `RANGES`, in order, the first range holding an address deciding: the IANA
special-purpose registries (IPv4 and IPv6), multicast, and the IPv6 space outside global unicast
2000::/3. A transition form that embeds an IPv4 address is unwrapped and its IPv4 address (both,
for Teredo) checked against the same table: NAT64 64:ff9b::/96, 6to4 2002::/16, Teredo 2001::/32
(server, and client de-obfuscated), IPv4-mapped, IPv4-translated and IPv4-compatible. NAT64's
local-use prefix 64:ff9b:1::/48 is refused outright: where the IPv4 address sits in it depends on
the prefix length the operator chose (RFC 6052 §2.2), so there is nothing certain to unwrap.
Python's `ipaddress.is_global` is not used: it calls several of these forms global, and its
answers change between Python versions.

Pinning: `resolve` resolves the host once (through an injectable `Resolver`) and checks every
address; `pinned` builds the request that connects to a checked address, the URL's host kept as
Host header and as TLS server name (SNI and certificate check), so no second resolution happens
after the check (DNS rebinding).
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address, ip_network
from typing import Any
from urllib.parse import urlsplit

import httpx

HTTPS_PORT = 443

Address = IPv4Address | IPv6Address
Unwrap = Callable[[IPv6Address], tuple[IPv4Address, ...]]


def _last_32_bits(address: IPv6Address) -> tuple[IPv4Address, ...]:
    return (IPv4Address(int(address) & 0xFFFFFFFF),)


def _sixtofour(address: IPv6Address) -> tuple[IPv4Address, ...]:
    embedded = address.sixtofour
    assert embedded is not None  # only called on 2002::/16
    return (embedded,)


def _teredo(address: IPv6Address) -> tuple[IPv4Address, ...]:
    embedded = address.teredo
    assert embedded is not None  # only called on 2001::/32
    return embedded  # (server, client): ipaddress undoes the client's obfuscation


@dataclass(frozen=True)
class Range:
    """One row of the guard's table (README, "SSRF guard")."""

    network: IPv4Network | IPv6Network
    what: str
    unwrap: Unwrap | None = None  # a transition form: its embedded IPv4 address is checked

    @property
    def treatment(self) -> str:
        return "refused" if self.unwrap is None else "embedded IPv4 checked"


def _r(network: str, what: str, unwrap: Unwrap | None = None) -> Range:
    return Range(ip_network(network), what, unwrap)


# R-HOOK-1. In order: the first range that holds an address decides (a narrower range comes
# before the wider one that holds it). Any address in none of them is public.
RANGES: tuple[Range, ...] = (
    _r("0.0.0.0/8", '"This network"'),
    _r("10.0.0.0/8", "Private use"),
    _r("100.64.0.0/10", "Shared address space (carrier-grade NAT)"),
    _r("127.0.0.0/8", "Loopback"),
    _r("169.254.0.0/16", "Link-local (cloud metadata 169.254.169.254)"),
    _r("172.16.0.0/12", "Private use"),
    _r("192.0.0.0/24", "IETF protocol assignments"),
    _r("192.0.2.0/24", "Documentation (TEST-NET-1)"),
    _r("192.88.99.0/24", "6to4 relay anycast (deprecated)"),
    _r("192.168.0.0/16", "Private use"),
    _r("198.18.0.0/15", "Benchmarking"),
    _r("198.51.100.0/24", "Documentation (TEST-NET-2)"),
    _r("203.0.113.0/24", "Documentation (TEST-NET-3)"),
    _r("224.0.0.0/4", "Multicast"),
    _r("255.255.255.255/32", "Limited broadcast"),
    _r("240.0.0.0/4", "Reserved"),
    _r("::/128", "Unspecified"),
    _r("::1/128", "Loopback"),
    _r("::ffff:0:0/96", "IPv4-mapped", _last_32_bits),
    _r("::ffff:0:0:0/96", "IPv4-translated (SIIT)", _last_32_bits),
    _r("::/96", "IPv4-compatible (deprecated)", _last_32_bits),
    _r("64:ff9b::/96", "NAT64 well-known prefix", _last_32_bits),
    _r("64:ff9b:1::/48", "NAT64 local-use prefix (IPv4 position depends on the operator)"),
    _r("100::/64", "Discard-only"),
    _r("100:0:0:1::/64", "Dummy prefix"),
    _r("2001::/32", "Teredo (server and client)", _teredo),
    _r("2001::/23", "IETF protocol assignments (benchmarking, ORCHID, anycast services)"),
    _r("2001:db8::/32", "Documentation"),
    _r("2002::/16", "6to4", _sixtofour),
    _r("3fff::/20", "Documentation"),
    _r("::/3", "Outside global unicast 2000::/3 (reserved by the IETF)"),
    _r("5f00::/16", "Segment routing (SRv6) SIDs"),
    _r("fc00::/7", "Unique local"),
    _r("fe80::/10", "Link-local"),
    _r("fec0::/10", "Site-local (deprecated)"),
    _r("ff00::/8", "Multicast"),
    _r("4000::/2", "Outside global unicast 2000::/3 (reserved by the IETF)"),
    _r("8000::/1", "Outside global unicast 2000::/3 (reserved by the IETF)"),
)


def range_of(address: Address) -> Range | None:
    """The first row of `RANGES` holding `address` (None: a public address)."""
    for row in RANGES:
        if address.version == row.network.version and address in row.network:
            return row
    return None


def markdown_table() -> str:
    """`RANGES` as the README shows it (a test keeps the two equal)."""
    lines = ["| Range | What | Treatment |", "|---|---|---|"]
    lines += [f"| `{r.network}` | {r.what} | {r.treatment} |" for r in RANGES]
    return "\n".join(lines)


# -- policy ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class TargetPolicy:
    allow_loopback: bool = False  # development and tests: http and 127.0.0.0/8, ::1 allowed
    allowed_hosts: tuple[str, ...] = ()  # empty: any public host
    allowed_ports: tuple[int, ...] = ()  # beside 443


def _is_loopback(address: Address) -> bool:
    return address in ip_network("127.0.0.0/8") or address == IPv6Address("::1")


def address_refusal(address: Address, policy: TargetPolicy) -> str | None:
    """R-HOOK-1: why this address may not be connected to (None when it may)."""
    if policy.allow_loopback and _is_loopback(address):
        return None
    row = range_of(address)
    if row is None:
        return None
    if row.unwrap is None or not isinstance(address, IPv6Address):
        return f"Adresse non publique refusée : {address} (plage {row.network})."
    for embedded in row.unwrap(address):
        inner = range_of(embedded)
        if inner is not None:
            return (
                f"Adresse non publique refusée : {address} ({row.network}) contient l'adresse "
                f"IPv4 {embedded} (plage {inner.network})."
            )
    return None


def check_url(url: str, policy: TargetPolicy) -> str | None:
    """Why a target URL is refused before resolving it (None when it may be resolved)."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return "URL invalide."
    if parts.scheme != "https" and not (policy.allow_loopback and parts.scheme == "http"):
        return "L'URL doit être en https."
    host = (parts.hostname or "").lower()
    if not host:
        return "L'URL doit nommer un hôte."
    if parts.username or parts.password:
        return "L'URL ne doit pas contenir d'identifiants."
    if port is None:
        port = HTTPS_PORT if parts.scheme == "https" else 80
    if port != HTTPS_PORT and port not in policy.allowed_ports:
        return (
            f"Le port {port} est refusé : 443 seulement, sauf les ports autorisés par "
            "l'exploitant (GUICHET_WEBHOOK_ALLOWED_PORTS)."
        )
    if policy.allowed_hosts and host not in {h.lower() for h in policy.allowed_hosts}:
        return f"L'hôte « {host} » n'est pas dans la liste des hôtes autorisés."
    return None


def _is_literal(host: str) -> bool:
    try:
        ip_address(host)
    except ValueError:
        return False
    return True


def parse_address(text: str) -> Address:
    """An address as a resolver writes it (an IPv6 zone, `%eth0`, dropped)."""
    return ip_address(text.split("%", 1)[0])


def check_addresses(addresses: Iterable[str], policy: TargetPolicy) -> str | None:
    """Why resolved addresses are refused: every one must pass `address_refusal`. None when
    the target may be called."""
    found = list(addresses)
    if not found:
        return "L'hôte ne se résout en aucune adresse."
    for text in found:
        try:
            address = parse_address(text)
        except ValueError:
            return f"Adresse illisible refusée : {text[:100]}."
        refused = address_refusal(address, policy)
        if refused is not None:
            return refused
    return None


# -- resolution and pinning -----------------------------------------------------------------

# host, port → the addresses it resolves to (as text). Injectable: tests answer what they like.
Resolver = Callable[[str, int], Awaitable[list[str]]]


async def system_resolver(host: str, port: int) -> list[str]:
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


@dataclass(frozen=True)
class Target:
    """A checked target: its URL and the addresses it may be connected to."""

    url: httpx.URL
    addresses: tuple[Address, ...]


async def resolve(url: str, policy: TargetPolicy, resolver: Resolver) -> Target | str:
    """R-HOOK-1: the target resolved once and checked (every address), or why it is refused.
    An IP literal is not resolved."""
    refused = check_url(url, policy)
    if refused is not None:
        return refused
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL:
        return "URL invalide."
    host = parsed.raw_host.decode("ascii")  # IDNA-encoded, as httpx would send it
    if _is_literal(host):
        addresses = [host]
    else:
        try:
            port = parsed.port or (HTTPS_PORT if parsed.scheme == "https" else 80)
            addresses = await resolver(host, port)
        except (OSError, UnicodeError) as exc:  # UnicodeError: a label IDNA cannot encode
            return f"Résolution impossible de l'hôte : {exc}."
    refused = check_addresses(addresses, policy)
    if refused is not None:
        return refused
    return Target(parsed, tuple(dict.fromkeys(parse_address(a) for a in addresses)))


def pinned(target: Target, address: Address) -> tuple[httpx.URL, dict[str, str], dict[str, Any]]:
    """The URL, headers and extensions of a request to `target` that connects to `address`
    (a checked one): the host stays the Host header and, over https, the TLS server name
    (httpx's `sni_hostname` extension: SNI and the certificate are checked against it)."""
    url = target.url.copy_with(host=str(address))
    headers = {"host": target.url.netloc.decode("ascii")}
    host = target.url.raw_host.decode("ascii")
    extensions: dict[str, Any] = {}
    if target.url.scheme == "https" and not _is_literal(host):
        extensions["sni_hostname"] = host
    return url, headers, extensions
