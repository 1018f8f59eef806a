"""Client identification sent on every request and WebSocket upgrade.

daguito-sdk reported ``daguito-sdk-python/<version>`` (and ``0.4.0`` when run from a checkout, bug
P1). relaywire reports its own name and installed version, so the server can tell the two apart.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urlparse, urlunparse

from relaywire import __version__ as _relaywire_version

__all__ = [
    "SDK_LANG",
    "SDK_VERSION",
    "append_client_query_params",
    "client_headers",
    "client_query_params",
]

SDK_LANG = "python"
SDK_VERSION: str = _relaywire_version
SDK_NAME = "relaywire-python"

_HEADERS = {
    "X-Daguito-Client": f"{SDK_NAME}/{SDK_VERSION}",
    "X-Daguito-Client-Lang": SDK_LANG,
    "X-Daguito-Client-Version": SDK_VERSION,
}
_QUERY = {"x_daguito_client_lang": SDK_LANG, "x_daguito_client_version": SDK_VERSION}


def client_headers() -> dict[str, str]:
    """The ``X-Daguito-Client*`` headers (a fresh dict)."""
    return dict(_HEADERS)


def client_query_params() -> dict[str, str]:
    """The same as query parameters, for proxies that strip headers from WS upgrades."""
    return dict(_QUERY)


def append_client_query_params(url: str) -> str:
    """``url`` with the client query parameters merged into its query string."""
    parsed = urlparse(url)
    query = dict(parse_qsl(parsed.query, keep_blank_values=True))
    query.update(_QUERY)
    return urlunparse(parsed._replace(query=urlencode(query)))
