"""Stream frame decoding on the Rust core (``relaywire._native.StreamDecoder`` for Daguito,
``relaywire._native.EnvelopeDecoder`` for ``{"type", "payload"}`` protocols such as Linktor's
realtime socket).

One native call turns the bytes a socket delivered into a list of ``(event_type, payload)``
entries (the Daguito decoder's payloads are the caller's own event dataclasses; the envelope
decoder's are plain dicts, as ``json.loads`` builds them); ``FLAG_*`` bits tell the caller
whether the batch needs more than handing events on (control frames, tool calls, turn ends).
Given a protocol's events (``relaywire.models.RealtimeEvents``: Linktor's realtime socket), the
envelope decoder gives the event objects themselves, or with ``defer=True`` a
:class:`PendingEvent` per frame whose event is built when the consumer takes it.
"""

from relaywire._native import (
    FLAG_CONTROL,
    FLAG_TOOL_CALL,
    FLAG_TURN_END,
    EnvelopeDecoder,
    PendingEvent,
    StreamDecoder,
)

__all__ = [
    "FLAG_CONTROL",
    "FLAG_TOOL_CALL",
    "FLAG_TURN_END",
    "EnvelopeDecoder",
    "PendingEvent",
    "StreamDecoder",
]
