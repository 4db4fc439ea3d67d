"""Which URLs a webhook may be sent to (server-side request forgery).

A webhook makes the platform send requests where an organization says. Without a guard an
organization could aim them at the platform's own network: its database, a cloud metadata
service (169.254.169.254), an admin page on localhost. So the URL must be HTTPS, carry no
user name or password, and its host must resolve only to public addresses (``is_global``:
not private, loopback, link-local, multicast, reserved or unspecified). The check runs when
an endpoint is registered and again before every delivery (a name can be made to resolve
elsewhere later), and redirects are never followed (one could point inward). Ops can allow
plain HTTP and private addresses for development (``BOXOFFICE_WEBHOOKS_ALLOW_PRIVATE``).

**DNS rebinding.** A name can resolve to a public address when it is checked and to a
private one an instant later, when the request connects. So the sender does not let the
HTTP client look the name up again: its connections go through :class:`PublicOnly`, which
resolves the name itself, refuses it unless every address is public, and connects to an
address it has just checked. TLS still verifies the certificate against the name.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Iterable
from urllib.parse import urlsplit

import httpcore
import httpx

from boxoffice.core.errors import FieldError, RuleViolated

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


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
    await public_addresses(host, port or (443 if parts.scheme == "https" else 80))


async def public_addresses(host: str, port: int) -> list[IPAddress]:
    """The addresses ``host`` resolves to, all of them public; else :class:`UrlRefused`."""
    found = await _addresses(host, port)
    for address in found:
        if not address.is_global:
            raise _refused(
                f"{host} resolves to {address}, a private, loopback or reserved address: "
                "webhooks go to public addresses only"
            )
    return found


class PublicOnly(httpcore.AsyncNetworkBackend):
    """An HTTP client's network backend that connects only to public addresses, each
    checked by this very backend just before it connects (see the module doc)."""

    def __init__(self) -> None:
        self._network = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            addresses = await public_addresses(host, port)
        except UrlRefused as refused:
            raise httpcore.ConnectError(refused.detail) from None
        failed: httpcore.ConnectError | httpcore.ConnectTimeout | None = None
        for address in addresses:  # the checked ones, and nothing else
            try:
                return await self._network.connect_tcp(
                    str(address), port, timeout, local_address, socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as error:
                failed = error
        assert failed is not None
        raise failed

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("webhooks are sent over the network, not to local sockets")

    async def sleep(self, seconds: float) -> None:
        await self._network.sleep(seconds)


class PublicOnlyTransport(httpx.AsyncHTTPTransport):
    """httpx's transport with its connections made by :class:`PublicOnly`."""

    def __init__(self) -> None:
        super().__init__()
        # httpx takes no network backend; its pool, built the same way, does.
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(),
            max_connections=100,  # httpx's own defaults
            max_keepalive_connections=20,
            keepalive_expiry=5.0,
            network_backend=PublicOnly(),
        )


async def _addresses(host: str, port: int) -> list[IPAddress]:
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


def _unmapped(address: IPAddress) -> IPAddress:
    """``::ffff:127.0.0.1`` is 127.0.0.1."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address
