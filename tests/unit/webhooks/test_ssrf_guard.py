"""R-HOOK-1, the SSRF guard as pure functions: the address rule (every range of the README's
table, address by address; the transition forms unwrapped), the port rule, one resolution and
the request pinned to the checked address."""

from __future__ import annotations

import re
from ipaddress import IPv6Address, ip_address, ip_network
from pathlib import Path

import httpx
import pytest

from app.webhooks.guard import (
    RANGES,
    Target,
    TargetPolicy,
    address_refusal,
    check_addresses,
    check_url,
    markdown_table,
    pinned,
    resolve,
    system_resolver,
)

PRODUCTION = TargetPolicy()
README = Path(__file__).resolve().parents[3] / "README.md"


def readme_table() -> str:
    text = README.read_text(encoding="utf-8")
    found = re.search(r"<!-- ssrf-ranges:start -->\n(.*?)\n<!-- ssrf-ranges:end -->", text, re.S)
    assert found is not None, "README: the SSRF guard's table is missing"
    return found.group(1)


def readme_networks() -> list[str]:
    """The first column of the README's table, as written there."""
    return re.findall(r"^\| `([^`]+)` \|", readme_table(), re.M)


def refused(address: str, policy: TargetPolicy = PRODUCTION) -> bool:
    return address_refusal(ip_address(address), policy) is not None


def test_r_hook_1_the_readme_table_is_the_code_table() -> None:
    assert readme_table() == markdown_table()
    assert readme_networks() == [str(r.network) for r in RANGES]


@pytest.mark.parametrize("network", readme_networks())
def test_r_hook_1_each_range_of_the_readme_is_refused_first_and_last_address(
    network: str,
) -> None:
    block = ip_network(network)
    assert refused(str(block.network_address)), block.network_address
    assert refused(str(block.broadcast_address)), block.broadcast_address


# Issue 23, point 3: each was accepted (Python's `ipaddress` calls them global).
ISSUE_REPRODUCERS = [
    "64:ff9b::a9fe:a9fe",  # NAT64 → 169.254.169.254
    "64:ff9b::a00:1",  # NAT64 → 10.0.0.1
    "64:ff9b:1::a9fe:a9fe",  # NAT64 local-use
    "::ffff:0:a9fe:a9fe",  # IPv4-translated → 169.254.169.254
    "::127.0.0.1",  # IPv4-compatible → 127.0.0.1
    "2002:7f00:1::1",  # 6to4 → 127.0.0.1
]


@pytest.mark.parametrize("address", ISSUE_REPRODUCERS)
def test_r_hook_1_the_issue_reproducers_are_refused(address: str) -> None:
    assert refused(address)
    assert check_url(f"https://[{address}]/", PRODUCTION) is None  # the address decides
    assert check_addresses([address], PRODUCTION) is not None


@pytest.mark.parametrize(
    ("address", "embedded"),
    [
        ("64:ff9b::a9fe:a9fe", "169.254.169.254"),
        ("::ffff:169.254.169.254", "169.254.169.254"),
        ("::ffff:0:a9fe:a9fe", "169.254.169.254"),
        ("::7f00:1", "127.0.0.1"),
        ("2002:c0a8:101::1", "192.168.1.1"),
        ("2001:0:a00:1::fefe:fefe", "10.0.0.1"),  # Teredo server 10.0.0.1, client 1.1.1.1
        ("2001:0:101:101::80ff:fffe", "127.0.0.1"),  # Teredo client 127.0.0.1 (obfuscated)
    ],
)
def test_r_hook_1_a_transition_form_is_refused_for_the_address_it_embeds(
    address: str, embedded: str
) -> None:
    reason = address_refusal(ip_address(address), PRODUCTION)
    assert reason is not None and embedded in reason


@pytest.mark.parametrize(
    "address",
    [
        "64:ff9b::101:101",  # NAT64 of 1.1.1.1
        "::ffff:1.1.1.1",
        "::ffff:0:101:101",
        "::101:101",
        "2002:101:101::1",  # 6to4 of 1.1.1.1
        "2001:0:101:101::f7f7:f7f7",  # Teredo: server 1.1.1.1, client 8.8.8.8
    ],
)
def test_r_hook_1_a_transition_form_embedding_a_public_address_passes(address: str) -> None:
    assert not refused(address)


@pytest.mark.parametrize(
    "address",
    [
        "1.1.1.1",
        "8.8.8.8",
        "93.184.216.34",
        "9.255.255.255",  # next to 10/8
        "11.0.0.0",
        "100.63.255.255",  # next to 100.64/10
        "100.128.0.0",
        "172.15.255.255",  # next to 172.16/12
        "172.32.0.0",
        "223.255.255.255",  # last before multicast
        "2606:4700::1111",
        "2001:4860:4860::8888",
        "2a00:1450:4007:80f::200e",
        "2001:200::1",  # first after 2001::/23
        "2000::1",  # first of global unicast
        "3ffe:ffff::1",  # next to 3fff::/20
    ],
)
def test_r_hook_1_public_addresses_pass(address: str) -> None:
    assert not refused(address)
    assert check_addresses([address], PRODUCTION) is None


def test_r_hook_1_loopback_for_development_only_and_never_wrapped() -> None:
    development = TargetPolicy(allow_loopback=True)
    assert refused("127.0.0.1") and refused("::1")
    assert not refused("127.0.0.1", development) and not refused("::1", development)
    for wrapped in ["::ffff:127.0.0.1", "64:ff9b::7f00:1", "2002:7f00:1::1", "::127.0.0.1"]:
        assert refused(wrapped, development), wrapped
    assert refused("10.0.0.1", development)


def test_r_hook_1_one_refused_answer_refuses_the_host() -> None:
    assert check_addresses(["1.1.1.1", "64:ff9b::a9fe:a9fe"], PRODUCTION) is not None
    assert check_addresses(["not an address"], PRODUCTION) is not None
    assert check_addresses([], PRODUCTION) is not None


@pytest.mark.parametrize(
    ("url", "policy", "is_refused"),
    [
        ("https://1.1.1.1/", PRODUCTION, False),
        ("https://1.1.1.1:443/", PRODUCTION, False),
        ("https://1.1.1.1:22/", PRODUCTION, True),  # issue 23
        ("https://1.1.1.1:8443/", PRODUCTION, True),
        ("https://1.1.1.1:8443/", TargetPolicy(allowed_ports=(8443,)), False),
        ("https://1.1.1.1:22/", TargetPolicy(allowed_ports=(8443,)), True),
        ("http://127.0.0.1/", TargetPolicy(allow_loopback=True), True),  # 80 is not allowed
        ("http://127.0.0.1:8000/", TargetPolicy(allow_loopback=True, allowed_ports=(8000,)), False),
    ],
)
def test_r_hook_1_port_443_unless_the_operator_allows_another(
    url: str, policy: TargetPolicy, is_refused: bool
) -> None:
    assert (check_url(url, policy) is not None) is is_refused


class Resolver:
    """A resolver the test controls: one scripted answer per call, calls counted."""

    def __init__(self, *answers: list[str]) -> None:
        self.answers = list(answers)
        self.calls: list[tuple[str, int]] = []

    async def __call__(self, host: str, port: int) -> list[str]:
        self.calls.append((host, port))
        return self.answers.pop(0)


async def test_r_hook_1_the_host_is_resolved_once_and_every_answer_checked() -> None:
    resolver = Resolver(["93.184.216.34", "2606:2800:220:1::1"], ["93.184.216.34", "10.0.0.1"])
    target = await resolve("https://Hooks.Example.org/in", PRODUCTION, resolver)
    assert isinstance(target, Target)
    assert [str(a) for a in target.addresses] == ["93.184.216.34", "2606:2800:220:1::1"]
    assert resolver.calls == [("hooks.example.org", 443)]
    rebound = await resolve("https://hooks.example.org/in", PRODUCTION, resolver)
    assert isinstance(rebound, str) and "10.0.0.1" in rebound


async def test_r_hook_1_an_ip_literal_is_not_resolved() -> None:
    resolver = Resolver()
    target = await resolve("https://[2606:4700::1111]/in", PRODUCTION, resolver)
    assert isinstance(target, Target) and resolver.calls == []
    refused_target = await resolve("https://[64:ff9b::a9fe:a9fe]/", PRODUCTION, resolver)
    assert isinstance(refused_target, str) and "169.254.169.254" in refused_target


async def test_r_hook_1_a_resolution_failure_refuses() -> None:
    async def failing(host: str, port: int) -> list[str]:
        raise OSError("Name or service not known")

    assert isinstance(await resolve("https://nowhere.invalid/", PRODUCTION, failing), str)


def test_r_hook_1_the_request_connects_to_the_checked_address_as_the_host() -> None:
    target = Target(httpx.URL("https://hooks.example.org:8443/in?x=1"), ())
    url, headers, extensions = pinned(target, IPv6Address("2606:4700::1111"))
    assert str(url) == "https://[2606:4700::1111]:8443/in?x=1"
    assert headers == {"host": "hooks.example.org:8443"}
    assert extensions == {"sni_hostname": "hooks.example.org"}  # SNI and certificate check
    literal = Target(httpx.URL("https://1.1.1.1/in"), ())
    assert pinned(literal, ip_address("1.1.1.1"))[2] == {}  # the certificate names the address


@pytest.mark.parametrize("url", ["https://2130706433/", "https://0x7f.1/"])
async def test_r_hook_1_numeric_host_spellings_are_judged_by_their_address(url: str) -> None:
    """Not IP literals to Python, but the system resolver reads them as 127.0.0.1 (inet_aton):
    the guard judges the address it resolved, the one the worker would connect to."""
    refusal = await resolve(url, PRODUCTION, system_resolver)
    assert isinstance(refusal, str) and "127.0.0.1" in refusal
