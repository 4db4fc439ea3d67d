"""Which URLs a webhook may be sent to (server-side request forgery).

A webhook makes the platform send requests where an organization says. Without a guard an
organization could aim them at the platform's own network: its database, a cloud metadata
service (169.254.169.254), an admin page on localhost. So the URL must be HTTPS, carry no
user name or password, and its host must resolve only to public addresses (``is_global``:
not private, loopback, link-local, multicast, reserved or unspecified). The check runs when
an endpoint is registered and again before every delivery (a name can be made to resolve
elsewhere later), and redirects are never followed (one could point inward). Ops can allow
plain HTTP and private addresses for development (``BOXOFFICE_WEBHOOKS_ALLOW_PRIVATE``).

What remains: a name that resolves to a public address when checked and to a private one an
instant later, when the request connects (DNS rebinding within the check's window). Putting
an egress proxy or firewall in front of the workers closes it (docs/webhooks.md).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from urllib.parse import urlsplit

from boxoffice.core.errors import FieldError, RuleViolated


class UrlRefused(RuleViolated):
    slug = "webhook-url-refused"
    title = "That webhook URL is not allowed"


def _refused(why: str) -> UrlRefused:
    return UrlRefused(why, errors=[FieldError("url", why)])


async def check_url(url: str, *, allow_private: bool) -> None:
    """Refuse ``url`` unless a webhook may go there (see the module doc)."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as error:
        raise _refused(f"not a URL: {error}") from None
    if parts.scheme != "https" and not (allow_private and parts.scheme == "http"):
        raise _refused("webhooks are sent over HTTPS only: the URL must start with https://")
    if parts.username or parts.password:
        raise _refused("a webhook URL carries no user name or password")
    host = parts.hostname
    if not host:
        raise _refused("the URL names no host")
    if allow_private:
        return
    for address in await _addresses(host, port or (443 if parts.scheme == "https" else 80)):
        if not address.is_global:
            raise _refused(
                f"{host} resolves to {address}, a private, loopback or reserved address: "
                "webhooks go to public addresses only"
            )


async def _addresses(host: str, port: int) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    try:
        literal = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        pass
    else:
        return [_unmapped(literal)]
    try:
        found = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as error:
        raise _refused(f"{host} does not resolve: {error}") from None
    if not found:
        raise _refused(f"{host} does not resolve")
    return [_unmapped(ipaddress.ip_address(info[4][0])) for info in found]


def _unmapped(
    address: ipaddress.IPv4Address | ipaddress.IPv6Address,
) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    """``::ffff:127.0.0.1`` is 127.0.0.1."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address
