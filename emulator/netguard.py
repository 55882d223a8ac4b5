"""Which addresses inputs, logos and callbacks may reach: resolve once, check, connect there.

    url --NetGuard.pin()--> resolve the host (one lookup) --> check every address
        always refused: link-local, cloud metadata (in every mode)
        refused with block_private: loopback, private, unspecified, multicast...
    --> Pinned(url with that IP, Host header and TLS server name of the original URL)

Connecting to the address that was checked, rather than to the name, is what keeps a name
that answers differently on a second lookup (DNS rebinding) from slipping past the check.
"""

from __future__ import annotations

import functools
import ipaddress
import socket
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # imported on first use: httpx pulls in its CLI's modules (docs/performance.md)
    import httpx

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
# (host, port) -> its addresses as text; the one name lookup every fetch and callback makes.
Resolver = Callable[[str, int], list[str]]

ALWAYS_REFUSED = tuple(
    ipaddress.ip_network(net)
    for net in (
        "169.254.0.0/16",  # IPv4 link-local, and the metadata service of AWS, GCP, Azure...
        "fe80::/10",  # IPv6 link-local
        "fd00:ec2::254/128",  # AWS's IPv6 metadata service
        "100.100.100.200/32",  # Alibaba Cloud's metadata service
    )
)
# IPv6 forms that carry an IPv4 address a connection may end up at.
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
ALWAYS_RULE = "link-local and cloud-metadata addresses are never fetched"
PRIVATE_RULE = "EMULATOR_BLOCK_PRIVATE_NETWORKS=on"
SCHEMES = ("http", "https")


class Refused(Exception):
    """A URL the guard will not connect to, with the reason (names the rule)."""

    def __repr__(self) -> str:
        return f"Refused({str(self)!r})"


def system_resolve(host: str, port: int) -> list[str]:
    """The host's TCP addresses from the system resolver, in its order, without repeats."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]).split("%")[0] for info in infos))


def refusal(address: Address, *, block_private: bool) -> str | None:
    """Why `address` is not to be connected to; None if it may be."""
    for candidate in _forms(address):
        if any(candidate in net for net in ALWAYS_REFUSED):
            return f"{address} is a link-local or cloud-metadata address ({ALWAYS_RULE})"
    if block_private and (not address.is_global or address.is_multicast):
        return f"the non-public address {address} ({PRIVATE_RULE})"
    return None


def _forms(address: Address) -> list[Address]:
    """The address and the IPv4 address inside it (::ffff:a.b.c.d, 64:ff9b::a.b.c.d)."""
    if isinstance(address, ipaddress.IPv4Address):
        return [address]
    inner = address.ipv4_mapped
    if inner is None and address in _NAT64:
        inner = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return [address, inner] if inner is not None else [address]


@dataclass(frozen=True)
class Pinned:
    """A request target bound to the address that was checked."""

    url: httpx.URL
    headers: dict[str, str]
    extensions: dict[str, Any]


@dataclass
class NetGuard:
    """The address rules and the resolver, one per process (Context.guard), shared by downloads
    and callbacks; tests replace `resolve` to map a name to any address without DNS."""

    block_private: bool = False
    resolve: Resolver = field(default=system_resolve)
    # The emulator's own base URLs, and which paths under them stay allowed with block_private
    # (its sample clips and callback inbox): this very process serves them.
    own_bases: tuple[str, ...] = ()
    own_path: Callable[[str], bool] = field(default=lambda path: False)

    def is_own(self, url: httpx.URL) -> bool:
        """Whether `url` names one of the emulator's own always-allowed resources."""
        text = str(url)
        return any(
            text.startswith(base.rstrip("/") + "/") for base in self.own_bases
        ) and self.own_path(url.path)

    def addresses(self, host: str, port: int) -> list[Address]:
        """An IP literal as it is; a name through `resolve` (refused when it does not resolve)."""
        try:
            return [ipaddress.ip_address(host)]
        except ValueError:
            pass
        try:
            found = [ipaddress.ip_address(a.split("%")[0]) for a in self.resolve(host, port)]
        except (OSError, UnicodeError, ValueError) as exc:
            raise Refused(f"host {host!r} does not resolve: {exc}") from None
        if not found:
            raise Refused(f"host {host!r} does not resolve to any address")
        return found

    def pin(self, url: httpx.URL) -> Pinned:
        """Resolve `url`'s host once and check every address; the URL on the first one."""
        if url.scheme not in SCHEMES:
            raise Refused(f"{url} is not an http(s) URL")
        host = url.raw_host.decode("ascii")
        if not host:
            raise Refused(f"{url} has no host")
        port = url.port or (443 if url.scheme == "https" else 80)
        try:
            found = self.addresses(host, port)
        except Refused as exc:
            raise Refused(f"refused {url}: {exc}") from None
        block_private = self.block_private and not self.is_own(url)
        for address in found:  # one bad address refuses the name: any could be picked later
            reason = refusal(address, block_private=block_private)
            if reason:
                raise Refused(f"refused {url}: host {host!r} is {reason}")
        extensions = {"sni_hostname": host} if url.scheme == "https" else {}
        return Pinned(
            url=url.copy_with(host=str(found[0])),
            headers={"Host": url.netloc.decode("ascii")},
            extensions=extensions,
        )


def private_address(url: str) -> str | None:
    """Why `url` would be refused with EMULATOR_BLOCK_PRIVATE_NETWORKS=on; None if allowed.

    Every address the host resolves to counts, so a name with one private address is refused.
    """
    import httpx

    try:
        NetGuard(block_private=True).pin(httpx.URL(url))
    except Refused as exc:
        return str(exc)
    except httpx.InvalidURL as exc:
        return f"{url} is not a valid URL: {exc}"
    return None


@functools.cache
def tls_context() -> ssl.SSLContext:
    """httpx's default verification, built once for every client (downloads, callbacks):
    loading the CA bundle takes longer than downloading a small nearby input
    (docs/performance.md)."""
    import httpx

    return httpx.create_ssl_context()
