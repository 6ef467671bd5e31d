"""Where a webhook may be delivered: public addresses only, outside local development.

A tenant chooses its endpoint's URL, and the delivery function POSTs to it from inside the
project's network. An endpoint that names (or resolves to) a loopback, private, link-local or
otherwise non-global address could reach the metadata server or internal services, so such a
delivery is refused for good before any connection is made. In ``local`` and ``test`` the
receivers are on this machine, so every address is allowed.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Sequence
from urllib.parse import urlsplit

Resolve = Callable[[str, int], Sequence[str]]
"""Return the IP addresses a host name resolves to (``socket.getaddrinfo`` by default)."""

LOCAL_ENVIRONMENTS = frozenset({"local", "test"})


def resolve_host(host: str, port: int) -> list[str]:
    """Return every address ``host`` resolves to (IPv4 and IPv6)."""
    return [str(info[4][0]) for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)]


def private_destination(url: str, environment: str, resolve: Resolve = resolve_host) -> str | None:
    """Return why ``url`` must not be delivered to (pt-BR: the console shows it), or None."""
    if environment in LOCAL_ENVIRONMENTS:
        return None
    parts = urlsplit(url)
    host = parts.hostname
    if not host:
        return "o endereço não tem host"
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        addresses = [host] if _is_ip(host) else list(resolve(host, port))
    except OSError as error:
        return f"o host do endereço não resolve ({error})"
    for address in addresses:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
        if not ip.is_global or ip.is_multicast:
            return f"ele aponta para um endereço que não é público ({ip})"
    return None


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True
