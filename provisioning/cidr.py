"""IPv4 CIDR math for validating a SetupRequest before anything touches Azure.

Parsing is strict on purpose: Azure answers `InvalidCIDRNotation` for a prefix with host bits set, and the
`ipaddress` module alone would also accept netmask notation (`10.0.0.0/255.0.0.0`) or a bare address.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

IPv4Network = ipaddress.IPv4Network

_ADDRESS_SYNTAX = re.compile(r"[0-9]{1,3}(?:\.[0-9]{1,3}){3}")
_CIDR_SYNTAX = re.compile(_ADDRESS_SYNTAX.pattern + "/[0-9]{1,2}")
_EXAMPLE = "e.g. 10.240.0.0/16"

# Azure reserves five addresses in every subnet: network, .1 (gateway), .2 and .3 (DNS), broadcast.
AZURE_RESERVED_ADDRESSES_PER_SUBNET = 5
# Smallest subnet Azure accepts, and what this tool accepts for vnets and subnets.
SMALLEST_PREFIX = 29
LARGEST_PREFIX = 8
# kube-apiserver limits the service range to 2^20 addresses (/12).
SERVICE_CIDR_LARGEST_PREFIX = 12


@dataclass(frozen=True)
class ReservedRange:
    network: IPv4Network
    reason: str


# Ranges AKS reserves (docs: "AKS reserves ... and they can't be used in the vnet or service CIDR").
AKS_RESERVED_RANGES: tuple[ReservedRange, ...] = (
    ReservedRange(IPv4Network("169.254.0.0/16"), "link-local range reserved by AKS"),
    ReservedRange(IPv4Network("172.30.0.0/16"), "range reserved by AKS"),
    ReservedRange(IPv4Network("172.31.0.0/16"), "range reserved by AKS"),
    ReservedRange(IPv4Network("192.0.2.0/24"), "TEST-NET-1 range reserved by AKS"),
)
DOCKER_BRIDGE = ReservedRange(IPv4Network("172.17.0.0/16"), "default docker bridge range")


class CidrError(ValueError):
    """A CIDR or address string that is not acceptable; the message states the rule."""


def parse_cidr(value: object) -> IPv4Network:
    """Parse `a.b.c.d/n` strictly; raise CidrError whose message states the rule broken."""
    if not isinstance(value, str):
        raise CidrError(f"must be a string in IPv4 CIDR notation ({_EXAMPLE})")
    if ":" in value:
        raise CidrError(f"must be an IPv4 CIDR; IPv6 is not supported ({_EXAMPLE})")
    if not _CIDR_SYNTAX.fullmatch(value):
        if _ADDRESS_SYNTAX.fullmatch(value):
            raise CidrError(f"must include a prefix length ({_EXAMPLE})")
        raise CidrError(f"must be IPv4 CIDR notation a.b.c.d/n ({_EXAMPLE})")
    address_text, prefix_text = value.split("/")
    prefix = int(prefix_text)
    if prefix > 32:
        raise CidrError("prefix length must be between 0 and 32")
    try:
        address = ipaddress.IPv4Address(address_text)
    except ValueError:
        raise CidrError(
            f"must be IPv4 CIDR notation with octets 0-255 and no leading zeros ({_EXAMPLE})"
        ) from None
    network = ipaddress.IPv4Network((address, prefix), strict=False)
    if network.network_address != address:
        raise CidrError(
            f"has host bits set (Azure rejects it as InvalidCIDRNotation); "
            f"the network for this prefix is {network}"
        )
    return network


def parse_address(value: object) -> ipaddress.IPv4Address:
    """Parse a dotted-quad IPv4 address strictly."""
    if not isinstance(value, str):
        raise CidrError("must be a string holding an IPv4 address, e.g. 10.0.0.10")
    if ":" in value:
        raise CidrError("must be an IPv4 address; IPv6 is not supported")
    if not _ADDRESS_SYNTAX.fullmatch(value):
        raise CidrError("must be an IPv4 address a.b.c.d, e.g. 10.0.0.10")
    try:
        return ipaddress.IPv4Address(value)
    except ValueError:
        raise CidrError("must be an IPv4 address with octets 0-255 and no leading zeros") from None


def prefix_error(network: IPv4Network, largest: int, smallest: int) -> str | None:
    """Message when the prefix length lies outside /largest../smallest, else None."""
    if not largest <= network.prefixlen <= smallest:
        return f"prefix length must be between /{largest} and /{smallest} (got /{network.prefixlen})"
    return None


def overlaps(a: IPv4Network, b: IPv4Network) -> bool:
    return a.overlaps(b)


def contains(outer: IPv4Network, inner: IPv4Network) -> bool:
    """True when `inner` lies entirely inside `outer`."""
    return inner.subnet_of(outer)


def contains_address(network: IPv4Network, address: ipaddress.IPv4Address) -> bool:
    return address in network


def reserved_overlaps(network: IPv4Network, *, include_docker_bridge: bool = False) -> list[ReservedRange]:
    """The reserved ranges `network` overlaps (AKS's, plus the docker bridge when asked)."""
    ranges = (*AKS_RESERVED_RANGES, DOCKER_BRIDGE) if include_docker_bridge else AKS_RESERVED_RANGES
    return [r for r in ranges if network.overlaps(r.network)]


def usable_subnet_addresses(network: IPv4Network) -> int:
    """Addresses Azure leaves for NICs in a subnet (it reserves five in each)."""
    return max(network.num_addresses - AZURE_RESERVED_ADDRESSES_PER_SUBNET, 0)
