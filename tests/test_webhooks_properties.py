"""Property tests: every scheme agrees with a plain-Python reference (hmac, hashlib, base64)."""

from __future__ import annotations

import base64
import hmac
import re
from typing import Any

from _support import as_key, hmac_sha256, outcome, standard_tag
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from relaywire.webhooks import (
    HmacVerifier,
    InvalidHeaderError,
    InvalidSignatureError,
    InvalidTimestampError,
    LinktorVerifier,
    MissingHeaderError,
    StandardWebhook,
    TimestampOutOfToleranceError,
    WebhookVerificationError,
    linktor_signature,
    verify_linktor,
    verify_linktor_request,
)

SETTINGS = settings(
    max_examples=250,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
# The tests that build whole requests spend most of their time generating data.
HEAVY = settings(SETTINGS, max_examples=200)

MAX_HEADER = 8 * 1024
I64_MAX = 2**63 - 1
ABSENT = object()  # a header that is not sent at all

# ------------------------------------------------------------------ references


def ref_linktor_verify(body: bytes, signature: Any, secret: str | bytes) -> bool:
    """The official SDK: ``bool(sig) and bool(secret) and compare_digest(sig, hex)``, except
    that a comparison compare_digest refuses (non-ASCII text) is False instead of TypeError."""
    key = as_key(secret)
    if not signature or not key:
        return False
    expected = hmac_sha256(key, body).hex()
    try:
        if isinstance(signature, bytes):
            return hmac.compare_digest(signature, expected.encode())
        return hmac.compare_digest(signature, expected)
    except TypeError:
        return False


def utf8(text: str) -> bytes | None:
    """``text`` as UTF-8, or None when it has no UTF-8 form (lone surrogates)."""
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        return None


def header_bytes(value: Any) -> bytes | type[Exception] | None:
    """A header value as the schemes read it: bytes, None when absent, or InvalidHeaderError."""
    if value is ABSENT or value is None:
        return None
    raw = utf8(value) if isinstance(value, str) else value
    if not isinstance(raw, bytes) or len(raw) > MAX_HEADER:
        return InvalidHeaderError
    return raw


LENIENT_INT = re.compile(rb"[ \t\n\r\f]*([+-]?)([0-9]+)[ \t\n\r\f]*")
STRICT_INT = re.compile(rb"-?[0-9]+")


def ref_linktor_request(
    body: bytes | None,
    signature: Any,
    timestamp: Any,
    secret: str | bytes,
    now: int,
    tolerance: float,
) -> bool:
    if not as_key(secret):
        return False
    sig = header_bytes(signature)
    ts = header_bytes(timestamp)
    if sig is InvalidHeaderError or ts is InvalidHeaderError:
        return False
    if sig is None or body is None:
        return False
    if ts:
        assert isinstance(ts, bytes)
        match = LENIENT_INT.fullmatch(ts)
        if match is None:
            return False
        value = int(match[2])
        if value > I64_MAX:
            return False
        if match[1] == b"-":
            value = -value
        if abs(now - value) > tolerance:
            return False
    return ref_linktor_verify(body, sig, secret)


def ref_standard_verify(
    key: bytes,
    body: bytes | None,
    headers: dict[str, Any],
    now: int,
    tolerance: float,
) -> type[Exception] | None:
    """The exception class a Standard Webhooks verification raises, or None when it passes."""
    found = {name: header_bytes(headers.get(name, ABSENT)) for name in STANDARD_NAMES}
    if InvalidHeaderError in found.values():
        return InvalidHeaderError
    if body is None:
        return WebhookVerificationError
    for name in STANDARD_NAMES:
        if not found[name]:
            return MissingHeaderError
    msg_id, ts_text, signatures = (found[name] for name in STANDARD_NAMES)
    assert isinstance(msg_id, bytes) and isinstance(ts_text, bytes)
    assert isinstance(signatures, bytes)
    if STRICT_INT.fullmatch(ts_text) is None:
        return InvalidTimestampError
    ts = int(ts_text)
    if not -(2**63) <= ts <= I64_MAX:
        return InvalidTimestampError
    if ts < now - tolerance or ts > now + tolerance:
        return TimestampOutOfToleranceError
    expected = standard_tag(key, msg_id, ts, body).encode()
    for entry in signatures.split(b" "):
        if entry.startswith(b"v1,") and entry[3:] == expected:
            return None
    return InvalidSignatureError


def strict_b64decode(text: bytes) -> bytes | None:
    """RFC 4648 base64: canonical, with complete padding or none at all."""
    if re.fullmatch(rb"[A-Za-z0-9+/]*={0,2}", text) is None:
        return None
    unpadded = text.rstrip(b"=")
    if len(unpadded) != len(text) and len(text) % 4:
        return None
    if len(unpadded) % 4 == 1:
        return None
    padded = unpadded + b"=" * (-len(unpadded) % 4)
    decoded = base64.b64decode(padded, validate=True)
    if base64.b64encode(decoded) != padded:
        return None  # unused trailing bits set: a non-canonical twin
    return decoded


def ref_hmac_verify(
    key: bytes, body: bytes | None, signature: Any, encoding: str, prefix: str
) -> bool:
    if signature is None or body is None:
        return False
    if isinstance(signature, str):
        signature = utf8(signature)
        if signature is None:
            return False
    prefix_bytes = prefix.encode("utf-8")
    if not signature.startswith(prefix_bytes):
        return False
    encoded = signature[len(prefix_bytes) :]
    if encoding == "hex":
        if re.fullmatch(rb"[0-9a-fA-F]{64}", encoded) is None:
            return False
        given = bytes.fromhex(encoded.decode())
    else:
        decoded = strict_b64decode(encoded)
        if decoded is None:
            return False
        given = decoded
    return hmac.compare_digest(given, hmac_sha256(key, body))


def ref_hmac_sign(key: bytes, body: bytes, encoding: str, prefix: str) -> str:
    tag = hmac_sha256(key, body)
    return prefix + (tag.hex() if encoding == "hex" else base64.b64encode(tag).decode())


# ------------------------------------------------------------------ strategies

STANDARD_NAMES = ("webhook-id", "webhook-timestamp", "webhook-signature")
LINKTOR_NAMES = ("x-linktor-signature", "x-linktor-timestamp")
WHITESPACE = " \t\n\r\f\x0b"
NUMBERISH = "+-0123456789._e \t"


@st.composite
def payloads(draw: st.DrawFn) -> tuple[Any, bytes | None]:
    """A body of any accepted type, and its bytes (None for a str with no UTF-8 form)."""
    kind = draw(st.sampled_from(["bytes", "bytearray", "memoryview", "str", "surrogate"]))
    if kind in ("str", "surrogate"):
        text = draw(st.text(max_size=80))
        if kind == "surrogate":
            return text + "\ud800", None
        return text, text.encode("utf-8")
    raw = draw(st.binary(max_size=300))
    wrap = {"bytes": bytes, "bytearray": bytearray, "memoryview": memoryview}[kind]
    return wrap(raw), raw


secrets = st.one_of(st.text(max_size=40), st.binary(max_size=80))
non_empty_secrets = st.one_of(st.text(min_size=1, max_size=40), st.binary(min_size=1, max_size=80))


@st.composite
def tampered(draw: st.DrawFn, good: str) -> str:
    """The good signature, or the good signature damaged in one of the usual ways."""
    op = draw(
        st.sampled_from(
            [
                "same",
                "flip",
                "upper",
                "swapcase-one",
                "prefix",
                "whitespace",
                "truncate",
                "append",
                "random",
                "non-ascii",
                "surrogate",
                "nul",
            ]
        )
    )
    if op == "same" or not good:
        return good
    index = draw(st.integers(0, len(good) - 1))
    if op == "flip":
        replacement = draw(st.characters(codec="utf-8"))
        return good[:index] + replacement + good[index + 1 :]
    if op == "upper":
        return good.upper()
    if op == "swapcase-one":
        return good[:index] + good[index].swapcase() + good[index + 1 :]
    if op == "prefix":
        return draw(st.sampled_from(["sha256=", "v1,", "0x", "SHA256=", "t="])) + good
    if op == "whitespace":
        space = draw(st.text(alphabet=WHITESPACE, min_size=1, max_size=3))
        return draw(st.sampled_from([space + good, good + space, space + good + space]))
    if op == "truncate":
        return good[:index]
    if op == "append":
        # "=" is left out: over-padding has its own regression test (generic file).
        return good + draw(st.text(alphabet="0aAf9+/ \n", min_size=1, max_size=3))
    if op == "random":
        return draw(st.text(max_size=70))
    if op == "non-ascii":
        return good[:index] + draw(st.sampled_from(["é", "٣", "\uff41", "\u00a0"])) + good[index:]
    if op == "surrogate":
        return good[:index] + "\ud800" + good[index + 1 :]
    return good[:index] + "\x00" + good[index + 1 :]


@st.composite
def signature_values(draw: st.DrawFn, good: str) -> Any:
    """A signature argument: str (maybe damaged), its bytes, arbitrary bytes, or None."""
    kind = draw(st.sampled_from(["str", "str", "str", "bytes", "random-bytes", "none"]))
    if kind == "none":
        return None
    if kind == "random-bytes":
        return draw(st.binary(max_size=80))
    text = draw(tampered(good))
    if kind == "bytes":
        return text.encode("utf-8", "surrogatepass")
    return text


@st.composite
def random_case(draw: st.DrawFn, name: str) -> str:
    flips = draw(st.lists(st.booleans(), min_size=len(name), max_size=len(name)))
    return "".join(c.upper() if f else c for c, f in zip(name, flips, strict=True))


@st.composite
def containers(draw: st.DrawFn, headers: dict[str, Any]) -> Any:
    """The headers in a random container with random name casing and unrelated extra headers;
    names whose value is ABSENT are left out."""
    items: list[tuple[Any, Any]] = []
    for name, value in headers.items():
        if value is not ABSENT:
            items.append((draw(random_case(name)), value))
    noise = draw(
        st.lists(
            st.tuples(
                st.sampled_from(["host", "content-type", "x-other", "webhook", "x-linktor"]),
                st.text(max_size=10),
            ),
            max_size=3,
        )
    )
    items.extend(noise)
    items = draw(st.permutations(items))
    kind = draw(st.sampled_from(["dict", "pairs", "byte-pairs"]))
    if kind == "dict":
        return dict(items)
    if kind == "pairs":
        return items
    return [(k.encode(), utf8_if_possible(v)) for k, v in items]


def utf8_if_possible(value: Any) -> Any:
    """A str header value as the bytes an ASGI server would pass, when it has a UTF-8 form."""
    encoded = utf8(value) if isinstance(value, str) else None
    return value if encoded is None else encoded


def lenient_timestamp_text(value: int, spaces: str, sign: str, zeros: int) -> str:
    digits = "0" * zeros + str(abs(value))
    if value < 0:
        sign = "-"
    return spaces + sign + digits + spaces


@st.composite
def linktor_timestamps(draw: st.DrawFn, now: int, tolerance: int) -> Any:
    kind = draw(st.sampled_from(["absent", "none", "empty", "near", "near", "any-int", "text"]))
    if kind == "absent":
        return ABSENT
    if kind == "none":
        return None
    if kind == "empty":
        return draw(st.sampled_from(["", b""]))
    if kind == "text":
        return draw(st.one_of(st.text(max_size=25), st.text(alphabet=NUMBERISH, max_size=25)))
    if kind == "near":
        value = now + draw(st.integers(-tolerance - 2, tolerance + 2))
    else:
        value = draw(st.integers(-(2**70), 2**70))
    text = lenient_timestamp_text(
        value,
        draw(st.text(alphabet=WHITESPACE, max_size=2)),
        draw(st.sampled_from(["", "+"])),
        draw(st.integers(0, 2)),
    )
    return draw(st.sampled_from([text, text.encode()]))


# ------------------------------------------------------------------ Linktor


@SETTINGS
@given(payloads(), secrets)
def test_linktor_signature_matches_reference(
    payload: tuple[Any, bytes | None], secret: Any
) -> None:
    obj, body = payload
    if body is None:
        return
    expected = hmac_sha256(as_key(secret), body).hex()
    assert linktor_signature(obj, secret) == expected
    if as_key(secret):
        assert LinktorVerifier(secret).sign(obj) == expected


@SETTINGS
@given(st.data(), payloads(), secrets)
def test_verify_linktor_matches_reference(
    data: st.DataObject, payload: tuple[Any, bytes | None], secret: Any
) -> None:
    obj, body = payload
    good = hmac_sha256(as_key(secret), body if body is not None else b"").hex()
    signature = data.draw(signature_values(good))
    expected = ref_linktor_verify(body, signature, secret) if body is not None else False
    assert verify_linktor(obj, signature, secret) is expected
    if as_key(secret):
        assert LinktorVerifier(secret).verify(obj, signature) is expected


@HEAVY
@given(st.data(), non_empty_secrets, st.lists(payloads(), max_size=8))
def test_linktor_verify_many_matches_reference(
    data: st.DataObject, secret: Any, items: list[tuple[Any, bytes | None]]
) -> None:
    key = as_key(secret)
    signatures = [
        data.draw(signature_values(hmac_sha256(key, body or b"").hex())) for _, body in items
    ]
    expected = [
        ref_linktor_verify(body, sig, secret) if body is not None else False
        for (_, body), sig in zip(items, signatures, strict=True)
    ]
    assert LinktorVerifier(secret).verify_many([obj for obj, _ in items], signatures) == expected


@HEAVY
@given(
    st.data(),
    payloads(),
    secrets,
    st.integers(0, 2**40),
    st.one_of(st.integers(0, 1000), st.floats(0, 1000)),
)
def test_verify_linktor_request_matches_reference(
    data: st.DataObject,
    payload: tuple[Any, bytes | None],
    secret: Any,
    now: int,
    tolerance: float,
) -> None:
    obj, body = payload
    good = hmac_sha256(as_key(secret), body or b"").hex()
    signature = data.draw(st.one_of(st.just(ABSENT), tampered(good), st.just(good)))
    timestamp = data.draw(linktor_timestamps(now, int(tolerance)))
    headers = data.draw(
        containers({"x-linktor-signature": signature, "x-linktor-timestamp": timestamp})
    )
    expected = ref_linktor_request(body, signature, timestamp, secret, now, tolerance)
    assert verify_linktor_request(obj, headers, secret, tolerance, now=now) is expected
    if as_key(secret):
        verifier = LinktorVerifier(secret)
        assert verifier.verify_request(obj, headers, tolerance, now=now) is expected


# ------------------------------------------------------------------ Standard Webhooks


@st.composite
def standard_secrets(draw: st.DrawFn) -> tuple[Any, bytes]:
    key = draw(st.binary(min_size=1, max_size=64))
    encoded = base64.b64encode(key).decode()
    form = draw(st.sampled_from(["bytes", "whsec", "bare", "unpadded"]))
    if form == "bytes":
        return key, key
    if form == "whsec":
        return "whsec_" + encoded, key
    if form == "bare":
        return encoded, key
    return "whsec_" + encoded.rstrip("="), key


@st.composite
def standard_timestamps(draw: st.DrawFn, now: int, tolerance: int) -> tuple[Any, int | None]:
    """A timestamp header value and the number signed for it (None: sign some other number)."""
    kind = draw(st.sampled_from(["near", "near", "near", "far", "zeros", "text", "missing"]))
    if kind == "missing":
        return draw(st.sampled_from([ABSENT, None, "", b""])), None
    if kind == "text":
        text = draw(st.one_of(st.text(max_size=25), st.text(alphabet=NUMBERISH, max_size=25)))
        return text, None
    if kind == "far":
        # -2**63 itself has its own regression test (standard file).
        value = draw(st.integers(-(2**63) + 1, 2**63 - 1))
    else:
        value = now + draw(st.integers(-tolerance - 2, tolerance + 2))
    text = str(value)
    if kind == "zeros":
        text = ("-" if value < 0 else "") + "00" + str(abs(value))
    return draw(st.sampled_from([text, text.encode()])), value


@SETTINGS
@given(
    standard_secrets(), st.text(min_size=1, max_size=30), st.integers(-(2**62), 2**62), payloads()
)
def test_standard_sign_matches_reference(
    secret: tuple[Any, bytes], msg_id: str, ts: int, payload: tuple[Any, bytes | None]
) -> None:
    secret_arg, key = secret
    obj, body = payload
    if body is None:
        return
    expected = "v1," + standard_tag(key, msg_id.encode(), ts, body)
    assert StandardWebhook(secret_arg).sign(msg_id, ts, obj) == expected


@HEAVY
@given(
    st.data(),
    standard_secrets(),
    payloads(),
    st.integers(-(2**40), 2**40),
    st.one_of(st.integers(0, 1000), st.floats(0, 1000)),
)
def test_standard_verify_matches_reference(
    data: st.DataObject,
    secret: tuple[Any, bytes],
    payload: tuple[Any, bytes | None],
    now: int,
    tolerance: float,
) -> None:
    secret_arg, key = secret
    obj, body = payload
    msg_id = data.draw(
        st.one_of(
            st.text(min_size=1, max_size=30),
            st.binary(min_size=1, max_size=30),
            st.sampled_from([ABSENT, None, "", "x\udc00", 12]),
        )
    )
    timestamp, signed_ts = data.draw(standard_timestamps(now, int(tolerance)))
    id_bytes = header_bytes(msg_id)
    sign_id = id_bytes if isinstance(id_bytes, bytes) else b"msg"
    sign_ts = signed_ts if signed_ts is not None else now
    good = "v1," + standard_tag(key, sign_id, sign_ts, body or b"")
    entries = data.draw(
        st.lists(
            st.one_of(
                tampered(good),
                st.just(good),
                st.builds(lambda t: "v2," + t, st.text(max_size=10)),
            ),
            min_size=1,
            max_size=4,
        )
    )
    signature = data.draw(
        st.one_of(
            st.just(" ".join(entries)),
            st.just(" ".join(entries).encode("utf-8", "surrogatepass")),
            st.sampled_from([ABSENT, None, "", 5, "v1," + "A" * MAX_HEADER]),
        )
    )
    headers = {"webhook-id": msg_id, "webhook-timestamp": timestamp, "webhook-signature": signature}
    expected = ref_standard_verify(key, body, headers, now, tolerance)
    container = data.draw(containers(headers))
    webhook = StandardWebhook(secret_arg)
    raised = outcome(lambda: webhook.verify(obj, container, tolerance=tolerance, now=now))
    assert raised is expected
    batch = webhook.verify_many([obj], [container], tolerance=tolerance, now=now)
    assert batch == [expected is None]


# ------------------------------------------------------------------ generic HMAC


@SETTINGS
@given(
    st.data(),
    non_empty_secrets,
    st.sampled_from(["hex", "base64"]),
    st.one_of(st.just(""), st.just("sha256="), st.text(max_size=8)),
    payloads(),
)
def test_hmac_verifier_matches_reference(
    data: st.DataObject,
    secret: Any,
    encoding: Any,
    prefix: str,
    payload: tuple[Any, bytes | None],
) -> None:
    obj, body = payload
    key = as_key(secret)
    verifier = HmacVerifier(secret, encoding=encoding, prefix=prefix)
    good = ref_hmac_sign(key, body or b"", encoding, prefix)
    if body is not None:
        assert verifier.sign(obj) == good
    variants = [good, good.removeprefix(prefix) if prefix else good]
    if encoding == "base64":
        variants.append(good.rstrip("="))
    else:
        variants.append(prefix + good[len(prefix) :].upper())
    signature = data.draw(st.one_of(st.sampled_from(variants), signature_values(good)))
    expected = ref_hmac_verify(key, body, signature, encoding, prefix)
    assert verifier.verify(obj, signature) is expected
    assert verifier.verify_many([obj], [signature]) == [expected]


# ------------------------------------------------------------------ arbitrary headers

ANY_NAME = st.one_of(
    st.sampled_from(STANDARD_NAMES + LINKTOR_NAMES).flatmap(random_case),
    st.text(max_size=20),
    st.binary(max_size=20),
    st.integers(),
)
ANY_VALUE = st.one_of(
    st.none(),
    st.text(max_size=30),
    st.text(max_size=10).map(lambda s: s + "\udcff"),
    st.binary(max_size=30),
    st.integers(),
    st.floats(allow_nan=True),
    st.lists(st.integers(), max_size=2),
    st.integers(-(10**25), 10**25).map(str),
    st.sampled_from(["v1,AAAA", "9" * (MAX_HEADER + 1), b"v" * (MAX_HEADER + 1), "", b""]),
)


@HEAVY
@given(
    payloads(),
    st.one_of(
        st.dictionaries(ANY_NAME, ANY_VALUE, max_size=8),
        st.lists(st.tuples(ANY_NAME, ANY_VALUE), max_size=8),
    ),
    st.integers(-(2**62), 2**62),
)
def test_arbitrary_headers_never_raise_foreign_errors(
    payload: tuple[Any, bytes | None], headers: Any, now: int
) -> None:
    obj, _ = payload
    webhook = StandardWebhook(b"fuzz key")
    passed = outcome(lambda: webhook.verify(obj, headers, now=now)) is None
    assert webhook.verify_many([obj], [headers], now=now) == [passed]
    assert isinstance(verify_linktor_request(obj, headers, "fuzz", now=now), bool)
    assert isinstance(LinktorVerifier(b"fuzz").verify_request(obj, headers, now=now), bool)
    # Nothing random here carries a valid signature for these keys.
    assert passed is False
