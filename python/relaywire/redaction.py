"""Keep credentials out of log lines, reprs and error texts.

Daguito puts webhook tokens in URLs by protocol (``POST /h/<token>``, ``?token=`` on the stream
upgrade), and Linktor sends API keys and JWTs in headers, which the libraries we drive log at
INFO (httpx's request line) or DEBUG (websockets' upgrade request and headers). relaywire
therefore:

* installs :class:`RedactingFilter` on the loggers of httpx, httpcore and websockets, and on its
  own loggers (:func:`get_logger`), when its transport is first imported: every record those
  loggers emit has its message and traceback redacted before any handler sees it. Records at
  disabled levels are never built, so the filter costs nothing unless logging is on;
* masks secrets in the ``repr`` of option objects (:func:`masked_repr`) and keeps them out of
  error texts (:func:`redact`);
* with ``RELAYWIRE_LOG=debug|info|warning`` (read once, when ``relaywire`` is imported) attaches a
  redacting stderr handler to the ``relaywire``, ``daguito`` and ``linktor`` loggers.

What counts as a secret: every credential a relaywire client was given (registered with
:func:`register_secret` when it is used), and by shape: ``token=``/``api_key=``-style query
parameters, the segment after Daguito's ``/h/``, ``Authorization``/``X-API-Key`` header values,
bearer and basic credentials, passwords in URLs, JWTs, and Daguito / Standard Webhooks key
prefixes (``sk_wh_``, ``sk_dgt_``, ``dgsk_``, ``whsec_``, ``whsk_``). A masked secret keeps its
type prefix and, when it is long, its last four characters: ``sk_wh_…a1b2``.
"""

from __future__ import annotations

import logging
import os
import re
import sys
import threading
import traceback
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from relaywire.transport import fork

__all__ = [
    "LOGGERS",
    "RedactingFilter",
    "configure_from_env",
    "get_logger",
    "install",
    "mask",
    "masked_repr",
    "redact",
    "register_secret",
]

#: The loggers of the libraries relaywire drives (a filter only sees records of its own logger,
#: not of its children, so each one that logs is named).
LOGGERS = (
    "httpx",
    "httpcore.connection",
    "httpcore.http11",
    "httpcore.http2",
    "httpcore.proxy",
    "httpcore.socks",
    "websockets.client",
    "websockets.server",
)
#: relaywire's own top-level loggers, for ``RELAYWIRE_LOG``.
PACKAGE_LOGGERS = ("relaywire", "daguito", "linktor")
#: A secret shows its last characters only when at least this many follow its prefix.
_TAIL_AFTER = 20
_PREFIX = re.compile(r"^(?:[a-z]{1,5}_){1,2}")
_MAX_REGISTERED = 4096

T = TypeVar("T")


def mask(secret: str) -> str:
    """``secret`` masked: its type prefix (``sk_wh_``, ``whsec_``...), ``…``, and the last four
    characters only when 20 or more follow the prefix."""
    if not secret:
        return ""
    prefix_match = _PREFIX.match(secret)
    prefix = prefix_match.group(0) if prefix_match else ""
    rest = secret[len(prefix) :]
    if len(rest) < 4:  # too short for its "prefix" to be only a type tag
        prefix, rest = "", secret
    tail = rest[-4:] if len(rest) >= _TAIL_AFTER else ""
    return f"{prefix}…{tail}"


def _mask_group(match: re.Match[str]) -> str:
    """The match with its first group (the secret) masked."""
    start, end = match.span(1)
    offset = match.start()
    whole = match.group(0)
    return whole[: start - offset] + mask(match.group(1)) + whole[end - offset :]


#: Credentials by shape; group 1 is the secret. A value already masked (it holds "…") is left.
#: Each shape runs only when the lowercased text holds one of its trigger substrings, so a line
#: with nothing credential-like costs a few substring checks.
_SHAPES: tuple[tuple[tuple[str, ...], re.Pattern[str]], ...] = (
    # query parameters and key=value pairs
    (
        ("=",),
        re.compile(
            r"(?i)\b(?:token|access_token|refresh_token|api_?key|apikey|secret|password|passwd"
            r"|signature|sig|auth)=([^&\s\"'#,;)…]+)(?![^&\s\"'#,;)]*…)"
        ),
    ),
    # Daguito's one-shot path: POST /h/<token>
    (("/h/",), re.compile(r"(?<!/)/h/([^/?#\s\"'…]+)(?![^/?#\s\"']*…)")),
    # bearer / basic credentials, wherever they appear
    (
        ("bearer", "basic"),
        re.compile(r"(?i)\b(?:bearer|basic)\s+([A-Za-z0-9._~+/=-]{4,})(?![A-Za-z0-9._~+/=…-])"),
    ),
    # credential headers: "X-API-Key: v", "(b'x-api-key', b'v')", "'x-api-key': 'v'"
    (
        ("api-key", "signature", "cookie"),
        re.compile(
            r"(?i)\b(?:x-api-key|api-key|x-linktor-signature|webhook-signature|svix-signature"
            r"|cookie|set-cookie)['\"]?\s*[:,]\s*b?['\"]?([^\s'\",}\]…]{3,})(?![^\s'\",}\]]*…)"
        ),
    ),
    # a password in a URL: scheme://user:password@host
    (("@",), re.compile(r"(?i)\b[a-z][a-z0-9+.-]*://[^/@\s:]+:([^/@\s…]+)@")),
    # JWTs
    (("eyj",), re.compile(r"\b(eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+)")),
    # key formats with a known prefix
    (
        ("sk_", "dgsk_", "whs"),
        re.compile(r"\b((?:sk_wh|sk_dgt|dgsk|whsec|whsk)_[A-Za-z0-9+/=_-]+)(?![A-Za-z0-9+/=_…-])"),
    ),
)

_registry_lock = threading.Lock()


@fork.on_fork_in_child
def _new_lock() -> None:  # another parent thread may have held it at fork time
    global _registry_lock
    _registry_lock = threading.Lock()


_registered: dict[str, None] = {}
_registered_pattern: re.Pattern[str] | None = None


def register_secret(secret: object) -> None:
    """Remember ``secret`` (a credential a client was given) so that :func:`redact` masks it
    wherever it appears. Cheap when already known; the most recent 4096 are kept."""
    global _registered_pattern
    if not isinstance(secret, str) or len(secret) < 4 or secret in _registered:
        return
    with _registry_lock:
        if secret in _registered:
            return
        _registered[secret] = None
        while len(_registered) > _MAX_REGISTERED:
            del _registered[next(iter(_registered))]
        # longest first, so a secret that contains another is masked whole
        ordered = sorted(_registered, key=len, reverse=True)
        _registered_pattern = re.compile("|".join(map(re.escape, ordered)))


def _mask_whole(match: re.Match[str]) -> str:
    return mask(match.group(0))


def redact(text: str) -> str:
    """``text`` with every credential it contains masked (see the module documentation)."""
    pattern = _registered_pattern
    if pattern is not None:
        text = pattern.sub(_mask_whole, text)
    lowered = text.lower()
    for triggers, shape in _SHAPES:
        if any(trigger in lowered for trigger in triggers):
            text = shape.sub(_mask_group, text)
    return text


class RedactingFilter(logging.Filter):
    """Redacts a record's message (its arguments merged in) and its traceback in place.

    It never drops a record. Attached to a logger it sees that logger's own records; attached to
    a handler it sees every record the handler emits.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: let the handler report it as usual
            return True
        clean = redact(message)
        if clean != message:
            record.msg, record.args = clean, None
        if record.exc_info and not record.exc_text:
            record.exc_text = redact("".join(traceback.format_exception(*record.exc_info)))
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


_FILTER = RedactingFilter()
_installed = False


def install(names: Iterable[str] = LOGGERS) -> None:
    """Add the redacting filter to ``names`` (idempotent; relaywire's transport calls it)."""
    global _installed
    if names is LOGGERS:
        if _installed:
            return
        _installed = True
    for name in names:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)


def get_logger(name: str) -> logging.Logger:
    """``logging.getLogger(name)`` with the redacting filter attached."""
    logger = logging.getLogger(name)
    if _FILTER not in logger.filters:
        logger.addFilter(_FILTER)
    return logger


def masked_repr(*secret_fields: str) -> Callable[[type[T]], type[T]]:
    """A class decorator for dataclasses: the ``repr`` lists every field, as the dataclass one
    does, with ``secret_fields`` masked and credentials in the others (headers, say) redacted.
    Fields, order and defaults are unchanged."""

    def decorate(cls: type[T]) -> type[T]:
        import dataclasses

        names = [f.name for f in dataclasses.fields(cls) if f.repr]  # type: ignore[arg-type]
        hidden = frozenset(secret_fields)

        def __repr__(self: Any) -> str:
            parts = []
            for name in names:
                value = getattr(self, name)
                if name in hidden and isinstance(value, str):
                    parts.append(f"{name}={mask(value)!r}")
                else:
                    parts.append(f"{name}={redact(repr(value))}")
            return f"{type(self).__qualname__}({', '.join(parts)})"

        cls.__repr__ = __repr__  # type: ignore[method-assign]
        return cls

    return decorate


_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING}
_env_handler: logging.Handler | None = None


def configure_from_env(value: str | None = None) -> logging.Handler | None:
    """Apply ``RELAYWIRE_LOG`` (``debug``, ``info`` or ``warning``): a stderr handler with the
    redacting filter on the ``relaywire``, ``daguito`` and ``linktor`` loggers, at that level.

    Called once when ``relaywire`` is imported. Returns the handler (None when unset). An unknown
    value is reported on stderr and ignored: logging must never stop a program.
    """
    global _env_handler
    value = os.environ.get("RELAYWIRE_LOG", "") if value is None else value
    level = _LEVELS.get(value.strip().lower())
    if level is None:
        if value.strip():
            print(
                f"relaywire: ignoring RELAYWIRE_LOG={value!r} (use debug, info or warning)",
                file=sys.stderr,
            )
        return None
    if _env_handler is None:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        handler.addFilter(_FILTER)
        _env_handler = handler
    _env_handler.setLevel(level)
    for name in PACKAGE_LOGGERS:
        logger = logging.getLogger(name)
        if _env_handler not in logger.handlers:
            logger.addHandler(_env_handler)
        logger.setLevel(level)
    return _env_handler
