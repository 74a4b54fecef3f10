"""The fetch guard of feeds named from a browser: connect to public addresses only.

An admin page (or a stolen admin session) must not make the server fetch its own loopback,
the LAN or a cloud metadata address, nor tell by the refusal whether a port there listens.
The check sits in the socket layer (an httpcore network backend), so it runs for every
connection: the first request and each redirect hop alike. The host is resolved once, every
address it resolves to is checked, and the connection goes to a checked address — a DNS
answer that changes between check and connect (rebinding) never reaches a private one.
TLS still verifies the URL's host name: httpcore sends the origin's name as SNI.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable

import anyio
import httpcore
import httpx

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
# One text for every refused address, open port or closed: the refusal is no port scanner.
NOT_PUBLIC = "refused: the address is not a public one"


class NotPublic(Exception):
    """A connection to a non-global address was refused before any packet was sent."""


NAT64 = ipaddress.IPv6Network("64:ff9b::/96")  # RFC 6052's well-known prefix


def is_public(address: IPAddress) -> bool:
    """Whether ``address`` is a global unicast address a feed may live at.

    ``is_global`` alone lets multicast through on Python 3.11, and an IPv4 address may hide
    in an IPv6 one (``::ffff:127.0.0.1``, 6to4, Teredo, NAT64's ``64:ff9b::10.0.0.1``):
    those are judged by the IPv4 inside.
    """
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:  # the socket talks IPv4 to it
            return is_public(address.ipv4_mapped)
        if address in NAT64:  # a NAT64 gateway passes it on to that IPv4 address
            return is_public(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
        inner = address.sixtofour or (address.teredo[1] if address.teredo else None)
        if inner is not None and not is_public(inner):
            return False
    return address.is_global and not (
        address.is_loopback or address.is_private or address.is_link_local
        or address.is_reserved or address.is_multicast or address.is_unspecified)


def _addresses(infos: Iterable[tuple]) -> list[IPAddress]:
    # A scope ("fe80::1%eth0") is no part of the address judged.
    return [ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos]


class PublicOnly(httpcore.AsyncNetworkBackend):
    """A network backend that resolves, checks, then connects ``inner`` to the checked
    address; anything not public raises :class:`NotPublic` without connecting."""

    def __init__(self, inner: httpcore.AsyncNetworkBackend | None = None) -> None:
        self.inner = inner or httpcore.AnyIOBackend()

    async def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                          local_address: str | None = None,
                          socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
                          ) -> httpcore.AsyncNetworkStream:
        try:
            with anyio.fail_after(timeout):
                infos = await anyio.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except TimeoutError as err:
            raise httpcore.ConnectTimeout(f"resolving {host} timed out") from err
        except OSError as err:  # no such name: an ordinary connect failure, nothing private
            raise httpcore.ConnectError(str(err)) from err
        addresses = _addresses(infos)
        # Every answer must be public: a name that also resolves to 127.0.0.1 is refused
        # even when its first answer is not, since the next resolution may pick the other.
        if not addresses or not all(is_public(a) for a in addresses):
            raise NotPublic(host)
        return await self.inner.connect_tcp(str(addresses[0]), port, timeout=timeout,
                                            local_address=local_address,
                                            socket_options=socket_options)

    async def connect_unix_socket(self, path: str, timeout: float | None = None,
                                  socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
                                  ) -> httpcore.AsyncNetworkStream:
        raise NotPublic(path)

    async def sleep(self, seconds: float) -> None:
        await self.inner.sleep(seconds)


class PublicTransport(httpx.AsyncHTTPTransport):
    """httpx's transport over a pool whose sockets come from :class:`PublicOnly`.

    httpx takes no network backend, so the pool is rebuilt with one. No proxy from the
    environment: through a proxy the guard would judge the proxy's address, not the feed's.
    """

    def __init__(self, *, limits: httpx.Limits,
                 inner: httpcore.AsyncNetworkBackend | None = None) -> None:
        super().__init__(limits=limits, trust_env=False)
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(trust_env=False),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=PublicOnly(inner))
