"""Which Host names and Origins are the emulator's own: one policy for the API and S3 ports.

Two browser attacks are answered here (README, Security):
  DNS rebinding   a page on attacker.example re-points its name at 127.0.0.1; the browser then
                  sends `Host: attacker.example`, so only known host names are served.
  cross-site      any page can POST a form to 127.0.0.1; the browser marks it with `Origin`
                  (and `Sec-Fetch-Site`), so control writes and S3 writes from foreign
                  origins are refused. Tools that send neither header are not browsers.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from emulator.config import Settings

LOOPBACK_NAMES = ("localhost", "127.0.0.1", "[::1]")
ANY = "*"
WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
READS = frozenset({"GET", "HEAD"})
_DEFAULT_PORTS = {"http": 80, "https": 443}
# Bind addresses that mean "every interface": not a name a client sends.
_WILDCARD_BINDS = frozenset({"", "0.0.0.0", "::", "[::]"})


@dataclass(frozen=True)
class SitePolicy:
    names: frozenset[str]  # host names (no port) served on both ports; IPv6 in brackets
    any_host: bool  # EMULATOR_ALLOWED_HOSTS=*: the Host check is off
    own_origins: frozenset[str]  # pages of the dashboard: "http://localhost:8080"
    s3_cors_origins: frozenset[str]  # configured origins besides own_origins ("*": any)
    s3_cors_methods: tuple[str, ...]

    @classmethod
    def build(
        cls,
        *,
        host: str = "127.0.0.1",
        port: int = 8080,
        public_urls: Iterable[str | None] = (),
        allowed_hosts: str = "",
        s3_cors_origins: str = "",
        s3_cors_methods: str = "GET,HEAD",
    ) -> SitePolicy:
        urls = [url for url in public_urls if url]
        extra = _csv(allowed_hosts)
        names = {*LOOPBACK_NAMES, *(_name_of(entry) for entry in extra if entry != ANY)}
        if host not in _WILDCARD_BINDS:  # `serve --host 10.0.0.5` is reached by that address
            names.add(_name_of(host))
        names.update(_name_of(urlsplit(url).netloc) for url in urls)
        names.discard("")
        # The dashboard is served on `port` under every name the API answers to; behind a
        # proxy or a remapped port its address is EMULATOR_PUBLIC_URL.
        suffix = "" if port == 80 else f":{port}"
        origins = {f"http://{name}{suffix}" for name in names}
        origins.update(_origin_of(url) for url in urls)
        return cls(
            names=frozenset(names),
            any_host=ANY in extra,
            own_origins=frozenset(origins),
            s3_cors_origins=frozenset(
                _origin_of(o) if o != ANY else ANY for o in _csv(s3_cors_origins)
            ),
            s3_cors_methods=tuple(dict.fromkeys(m.upper() for m in _csv(s3_cors_methods))),
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> SitePolicy:
        return cls.build(
            host=settings.host,
            port=settings.port,
            public_urls=(settings.public_url, settings.public_s3_url),
            allowed_hosts=settings.allowed_hosts,
            s3_cors_origins=settings.s3_cors_origins,
            s3_cors_methods=settings.s3_cors_methods,
        )

    # Host ------------------------------------------------------------------------------------

    def allows_host(self, host: str | None, *, s3: bool) -> bool:
        """`host` is a Host header; on the S3 port subdomains are buckets (virtual-host style)."""
        # Browsers always send Host: a request without one is a tool's, not a rebinding page's.
        if host is None or self.any_host:
            return True
        name = _name_of(host)
        if name in self.names:
            return True
        return s3 and any(name.endswith(f".{n}") for n in self.names if not _is_ip(n))

    def host_refusal(self, host: str | None) -> str:
        return (
            f"Host {_name_of(host or '')!r} is not a name of this emulator "
            f"({', '.join(sorted(self.names))}): a page that re-points its own name at this "
            "machine (DNS rebinding) would send it. To serve another name (a compose service, "
            "a LAN address), add it to EMULATOR_ALLOWED_HOSTS (comma-separated; * allows any)."
        )

    # Control surface ------------------------------------------------------------------------

    def is_own_origin(self, origin: str, *, host: str | None = None) -> bool:
        """The dashboard's own pages; also the origin of the Host it was reached by (a port
        mapped by Docker), when that Host is one of the listed names, never by `*` alone."""
        normal = _origin_of(origin)
        if normal in self.own_origins:
            return True
        if host is None or _name_of(host) not in self.names:
            return False
        return urlsplit(normal).netloc == host.strip().lower()

    def is_cross_site(
        self, *, origin: str | None, fetch_site: str | None, host: str | None
    ) -> bool:
        if fetch_site is not None and fetch_site.strip().lower() == "cross-site":
            return True
        return origin is not None and not self.is_own_origin(origin, host=host)

    def cross_site_refusal(self, origin: str | None, method: str, path: str) -> str:
        source = f"Origin {origin}" if origin is not None else "Sec-Fetch-Site: cross-site"
        return (
            f"cross-site {method} {path} refused ({source}): the control API and the "
            "dashboard take writes from their own pages and from tools that send no Origin "
            "(curl, SDKs, the CLI); EMULATOR_PUBLIC_URL names the dashboard's address if a "
            "proxy serves it"
        )

    # Embedded S3 ----------------------------------------------------------------------------

    def allows_s3_cors(self, origin: str) -> bool:
        """Pages of this origin may read S3 answers (the dashboard's players, for one)."""
        normal = _origin_of(origin)
        return (
            normal in self.own_origins
            or normal in self.s3_cors_origins
            or ANY in self.s3_cors_origins
        )

    def allows_s3_request(self, origin: str | None, method: str) -> bool:
        """Reads are never refused (a <video src> needs no CORS); a browser's write is, unless
        its origin and the method are configured for CORS."""
        method = method.upper()
        if origin is None or method in READS:
            return True
        return self.allows_s3_cors(origin) and method in self.s3_cors_methods

    def s3_write_refusal(self, origin: str, method: str) -> str:
        return (
            f"cross-origin {method} from {origin} refused: web pages may only "
            f"{'/'.join(self.s3_cors_methods)} the embedded S3, from the dashboard or "
            "EMULATOR_S3_CORS_ORIGINS; EMULATOR_S3_CORS_METHODS adds methods"
        )


def _csv(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


def _name_of(host: str) -> str:
    """A Host header or configured name without its port, lower case, IPv6 in brackets."""
    host = host.strip().lower()
    if host.startswith("["):
        end = host.find("]")
        return host[: end + 1] if end != -1 else host
    if host.count(":") > 1 and _is_ip(host):  # a bare IPv6 address in the settings
        return f"[{host}]"
    # A fully qualified name may end in a dot (`localhost.`): the same name.
    return host.partition(":")[0].removesuffix(".")


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name.strip("[]"))
    except ValueError:
        return False
    return True


def _origin_of(url: str) -> str:
    """scheme://host[:port] in the form browsers send in Origin (no default port)."""
    parts = urlsplit(url.strip().lower())
    if not parts.scheme or not parts.hostname:
        return url.strip().lower()  # "null" (a sandboxed or file: page) stays itself
    name = _name_of(parts.netloc.rpartition("@")[2])
    try:
        port = parts.port
    except ValueError:
        return url.strip().lower()
    if port is None or port == _DEFAULT_PORTS.get(parts.scheme):
        return f"{parts.scheme}://{name}"
    return f"{parts.scheme}://{name}:{port}"
