"""The address of the client behind the request, through the reverse proxies the operator trusts.

Behind a TLS proxy, REMOTE_ADDR is the proxy: one address for everybody. The proxy appends the address
it received the request from to X-Forwarded-For; anything to the left of that may have been written by
the client. So the header is read only when the peer (REMOTE_ADDR) is a proxy named in TRUSTED_PROXIES,
and from the right: every trusted proxy's own entry is skipped, and the first address that is no trusted
proxy is the client. A client connecting directly cannot choose its address by sending the header.

Where the proxies have no fixed address (a cloud load balancer), TRUSTED_PROXY_HOPS says how many of
them append to the header instead, as werkzeug's ProxyFix does: the client is that many entries from the
right. A chain shorter than that did not come through the proxies, so the peer is the client.
"""

from __future__ import annotations

import ipaddress
import logging
from functools import lru_cache

from django.conf import settings
from django.http import HttpRequest

logger = logging.getLogger(__name__)

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=8)
def _networks(entries: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(entry, strict=False) for entry in entries)


def trusted_proxy_networks(entries: list[str] | tuple[str, ...]) -> tuple[Network, ...]:
    """Parses TRUSTED_PROXIES (addresses or CIDR networks); raises ValueError naming a bad entry."""
    for entry in entries:
        try:
            ipaddress.ip_network(entry, strict=False)
        except ValueError:
            raise ValueError(f"{entry!r} is no IP address or network") from None
    return _networks(tuple(entries))


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        return None


def is_trusted_proxy(address: str | None) -> bool:
    parsed = _address(address or "")
    networks = trusted_proxy_networks(tuple(settings.TRUSTED_PROXIES))
    return parsed is not None and any(parsed in network for network in networks)


def client_ip(request: HttpRequest) -> str | None:
    """The real client's address: REMOTE_ADDR, or the right-most untrusted X-Forwarded-For entry when
    REMOTE_ADDR is a trusted proxy. A trusted proxy that forwards no usable address yields its own."""
    peer = request.META.get("REMOTE_ADDR") or None
    if settings.TRUSTED_PROXY_HOPS:
        return _client_by_hops(peer, request.META.get("HTTP_X_FORWARDED_FOR", ""))
    if not is_trusted_proxy(peer):
        return peer
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    client = peer
    for entry in reversed([part for part in forwarded.split(",") if part.strip()]):
        parsed = _address(entry)
        if parsed is None:  # garbage in the chain: nothing to its left can be believed
            break
        client = str(parsed)
        if not is_trusted_proxy(client):
            break
    return client


def _client_by_hops(peer: str | None, forwarded: str) -> str | None:
    entries = [part for part in forwarded.split(",") if part.strip()]
    hops = settings.TRUSTED_PROXY_HOPS
    if len(entries) < hops:
        return peer
    parsed = _address(entries[-hops])
    return str(parsed) if parsed is not None else None  # the first proxy wrote garbage: nobody known
