"""relaywire.sources: the one ``[[sources]]`` format and the one scheme registry behind both
``relaywire ingest`` and ``relaywire verify``.

Each scheme's request check (the receiver) and batch verification (archives) come from its one
registry entry and agree; a scheme registered once works in both commands; the module needs no
extra; and, end to end, what a real receiver stored in SQLite is re-verified by ``relaywire
verify`` with the same file, then fails per source and cause once a leaked secret is rotated
away.
"""

from __future__ import annotations

import hmac
import json
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterable
from itertools import repeat
from pathlib import Path
from typing import Any

import httpx
import pytest
from _ingest_support import STANDARD_SECRET, standard_headers
from _schemes import (
    PROVIDERS,
    TWILIO_URL,
    Provider,
    digest,
    hmac_b64,
    hmac_hex,
    stripe_header,
    twilio_signature,
)

from relaywire.cli import main
from relaywire.ingest import IngestConfigError, Receiver, load_config, read
from relaywire.sources import (
    SCHEMES,
    DeliveryIdError,
    Scheme,
    Source,
    SourceConfigError,
    header_value,
    id_reader,
    load_sources,
    register_scheme,
)
from relaywire.webhooks import (
    InvalidHeaderError,
    InvalidSignatureError,
    MissingHeaderError,
    TimestampOutOfToleranceError,
    WebhookVerificationError,
)

LINKTOR = Provider(
    "linktor",
    "lk-secret",
    lambda ts: b'{"id":"lk_1","type":"message.sent"}',
    lambda body, ts: {
        "X-Linktor-Signature": hmac_hex("lk-secret", body),
        "X-Linktor-Timestamp": str(ts),
    },
    lambda body, headers: "lk_1",
)
HMAC = Provider(
    "hmac",
    "acme-secret",
    lambda ts: b'{"n":1}',
    lambda body, ts: {"X-Acme-Signature": "sha256=" + hmac_b64("acme-secret", body)},
    digest,
    {"header": "X-Acme-Signature", "encoding": "base64", "prefix": "sha256="},
)
ALL = [*PROVIDERS, LINKTOR, HMAC]


def raw(headers: dict[str, str]) -> list[tuple[bytes, bytes]]:
    """Headers as an ASGI server hands them to the receiver."""
    return [(name.lower().encode(), value.encode()) for name, value in headers.items()]


def test_every_registered_scheme_is_in_the_table() -> None:
    assert {p.scheme for p in ALL} == set(SCHEMES)


@pytest.mark.parametrize("provider", ALL, ids=[p.scheme for p in ALL])
def test_the_request_check_and_the_batch_come_from_one_description(provider: Provider) -> None:
    scheme = SCHEMES[provider.scheme]
    rotating = provider.scheme not in ("discord", "standard")  # their secrets are public keys
    source = Source(
        provider.scheme,
        "",
        provider.scheme,
        secrets=["an-old-secret-rotated-out", provider.secret] if rotating else [provider.secret],
        options=provider.options or {},
    )
    secrets = source.resolved_secrets()
    check = scheme.compile(source, secrets)
    batch = scheme.compile_batch(source, secrets)
    now = int(time.time())
    old = now - 3600
    body, headers = provider.body(now), provider.sign(provider.body(now), now)
    stale_body = provider.body(old)
    stale = provider.sign(stale_body, old)

    assert check(body, raw(headers)) is None
    tampered = check(body + b" ", raw(headers))
    missing = check(body, [])
    assert tampered is not None and missing is not None
    assert missing.startswith("MissingHeaderError: ")
    # The batch reads archived headers (a dict, as names were sent) at each reception time.
    causes = batch(
        [body, body + b" ", stale_body, body],
        [headers, headers, stale, {}],
        received_at=[now, now, old, now],
    )
    assert causes == [None, tampered.split(":")[0], None, "MissingHeaderError"]
    stale_reason = check(stale_body, raw(stale))
    if scheme.timed:
        assert stale_reason is not None
        assert stale_reason.startswith("TimestampOutOfToleranceError: ")
        assert batch([stale_body], [stale], received_at=[now]) == ["TimestampOutOfToleranceError"]
    else:
        assert stale_reason is None
    # Without reception times no timestamp is checked.
    assert batch([stale_body, body], [stale, headers]) == [None, None]


def test_linktor_timestamps_are_read_as_the_native_check_reads_them() -> None:
    """The Linktor timestamp is optional and not signed: when sent it must be an integer within
    the tolerance, of the clock for a request and of its reception time in a batch."""
    scheme = SCHEMES["linktor"]
    source = Source("lk", "", "linktor", secrets=["old", "new"], tolerance=60)
    check = scheme.compile(source, ("old", "new"))
    batch = scheme.compile_batch(source, ("old", "new"))
    now = int(time.time())
    body = b'{"id":"1"}'

    def signed(timestamp: str | None, secret: str = "new") -> dict[str, str]:
        headers = {"x-linktor-signature": hmac_hex(secret, body)}
        return headers if timestamp is None else {**headers, "x-linktor-timestamp": timestamp}

    cases = [
        (signed(None), None),
        (signed(""), None),
        (signed(f" {now} ", "old"), None),
        (signed(str(now - 61)), "TimestampOutOfToleranceError"),
        (signed(str(now + 61)), "TimestampOutOfToleranceError"),
        (signed("soon"), "InvalidTimestampError"),
        (signed("1" * 40), "InvalidTimestampError"),
        ({"x-linktor-timestamp": str(now)}, "MissingHeaderError"),
        ({**signed(str(now)), "x-linktor-signature": "00" * 32}, "InvalidSignatureError"),
    ]
    for headers, cause in cases:
        reason = check(body, raw(headers))
        assert (reason and reason.split(":")[0]) == cause, (headers, reason)
    assert batch([body] * len(cases), [h for h, _ in cases], received_at=[now] * len(cases)) == [
        c for _, c in cases
    ]
    # Received long ago, at the time it was signed: fresh then.
    assert batch([body], [signed(str(now - 86400))], received_at=[now - 86400]) == [None]


def test_header_values_of_every_kind() -> None:
    signature = "sha256=abc"
    for headers in (
        {"X-Acme-Signature": signature},
        [("x-ACME-signature", signature)],
        [(b"x-acme-signature", signature.encode())],
        [(b"X-Acme-Signature", signature.encode())],
        httpx.Headers({"x-acme-signature": signature}),
    ):
        assert header_value(headers, "x-acme-signature") in (signature, signature.encode())
    assert header_value({"x-acme-signature": 5}, "x-acme-signature") is None
    assert header_value([(7, "x")], "x-acme-signature") is None
    assert header_value({}, "x-acme-signature") is None


def test_delivery_ids_from_archived_headers_and_bodies() -> None:
    assert id_reader("header:Webhook-Id")(b"", {"WEBHOOK-ID": "m1"}) == "m1"
    assert id_reader("header:webhook-id", raw_headers=True)(b"", [(b"webhook-id", b"m2")]) == "m2"
    assert id_reader("body:data.id")(b'{"data":{"id":42}}', {}) == "42"
    with pytest.raises(DeliveryIdError, match="header webhook-id is missing"):
        id_reader("header:webhook-id")(b"", {})
    with pytest.raises(DeliveryIdError, match="must be a string or an integer"):
        id_reader("body:id")(b'{"id":[1]}', {})
    with pytest.raises(DeliveryIdError, match="longer than 256"):
        id_reader("body:id")(json.dumps({"id": "x" * 257}).encode(), {})


# -- one description, both commands ----------------------------------------------------------------


class Acme:
    """A provider invented for this test: ``Acme-Signature: t=<ts>,v1=<hex HMAC-SHA256 of
    "<ts>.<body>">``, written as a user would write a verifier class of their own."""

    def __init__(self, secrets: list[str]) -> None:
        self.keys = [secret.encode() for secret in secrets]

    @staticmethod
    def sign(secret: str, body: bytes, ts: int) -> dict[str, str]:
        mac = hmac.new(secret.encode(), f"{ts}.".encode() + body, "sha256").hexdigest()
        return {"Acme-Signature": f"t={ts},v1={mac}", "Acme-Id": f"acme-{ts}-{len(body)}"}

    def verify(
        self,
        payload: bytes,
        headers: Any,
        *,
        tolerance: float | None = 300,
        now: float | None = None,
    ) -> None:
        value = header_value(headers, "acme-signature")
        if value is None:
            raise MissingHeaderError("missing Acme-Signature")
        text = value.decode() if isinstance(value, bytes) else value
        fields = dict(part.partition("=")[::2] for part in text.split(","))
        if not fields.get("t", "").isdigit() or "v1" not in fields:
            raise InvalidHeaderError("Acme-Signature must be t=<seconds>,v1=<hex>")
        ts = int(fields["t"])
        if tolerance is not None and abs((time.time() if now is None else now) - ts) > tolerance:
            raise TimestampOutOfToleranceError("Acme timestamp outside the tolerance")
        signed = f"{ts}.".encode() + payload
        for key in self.keys:
            if hmac.compare_digest(hmac.new(key, signed, "sha256").hexdigest(), fields["v1"]):
                return
        raise InvalidSignatureError("no Acme signature matches")

    def verify_each(
        self,
        payloads: Iterable[bytes],
        headers_list: Iterable[Any],
        *,
        tolerance: float | None = 300,
        now: float | Iterable[float] | None = None,
    ) -> list[WebhookVerificationError | None]:
        times = repeat(now) if now is None or isinstance(now, (int, float)) else now
        errors: list[WebhookVerificationError | None] = []
        for payload, headers, at in zip(payloads, headers_list, times, strict=False):
            try:
                self.verify(payload, headers, tolerance=tolerance, now=at)
                errors.append(None)
            except WebhookVerificationError as exc:
                errors.append(exc)
        return errors


@pytest.fixture
def acme_scheme() -> Iterable[Scheme]:
    scheme = register_scheme(
        Scheme("acme-test", verifier=Acme, default_id="header:acme-id", timed=True)
    )
    yield scheme
    SCHEMES.pop("acme-test")


def line(source: str, headers: dict[str, str], body: bytes, **extra: Any) -> str:
    return json.dumps({"source": source, "headers": headers, "body": body.decode(), **extra})


def verify(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main(["verify", *args])
    return code, capsys.readouterr().out


def causes(out: str) -> dict[str, int]:
    """The report's failure counts by cause."""
    table = out.split("failures by cause:\n")[1].split("first failures")[0]
    rows = (row.split() for row in table.splitlines() if row.strip())
    return {" ".join(words[:-1]): int(words[-1].replace(",", "")) for words in rows}


def test_a_scheme_registered_once_works_in_both_commands(
    acme_scheme: Scheme, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sink = f"sqlite:///{tmp_path}/events.db"
    config = tmp_path / "sources.toml"
    config.write_text(
        f'sink = "{sink}"\n[[sources]]\nname = "acme"\npath = "/hooks/acme"\n'
        'scheme = "acme-test"\nsecrets = ["acme-old", "acme-new"]\ntolerance = 60\n'
    )
    now = int(time.time())
    body = b'{"order":1}'
    with Receiver(load_config(config).sources, sink) as receiver:
        genuine = httpx.post(
            receiver.url + "/hooks/acme", content=body, headers=Acme.sign("acme-new", body, now)
        )
        stale = httpx.post(
            receiver.url + "/hooks/acme",
            content=body,
            headers=Acme.sign("acme-new", body, now - 61),
        )
    assert (genuine.status_code, stale.status_code) == (200, 401)
    assert [d.id for d in read(sink)] == [f"acme-{now}-{len(body)}"]
    assert verify(capsys, "--config", str(config), sink)[0] == 0

    # Archived deliveries are checked at their reception time, with the source's tolerance.
    archive = tmp_path / "acme.jsonl"
    signed_then = Acme.sign("acme-old", body, now - 86400)
    archive.write_text(
        "\n".join(
            [
                line("acme", signed_then, body, received_at=now - 86400 + 30),
                line("acme", signed_then, body, received_at=now - 86400 + 90),
                line("acme", signed_then, body + b"!", received_at=now - 86400),
            ]
        )
    )
    code, out = verify(capsys, "--config", str(config), str(archive))
    assert code == 1
    assert causes(out) == {"TimestampOutOfToleranceError": 1, "InvalidSignatureError": 1}
    acme_row = next(row for row in out.splitlines() if row.startswith("acme "))
    assert acme_row.split()[1:] == ["3", "1", "2"]
    assert f"line 2: acme acme-{now - 86400}-{len(body)}: TimestampOutOfToleranceError" in out


def test_a_build_check_scheme_runs_per_delivery_in_verify(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The receiver's older registry form, a check of one raw request, verifies archives too."""

    def build(source: Source, secrets: tuple[str, ...]) -> Any:
        allowed = {s.encode() for s in secrets}

        def check(body: bytes, headers: list[tuple[bytes, bytes]]) -> str | None:
            return None if dict(headers).get(b"x-token") in allowed else "wrong token"

        return check

    register_scheme(Scheme("token-test", build, default_id="header:x-event-id"))
    try:
        config = tmp_path / "sources.toml"
        config.write_text('[[sources]]\nname = "t"\nscheme = "token-test"\nsecrets = ["tok"]\n')
        archive = tmp_path / "a.jsonl"
        archive.write_text(
            line("t", {"X-Token": "tok", "X-Event-Id": "e1"}, b"x")
            + "\n"
            + line("t", {"X-Token": "leaked", "X-Event-Id": "e2"}, b"x")
        )
        code, out = verify(capsys, "--config", str(config), str(archive))
    finally:
        SCHEMES.pop("token-test")
    assert code == 1
    assert "line 2: t e2: wrong token" in out
    assert causes(out) == {"wrong token": 1}


def test_a_scheme_is_described_with_a_verifier_or_a_build() -> None:
    with pytest.raises(ValueError, match="give verifier= or build="):
        Scheme("neither")
    with pytest.raises(ValueError, match="give verifier= or build="):
        Scheme("both", lambda source, secrets: lambda b, h: None, verifier=Acme)
    with pytest.raises(ValueError, match="told neither the time nor the URL"):
        Scheme("timed-build", lambda source, secrets: lambda b, h: None, timed=True)
    with pytest.raises(SourceConfigError, match="id must be"):
        Scheme("bad-id", verifier=Acme, default_id="row:1")
    assert SCHEMES["twilio"].options == {"url": (str, None)}  # takes_url gives the url key


# -- the format ---------------------------------------------------------------------------------


def test_the_same_file_serves_and_verifies(tmp_path: Path) -> None:
    """``path`` is the receiver's: relaywire verify takes a file without it, ingest refuses it;
    the receiver's top-level ``sink`` is left to it."""
    without_path = tmp_path / "audit.toml"
    without_path.write_text('[[sources]]\nname = "gh"\nscheme = "github"\nsecrets = ["s"]\n')
    [source] = load_sources(without_path)
    assert (source.name, source.path, source.max_body) == ("gh", "", 1024 * 1024)
    with pytest.raises(IngestConfigError, match=r"sources\[0\] \(gh\): path is required"):
        load_config(without_path)
    with pytest.raises(IngestConfigError, match="source 'gh': path is required"):
        Receiver([source], f"sqlite:///{tmp_path}/x.db")
    served = tmp_path / "ingest.toml"
    served.write_text('sink = "sqlite:///x.db"\n' + without_path.read_text() + 'path = "/gh"\n')
    assert load_sources(served) == load_config(served).sources


def test_ingest_config_error_is_the_shared_error() -> None:
    """One class, so ``except IngestConfigError`` still catches every configuration error,
    whichever module raised it."""
    assert IngestConfigError is SourceConfigError
    assert issubclass(IngestConfigError, ValueError)
    with pytest.raises(IngestConfigError, match="tolerance must be seconds"):
        Source("a", "/a", "github", secrets=["s"], tolerance=-1).validate()
    with pytest.raises(IngestConfigError, match="cannot read"):
        load_sources("/nonexistent/sources.toml")


# -- no extra -------------------------------------------------------------------------------------

# A meta path finder that makes the ingest extra (and the client packages) absent.
_WITHOUT_EXTRAS = textwrap.dedent(
    """
    import sys

    ABSENT = {"prometheus_client", "granian", "nats", "redis", "uvicorn", "uvloop", "httptools",
              "starlette", "daguito", "linktor"}

    class Absent:
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in ABSENT:
                raise ModuleNotFoundError(f"No module named {name!r} (absent in this test)")
            return None

    sys.meta_path.insert(0, Absent())
    """
)


def run_without_extras(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", _WITHOUT_EXTRAS + textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_relaywire_sources_imports_no_extra_and_no_client_package() -> None:
    result = run_without_extras(
        """
        import relaywire.sources
        print(sorted(m for m in sys.modules if m.startswith("relaywire.ingest")
                     or m.split(".")[0] in ABSENT))
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_relaywire_verify_needs_no_ingest_extra_for_json_lines(tmp_path: Path) -> None:
    config = tmp_path / "sources.toml"
    config.write_text(
        f'[[sources]]\nname = "std"\nscheme = "standard"\nsecrets = ["{STANDARD_SECRET}"]\n'
    )
    body = b'{"type":"user.created"}'
    archive = tmp_path / "a.jsonl"
    archive.write_text(line("std", standard_headers(body, "m1"), body, received_at=time.time()))
    result = run_without_extras(
        f"""
        from relaywire.cli import main
        assert main(["verify", "--config", {str(config)!r}, {str(archive)!r}]) == 0
        assert main(["verify", "--config", {str(config)!r}, "sqlite:///{tmp_path}/x.db"]) == 2
        print(sorted(m for m in sys.modules if m.startswith("relaywire.ingest")
                     or m.split(".")[0] in ABSENT))
        """
    )
    assert result.returncode == 0, result.stderr
    assert "every delivery verified" in result.stdout
    assert "install relaywire[ingest]" in result.stderr  # the sink URL, without the extra
    assert result.stdout.strip().splitlines()[-1] == "[]"


# -- end to end: a real receiver, a real SQLite sink, the real command ----------------------------

STRIPE_LEAKED = "whsec_stripe_leaked"
TWILIO_LEAKED = "twilio-token-leaked"
STANDARD_NEXT = "whsec_bmV3LXNlY3JldC1rZXktZm9yLXRlc3Rz"


def sources_toml(sink: str, stripe: list[str], twilio: list[str], standard: list[str]) -> str:
    return textwrap.dedent(
        f"""\
        sink = "{sink}"

        [[sources]]
        name = "stripe"
        path = "/hooks/stripe"
        scheme = "stripe"
        secrets = {json.dumps(stripe)}

        [[sources]]
        name = "sms"
        path = "/hooks/sms"
        scheme = "twilio"
        secrets = {json.dumps(twilio)}
        url = "{TWILIO_URL}"

        [[sources]]
        name = "billing"
        path = "/hooks/billing"
        scheme = "standard"
        secrets = {json.dumps(standard)}
        """
    )


def test_what_a_receiver_stored_is_verified_by_relaywire_verify_with_the_same_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sink = f"sqlite:///{tmp_path}/events.db"
    config = tmp_path / "sources.toml"
    config.write_text(sources_toml(sink, [STRIPE_LEAKED], [TWILIO_LEAKED], [STANDARD_SECRET]))
    now = int(time.time())
    with (
        Receiver(load_config(config).sources, sink) as receiver,
        httpx.Client(base_url=receiver.url) as client,
    ):
        for n in range(3):
            body = b'{"id":"evt_%d","type":"invoice.paid"}' % n
            headers = {"Stripe-Signature": stripe_header(STRIPE_LEAKED, now, body)}
            assert client.post("/hooks/stripe", content=body, headers=headers).status_code == 200
        for n in range(2):
            body = b"From=%2B15550001&Body=hello+" + str(n).encode()
            headers = {
                "X-Twilio-Signature": twilio_signature(TWILIO_LEAKED, TWILIO_URL, body),
                "I-Twilio-Idempotency-Token": f"tok-{n}",
            }
            assert client.post("/hooks/sms", content=body, headers=headers).status_code == 200
        for n in range(2):
            body = b'{"n":%d}' % n
            reply = client.post(
                "/hooks/billing", content=body, headers=standard_headers(body, f"m{n}")
            )
            assert reply.status_code == 200
        forged = b'{"id":"evt_forged","type":"invoice.paid"}'
        headers = {"Stripe-Signature": stripe_header("whsec_guess", now, forged)}
        assert client.post("/hooks/stripe", content=forged, headers=headers).status_code == 401
    stored = list(read(sink))
    assert sorted({d.source for d in stored}) == ["billing", "sms", "stripe"] and len(stored) == 7

    # The same file, as a separate process: every stored delivery verifies.
    result = subprocess.run(
        [sys.executable, "-m", "relaywire", "verify", "--config", str(config), sink],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"verified 7 deliveries from {sink}" in result.stdout
    assert "every delivery verified" in result.stdout
    rows = {row.split()[0]: row.split()[1:] for row in result.stdout.splitlines()[2:5]}
    assert rows == {"billing": ["2", "2", "0"], "sms": ["2", "2", "0"], "stripe": ["3", "3", "0"]}

    # A leak audit: Stripe's and Twilio's leaked secrets are rotated away; the Standard
    # Webhooks source is mid-rotation (old and new secret).
    config.write_text(
        sources_toml(
            sink, ["whsec_stripe_next"], ["twilio-token-next"], [STANDARD_NEXT, STANDARD_SECRET]
        )
    )
    code, out = verify(capsys, "--config", str(config), sink)
    assert code == 1
    rows = {row.split()[0]: row.split()[1:] for row in out.splitlines()[2:5]}
    assert rows == {"billing": ["2", "2", "0"], "sms": ["2", "0", "2"], "stripe": ["3", "0", "3"]}
    assert causes(out) == {"InvalidSignatureError": 5}
    failures = out.split("first failures (5 of 5):\n")[1].splitlines()
    assert [f.split(": ", 1)[1] for f in failures] == [
        "stripe evt_0: InvalidSignatureError",
        "stripe evt_1: InvalidSignatureError",
        "stripe evt_2: InvalidSignatureError",
        "sms tok-0: InvalidSignatureError",
        "sms tok-1: InvalidSignatureError",
    ]
    for secret in (STRIPE_LEAKED, TWILIO_LEAKED, STANDARD_SECRET, STANDARD_NEXT):
        assert secret not in out + result.stdout + result.stderr
