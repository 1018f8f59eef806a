"""Client identification sent on every request and WebSocket upgrade.

The ``X-Daguito-Client*`` headers keep daguito-sdk's shape, because a server may gate features by
client version: ``X-Daguito-Client: daguito-sdk-python/<SDK_VERSION>``, where ``SDK_VERSION`` is
the API level implemented (0.4.5) with relaywire's version as a local label
(``0.4.5+relaywire.<version>``), which never compares lower than 0.4.5. relaywire identifies
itself in ``User-Agent``. (daguito-sdk reported ``0.4.0`` when run from a checkout, bug P1.)
"""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urlparse, urlunparse

from daguito import __version__ as _API_LEVEL
from relaywire import __version__ as _relaywire_version

__all__ = [
    "SDK_LANG",
    "SDK_VERSION",
    "USER_AGENT",
    "append_client_query_params",
    "client_headers",
    "client_query_params",
]

SDK_LANG = "python"
SDK_VERSION: str = f"{_API_LEVEL}+relaywire.{_relaywire_version}"
SDK_NAME = "daguito-sdk-python"
USER_AGENT = f"relaywire-python/{_relaywire_version}"

_HEADERS = {
    "User-Agent": USER_AGENT,
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
