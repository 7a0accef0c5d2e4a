"""Who is calling: the peer address, or the forwarded one when the peer is a trusted proxy.

Forwarding headers are whatever the sender wrote. They mean something only when the peer that
sent them is one of our own reverse proxies (BOT_TRUSTED_PROXIES, CIDRs, default none): then
X-Forwarded-For is read from the right — each hop was appended by the proxy to its right — and
the first hop that is not itself a trusted proxy is the client. Anything else is ignored, so a
caller cannot pick its own rate-limit bucket.

The answer is always a normalized IP address (IPv6 reduced to its /64, the block one subscriber
gets), so it is short, ASCII and usable as a key whatever the headers held.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache

from aiohttp import web

from bot.keys import settings_key

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address
MAX_HOPS = 16  # a real chain of proxies is 1-3 long; more is a client padding the header
IPV6_SUBSCRIBER_PREFIX = 64  # one household or phone gets a whole /64: one bucket per /64
UNKNOWN = "unknown"  # no peer address at all (a unix socket): one shared bucket


@lru_cache(maxsize=8)
def parse_networks(spec: str) -> tuple[Network, ...]:
    """'127.0.0.1, 10.0.0.0/8' -> networks; raises ValueError on anything else."""
    return tuple(
        ipaddress.ip_network(part.strip(), strict=False) for part in spec.split(",") if part.strip()
    )


def _address(text: str | None) -> Address | None:
    """A parsed IP address, or None for anything that is not one (names, ports, junk)."""
    if not text or len(text) > 64:  # the longest textual IPv6 with a zone is well below
        return None
    try:
        return ipaddress.ip_address(text.strip().split("%", 1)[0])
    except ValueError:
        return None


def _trusted(addr: Address, networks: tuple[Network, ...]) -> bool:
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped:
        addr = addr.ipv4_mapped
    return any(addr in net for net in networks)


def normalize(addr: Address) -> str:
    """The bucket name of an address: IPv4 as is, IPv6 as its /64 network."""
    if isinstance(addr, ipaddress.IPv6Address):
        if addr.ipv4_mapped:
            return str(addr.ipv4_mapped)
        net = ipaddress.IPv6Network((addr, IPV6_SUBSCRIBER_PREFIX), strict=False)
        return str(net)
    return str(addr)


def forwarded_client(peer: Address, header: str, networks: tuple[Network, ...]) -> Address:
    """Walks X-Forwarded-For from the right while hops are trusted proxies; the first other
    hop is the client. A hop that is not an address stops the walk at the last one we trust."""
    current = peer
    for hop in reversed(header.split(",")[-MAX_HOPS:]):
        if not _trusted(current, networks):
            break
        addr = _address(hop)
        if addr is None:
            break
        current = addr
    return current


def client_address(request: web.Request) -> str:
    """The caller's address as a short bucket name (see the module docstring)."""
    peer = _address(request.remote)
    if peer is None:
        return UNKNOWN
    networks = parse_networks(request.app[settings_key].trusted_proxies)
    header = ",".join(request.headers.getall("X-Forwarded-For", ()))
    if header and networks and _trusted(peer, networks):
        return normalize(forwarded_client(peer, header, networks))
    return normalize(peer)


FORWARDING_HEADERS = ("X-Forwarded-For", "Forwarded", "X-Real-IP")


def is_loopback_request(request: web.Request) -> bool:
    """True for a caller on this machine talking to us directly — not through a proxy on this
    machine, whose requests come from 127.0.0.1 too but carry a forwarding header."""
    peer = _address(request.remote)
    if peer is None or any(h in request.headers for h in FORWARDING_HEADERS):
        return False
    if isinstance(peer, ipaddress.IPv6Address) and peer.ipv4_mapped:
        peer = peer.ipv4_mapped
    return peer.is_loopback
