"""Stream frame decoding on the Rust core (``relaywire._native.StreamDecoder``).

One native call turns the bytes a socket delivered into a list of ``(event_type, payload)``
entries whose payloads are the caller's own event dataclasses; ``FLAG_*`` bits tell the caller
whether the batch needs more than handing events on (control frames, tool calls, turn ends).
"""

from relaywire._native import FLAG_CONTROL, FLAG_TOOL_CALL, FLAG_TURN_END, StreamDecoder

__all__ = ["FLAG_CONTROL", "FLAG_TOOL_CALL", "FLAG_TURN_END", "StreamDecoder"]
