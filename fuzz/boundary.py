"""Coverage-guided fuzzing of the Python boundary (atheris), where the native code builds
Python objects from untrusted bytes.

    python fuzz/boundary.py TARGET [libFuzzer options] [corpus dirs]
    python fuzz/boundary.py all SECONDS [TARGET...]   # each for SECONDS, in its own process

Targets, each checked against a plain-Python reference from the test suite:

* ``stream``: ``StreamDecoder.feed`` on WebSocket frames built around the input's messages
  (text or binary, fragmented or whole, around pings, fed in random chunks, with a random
  message size limit): the events, flags, controls, close errors, collected text and
  ``execution_id`` of ``json.loads`` and tests/_stream_reference.py. An input with its high
  option bit set is fed as raw socket bytes instead (anything goes; fed whole and in chunks,
  both must give the same events).
* ``envelope``: ``EnvelopeDecoder.feed`` the same way, against ``reference_decode`` of
  tests/test_native_envelope.py, with the default keys or custom ones.
* ``models``: ``relaywire.models.validate_json`` (and ``ModelPlan.build``) against pydantic's
  ``model_validate_json`` on the same bytes: the identical instance or the identical errors
  (``check_same`` of tests/test_models_plan.py), for the test models and every ``linktor.types``
  model that has a plan.
* ``verifiers``: every verifier of ``relaywire.webhooks`` (the Linktor functions and
  ``LinktorVerifier``, ``StandardWebhook``, ``HmacVerifier``, and the providers: Stripe,
  GitHub, Shopify, Slack, Twilio, Meta, Linear, Discord, Standard Webhooks ``v1a``) with every
  body type and header container, against the references of tests/test_webhooks_properties.py
  and tests/_schemes.py.

A crash of the interpreter (a segfault in native code) is caught by libFuzzer's signal
handlers and reported with the input, as is any uncaught exception or failed check. In
``all`` mode each target runs in a subprocess, so one target's crash is reported and the run
fails. Seeds are in fuzz/seeds/py_<target>/ (``python fuzz/seeds.py``); new inputs go to
target/fuzz-corpus/py_<target>/.
"""

from __future__ import annotations

import base64
import importlib
import os
import random
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

ROOT = Path(__file__).resolve().parent.parent
TARGETS = ("stream", "envelope", "models", "verifiers")

#: Separates messages in stream and envelope inputs.
SEPARATOR = b"\x1e"


class Features:
    """Coverage for what the instrumented Python code cannot see: the outcomes inside the
    native code (which events, which errors, which shapes of document). Each distinct feature
    hits one of a pool of libFuzzer counters, so inputs that reach new outcomes are kept in the
    corpus and mutated further."""

    pool: ClassVar[list[int]] = []

    @classmethod
    def reserve(cls, size: int = 1 << 14) -> None:
        import atheris

        cls.pool = [atheris._reserve_counter() for _ in range(size)]

    @classmethod
    def hit(cls, *feature: object) -> None:
        if cls.pool:
            import atheris

            atheris._trace_branch(cls.pool[hash(feature) % len(cls.pool)])


def shape(value: Any, depth: int = 0) -> list[tuple[object, ...]]:
    """Features of a decoded JSON value: each key's and element's type, by depth."""
    out: list[tuple[object, ...]] = [(depth, type(value).__name__)]
    if depth < 3 and isinstance(value, dict):
        for key, item in value.items():
            out.append((depth, key[:20], type(item).__name__))
            out += shape(item, depth + 1)
    elif depth < 3 and isinstance(value, list):
        for item in value[:4]:
            out += shape(item, depth + 1)
    return out


# -- WebSocket framing around the input's messages ------------------------------------------------


class Wire:
    """Messages framed as a server sends them, and what a correct decoder reads from them."""

    def __init__(self, data: bytes) -> None:
        options = data[0] if data else 0
        self.raw = bool(options & 0x80)
        self.rng = random.Random(data[:16])
        self.limit = self.rng.choice([64 * 1024 * 1024, 4096, 300, 40])
        self.messages = data[1:].split(SEPARATOR)
        self.options = options

    def frames(self, ws_frame: Callable[..., bytes]) -> tuple[bytes, list[tuple[bool, bytes]]]:
        """The wire bytes and the messages a decoder must deliver before any error, as
        ``(binary, payload)``; stops after the first message that breaks the stream."""
        wire = bytearray()
        delivered: list[tuple[bool, bytes]] = []
        for index, message in enumerate(self.messages):
            binary = bool(self.options >> (index % 4) & 1)
            opcode = 2 if binary else 1
            if self.rng.random() < 0.3 and len(message) > 1:
                cut = self.rng.randrange(1, len(message))
                wire += ws_frame(message[:cut], opcode, fin=False)
                if self.rng.random() < 0.5:
                    wire += ws_frame(b"ping", 9)
                wire += ws_frame(message[cut:], 0)
            else:
                wire += ws_frame(message, opcode)
            if len(message) > self.limit:
                break  # 1009
            if not binary and not is_utf8(message):
                break  # 1007
            delivered.append((binary, message))
        return bytes(wire), delivered

    def chunks(self, wire: bytes) -> list[bytes]:
        out, at = [], 0
        while at < len(wire):
            size = self.rng.choice([1, 2, 7, 64, 1000, len(wire)])
            out.append(wire[at : at + size])
            at += size
        return out


def is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def feed_all(decoder: Any, chunks: list[bytes]) -> tuple[list[Any], int, list[bytes], Any]:
    events: list[Any] = []
    flags = 0
    controls: list[bytes] = []
    error = None
    for chunk in chunks:
        got, got_flags, got_controls, error = decoder.feed(chunk)
        assert isinstance(got, list) and isinstance(got_flags, int)
        assert got_controls is None or (isinstance(got_controls, list) and got_controls)
        events += got
        flags |= got_flags
        controls += got_controls or []
    return events, flags, controls, error


def check_error(error: Any, wire: Wire, delivered: list[tuple[bool, bytes]]) -> None:
    broke = len(delivered) < len(wire.messages)
    if not broke:
        assert error is None, error
        return
    assert isinstance(error, tuple) and error[0] in (1007, 1009), error
    assert isinstance(error[1], str) and 0 < len(error[1].encode()) <= 123, error


# -- targets --------------------------------------------------------------------------------------


def stream_target() -> Callable[[bytes], None]:
    import json

    from _stream_reference import EVENT_CLASSES, comparable, ws_frame
    from _stream_reference import decode as reference_decode

    from relaywire._native import StreamDecoder

    def execution_id(message: bytes) -> str | None:
        try:
            frame = json.loads(message)
        except ValueError:
            return None
        if not isinstance(frame, dict) or not isinstance(frame.get("type"), str):
            return None
        if frame["type"] in ("node.token", "ping", "pong"):
            return None
        data = frame.get("data")
        found = data.get("execution_id") if isinstance(data, dict) else None
        return found if isinstance(found, str) and found else None

    def raw(data: bytes) -> None:
        whole = StreamDecoder(EVENT_CLASSES, max_message_size=4096)
        expected = feed_all(whole, [data[1:]])
        chunked = StreamDecoder(EVENT_CLASSES, max_message_size=4096)
        got = feed_all(chunked, Wire(data).chunks(data[1:]))
        assert comparable(got[0]) == comparable(expected[0])
        assert got[1:] == expected[1:]

    def one(data: bytes) -> None:
        wire = Wire(data)
        if wire.raw:
            raw(data)
            return
        stream, delivered = wire.frames(ws_frame)
        decoder = StreamDecoder(
            EVENT_CLASSES, default_webhook_id="wh_default", max_message_size=wire.limit
        )
        decoder.collect_text = True
        decoder.emit_tokens = bool(wire.options & 0x40)
        events, flags, controls, error = feed_all(decoder, wire.chunks(stream))
        want_events: list[Any] = []
        want_flags = 0
        want_text = ""
        want_id = None
        for _, message in delivered:
            entries, entry_flags, text = reference_decode(
                message, default_webhook_id="wh_default", emit_tokens=decoder.emit_tokens
            )
            want_events += entries
            want_flags |= entry_flags
            want_text += text
            want_id = execution_id(message) or want_id
        for kind, payload in events:
            fields = vars(payload) if hasattr(payload, "__dict__") else {"": payload}
            Features.hit("stream", kind, *(type(v).__name__ for v in fields.values()))
        Features.hit("stream", "end", flags, error, decoder.emit_tokens, wire.limit)
        assert comparable(events) == comparable(want_events)
        assert flags == want_flags
        assert all(frame == ws_frame(b"ping", 9) for frame in controls)
        check_error(error, wire, delivered)
        assert decoder.take_text() == want_text
        assert decoder.execution_id == want_id

    return one


def envelope_target() -> Callable[[bytes], None]:
    from _stream_reference import ws_frame
    from test_native_envelope import comparable, reference_decode

    from relaywire._native import EnvelopeDecoder

    def one(data: bytes) -> None:
        wire = Wire(data)
        keys = {"type_key": "kind", "payload_key": "data"} if wire.options & 0x40 else {}
        if wire.raw:
            whole = feed_all(EnvelopeDecoder(**keys, max_message_size=4096), [data[1:]])
            chunked = EnvelopeDecoder(**keys, max_message_size=4096)
            got = feed_all(chunked, wire.chunks(data[1:]))
            assert comparable(got[0]) == comparable(whole[0])
            assert got[1:] == whole[1:]
            return
        stream, delivered = wire.frames(ws_frame)
        decoder = EnvelopeDecoder(**keys, max_message_size=wire.limit)
        events, flags, _, error = feed_all(decoder, wire.chunks(stream))
        want_events: list[Any] = []
        want_flags = 0
        for _, message in delivered:
            entries, entry_flags = reference_decode(message, **keys)
            want_events += entries
            want_flags |= entry_flags
        for kind, payload in events:
            for feature in shape(payload) if isinstance(payload, dict) else [("malformed",)]:
                Features.hit("envelope", kind, *feature)
        Features.hit("envelope", "end", flags, error, wire.limit, bool(keys))
        assert comparable(events) == comparable(want_events)
        assert flags == want_flags
        check_error(error, wire, delivered)

    return one


def model_classes() -> list[type]:
    import inspect

    import test_models_plan as plans

    import linktor.types
    from relaywire.models import plan_for

    models: list[type] = list(plans.MODELS)
    for name in sorted(linktor.types.__all__):
        value = getattr(linktor.types, name)
        is_model = inspect.isclass(value) and issubclass(value, plans.BaseModel)
        if is_model and plan_for(value) is not None:
            models.append(value)
    return models


def models_target() -> Callable[[bytes], None]:
    import json

    from pydantic import ValidationError
    from test_models_plan import check_same

    models = model_classes()

    def one(data: bytes) -> None:
        if not data:
            return
        index = data[0] % len(models)
        document = data[1:]
        built = check_same(models[index], document)
        try:
            models[index].model_validate_json(document)
            outcome: object = "valid"
        except ValidationError as exc:
            outcome = tuple(sorted({(e["type"], len(e["loc"])) for e in exc.errors()}))
        Features.hit("models", index, built is not None, outcome)
        try:
            value = json.loads(document)
        except ValueError:
            return
        for feature in shape(value):
            Features.hit("models", index, *feature)

    return one


class Reader:
    """Draws structured values from the input (zeros once it is used up)."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.at = 0

    def byte(self) -> int:
        value = self.data[self.at] if self.at < len(self.data) else 0
        self.at += 1
        return value

    def bytes(self, limit: int = 255) -> bytes:
        size = min(self.byte(), limit)
        value = self.data[self.at : self.at + size]
        self.at += size
        return value

    def choice(self, options: list[Any]) -> Any:
        return options[self.byte() % len(options)]


def verifiers_target() -> Callable[[bytes], None]:
    from _support import as_key, hmac_sha256, outcome, standard_tag
    from test_webhooks_properties import (
        ABSENT,
        ref_hmac_sign,
        ref_hmac_verify,
        ref_linktor_request,
        ref_linktor_verify,
        ref_standard_verify,
    )

    from relaywire.webhooks import (
        HmacVerifier,
        LinktorVerifier,
        StandardWebhook,
        linktor_signature,
        verify_linktor,
        verify_linktor_request,
    )

    def text(raw: bytes) -> str:
        # Sometimes invalid UTF-8 becomes lone surrogates, which have no UTF-8 form.
        return raw.decode("utf-8", "surrogateescape")

    def body_of(r: Reader) -> tuple[Any, bytes]:
        raw = r.bytes()
        form = r.byte() % 5
        if form == 1:
            return bytearray(raw), raw
        if form == 2:
            return memoryview(raw), raw
        if form == 3 and is_utf8(raw):
            return raw.decode(), raw
        return raw, raw

    def value(r: Reader, good: str) -> Any:
        """A header value: the good one, a variant of it, or the input's bytes."""
        form = r.byte() % 8
        raw = r.bytes()
        if form == 0:
            return good
        if form == 1:
            return good.encode()
        if form == 2:
            return ABSENT
        if form == 3:
            return good[: len(raw) % (len(good) + 1)] + text(raw)
        if form == 4:
            return raw
        if form == 5:
            return good.upper()
        return text(raw)

    def container(r: Reader, headers: dict[str, Any]) -> Any:
        present = {k: v for k, v in headers.items() if v is not ABSENT}
        form = r.byte() % 4
        if form == 0:
            return present
        if form == 1:
            return {k.upper(): v for k, v in present.items()}
        if form == 2:
            return [(k.title().encode(), v) for k, v in present.items()]
        return [(k, v) for k, v in present.items()] + [("x-other", "1")]

    def linktor(r: Reader) -> tuple[object, ...]:
        raw_secret = r.bytes(40)
        secret: Any = r.choice([raw_secret, raw_secret.decode("utf-8", "replace")])
        obj, body = body_of(r)
        good = hmac_sha256(as_key(secret), body).hex()
        signature = value(r, good)
        if signature is ABSENT:
            signature = ""
        expected = ref_linktor_verify(body, signature, secret)
        assert verify_linktor(obj, signature, secret) is expected
        assert linktor_signature(obj, secret) == good
        now = 1_700_000_000 + r.byte() * 1000
        tolerance = r.byte() * 3
        stamp = value(r, str(now + r.byte() - 128))
        headers = {"x-linktor-signature": signature, "x-linktor-timestamp": stamp}
        found = container(r, headers)
        want = ref_linktor_request(body, signature, stamp, secret, now, tolerance)
        got = verify_linktor_request(obj, found, secret, tolerance, now=now)
        assert got is want, (got, want)
        if as_key(secret):
            verifier = LinktorVerifier(secret)
            assert verifier.verify(obj, signature) is expected
            assert verifier.verify_request(obj, found, tolerance, now=now) is want
            assert verifier.verify_many([obj, obj], [signature, good]) == [expected, True]
        return expected, want, type(obj).__name__, type(found).__name__, type(stamp).__name__

    def standard(r: Reader) -> tuple[object, ...]:
        key = r.bytes(64) or b"k"
        secret = r.choice([key, "whsec_" + base64.b64encode(key).decode()])
        obj, body = body_of(r)
        now = r.byte() * 10_000_000
        tolerance = r.byte() * 2
        ts = now + r.byte() - 128
        msg_id = value(r, "msg_" + r.bytes(20).hex())
        id_bytes = msg_id.encode() if isinstance(msg_id, str) and is_utf8b(msg_id) else b"msg"
        if isinstance(msg_id, bytes):
            id_bytes = msg_id
        good = "v1," + standard_tag(key, id_bytes, ts, body)
        signature = value(r, r.choice([good, f"v1,AAAA {good}", f"v2,x {good} v1,zz"]))
        headers = {
            "webhook-id": msg_id,
            "webhook-timestamp": value(r, str(ts)),
            "webhook-signature": signature,
        }
        expected = ref_standard_verify(key, body, headers, now, tolerance)
        found = container(r, headers)
        webhook = StandardWebhook(secret)
        got = outcome(lambda: webhook.verify(obj, found, tolerance=tolerance, now=now))
        assert got is expected, (got, expected)
        batch = webhook.verify_many([obj], [found], tolerance=tolerance, now=now)
        assert batch == [expected is None]
        return expected, type(obj).__name__, type(found).__name__, type(msg_id).__name__

    def is_utf8b(value: str) -> bool:
        try:
            value.encode()
        except UnicodeEncodeError:
            return False
        return True

    def generic(r: Reader) -> tuple[object, ...]:
        secret = r.bytes(40) or b"s"
        encoding = r.choice(["hex", "base64"])
        prefix = r.choice(["", "sha256=", "v1=", text(r.bytes(6))])
        if not is_utf8b(prefix):
            prefix = "p="
        obj, body = body_of(r)
        verifier = HmacVerifier(secret, encoding=encoding, prefix=prefix)
        good = ref_hmac_sign(secret, body, encoding, prefix)
        assert verifier.sign(obj) == good
        signature = value(r, r.choice([good, good.rstrip("="), prefix + good[len(prefix) :]]))
        if signature is ABSENT:
            signature = b""
        expected = ref_hmac_verify(secret, body, signature, encoding, prefix)
        assert verifier.verify(obj, signature) is expected
        assert verifier.verify_many([obj], [signature]) == [expected]
        known = prefix if prefix in ("", "sha256=", "v1=", "p=") else "other"
        return expected, encoding, known, type(obj).__name__, type(signature).__name__

    def providers(r: Reader) -> tuple[object, ...]:
        """Every provider scheme of tests/_schemes.CASES: a delivery signed by the reference
        verifies; with its body changed it does not; with a header dropped or replaced by
        the input's bytes it gets a WebhookVerificationError subclass or passes, never
        anything else; the batch calls answer as the single one does."""
        from _schemes import CASES

        from relaywire.webhooks import WebhookVerificationError

        case = r.choice(CASES)
        now = 1_700_000_000
        spread = min(128, int(case.default_tolerance or 128))  # within the default tolerance
        ts = now + r.byte() % (2 * spread + 1) - spread
        body = case.body(ts, r.bytes(40))
        signed = case.sign(body, ts)
        headers: dict[str, Any] = dict(signed)
        mode = r.byte() % 4
        if mode == 1:
            at = r.byte() % max(1, len(body))
            body = body[:at] + bytes([body[at] ^ 0x20 if body else 0]) + body[at + 1 :]
            # A change the scheme does not sign (Twilio reads %2B and %2b alike) still passes.
            mode = 0 if case.sign(body, ts) == signed else 1
        elif mode == 2:
            name = r.choice(sorted(headers))
            headers[name] = value(r, headers[name])
        elif mode == 3:
            del headers[r.choice(sorted(headers))]
        obj, _ = body_of(Reader(bytes([len(body) & 0xFF]) + body + bytes([r.byte()])))
        obj = r.choice([body, bytearray(body), memoryview(body), obj])
        found = container(r, headers)
        verifier = case.verifier()
        got = outcome(lambda: verifier.verify(obj, found, **case.options(now)))
        if mode == 0:
            assert got is None, (case.name, got)
        elif mode == 1:
            assert got is not None, case.name
        assert got is None or issubclass(got, WebhookVerificationError), got
        batch = case.batch(now, 1)
        assert verifier.verify_many([obj], [found], **batch) == [got is None]
        errors = verifier.verify_each([obj], [found], **batch)
        assert [None if e is None else type(e) for e in errors] == [got]
        return case.name, mode, got

    schemes = [linktor, standard, generic, providers]

    def one(data: bytes) -> None:
        reader = Reader(data)
        scheme = reader.choice(schemes)
        Features.hit("verifiers", scheme.__name__, *scheme(reader))

    return one


BUILDERS = {
    "stream": stream_target,
    "envelope": envelope_target,
    "models": models_target,
    "verifiers": verifiers_target,
}


# -- running --------------------------------------------------------------------------------------


def run_one(target: str, options: list[str]) -> None:
    import atheris

    sys.path.insert(0, str(ROOT / "tests"))
    # Coverage of our Python code and of the references guides the mutations (the native
    # code is not instrumented). Lazily loaded submodules are imported now, to be covered too.
    ours = ["relaywire", "daguito", "linktor", "_stream_reference", "_support", "_schemes", "test_"]
    with atheris.instrument_imports(include=ours):
        import pkgutil

        import daguito
        import linktor
        import relaywire

        for package in (relaywire, daguito, linktor):
            for module in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
                skipped = ("relaywire.emulator", "relaywire.cli", "relaywire.__main__")
                if not module.name.startswith(skipped):
                    importlib.import_module(module.name)
        check = BUILDERS[target]()
    Features.reserve()
    corpus = ROOT / "target" / "fuzz-corpus" / f"py_{target}"
    corpus.mkdir(parents=True, exist_ok=True)
    seeds = ROOT / "fuzz" / "seeds" / f"py_{target}"
    dirs = [str(corpus)] + ([str(seeds)] if seeds.is_dir() else [])
    artifacts = ROOT / "fuzz" / "artifacts" / f"py_{target}"
    artifacts.mkdir(parents=True, exist_ok=True)
    argv = [sys.argv[0], f"-artifact_prefix={artifacts}/", *options, *dirs]
    atheris.Setup(argv, check)
    atheris.Fuzz()


def run_all(seconds: int, targets: list[str]) -> int:
    """Each target in its own process for ``seconds``; prints the executions of each."""
    failed = []
    for target in targets:
        print(f"+ fuzz py_{target} for {seconds}s", flush=True)
        log = ROOT / "target" / "fuzz-logs" / f"py_{target}.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        started = time.monotonic()
        with log.open("wb") as out:
            code = subprocess.call(
                [
                    sys.executable,
                    __file__,
                    target,
                    f"-max_total_time={seconds}",
                    "-timeout=20",
                    "-rss_limit_mb=3072",
                    "-print_final_stats=1",
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=ROOT,
            )
        text = log.read_text("utf-8", "replace")
        runs = next(
            (line.split(":")[-1].strip() for line in text.splitlines() if "executed_units" in line),
            "?",
        )
        print(f"  {runs} executions in {time.monotonic() - started:.0f}s (exit {code})")
        stats = ROOT / "target" / "fuzz-stats.tsv"
        with stats.open("a") as tsv:
            stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
            tsv.write(f"{stamp}\tpy_{target}\t{seconds}\t{runs}\n")
        if code != 0:
            print("\n".join(text.splitlines()[-60:]))
            failed.append(target)
    if failed:
        print(f"fuzz/boundary.py: failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


def main() -> int:
    if len(sys.argv) < 2 or sys.argv[1] not in (*TARGETS, "all"):
        print(__doc__, file=sys.stderr)
        return 2
    if sys.argv[1] == "all":
        seconds = int(sys.argv[2]) if len(sys.argv) > 2 else 30
        chosen = [t.removeprefix("py_") for t in sys.argv[3:]] or list(TARGETS)
        if set(chosen) - set(TARGETS):
            print(__doc__, file=sys.stderr)
            return 2
        return run_all(seconds, chosen)
    os.environ.setdefault("PYTHONHASHSEED", "0")
    run_one(sys.argv[1], sys.argv[2:])
    return 0


if __name__ == "__main__":
    sys.exit(main())
