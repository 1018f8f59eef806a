"""``relaywire._native.StreamDecoder``: WebSocket frames and Daguito messages to event entries,
checked against the plain-Python reference in ``_stream_reference``."""

from __future__ import annotations

import array
import dataclasses
import json
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from _stream_reference import (
    EVENT_CLASSES,
    MAX_DEPTH,
    OP_BINARY,
    OP_CONTINUATION,
    OP_PING,
    OP_PONG,
    close_frame,
    comparable,
    strict,
    ws_frame,
)
from _stream_reference import decode as reference_decode
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from daguito import types as t
from relaywire._native import FLAG_CONTROL, FLAG_TOOL_CALL, FLAG_TURN_END, StreamDecoder

TOKEN = (
    b'{"type":"node.token","node_id":"agent","session_key":"k",'
    b'"at":"2026-01-01T00:00:00Z","data":{"text":"Hola "}}'
)


def new_decoder(**kwargs: Any) -> StreamDecoder:
    return StreamDecoder(EVENT_CLASSES, **kwargs)


@pytest.fixture
def decoder() -> StreamDecoder:
    return new_decoder(default_webhook_id="wh_default")


def check_against_reference(
    decoder: StreamDecoder, message: str | bytes, *, emit_tokens: bool = True
) -> None:
    events, flags = decoder.decode(message)
    expected, expected_flags, _ = reference_decode(
        message, default_webhook_id="wh_default", emit_tokens=emit_tokens
    )
    assert comparable(events) == comparable(expected), message
    assert flags == expected_flags, message
    for (_, payload), (_, wanted) in zip(events, expected, strict=True):
        if dataclasses.is_dataclass(wanted):
            assert type(payload) is type(wanted)
            assert payload == wanted


# ------------------------------------------------------------------------- JSON text generation

# Scalars that exercise the number grammar and string escapes, written as JSON text.
FLOAT_LITERALS = st.sampled_from(
    ["0.0", "-0.0", "1.5", "1e5", "1E+05", "2.5e-3", "-7.25E2", "1e400", "-1e400", "1e-400",
     "0.1", "123456789.123456789", "1.7976931348623157e308", "5e-324", "3.0e0"]
)  # fmt: skip
INT_LITERALS = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
    st.sampled_from(
        ["0", "-0", "9223372036854775807", "-9223372036854775808", "9223372036854775808",
         "18446744073709551616", "-18446744073709551617", "1" * 700]
    ),
)  # fmt: skip
ANY_CHAR = st.characters(codec=None, exclude_categories=())


@st.composite
def json_string(draw: st.DrawFn, text: st.SearchStrategy[str] | None = None) -> str:
    """A JSON string literal for ``text``, each character raw or escaped at random."""
    value = draw(text if text is not None else st.text(ANY_CHAR, max_size=12))
    out = ['"']
    for char in value:
        code = ord(char)
        raw_ok = code >= 0x20 and char not in '"\\' and not 0xD800 <= code <= 0xDFFF
        style = draw(st.integers(0, 3)) if raw_ok else draw(st.integers(1, 3))
        if style == 0 or (raw_ok and style == 3):
            out.append(char)
        elif char in '"\\/\b\f\n\r\t' and style == 1:
            out.append(json.dumps(char)[1:-1] if char != "/" else "\\/")
        elif code > 0xFFFF:
            high, low = 0xD800 + ((code - 0x10000) >> 10), 0xDC00 + ((code - 0x10000) & 0x3FF)
            out.append(f"\\u{high:04x}\\u{low:04X}")
        else:
            out.append(f"\\u{code:04x}" if draw(st.booleans()) else f"\\u{code:04X}")
    out.append('"')
    return "".join(out)


def whitespace() -> st.SearchStrategy[str]:
    return st.sampled_from(["", "", "", " ", "\n", "\t ", "\r\n"])


# Object keys: a few that repeat often (duplicate keys), or anything.
KEYS = json_string(st.sampled_from(["a", "b", "kind", "output", "é", "😀", ""])) | json_string()


@st.composite
def json_text(draw: st.DrawFn, max_leaves: int = 12) -> str:
    """Arbitrary JSON text (duplicate keys and whitespace included)."""

    def value(depth: int) -> str:
        choice = draw(st.integers(0, 9 if depth < 4 else 6))
        if choice == 0:
            return draw(st.sampled_from(["null", "true", "false"]))
        if choice in (1, 2):
            return draw(INT_LITERALS)
        if choice == 3:
            return draw(FLOAT_LITERALS)
        if choice in (4, 5, 6):
            return draw(json_string())
        if choice in (7, 8):
            pairs = [
                f"{draw(whitespace())}{draw(KEYS)}"
                f"{draw(whitespace())}:{draw(whitespace())}{value(depth + 1)}"
                for _ in range(draw(st.integers(0, 4)))
            ]
            return "{" + ",".join(pairs) + draw(whitespace()) + "}"
        items = [value(depth + 1) for _ in range(draw(st.integers(0, 4)))]
        return "[" + ",".join(f"{draw(whitespace())}{item}" for item in items) + "]"

    return value(0)


EVENT_TYPES = st.sampled_from(
    ["ready", "session.started", "session.ended", "ping", "pong", "error", "node.started",
     "merge.progress", "node.token", "node.completed", "node.failed", "node.emit",
     "flow.completed", "flow.failed", "widget.thing", "", "node.tokens", "Node.token"]
)  # fmt: skip
DATA_KEYS = st.sampled_from(
    ["token", "text", "delta", "content", "duration_ms", "elapsed_ms", "output", "error",
     "kind", "tool_name", "call_id", "args", "other"]
)  # fmt: skip
TOP_KEYS = st.sampled_from(["node_id", "session_key", "at", "webhook_id", "message", "__cursor"])
DATA_VALUES = st.one_of(
    json_text(),
    json_string(st.sampled_from(["", "Hola ", "agent.tool_call_started", "tool_progress", "é😀"])),
    st.sampled_from(
        ["2.5", "3.5", "-0.5", "1e400", "42", "true", "null", "12345678901234567890123"]
    ),
)


@st.composite
def envelope(
    draw: st.DrawFn, types: st.SearchStrategy[str] = EVENT_TYPES, data_object: bool = False
) -> str:
    """A server frame: an object with a (usually string) type, data and other fields, in
    random order, sometimes with duplicate keys."""
    fields: list[tuple[str, str]] = []
    if data_object or draw(st.integers(0, 9)) > 0:
        type_value = (
            draw(json_string(types))
            if data_object or draw(st.integers(0, 9)) > 0
            else draw(json_text())
        )
        fields.append(('"type"', type_value))
    if data_object:
        # Mostly strings, so that token texts are found often.
        values = st.one_of(DATA_VALUES, json_string(), json_string())
        data_pairs = [
            f"{draw(json_string(DATA_KEYS))}:{draw(values)}" for _ in range(draw(st.integers(1, 6)))
        ]
        fields.append(('"data"', "{" + ",".join(data_pairs) + "}"))
    elif draw(st.booleans()):
        data_pairs = [
            f"{draw(json_string(DATA_KEYS))}:{draw(DATA_VALUES)}"
            for _ in range(draw(st.integers(0, 5)))
        ]
        data = "{" + ",".join(data_pairs) + "}" if draw(st.integers(0, 5)) else draw(json_text())
        fields.append(('"data"', data))
    for _ in range(draw(st.integers(0, 3))):
        value = draw(json_string(st.sampled_from(["agent", "", "wh_1", "k", "é"])) | json_text())
        fields.append((draw(json_string(TOP_KEYS)), value))
    fields = draw(st.permutations(fields))
    body = ",".join(f"{draw(whitespace())}{k}{draw(whitespace())}:{v}" for k, v in fields)
    return draw(whitespace()) + "{" + body + "}" + draw(whitespace())


# --------------------------------------------------------------------------- message decoding


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(text=envelope())
def test_envelopes_match_the_reference(text: str) -> None:
    decoder = new_decoder(default_webhook_id="wh_default")
    check_against_reference(decoder, text)
    check_against_reference(decoder, text.encode("utf-8", "surrogatepass"))


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(
    text=envelope(
        st.sampled_from(["node.token", "node.completed", "node.emit", "node.failed"]),
        data_object=True,
    )
)
def test_payload_envelopes_match_the_reference(text: str) -> None:
    """Frames whose payload is built from ``data``, which the general strategy reaches
    less often."""
    decoder = new_decoder(default_webhook_id="wh_default")
    check_against_reference(decoder, text)
    decoder.collect_text = True
    decoder.emit_tokens = False
    check_against_reference(decoder, text, emit_tokens=False)
    assert decoder.take_text() == reference_decode(text)[2]


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(text=json_text())
def test_arbitrary_json_in_data_and_output_matches_the_reference(text: str) -> None:
    decoder = new_decoder(default_webhook_id="wh_default")
    for template in (
        '{"type":"node.emit","node_id":"n","data":{"kind":"x","v":%s}}',
        '{"type":"node.completed","data":{"output":%s}}',
        '{"type":"flow.completed","data":{"output":%s,"output":%s}}',
        '{"type":"error","message":%s}',
        '{"type":"node.emit","data":{"kind":%s}}',
        '{"type":"something.new","payload":%s}',
        "%s",
    ):
        message = template.replace("%s", text)
        check_against_reference(decoder, message)


@given(text=json_text())
def test_values_equal_json_loads(text: str) -> None:
    """The data dict of an emit is exactly ``json.loads`` of the text."""
    decoder = new_decoder()
    [(kind, event)], _ = decoder.decode(f'{{"type":"node.emit","data":{{"v":{text}}}}}')
    assert kind == "node.emit"
    assert strict(event.data["v"]) == strict(json.loads(text))


@settings(max_examples=300)
@given(message=st.binary(max_size=64) | st.text(max_size=64).map(str.encode))
@example(message=b'{"type":"ready"}\xff')
@example(message=b"\xef\xbb\xbf{}")
def test_random_bytes_never_raise_and_match_the_reference(message: bytes) -> None:
    check_against_reference(new_decoder(default_webhook_id="wh_default"), message)


@settings(max_examples=300)
@given(text=envelope(), data=st.data())
def test_mutated_frames_match_the_reference(text: str, data: st.DataObject) -> None:
    raw = bytearray(text.encode("utf-8", "surrogatepass"))
    assume(raw)
    for _ in range(data.draw(st.integers(1, 3))):
        if not raw:  # deletions emptied a short message
            break
        at = data.draw(st.integers(0, len(raw) - 1))
        op = data.draw(st.integers(0, 2))
        if op == 0:
            raw[at] = data.draw(st.sampled_from(b'{}[]",:\\0123456789.eE+-tfnu \x00\xc3\x80'))
        elif op == 1:
            del raw[at]
        else:
            raw.insert(at, data.draw(st.integers(0, 255)))
    check_against_reference(new_decoder(default_webhook_id="wh_default"), bytes(raw))


@pytest.mark.parametrize(
    "message",
    [
        "",
        "   ",
        "null",
        "[1,2]",
        '"node.token"',
        "{}",
        '{"data":{"text":"x"}}',
        '{"type":1}',
        '{"type":null}',
        '{"type":["node.token"]}',
        '{"type":"node.token","x":NaN}',
        '{"type":"node.token","x":Infinity}',
        '{"type":"node.token","x":-Infinity}',
        '{"type":"ready",}',
        '{"type":"ready"} // comment',
        '{"type":"ready"} x',
        '{"type":"ready","n":01}',
        '{"type":"ready","s":"a\tb"}',
        "{'type':'ready'}",
        '{"type":"ready"',
        '\ufeff{"type":"ready"}',
        '{"type":"ready","n":' + "1" * 5000 + "}",
    ],
)
def test_malformed_messages_are_entries(decoder: StreamDecoder, message: str) -> None:
    events, flags = decoder.decode(message)
    assert flags == FLAG_CONTROL
    [(kind, reason)] = events
    assert kind == "malformed"
    assert isinstance(reason, str) and reason
    check_against_reference(decoder, message)


def test_deep_nesting_is_malformed_not_a_crash(decoder: StreamDecoder) -> None:
    for depth in (MAX_DEPTH - 3, MAX_DEPTH - 2, MAX_DEPTH - 1, MAX_DEPTH, 100_000, 10_000_000):
        inner = "[" * depth + "]" * depth
        message = f'{{"type":"node.emit","data":{{"v":{inner}}}}}'
        events, _ = decoder.decode(message)
        # The envelope and data add two levels.
        if depth + 2 <= MAX_DEPTH:
            [(kind, _)] = events
            assert kind == "node.emit"
        else:
            assert events[0][0] == "malformed"
            assert "nesting deeper than 512" in events[0][1]
    # Unclosed: the limit is hit before the end.
    events, _ = decoder.decode("[" * 1_000_000)
    assert events[0][0] == "malformed"


def test_integer_digit_limit_follows_python(decoder: StreamDecoder) -> None:
    if not hasattr(sys, "set_int_max_str_digits"):
        pytest.skip("no integer digit limit on this Python")
    limit = sys.get_int_max_str_digits()
    try:
        sys.set_int_max_str_digits(1000)
        # Anywhere in the message, even where the payload does not use it (as json.loads).
        message = '{"type":"node.token","at":%s,"data":{"text":"x"}}'.replace("%s", "9" * 1001)
        assert decoder.decode(message)[0][0][0] == "malformed"
        message = '{"type":"node.emit","data":{"n":%s}}'.replace("%s", "9" * 1000)
        [(_, event)] = decoder.decode(message)[0]
        assert event.data["n"] == int("9" * 1000)
        sys.set_int_max_str_digits(0)
        message = '{"type":"node.emit","data":{"n":-%s}}'.replace("%s", "9" * 20_000)
        [(_, event)] = decoder.decode(message)[0]
        assert event.data["n"] == -int("9" * 20_000)
    finally:
        sys.set_int_max_str_digits(limit)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('"\\ud800"', "\ud800"),
        ('"\\udfff tail"', "\udfff tail"),
        ('"\\ud83d\\ude00"', "😀"),
        ('"\\ud83d\\u0041"', "\ud83dA"),
        ('"\\ude00\\ud83d"', "\ude00\ud83d"),
        ('"\\ud800\\ud800\\udc00"', "\ud800\U00010000"),
        ('"😀 é ñ 中"', "😀 é ñ 中"),
        ('"\\u0000\\u001f\\u007f"', "\x00\x1f\x7f"),
    ],
)
def test_strings_keep_lone_surrogates_like_json_loads(
    decoder: StreamDecoder, text: str, expected: str
) -> None:
    assert json.loads(text) == expected
    [(_, event)], _ = decoder.decode(f'{{"type":"node.token","data":{{"text":{text}}}}}')
    assert event.text == expected
    [(_, event)], _ = decoder.decode(f'{{"type":"node.emit","data":{{{text}:{text}}}}}')
    assert event.data == {expected: expected}


def test_duplicate_keys_last_wins_first_position(decoder: StreamDecoder) -> None:
    message = (
        '{"type":"node.token","type":"node.emit","node_id":"a","node_id":"b",'
        '"data":{"kind":"x","z":1,"kind":"y","z":2,"a":3}}'
    )
    [(kind, event)], _ = decoder.decode(message)
    assert kind == "node.emit"
    assert event == t.NodeEmitEvent("b", "y", {"kind": "y", "z": 2, "a": 3})
    assert list(event.data) == ["kind", "z", "a"]


TOOL_CALL = (
    '{"type":"node.emit","node_id":"agent","data":{"kind":"agent.tool_call_started",'
    '"tool_name":"w","call_id":"c1","args":{"city":"Paris"}}}'
)
TOOL_CALL_DATA = {
    "kind": "agent.tool_call_started",
    "tool_name": "w",
    "call_id": "c1",
    "args": {"city": "Paris"},
}

TABLE: list[tuple[str, list[tuple[str, Any]], int]] = [
    ('{"type":"ready","webhook_id":"wh_1"}', [("ready", t.ReadyEvent("wh_1"))], FLAG_CONTROL),
    ('{"type":"ready","webhook_id":5}', [("ready", t.ReadyEvent("wh_default"))], FLAG_CONTROL),
    ('{"type":"session.started","session_key":"py_x"}', [("session.started", "py_x")], 1),
    ('{"type":"session.started"}', [("session.started", None)], FLAG_CONTROL),
    ('{"type":"session.ended"}', [("session.ended", None)], FLAG_CONTROL),
    ('{"type":"ping"}', [], 0),
    ('{"type":"pong","at":"x"}', [], 0),
    ('{"type":"error","message":"gone"}', [("error", t.ErrorEvent("gone"))], 0),
    ('{"type":"error"}', [("error", t.ErrorEvent("unknown error"))], 0),
    (
        '{"type":"error","message":{"code": 4, "é": [1.0, 1e16]}}',
        [("error", t.ErrorEvent('{"code":4,"é":[1.0,1e+16]}'))],
        0,
    ),
    ('{"type":"error","message":null}', [("error", t.ErrorEvent("null"))], 0),
    ('{"type":"merge.progress","node_id":"m"}', [("node.started", t.NodeStartedEvent("m"))], 0),
    ('{"type":"node.started","node_id":3}', [("node.started", t.NodeStartedEvent(""))], 0),
    (
        '{"type":"node.token","data":{"token":"","text":"t","delta":"d"}}',
        [("node.token", t.NodeTokenEvent("", "t"))],
        0,
    ),
    (
        '{"type":"node.token","data":{"token":1,"content":"c"}}',
        [("node.token", t.NodeTokenEvent("", "c"))],
        0,
    ),
    ('{"type":"node.token","data":{"token":""}}', [], 0),
    ('{"type":"node.token","data":["text"]}', [], 0),
    (
        '{"type":"node.completed","node_id":"n","data":{"duration_ms":42,"output":{"a":1}}}',
        [("node.completed", t.NodeCompletedEvent("n", 42, {"a": 1}))],
        0,
    ),
    (
        '{"type":"node.completed","data":{"duration_ms":2.5}}',
        [("node.completed", t.NodeCompletedEvent("", 2))],
        0,
    ),
    (
        '{"type":"node.completed","data":{"duration_ms":3.5}}',
        [("node.completed", t.NodeCompletedEvent("", 4))],
        0,
    ),
    (
        '{"type":"node.completed","data":{"duration_ms":true,"elapsed_ms":7}}',
        [("node.completed", t.NodeCompletedEvent("", 7))],
        0,
    ),
    (
        # A number that is not finite still counts as the duration, and gives None.
        '{"type":"node.completed","data":{"duration_ms":1e400,"elapsed_ms":7}}',
        [("node.completed", t.NodeCompletedEvent("", None))],
        0,
    ),
    (
        '{"type":"node.completed","data":{"elapsed_ms":1e300}}',
        [("node.completed", t.NodeCompletedEvent("", round(1e300)))],
        0,
    ),
    (
        '{"type":"node.failed","data":{"error":"boom"}}',
        [("node.failed", t.NodeFailedEvent("", "boom"))],
        0,
    ),
    (
        '{"type":"node.failed","data":{"error":["boom"]}}',
        [("node.failed", t.NodeFailedEvent("", None))],
        0,
    ),
    (
        TOOL_CALL,
        [("node.emit", t.NodeEmitEvent("agent", "agent.tool_call_started", TOOL_CALL_DATA))],
        FLAG_TOOL_CALL,
    ),
    (
        '{"type":"node.emit","data":{"kind":null}}',
        [("node.emit", t.NodeEmitEvent("", "", {"kind": None}))],
        0,
    ),
    (
        '{"type":"node.emit","data":{"kind":["a",1]}}',
        [("node.emit", t.NodeEmitEvent("", '["a",1]', {"kind": ["a", 1]}))],
        0,
    ),
    ('{"type":"node.emit"}', [("node.emit", t.NodeEmitEvent("", "", {}))], 0),
    (
        '{"type":"flow.completed","data":{"output":{"content":"Hola"}}}',
        [("flow.completed", t.FlowCompletedEvent(0, {"content": "Hola"}))],
        FLAG_TURN_END,
    ),
    (
        '{"type":"flow.failed","data":{"error":"LLM timeout"}}',
        [("flow.failed", t.FlowFailedEvent("LLM timeout"))],
        FLAG_TURN_END,
    ),
    ('{"type":"flow.failed"}', [("flow.failed", t.FlowFailedEvent("flow failed"))], FLAG_TURN_END),
    (
        '{"type":"widget.x","n":1}',
        [("unknown", t.UnknownFrameEvent("widget.x", {"type": "widget.x", "n": 1}))],
        0,
    ),
]


@pytest.mark.parametrize(("message", "entries", "flags"), TABLE)
def test_payload_fields_follow_the_table(
    decoder: StreamDecoder, message: str, entries: list[tuple[str, Any]], flags: int
) -> None:
    events, got_flags = decoder.decode(message)
    assert comparable(events) == comparable(entries)
    assert got_flags == flags
    check_against_reference(decoder, message)


def test_event_type_strings_are_interned(decoder: StreamDecoder) -> None:
    first, _ = decoder.decode(TOKEN)
    second, _ = decoder.decode(TOKEN)
    assert first[0][0] is second[0][0]
    assert first[0][0] is sys.intern("node.token")
    [(kind, _)], _ = decoder.decode('{"type":"flow.failed"}')
    assert kind is sys.intern("flow.failed")


def test_decode_accepts_str_bytes_and_buffers(decoder: StreamDecoder) -> None:
    expected = decoder.decode(TOKEN)
    for message in (
        TOKEN.decode(),
        bytearray(TOKEN),
        memoryview(TOKEN),
        memoryview(b"xx" + TOKEN)[2:],
    ):
        assert decoder.decode(message) == expected
    assert decoder.decode(array.array("b", TOKEN)) == expected
    with pytest.raises(TypeError, match="message must be bytes, bytearray or memoryview"):
        decoder.decode(5)  # type: ignore[arg-type]
    # A str with lone surrogates cannot come from a WebSocket text message.
    [(kind, _)], flags = decoder.decode('{"type":"node.token","data":{"text":"\ud800"}}')
    assert (kind, flags) == ("malformed", FLAG_CONTROL)


# --------------------------------------------------------------------------- payload objects


def test_instances_behave_like_normally_built_dataclasses(decoder: StreamDecoder) -> None:
    message = '{"type":"node.completed","node_id":"n","data":{"duration_ms":5,"output":[1]}}'
    [(_, event)], _ = decoder.decode(message)
    built = t.NodeCompletedEvent("n", 5, [1])
    assert event == built
    assert repr(event) == repr(built)
    assert vars(event) == {"node_id": "n", "duration_ms": 5, "output": [1]}
    assert dataclasses.asdict(event) == dataclasses.asdict(built)
    assert dataclasses.replace(event, duration_ms=6) == t.NodeCompletedEvent("n", 6, [1])
    event.output = "mutable"
    assert event.output == "mutable"
    # Defaulted fields are set on the instance, not left to the class.
    [(_, emit)], _ = decoder.decode('{"type":"node.emit"}')
    assert vars(emit) == {"node_id": "", "kind": "", "data": {}}
    [(_, unknown)], _ = decoder.decode('{"type":"z"}')
    assert vars(unknown) == {"type": "z", "frame": {"type": "z"}}
    # Each emit gets its own dict.
    [(_, other)], _ = decoder.decode('{"type":"node.emit"}')
    assert other.data is not emit.data


def test_init_and_post_init_are_not_run() -> None:
    @dataclasses.dataclass(frozen=True)
    class StrictToken:
        node_id: str
        text: str

        def __post_init__(self) -> None:
            raise AssertionError("__post_init__ ran")

    decoder = StreamDecoder({**EVENT_CLASSES, "node.token": StrictToken})
    [(_, event)], _ = decoder.decode(TOKEN)
    assert type(event) is StrictToken
    assert (event.node_id, event.text) == ("agent", "Hola ")
    with pytest.raises(dataclasses.FrozenInstanceError):
        event.text = "x"  # type: ignore[misc]


def test_slotted_dataclasses_work() -> None:
    @dataclasses.dataclass(slots=True)
    class SlotToken:
        node_id: str
        text: str

    decoder = StreamDecoder({**EVENT_CLASSES, "node.token": SlotToken})
    [(_, event)], _ = decoder.decode(TOKEN)
    assert event == SlotToken("agent", "Hola ")


# --------------------------------------------------------------------------- constructor


def test_bad_constructor_arguments() -> None:
    missing = {k: v for k, v in EVENT_CLASSES.items() if k != "node.token"}
    with pytest.raises(ValueError, match=r"event_classes has no 'node\.token' class"):
        StreamDecoder(missing)
    with pytest.raises(TypeError, match=r"event_classes\['ready'\] must be a class, not str"):
        StreamDecoder({**EVENT_CLASSES, "ready": "ReadyEvent"})
    with pytest.raises(TypeError, match="event_classes must be a mapping"):
        StreamDecoder(None)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="event_classes must be a mapping"):
        StreamDecoder("ready")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"fields \(node_id, text\).*has no dataclass fields"):
        StreamDecoder({**EVENT_CLASSES, "node.token": type("Plain", (), {})})
    with pytest.raises(TypeError, match="its own __new__"):
        StreamDecoder({**EVENT_CLASSES, "node.token": dict})
    with pytest.raises(TypeError, match=r"fields \(node_id, text\).*the fields \(node_id\)"):
        StreamDecoder({**EVENT_CLASSES, "node.token": t.NodeStartedEvent})

    @dataclasses.dataclass
    class WithNew:
        webhook_id: str

        def __new__(cls, *args: Any, **kwargs: Any) -> WithNew:
            return super().__new__(cls)

    with pytest.raises(TypeError, match="its own __new__"):
        StreamDecoder({**EVENT_CLASSES, "ready": WithNew})
    with pytest.raises(ValueError, match="max_message_size must be an int >= 0"):
        StreamDecoder(EVENT_CLASSES, max_message_size=-1)
    with pytest.raises(TypeError):
        StreamDecoder(EVENT_CLASSES, default_webhook_id=None)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        StreamDecoder(EVENT_CLASSES, "wh")  # type: ignore[misc]


def test_constructor_accepts_any_mapping_and_ignores_extra_keys() -> None:
    from types import MappingProxyType

    decoder = StreamDecoder(MappingProxyType({**EVENT_CLASSES, "closed": t.ClosedEvent}))
    assert decoder.decode(TOKEN)[0] == [("node.token", t.NodeTokenEvent("agent", "Hola "))]
    assert decoder.max_message_size == 64 * 1024 * 1024
    assert "StreamDecoder(" in repr(decoder)


# --------------------------------------------------------------------------- token text


def test_collect_text(decoder: StreamDecoder) -> None:
    assert (decoder.collect_text, decoder.emit_tokens) == (False, True)
    decoder.decode('{"type":"node.token","data":{"text":"before"}}')
    assert decoder.text_length == 0
    decoder.collect_text = True
    pieces = ["Hola ", "mundo", " é", "😀", "\ud83d", "\ude00", "中文", "\\n", "\x00"]
    for piece in pieces:
        message = json.dumps({"type": "node.token", "data": {"delta": piece}})
        [(kind, event)], _ = decoder.decode(message)
        assert (kind, event.text) == ("node.token", piece)
    decoder.decode('{"type":"node.emit","data":{"text":"not a token"}}')
    expected = "".join(pieces)
    assert decoder.text_length == len(expected)
    assert decoder.take_text() == expected
    assert decoder.text_length == 0
    assert decoder.take_text() == ""


def test_emit_tokens_off_collects_without_entries(decoder: StreamDecoder) -> None:
    decoder.collect_text = True
    decoder.emit_tokens = False
    wire = b"".join(
        ws_frame(json.dumps({"type": "node.token", "data": {"token": text}}).encode())
        for text in ("a", "b", "ç")
    )
    wire += ws_frame('{"type":"flow.completed","data":{"output":"abç"}}'.encode())
    events, flags, controls, error = decoder.feed(wire)
    assert events == [("flow.completed", t.FlowCompletedEvent(0, "abç"))]
    assert (flags, controls, error) == (FLAG_TURN_END, None, None)
    assert decoder.text_length == 3
    decoder.reset()  # Collected text survives a reconnect.
    assert decoder.take_text() == "abç"
    decoder.collect_text = False
    decoder.decode('{"type":"node.token","data":{"token":"x"}}')
    assert decoder.text_length == 0


# --------------------------------------------------------------------------- frame parsing


def stream_messages() -> list[bytes]:
    return [
        b'{"type":"ready","webhook_id":"wh_1"}',
        b'{"type":"session.started","session_key":"py_1"}',
        TOKEN,
        '{"type":"node.token","node_id":"n","data":{"text":"é😀"}}'.encode(),
        b'{"type":"node.emit","data":{"kind":"agent.tool_call_started","pad":"'
        + b"x" * 300
        + b'"}}',
        b'{"type":"node.completed","data":{"output":"' + b"y" * 70_000 + b'"}}',
        b"not json",
        b'{"type":"flow.completed","data":{"output":{"content":"Hola"}}}',
    ]


def build_wire() -> tuple[bytes, list[bytes]]:
    """A server stream with every length form, fragmentation, binary messages and control
    frames in between; returns it with its control frames in order."""
    messages = stream_messages()
    ping, pong, close = ws_frame(b"p1", OP_PING), ws_frame(b"", OP_PONG), close_frame(1000, "bye")
    wire = [
        ws_frame(messages[0]),
        ws_frame(messages[1], length_bits=16),
        ping,
        ws_frame(messages[2], length_bits=64),
        # Fragmented text with controls in between, split inside a UTF-8 sequence.
        ws_frame(messages[3][:52], fin=False),
        pong,
        ws_frame(messages[3][52:54], OP_CONTINUATION, fin=False),
        ws_frame(b"", OP_CONTINUATION, fin=False),
        ping,
        ws_frame(messages[3][54:], OP_CONTINUATION),
        ws_frame(messages[4], OP_BINARY),
        ws_frame(messages[5]),
        ws_frame(messages[6]),
        ws_frame(messages[7][:10], OP_BINARY, fin=False),
        ws_frame(messages[7][10:], OP_CONTINUATION),
        close,
    ]
    return b"".join(wire), [ping, pong, ping, close]


def expected_stream() -> tuple[list[Any], int]:
    entries: list[Any] = []
    flags = 0
    for message in stream_messages():
        got, got_flags, _ = reference_decode(message, default_webhook_id="wh_default")
        entries += got
        flags |= got_flags
    return comparable(entries), flags


def feed_all(
    decoder: StreamDecoder, chunks: Iterator[bytes] | list[bytes]
) -> tuple[list[Any], int, list[bytes], Any]:
    events: list[Any] = []
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


def test_whole_stream_in_one_call(decoder: StreamDecoder) -> None:
    wire, controls = build_wire()
    entries, flags = expected_stream()
    assert entries[-2] == ("malformed",)
    assert flags == FLAG_CONTROL | FLAG_TOOL_CALL | FLAG_TURN_END
    assert feed_all(decoder, [wire]) == (entries, flags, controls, None)


def test_every_split_point_gives_the_same_result() -> None:
    wire, controls = build_wire()
    entries, flags = expected_stream()
    decoder = new_decoder(default_webhook_id="wh_default")
    # Every boundary in the small frames, a sample inside the 70 KB one, and the last bytes.
    big_start = wire.index(b"y" * 100)
    cuts = [
        *range(0, big_start + 64),
        *range(big_start + 64, len(wire) - 200, 997),
        *range(len(wire) - 200, len(wire) + 1),
    ]
    for cut in cuts:
        decoder.reset()
        assert feed_all(decoder, [wire[:cut], wire[cut:]]) == (entries, flags, controls, None), cut


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_random_chunks_give_the_same_result(data: st.DataObject) -> None:
    wire, controls = build_wire()
    entries, flags = expected_stream()
    cuts = sorted(data.draw(st.lists(st.integers(0, len(wire)), max_size=40)))
    chunks = [wire[a:b] for a, b in zip([0, *cuts], [*cuts, len(wire)], strict=True)]
    kind = data.draw(st.sampled_from([bytes, bytearray, memoryview]))
    decoder = new_decoder(default_webhook_id="wh_default")
    assert feed_all(decoder, [kind(c) for c in chunks]) == (entries, flags, controls, None)


def test_byte_by_byte() -> None:
    wire, _ = build_wire()
    head = wire[: wire.index(b"y" * 100)]
    decoder = new_decoder(default_webhook_id="wh_default")
    whole = feed_all(new_decoder(default_webhook_id="wh_default"), [head])
    assert feed_all(decoder, [head[i : i + 1] for i in range(len(head))]) == whole


def test_feed_argument_types(decoder: StreamDecoder) -> None:
    with pytest.raises(TypeError, match="data must be bytes, bytearray or memoryview, not str"):
        decoder.feed(TOKEN.decode())  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="not int"):
        decoder.feed(3)  # type: ignore[arg-type]
    frame = ws_frame(TOKEN)
    doubled = bytes(b for byte in frame for b in (byte, 0))
    noncontiguous = memoryview(doubled)[::2]
    assert decoder.feed(noncontiguous)[0] == decoder.feed(frame)[0]
    assert decoder.feed(b"") == ([], 0, None, None)


def test_bytearray_is_pinned_while_feeding(decoder: StreamDecoder) -> None:
    buffer = bytearray(ws_frame(TOKEN) * 3)
    events, *_ = decoder.feed(buffer)
    assert len(events) == 3
    buffer.extend(b"ok")  # released afterwards


ERROR_CASES: list[tuple[str, bytes, int]] = [
    ("masked frame", ws_frame(TOKEN, mask=b"abcd"), 1002),
    ("RSV1", ws_frame(TOKEN, rsv=4), 1002),
    ("RSV2", ws_frame(TOKEN, rsv=2), 1002),
    ("RSV3", ws_frame(TOKEN, rsv=1), 1002),
    ("reserved data opcode", ws_frame(TOKEN, 3), 1002),
    ("reserved control opcode", ws_frame(b"", 11), 1002),
    ("fragmented ping", ws_frame(b"x", OP_PING, fin=False), 1002),
    ("control over 125", ws_frame(b"x" * 126, OP_PING), 1002),
    ("close over 125", ws_frame(b"\x03\xe8" + b"x" * 124, 8), 1002),
    ("orphan continuation", ws_frame(TOKEN, OP_CONTINUATION), 1002),
    ("new message mid-fragment", ws_frame(b"{", fin=False) + ws_frame(TOKEN), 1002),
    ("binary mid-fragment", ws_frame(b"{", fin=False) + ws_frame(TOKEN, OP_BINARY), 1002),
    ("64-bit length top bit", b"\x82\x7f" + (1 << 63 | 5).to_bytes(8, "big") + b"hello", 1002),
    ("oversize frame", ws_frame(b"x" * 1025), 1009),
    (
        "oversize fragments",
        ws_frame(b"x" * 600, fin=False) + ws_frame(b"x" * 425, OP_CONTINUATION),
        1009,
    ),
    ("invalid UTF-8 text", ws_frame(b'{"type":"\xff"}'), 1007),
    ("overlong UTF-8", ws_frame(b'"\xc0\xaf"'), 1007),
    ("UTF-8 surrogate", ws_frame(b'"\xed\xa0\x80"'), 1007),
    (
        "truncated UTF-8 across fragments",
        ws_frame(b'"\xc3', fin=False) + ws_frame(b'"', OP_CONTINUATION),
        1007,
    ),
]


@pytest.mark.parametrize(("name", "bad", "code"), ERROR_CASES, ids=[c[0] for c in ERROR_CASES])
def test_protocol_errors_stop_the_decoder_until_reset(name: str, bad: bytes, code: int) -> None:
    decoder = new_decoder(max_message_size=1024)
    before = ws_frame(TOKEN) + ws_frame(b"", OP_PING)
    events, _, controls, error = decoder.feed(before + bad + ws_frame(TOKEN))
    # What came before the error in the same call is returned.
    assert events == [("node.token", t.NodeTokenEvent("agent", "Hola "))]
    assert controls == [ws_frame(b"", OP_PING)]
    assert error is not None
    assert error[0] == code
    assert isinstance(error[1], str) and 0 < len(error[1].encode()) <= 123
    assert decoder.feed(ws_frame(TOKEN)) == ([], 0, None, error)
    assert decoder.feed(b"") == ([], 0, None, error)
    decoder.reset()
    assert decoder.feed(ws_frame(TOKEN)) == (
        [("node.token", t.NodeTokenEvent("agent", "Hola "))],
        0,
        None,
        None,
    )


def test_oversize_is_detected_from_the_header_alone() -> None:
    decoder = new_decoder(max_message_size=1000)
    header = ws_frame(b"x" * 1001)[:4]
    assert decoder.feed(header[:1])[3] is None
    assert decoder.feed(header[1:]) == ([], 0, None, (1009, "message too big"))
    # Exactly at the limit is fine, in one frame or in fragments.
    decoder.reset()
    wire = ws_frame(b"x" * 1000, OP_BINARY) + ws_frame(b" " * 600, fin=False)
    wire += ws_frame(b"1" + b" " * 399, OP_CONTINUATION)
    events, _, _, error = decoder.feed(wire)
    assert error is None
    assert [kind for kind, _ in events] == ["malformed", "malformed"]
    # A huge declared length never allocates.
    decoder = new_decoder()
    assert decoder.feed(b"\x82\x7f" + (2**62).to_bytes(8, "big"))[3] == (1009, "message too big")


def test_binary_invalid_utf8_is_malformed_not_an_error(decoder: StreamDecoder) -> None:
    events, flags, _, error = decoder.feed(ws_frame(b'{"type":"\xff"}', OP_BINARY))
    assert error is None
    assert flags == FLAG_CONTROL
    assert events[0][0] == "malformed"


def test_reset_forgets_partial_frames_and_fragments(decoder: StreamDecoder) -> None:
    decoder.feed(ws_frame(b'{"type":', fin=False) + ws_frame(TOKEN)[:20])
    decoder.reset()
    events, *_ = decoder.feed(ws_frame(TOKEN))
    assert events == [("node.token", t.NodeTokenEvent("agent", "Hola "))]


@settings(max_examples=300)
@given(
    frames=st.lists(
        st.tuples(
            st.integers(0, 15),  # opcode
            st.booleans(),  # fin
            st.integers(0, 7),  # rsv
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
    decoder = new_decoder(max_message_size=4096)
    for chunk in (wire[:cut], wire[cut:]):
        events, flags, controls, error = decoder.feed(chunk)
        assert isinstance(events, list) and isinstance(flags, int)
        assert controls is None or all(isinstance(c, bytes) for c in controls)
        assert error is None or (error[0] in (1002, 1007, 1009) and isinstance(error[1], str))


@pytest.mark.parametrize("execution_id", ["\ud800x", "a\udfffb\ud83d", "é\ud800", "exec_1"])
def test_execution_id_keeps_lone_surrogates(execution_id: str) -> None:
    """``execution_id`` comes back as ``json.loads`` reads it, lone surrogates included, and a
    value read from it can be set back.

    Regression: it was decoded as lossy UTF-8 (``"\\ud800x"`` became three U+FFFD and an x),
    and a surrogate could not be set.
    """
    message = json.dumps(
        {"type": "flow.completed", "data": {"execution_id": execution_id, "output": {}}}
    )
    assert json.loads(message)["data"]["execution_id"] == execution_id
    decoder = new_decoder()
    decoder.decode(message)
    assert decoder.execution_id == execution_id
    decoder.execution_id = None
    assert decoder.execution_id is None
    decoder.execution_id = execution_id
    assert decoder.execution_id == execution_id
