"""``relaywire._native.EnvelopeDecoder``: WebSocket frames of a ``{"type", "payload"}`` protocol
to ``(type, payload)`` entries, checked against a plain-Python reference (``json.loads`` plus
the envelope rules below)."""

from __future__ import annotations

import json
import sys
from typing import Any

import pytest
from _stream_reference import (
    FLAG_CONTROL,
    MAX_DEPTH,
    OP_BINARY,
    OP_CONTINUATION,
    OP_PING,
    OP_PONG,
    Malformed,
    close_frame,
    loads,
    strict,
    ws_frame,
)
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

# The JSON text strategies of the Daguito decoder's tests (raw and escaped characters, lone
# surrogates, every number form, duplicate keys, whitespace).
from test_native_stream import json_string, json_text, whitespace

from relaywire._native import EnvelopeDecoder
from relaywire.streams import EnvelopeDecoder as FacadeEnvelopeDecoder

Entry = tuple[str, Any]


def reference_decode(
    message: str | bytes, type_key: str = "type", payload_key: str = "payload"
) -> tuple[list[Entry], int]:
    """What ``EnvelopeDecoder.decode`` returns for one message."""
    try:
        frame = loads(message)
    except Malformed as exc:
        return [("malformed", str(exc))], FLAG_CONTROL
    if not isinstance(frame, dict):
        return [("malformed", "not an object")], FLAG_CONTROL
    frame_type = frame.get(type_key)
    if not isinstance(frame_type, str):
        return [("malformed", "no type")], FLAG_CONTROL
    payload = frame.get(payload_key)
    if payload is None:
        payload = {}
    if not isinstance(payload, dict):
        return [("malformed", "payload not an object")], FLAG_CONTROL
    return [(frame_type, payload)], 0


def comparable(entries: list[Entry]) -> list[Any]:
    """Entries in strict form; a malformed entry's reason (a non-empty ``str``, where frame
    payloads are dicts) is only checked to be there."""
    out: list[Any] = []
    for kind, payload in entries:
        if kind == "malformed" and isinstance(payload, str):
            assert payload
            out.append(("malformed",))
        else:
            assert isinstance(payload, dict)
            out.append((kind, strict(payload)))
    return out


def check(decoder: EnvelopeDecoder, message: str | bytes, **keys: str) -> None:
    events, flags = decoder.decode(message)
    expected, expected_flags = reference_decode(message, **keys)
    assert comparable(events) == comparable(expected), message
    assert flags == expected_flags, message


# ------------------------------------------------------------------------------ strategies

TYPES = st.sampled_from(
    ["connected", "presence", "typing", "new_message", "message_updated", "error", "pong",
     "conversation_updated", "", "malformed", "Typing", "é😀"]
)  # fmt: skip
TOP_KEYS = st.sampled_from(["type", "payload", "data", "conversationId", "at", "event"])
PAYLOAD_KEYS = st.sampled_from(
    ["conversation_id", "message", "user_id", "is_typing", "status", "conversationId", "é"]
)


@st.composite
def envelope(draw: st.DrawFn) -> str:
    """A server frame: usually an object with a string type and an object payload, sometimes
    with something else in either place, extra keys, duplicates and whitespace."""
    fields: list[tuple[str, str]] = []
    if draw(st.integers(0, 9)):
        type_value = draw(json_string(TYPES)) if draw(st.integers(0, 9)) else draw(json_text())
        fields.append(('"type"', type_value))
    shape = draw(st.integers(0, 9))
    if shape >= 3:
        pairs = [
            f"{draw(whitespace())}{draw(json_string(PAYLOAD_KEYS))}:{draw(json_text())}"
            for _ in range(draw(st.integers(0, 4)))
        ]
        fields.append(('"payload"', "{" + ",".join(pairs) + "}"))
    elif shape == 2:
        fields.append(('"payload"', draw(st.sampled_from(["null", "[]", '"x"', "1", "true"]))))
    elif shape == 1:
        fields.append(('"payload"', draw(json_text())))
    for _ in range(draw(st.integers(0, 3))):
        fields.append((draw(json_string(TOP_KEYS)), draw(json_text())))
    fields = draw(st.permutations(fields))
    body = ",".join(f"{draw(whitespace())}{k}{draw(whitespace())}:{v}" for k, v in fields)
    return draw(whitespace()) + "{" + body + "}" + draw(whitespace())


# --------------------------------------------------------------------------- message decoding


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(text=envelope())
def test_envelopes_match_the_reference(text: str) -> None:
    decoder = EnvelopeDecoder()
    check(decoder, text)
    check(decoder, text.encode("utf-8", "surrogatepass"))


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(text=json_text())
def test_payload_values_equal_json_loads(text: str) -> None:
    """Any JSON value inside the payload comes out exactly as ``json.loads`` gives it (same
    types, key order, float bits, lone surrogates)."""
    decoder = EnvelopeDecoder()
    [(frame_type, payload)], flags = decoder.decode(f'{{"type":"t","payload":{{"v":{text}}}}}')
    assert (frame_type, flags) == ("t", 0)
    assert strict(payload) == strict({"v": json.loads(text)})
    for template in ('{"payload":%s,"type":"t"}', '{"type":%s}', "%s"):
        check(decoder, template.replace("%s", text))


@settings(max_examples=300)
@given(message=st.binary(max_size=64) | st.text(max_size=64).map(str.encode))
@example(message=b'{"type":"typing"}\xff')
@example(message=b"\xef\xbb\xbf{}")
def test_random_bytes_never_raise_and_match_the_reference(message: bytes) -> None:
    check(EnvelopeDecoder(), message)


@settings(max_examples=300)
@given(text=envelope(), data=st.data())
def test_mutated_frames_match_the_reference(text: str, data: st.DataObject) -> None:
    raw = bytearray(text.encode("utf-8", "surrogatepass"))
    assume(raw)
    for _ in range(data.draw(st.integers(1, 3))):
        at = data.draw(st.integers(0, len(raw) - 1))
        op = data.draw(st.integers(0, 2))
        if op == 0:
            raw[at] = data.draw(st.sampled_from(b'{}[]",:\\0123456789.eE+-tfnu \x00\xc3\x80'))
        elif op == 1:
            del raw[at]
        else:
            raw.insert(at, data.draw(st.integers(0, 255)))
    check(EnvelopeDecoder(), bytes(raw))


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(text=envelope(), keys=st.sampled_from([("event", "data"), ("", "payload"), ("t", "p")]))
def test_custom_keys_match_the_reference(text: str, keys: tuple[str, str]) -> None:
    type_key, payload_key = keys
    text = text.replace('"type"', json.dumps(type_key)).replace(
        '"payload"', json.dumps(payload_key)
    )
    decoder = EnvelopeDecoder(type_key=type_key, payload_key=payload_key)
    check(decoder, text, type_key=type_key, payload_key=payload_key)


TABLE: list[tuple[str, list[Entry]]] = [
    (
        '{"type":"typing","payload":{"conversation_id":"c","user_id":"u","is_typing":true}}',
        [("typing", {"conversation_id": "c", "user_id": "u", "is_typing": True})],
    ),
    ('{"type":"pong"}', [("pong", {})]),
    ('{"type":"pong","payload":null,"at":"x"}', [("pong", {})]),
    ('{"payload":{"a":1},"type":"x","extra":[1]}', [("x", {"a": 1})]),
    # Duplicates: the last type and payload win; inside the payload, first position, last value.
    (
        '{"type":"a","payload":[],"type":"b","payload":{"k":1,"j":2,"k":3}}',
        [("b", {"k": 3, "j": 2})],
    ),
    ('{"typ\\u0065":"\\u00e9","payload":{"\\ud800":"\\udfff"}}', [("é", {"\ud800": "\udfff"})]),
    (
        '{"type":"n","payload":{"big":123456789012345678901234567890,"f":1e400,"m":-0.0}}',
        [("n", {"big": 123456789012345678901234567890, "f": float("inf"), "m": -0.0})],
    ),
    # A frame whose type is "malformed" keeps its dict payload; real malformed entries have a
    # str reason.
    ('{"type":"malformed"}', [("malformed", {})]),
]


@pytest.mark.parametrize(("message", "expected"), TABLE)
def test_known_frames(message: str, expected: list[Entry]) -> None:
    events, flags = EnvelopeDecoder().decode(message)
    assert strict(events) == strict(expected)
    assert flags == 0


MALFORMED: list[tuple[str | bytes, str]] = [
    ("", "message is not valid JSON: unexpected end of data at byte 0"),
    ("not json", "message is not valid JSON: expected a value at byte 0"),
    ("[1,2]", "message is not a JSON object"),
    ('"typing"', "message is not a JSON object"),
    ("{}", 'message has no string "type"'),
    ('{"type":null}', 'message has no string "type"'),
    ('{"type":["typing"]}', 'message has no string "type"'),
    ('{"type":"x","payload":[]}', 'message\'s "payload" is not a JSON object'),
    ('{"type":"x","payload":"text"}', 'message\'s "payload" is not a JSON object'),
    ('{"type":"x","payload":0}', 'message\'s "payload" is not a JSON object'),
    ('{"type":"x","payload":{"n":NaN}}', "message is not valid JSON: expected a value at byte 27"),
    ('{"type":"x"} {}', "message is not valid JSON: extra data after the value at byte 13"),
    ('\ufeff{"type":"x"}', "message is not valid JSON: expected a value at byte 0"),
    (b'{"type":"\xff"}', "binary message is not UTF-8"),
    ('{"type":"\ud800"}', "message str holds lone surrogates"),
]


@pytest.mark.parametrize(("message", "reason"), MALFORMED)
def test_malformed_messages_are_entries(message: str | bytes, reason: str) -> None:
    decoder = EnvelopeDecoder()
    assert decoder.decode(message) == ([("malformed", reason)], FLAG_CONTROL)


def test_deep_nesting_is_malformed_not_a_crash() -> None:
    decoder = EnvelopeDecoder()
    for depth in (MAX_DEPTH - 2, MAX_DEPTH - 1, 100_000):
        inner = "[" * depth + "]" * depth
        [(kind, payload)], _ = decoder.decode(f'{{"type":"t","payload":{{"v":{inner}}}}}')
        if depth + 2 <= MAX_DEPTH:
            assert kind == "t"
        else:
            assert kind == "malformed" and "nesting deeper than 512" in payload


def test_integer_digit_limit_follows_python() -> None:
    if not hasattr(sys, "set_int_max_str_digits"):
        pytest.skip("no integer digit limit on this Python")
    decoder = EnvelopeDecoder()
    limit = sys.get_int_max_str_digits()
    try:
        sys.set_int_max_str_digits(1000)
        # Anywhere in the message, even outside the payload (json.loads refuses it too).
        [(kind, reason)], flags = decoder.decode('{"type":"t","n":%s}' % ("9" * 1001))
        assert (kind, flags) == ("malformed", FLAG_CONTROL)
        assert reason == "message has an integer of 1001 digits (the limit is 1000)"
        [(_, payload)], _ = decoder.decode('{"type":"t","payload":{"n":%s}}' % ("9" * 1000))
        assert payload == {"n": int("9" * 1000)}
        sys.set_int_max_str_digits(0)
        [(_, payload)], _ = decoder.decode('{"type":"t","payload":{"n":-%s}}' % ("9" * 20_000))
        assert payload == {"n": -int("9" * 20_000)}
    finally:
        sys.set_int_max_str_digits(limit)


def test_type_strings_are_interned_and_payloads_are_fresh() -> None:
    decoder = EnvelopeDecoder()
    message = '{"type":"new_message","payload":{"conversation_id":"c"}}'
    [(first_type, first)], _ = decoder.decode(message)
    [(second_type, second)], _ = decoder.decode(message)
    assert first_type is second_type
    assert first == second and first is not second
    first["mutated"] = True
    assert decoder.decode(message)[0][0][1] == {"conversation_id": "c"}


def test_decode_accepts_str_bytes_and_buffers() -> None:
    decoder = EnvelopeDecoder()
    message = '{"type":"t","payload":{"é":1}}'
    expected = ([("t", {"é": 1})], 0)
    raw = message.encode()
    for value in (message, raw, bytearray(raw), memoryview(raw), memoryview(raw + b"xx")[:-2]):
        assert decoder.decode(value) == expected
    with pytest.raises(TypeError, match="message must be bytes, bytearray or memoryview"):
        decoder.decode(5)  # type: ignore[arg-type]


def test_constructor() -> None:
    decoder = EnvelopeDecoder()
    assert (decoder.type_key, decoder.payload_key) == ("type", "payload")
    assert decoder.max_message_size == 64 * 1024 * 1024
    assert repr(decoder) == (
        "EnvelopeDecoder(type_key='type', payload_key='payload', max_message_size=67108864)"
    )
    custom = EnvelopeDecoder(type_key="event", payload_key="data", max_message_size=10)
    assert (custom.type_key, custom.payload_key, custom.max_message_size) == ("event", "data", 10)
    with pytest.raises(ValueError, match="type_key and payload_key must differ"):
        EnvelopeDecoder(type_key="k", payload_key="k")
    with pytest.raises(ValueError, match="max_message_size must be an int >= 0"):
        EnvelopeDecoder(max_message_size=-1)
    with pytest.raises(TypeError):
        EnvelopeDecoder("type")  # type: ignore[misc]
    with pytest.raises(TypeError):
        EnvelopeDecoder(type_key=1)  # type: ignore[arg-type]
    assert FacadeEnvelopeDecoder is EnvelopeDecoder


# ----------------------------------------------------------------------------- frame parsing

MESSAGES: list[bytes] = [
    b'{"type":"connected","payload":{"user_id":"u","tenant_id":"t","online_users":["u"]}}',
    '{"type":"typing","payload":{"conversation_id":"c","user_name":"Zoë","is_typing":true}}'.encode(),
    b'{"type":"new_message","payload":{"message":{"content":"' + b"x" * 70_000 + b'"}}}',
    b"not json",
    b'{"type":"presence","payload":{"user_id":"v","status":"online"}}',
    b'{"type":"message_updated","payload":{"message_id":"m","status":"read"}}',
]


def build_wire() -> tuple[bytes, list[bytes]]:
    """Every length form, fragmentation (split inside a UTF-8 sequence), a binary message and
    control frames in between; returns the wire and its control frames in order."""
    ping, pong, close = ws_frame(b"p", OP_PING), ws_frame(b"", OP_PONG), close_frame(1012, "bye")
    split = MESSAGES[1].index("ë".encode()) + 1
    wire = [
        ws_frame(MESSAGES[0], length_bits=64),
        ws_frame(MESSAGES[1][:split], fin=False),
        ping,
        ws_frame(MESSAGES[1][split:], OP_CONTINUATION),
        ws_frame(MESSAGES[2]),
        ws_frame(MESSAGES[3], length_bits=16),
        pong,
        ws_frame(MESSAGES[4], OP_BINARY),
        ws_frame(MESSAGES[5][:5], fin=False),
        ws_frame(b"", OP_CONTINUATION, fin=False),
        ws_frame(MESSAGES[5][5:], OP_CONTINUATION),
        close,
    ]
    return b"".join(wire), [ping, pong, close]


def expected_stream() -> tuple[list[Any], int]:
    entries: list[Entry] = []
    flags = 0
    for message in MESSAGES:
        got, got_flags = reference_decode(message)
        entries += got
        flags |= got_flags
    return comparable(entries), flags


def feed_all(
    decoder: EnvelopeDecoder, chunks: list[bytes]
) -> tuple[list[Any], int, list[bytes], Any]:
    events: list[Entry] = []
    controls: list[bytes] = []
    flags = 0
    error = None
    for chunk in chunks:
        got, got_flags, got_controls, error = decoder.feed(chunk)
        events += got
        flags |= got_flags
        if got_controls is not None:
            assert got_controls, "controls is None or non-empty"
            controls += got_controls
    return comparable(events), flags, controls, error


def test_whole_stream_in_one_call() -> None:
    wire, controls = build_wire()
    entries, flags = expected_stream()
    assert ("malformed",) in entries and flags == FLAG_CONTROL
    assert feed_all(EnvelopeDecoder(), [wire]) == (entries, flags, controls, None)


def test_every_split_point_gives_the_same_result() -> None:
    wire, controls = build_wire()
    expected = (*expected_stream(), controls, None)
    decoder = EnvelopeDecoder()
    big = wire.index(b"x" * 100)
    cuts = [
        *range(0, big + 32),
        *range(big + 32, len(wire) - 400, 1999),
        *range(len(wire) - 400, len(wire) + 1),
    ]
    for cut in cuts:
        decoder.reset()
        assert feed_all(decoder, [wire[:cut], wire[cut:]]) == expected, cut


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_random_chunks_give_the_same_result(data: st.DataObject) -> None:
    wire, controls = build_wire()
    cuts = sorted(data.draw(st.lists(st.integers(0, len(wire)), max_size=40)))
    chunks = [wire[a:b] for a, b in zip([0, *cuts], [*cuts, len(wire)], strict=True)]
    kind = data.draw(st.sampled_from([bytes, bytearray, memoryview]))
    assert feed_all(EnvelopeDecoder(), [kind(c) for c in chunks]) == (
        *expected_stream(),
        controls,
        None,
    )


def test_byte_by_byte() -> None:
    wire, _ = build_wire()
    head = wire[: wire.index(b"x" * 100)]
    whole = feed_all(EnvelopeDecoder(), [head])
    assert feed_all(EnvelopeDecoder(), [head[i : i + 1] for i in range(len(head))]) == whole


def test_feed_argument_types() -> None:
    decoder = EnvelopeDecoder()
    with pytest.raises(TypeError, match="data must be bytes, bytearray or memoryview, not str"):
        decoder.feed(MESSAGES[0].decode())  # type: ignore[arg-type]
    assert decoder.feed(b"") == ([], 0, None, None)
    frame = ws_frame(MESSAGES[4])
    doubled = bytes(b for byte in frame for b in (byte, 0))
    assert decoder.feed(memoryview(doubled)[::2])[0] == decoder.feed(frame)[0]


GOOD = ws_frame(MESSAGES[4])
GOOD_ENTRY = ("presence", {"user_id": "v", "status": "online"})
ERROR_CASES: list[tuple[str, bytes, int]] = [
    ("masked frame", ws_frame(MESSAGES[4], mask=b"abcd"), 1002),
    ("RSV1", ws_frame(MESSAGES[4], rsv=4), 1002),
    ("RSV2", ws_frame(MESSAGES[4], rsv=2), 1002),
    ("RSV3", ws_frame(MESSAGES[4], rsv=1), 1002),
    ("reserved data opcode", ws_frame(MESSAGES[4], 3), 1002),
    ("reserved control opcode", ws_frame(b"", 11), 1002),
    ("fragmented ping", ws_frame(b"x", OP_PING, fin=False), 1002),
    ("control over 125", ws_frame(b"x" * 126, OP_PING), 1002),
    ("orphan continuation", ws_frame(MESSAGES[4], OP_CONTINUATION), 1002),
    ("new message mid-fragment", ws_frame(b"{", fin=False) + ws_frame(MESSAGES[4]), 1002),
    ("64-bit length top bit", b"\x82\x7f" + (1 << 63 | 5).to_bytes(8, "big") + b"hello", 1002),
    ("oversize frame", ws_frame(b"x" * 1025), 1009),
    (
        "oversize fragments",
        ws_frame(b"x" * 600, fin=False) + ws_frame(b"x" * 425, OP_CONTINUATION),
        1009,
    ),
    ("invalid UTF-8 text", ws_frame(b'{"type":"\xff"}'), 1007),
    ("UTF-8 surrogate", ws_frame(b'"\xed\xa0\x80"'), 1007),
    (
        "truncated UTF-8 across fragments",
        ws_frame(b'"\xc3', fin=False) + ws_frame(b'"', OP_CONTINUATION),
        1007,
    ),
]


@pytest.mark.parametrize(("name", "bad", "code"), ERROR_CASES, ids=[c[0] for c in ERROR_CASES])
def test_protocol_errors_stop_the_decoder_until_reset(name: str, bad: bytes, code: int) -> None:
    decoder = EnvelopeDecoder(max_message_size=1024)
    before = GOOD + ws_frame(b"", OP_PING)
    events, _, controls, error = decoder.feed(before + bad + GOOD)
    # What came before the error in the same call is returned.
    assert events == [GOOD_ENTRY]
    assert controls == [ws_frame(b"", OP_PING)]
    assert error is not None and error[0] == code
    assert isinstance(error[1], str) and 0 < len(error[1].encode()) <= 123
    assert decoder.feed(GOOD) == ([], 0, None, error)
    decoder.reset()
    assert decoder.feed(GOOD) == ([GOOD_ENTRY], 0, None, None)


def test_oversize_is_detected_from_the_header_alone() -> None:
    decoder = EnvelopeDecoder(max_message_size=1000)
    header = ws_frame(b"x" * 1001)[:4]
    assert decoder.feed(header[:1])[3] is None
    assert decoder.feed(header[1:]) == ([], 0, None, (1009, "message too big"))
    assert EnvelopeDecoder().feed(b"\x82\x7f" + (2**62).to_bytes(8, "big"))[3] == (
        1009,
        "message too big",
    )


def test_binary_invalid_utf8_is_malformed_not_an_error() -> None:
    events, flags, _, error = EnvelopeDecoder().feed(ws_frame(b'{"type":"\xff"}', OP_BINARY))
    assert (events, flags, error) == ([("malformed", "binary message is not UTF-8")], 1, None)


def test_reset_forgets_partial_frames_and_fragments() -> None:
    decoder = EnvelopeDecoder()
    decoder.feed(ws_frame(b'{"type":', fin=False) + GOOD[:7])
    decoder.reset()
    assert decoder.feed(GOOD)[0] == [GOOD_ENTRY]


@settings(max_examples=300)
@given(
    frames=st.lists(
        st.tuples(
            st.integers(0, 15),
            st.booleans(),
            st.integers(0, 7),
            st.binary(max_size=200) | envelope().map(lambda s: s.encode("utf-8", "surrogatepass")),
            st.sampled_from([None, 7, 16, 64]),
        ),
        max_size=8,
    ),
    junk=st.binary(max_size=30),
    cut=st.integers(0, 2000),
)
def test_random_frames_never_raise(
    frames: list[tuple[int, bool, int, bytes, int | None]], junk: bytes, cut: int
) -> None:
    wire = b""
    for opcode, fin, rsv, payload, bits in frames:
        if bits == 7 and len(payload) > 125:
            bits = None
        wire += ws_frame(payload, opcode, fin=fin, rsv=rsv, length_bits=bits)
    wire += junk
    decoder = EnvelopeDecoder(max_message_size=4096)
    for chunk in (wire[:cut], wire[cut:]):
        events, flags, controls, error = decoder.feed(chunk)
        assert all(isinstance(t, str) and isinstance(p, (dict, str)) for t, p in events)
        assert flags in (0, FLAG_CONTROL)
        assert controls is None or all(isinstance(c, bytes) for c in controls)
        assert error is None or (error[0] in (1002, 1007, 1009) and isinstance(error[1], str))
