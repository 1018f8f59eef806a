"""One verified TLS client context per process, shared by every HTTP and WebSocket client.

Building a context and loading the CA bundle costs 20-130 ms; httpx does it for every new client
unless it is given one. The trust store is httpx's default (certifi's bundle), or the files named
by ``SSL_CERT_FILE`` / ``SSL_CERT_DIR``.
"""

from __future__ import annotations

import os
import ssl
import threading

from relaywire.transport import fork

__all__ = ["shared_ssl_context"]

_lock = threading.Lock()
_context: ssl.SSLContext | None = None


@fork.on_fork_in_child
def _new_lock() -> None:  # another parent thread may have held it at fork time
    global _lock
    _lock = threading.Lock()


def shared_ssl_context() -> ssl.SSLContext:
    global _context
    context = _context
    if context is None:
        with _lock:
            if _context is None:
                _context = _build()
            context = _context
    return context


def _build() -> ssl.SSLContext:
    cafile = os.environ.get("SSL_CERT_FILE") or None
    capath = os.environ.get("SSL_CERT_DIR") or None
    if cafile is None and capath is None:
        import certifi

        cafile = certifi.where()
    return ssl.create_default_context(cafile=cafile, capath=capath)
