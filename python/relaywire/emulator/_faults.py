"""Fault injection: what tests switch on to see how clients behave when the peer misbehaves.

Faults are plain data read by the request and stream handlers. Tests set them from any thread
(through :class:`Faults`); handlers read them on the server's event loop. Each setter replaces a
whole immutable value or updates a counter under a lock, so a handler never sees half a change.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, replace

__all__ = ["Faults", "HttpFault", "StreamFault"]


@dataclass(frozen=True)
class StreamFault:
    """How the Daguito event stream misbehaves for a session (or for every session).

    * ``close_after_ready``: close the socket right after sending ``ready`` (with
      ``close_code``), before the client can start a session. Reconnecting clients see a
      connection that opens and drops at once.
    * ``clean_close_after_tokens``: close with 1000 after this many ``node.token`` frames of a
      flow, in the middle of the stream.
    * ``oversized_output_bytes``: pad ``flow.completed``'s output with this many bytes, so the
      frame is larger than a client's default 1 MiB limit.
    * ``session_ended``: send ``session.ended`` after each flow completes; the session then
      refuses messages until the client starts it again.
    * ``token_delay``: seconds to sleep before each token.
    * ``refuse_auth``: refuse the connection: ``"http"`` answers 401 at the upgrade, ``"frame"``
      accepts it, sends an ``error`` frame and closes with 1008.
    """

    close_after_ready: bool = False
    close_code: int = 1012
    clean_close_after_tokens: int | None = None
    oversized_output_bytes: int | None = None
    session_ended: bool = False
    token_delay: float = 0.0
    refuse_auth: str | None = None

    def __post_init__(self) -> None:
        if self.refuse_auth not in (None, "http", "frame"):
            raise ValueError("refuse_auth must be None, 'http' or 'frame'")
        if self.token_delay < 0:
            raise ValueError("token_delay must be >= 0")
        for name in ("clean_close_after_tokens", "oversized_output_bytes"):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise ValueError(f"{name} must be >= 0")


@dataclass(frozen=True)
class HttpFault:
    """The next ``count`` matching HTTP requests fail.

    ``status`` is the answer (for example 429, 500 or 503) with ``Retry-After: retry_after`` when
    given; ``status=None`` drops the connection after the response has started, so the client
    sees a truncated body. Only paths starting with ``path_prefix`` match.
    """

    status: int | None
    count: int = 1
    path_prefix: str = "/"
    retry_after: float | None = None

    def __post_init__(self) -> None:
        if self.count < 1:
            raise ValueError("count must be >= 1")
        if self.status is not None and not 400 <= self.status <= 599:
            raise ValueError("status must be an HTTP error status (400-599) or None")


_NO_FAULT = StreamFault()


class Faults:
    """The emulator's switchboard of faults; reachable as ``Emulator.faults``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._stream_global = _NO_FAULT
        self._stream_by_session: dict[str, StreamFault] = {}
        self._http: list[HttpFault] = []

    # -- stream faults -----------------------------------------------------------------------

    def stream(self, session_key: str | None = None, **fields: object) -> StreamFault:
        """Set the stream fault for one session key, or for every session when ``None``.

        Fields are those of :class:`StreamFault`; calling it with none clears the fault.
        """
        fault = replace(_NO_FAULT, **fields)  # type: ignore[arg-type]
        with self._lock:
            if session_key is None:
                self._stream_global = fault
            elif fault == _NO_FAULT:
                self._stream_by_session.pop(session_key, None)
            else:
                self._stream_by_session[session_key] = fault
        return fault

    def stream_fault(self, session_key: str | None) -> StreamFault:
        """The fault in force for a session: its own if set, else the global one."""
        if session_key is not None:
            own = self._stream_by_session.get(session_key)
            if own is not None:
                return own
        return self._stream_global

    # -- HTTP faults ---------------------------------------------------------------------------

    def http(
        self,
        status: int | None,
        count: int = 1,
        *,
        path_prefix: str = "/",
        retry_after: float | None = None,
    ) -> HttpFault:
        """Fail the next ``count`` requests under ``path_prefix`` (``status=None`` drops them)."""
        fault = HttpFault(status, count, path_prefix, retry_after)
        with self._lock:
            self._http.append(fault)
        return fault

    def pending_http(self) -> int:
        """How many more requests the queued HTTP faults will fail (0: none queued)."""
        with self._lock:
            return sum(fault.count for fault in self._http)

    def take_http(self, path: str) -> HttpFault | None:
        """Consume one use of the first HTTP fault matching ``path``, if any."""
        if not self._http:
            return None
        with self._lock:
            for index, fault in enumerate(self._http):
                if path.startswith(fault.path_prefix):
                    if fault.count == 1:
                        del self._http[index]
                    else:
                        self._http[index] = replace(fault, count=fault.count - 1)
                    return fault
        return None

    def clear(self) -> None:
        """Switch every fault off."""
        with self._lock:
            self._stream_global = _NO_FAULT
            self._stream_by_session.clear()
            self._http.clear()
