"""Where a webhook may be sent: http(s) only, and never to this server's own networks unless the operator
says so. A webhook is a request the server makes on a coordinator's word, so without these checks it
would reach what only the server can (a database on the LAN, a cloud metadata service at 169.254.169.254,
the Redis on loopback). The host is resolved when a subscription is made and again before each delivery
(its DNS may have changed since), and the delivery connects to an address it has just checked: a name
whose DNS answer turns to a private address between a check and the connection (DNS rebinding) reaches
nothing.

The standard library's HTTP client is given a connection maker that resolves, checks and connects in
one step; it is used when deliveries go out directly. Through an operator's proxy (WEBHOOK_PROXY) the
proxy resolves the receiver, and the check before each delivery is what stays."""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from django.conf import settings
from django.utils.translation import gettext as _

from annotations.errors import Invalid

MAX_URL_LENGTH = 500


def _addresses(host: str, port: int) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    try:
        return [ipaddress.ip_address(host.strip("[]"))]
    except ValueError:
        pass
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError, OSError, ValueError):
        raise Invalid(_("The host %(host)s cannot be found.") % {"host": host}) from None
    return [ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in found]


def _refusal(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str:
    """Why the address is refused, or "" when it is allowed."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    if address.is_loopback:
        return "" if settings.WEBHOOK_ALLOW_LOOPBACK else _("this server's own loopback address")
    if address.is_link_local or address.is_multicast or address.is_unspecified:
        return _("a link-local, multicast or unspecified address")
    if address.is_private or address.is_reserved or not address.is_global:
        return "" if settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS else _("a private network address")
    return ""


def _allowed_addresses(host: str, port: int) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    """Every address the host resolves to, if webhooks may be sent to all of them; raises Invalid."""
    addresses = _addresses(host, port)
    for address in addresses:
        reason = _refusal(address)
        if reason:
            raise Invalid(
                _("Webhooks are not sent to %(host)s: %(reason)s.") % {"host": host, "reason": reason}
            )
    return addresses


def vetted_connection(
    address: tuple[str, int],
    timeout: float | None = None,
    source_address: tuple[str, int] | None = None,
    *args: object,
) -> socket.socket:
    """socket.create_connection's stand-in: the host resolved once, every address it names checked,
    and the connection made to those addresses themselves. Raises OSError with the reason."""
    host, port = address
    try:
        candidates = _allowed_addresses(host, port)
    except Invalid as refusal:
        raise OSError(refusal.message) from None
    last_error: OSError = OSError(_("The host %(host)s cannot be found.") % {"host": host})
    for candidate in candidates:
        try:
            return socket.create_connection((str(candidate), port), timeout, source_address)
        except OSError as error:
            last_error = error
    raise last_error


def webhook_url_check(url: str) -> str:
    """The URL, if a webhook may be sent there; raises Invalid with the reason otherwise."""
    url = (url or "").strip()
    if not url or len(url) > MAX_URL_LENGTH:
        raise Invalid(_("Give the receiver's address, up to %(n)d characters.") % {"n": MAX_URL_LENGTH})
    if any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in url):
        raise Invalid(_("This address cannot be read."))
    try:
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise Invalid(_("This address cannot be read.")) from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise Invalid(_("A webhook address starts with http:// or https:// and names a host."))
    if parts.username or parts.password:
        raise Invalid(_("Put no user name or password in the address: deliveries are signed instead."))
    _allowed_addresses(parts.hostname, port)
    return url
