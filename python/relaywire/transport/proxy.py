"""WebSocket connections through an HTTP proxy (``CONNECT`` tunnels), configured as httpx
configures HTTP requests, so streaming and realtime work wherever REST does.

``proxy`` takes what websockets' own ``connect(proxy=...)`` takes: ``True`` (the default) reads
the environment, a URL names the proxy, ``None`` connects directly. From the environment,
``ws://`` goes through ``HTTP_PROXY``, ``wss://`` through ``HTTPS_PROXY``, either falls back to
``ALL_PROXY``, and hosts matched by ``NO_PROXY`` are reached directly (the lowercase names win, as
in httpx and the standard library). Credentials in the proxy URL (``http://user:pass@host:port``)
are sent as ``Proxy-Authorization: Basic``. The tunnel carries the TLS of a ``wss://`` connection
end to end: the proxy never sees the WebSocket traffic.

Only ``http://`` proxy URLs are supported (the common corporate proxy); an ``https://`` or
``socks`` proxy URL is a :class:`ProxyError` before anything is sent.
"""

from __future__ import annotations

import asyncio
import base64
import ipaddress
import socket
import urllib.request
from typing import Union
from urllib.parse import unquote, urlsplit

from relaywire.redaction import redact, register_secret
from relaywire.transport.errors import TransportConnectError

__all__ = ["ProxyError", "ProxyOption", "bypassed", "open_tunnel", "proxy_for"]

#: ``True``: from the environment; a URL: that proxy; ``None`` (or ``False``): never.
ProxyOption = Union[bool, str, None]  # noqa: UP007 - a runtime alias

_MAX_RESPONSE_HEAD = 64 * 1024


class ProxyError(TransportConnectError):
    """The proxy could not be used: it refused the tunnel (``status`` is its HTTP answer), it
    closed the connection, or its URL is not an ``http://`` proxy."""

    def __init__(self, message: str, *, status: int | None = None, url: str | None = None) -> None:
        super().__init__(message, method="CONNECT", url=url)
        self.status = status


def proxy_for(url: str, proxy: ProxyOption = True) -> str | None:
    """The proxy URL to reach the ``ws://`` / ``wss://`` ``url`` through, or None (direct)."""
    if proxy is None or proxy is False:
        return None
    if isinstance(proxy, str):
        return proxy
    if proxy is not True:
        raise TypeError(f"proxy must be True, None or a URL, got {type(proxy).__name__}")
    parts = urlsplit(url)
    proxies = urllib.request.getproxies_environment()
    if not proxies or not parts.hostname or bypassed(parts.hostname, proxies.get("no", "")):
        return None
    scheme = "https" if parts.scheme in ("wss", "https") else "http"
    return proxies.get(scheme) or proxies.get("all") or None


def bypassed(host: str, no_proxy: str) -> bool:
    """Whether ``NO_PROXY`` (comma-separated) names ``host``: ``*``; the host itself; a domain
    (``example.com`` or ``.example.com``) that the host is in; an IP address or network
    (``10.0.0.0/8``). A ``:port`` on an entry is ignored."""
    host = host.strip("[]").lower().rstrip(".")
    try:
        address: ipaddress.IPv4Address | ipaddress.IPv6Address | None = ipaddress.ip_address(host)
    except ValueError:
        address = None
    for raw in no_proxy.split(","):
        entry = raw.strip().lower()
        if not entry:
            continue
        if entry == "*":
            return True
        if entry.startswith("[") and "]" in entry:
            entry = entry[1 : entry.index("]")]
        elif entry.count(":") == 1:
            entry = entry.partition(":")[0]
        if address is not None:
            try:
                if address in ipaddress.ip_network(entry, strict=False):
                    return True
            except ValueError:
                pass
            continue
        domain = entry.lstrip(".").rstrip(".")
        if host == domain or host.endswith("." + domain):
            return True
    return False


async def open_tunnel(proxy_url: str, host: str, port: int) -> socket.socket:
    """A non-blocking socket connected to ``host:port`` through the HTTP proxy at ``proxy_url``.

    Raises :class:`ProxyError` when the proxy refuses (any answer but 200) or hangs up, and
    ``OSError`` when it cannot be reached. Bound the call with your own timeout.
    """
    parts = urlsplit(proxy_url if "://" in proxy_url else "http://" + proxy_url)
    shown = redact(proxy_url)
    if parts.scheme.lower() != "http" or not parts.hostname:
        raise ProxyError(
            f"unsupported proxy {shown!r}: WebSockets tunnel through http:// proxies only",
            url=shown,
        )
    authority = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    lines = [f"CONNECT {authority} HTTP/1.1", f"Host: {authority}"]
    if parts.username is not None:
        password = unquote(parts.password or "")
        register_secret(password)
        credentials = f"{unquote(parts.username)}:{password}".encode()
        lines.append("Proxy-Authorization: Basic " + base64.b64encode(credentials).decode())
    request = ("\r\n".join(lines) + "\r\n\r\n").encode()

    sock = await _connect(parts.hostname, parts.port or 80)
    try:
        loop = asyncio.get_running_loop()
        await loop.sock_sendall(sock, request)
        head = bytearray()
        while (end := head.find(b"\r\n\r\n")) < 0:
            chunk = await loop.sock_recv(sock, 4096)
            if not chunk:
                raise ProxyError(
                    f"proxy {shown} closed the connection before answering CONNECT {authority}",
                    url=shown,
                )
            head += chunk
            if len(head) > _MAX_RESPONSE_HEAD:
                raise ProxyError(f"proxy {shown} sent an oversized answer", url=shown)
        status, reason = _status(bytes(head[:end]))
        if status is None:
            raise ProxyError(f"proxy {shown} did not answer CONNECT with HTTP", url=shown)
        if status != 200:
            raise ProxyError(
                f"proxy {shown} refused the tunnel to {authority}: HTTP {status} {reason}".rstrip(),
                status=status,
                url=shown,
            )
        if len(head) > end + 4:  # the server cannot have spoken yet: we have not
            raise ProxyError(f"proxy {shown} sent data before the tunnel was used", url=shown)
    except BaseException:
        sock.close()
        raise
    return sock


async def _connect(host: str, port: int) -> socket.socket:
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    error: OSError | None = None
    for family, kind, proto, _, address in infos:
        sock = socket.socket(family, kind, proto)
        sock.setblocking(False)
        try:
            await loop.sock_connect(sock, address)
        except OSError as err:
            sock.close()
            error = err
            continue
        except BaseException:
            sock.close()
            raise
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock
    raise error or OSError(f"cannot resolve proxy host {host!r}")


def _status(head: bytes) -> tuple[int | None, str]:
    """The status code and reason of an HTTP response head (None: not HTTP)."""
    line = head.split(b"\r\n", 1)[0].decode("latin-1")
    version, _, rest = line.partition(" ")
    code, _, reason = rest.partition(" ")
    if not version.startswith("HTTP/") or len(code) != 3 or not code.isdigit():
        return None, ""
    return int(code), reason.strip()
