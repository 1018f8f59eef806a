"""URL helpers (daguito-sdk's ``daguito._url``); path ids are percent-encoded by the callers."""

from __future__ import annotations

import secrets
from urllib.parse import quote, urlencode, urlparse, urlunparse

__all__ = ["join_http", "quote_segment", "random_session_id", "to_ws_url"]


def join_http(base: str, path: str) -> str:
    """``base`` without its trailing slashes, then ``path`` (a base path is kept)."""
    return base.rstrip("/") + path


def quote_segment(value: str) -> str:
    """Percent-encode one path segment (every reserved character, ``/`` included)."""
    if not isinstance(value, str):
        raise TypeError(f"expected a str id, got {type(value).__name__}")
    if not value:
        raise ValueError("an id in the URL path must not be empty")
    return quote(value, safe="")


def to_ws_url(api_url: str, path: str, query: dict[str, str] | None = None) -> str:
    """``http`` -> ``ws`` and ``https`` -> ``wss``, keeping the base path; ``query`` is encoded."""
    parsed = urlparse(api_url)
    scheme = {"http": "ws", "https": "wss", "ws": "ws", "wss": "wss"}.get(parsed.scheme)
    if scheme is None or not parsed.netloc:
        raise ValueError(f"api_url must be an http(s) URL, got {api_url!r}")
    full_path = parsed.path.rstrip("/") + path
    return urlunparse((scheme, parsed.netloc, full_path, "", urlencode(query or {}), ""))


def random_session_id(prefix: str = "py") -> str:
    """``<prefix>_`` and 16 URL-safe random characters."""
    return f"{prefix}_{secrets.token_urlsafe(12)}"
