"""The receiver over real sockets: every status it answers, each malformed input class, secret
rotation, health, metrics and the 401 log line (which never holds a secret)."""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from _ingest_support import (
    LINKTOR_SECRET,
    STANDARD_SECRET,
    linktor_delivery,
    linktor_headers,
    raw_request,
    standard_headers,
    status_of,
)
from _support import hmac_hex

from relaywire.ingest import Receiver, Source, read

NEW_LINKTOR_SECRET = "lk_whsec_rotated_secret"
HMAC_SECRET = "generic-provider-secret"


def sources(max_body: int = 1 << 20) -> list[Source]:
    return [
        Source(
            "linktor",
            "/hooks/linktor",
            "linktor",
            secrets=[LINKTOR_SECRET, NEW_LINKTOR_SECRET],
            max_body=max_body,
        ),
        Source("std", "/hooks/std", "standard", secrets=[STANDARD_SECRET], max_body=max_body),
        Source(
            "generic",
            "/hooks/generic",
            "hmac",
            secrets=[HMAC_SECRET],
            id="header:x-delivery-id",
            options={"header": "X-Signature", "prefix": "sha256="},
        ),
    ]


@pytest.fixture
def db(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path}/events.db"


@pytest.fixture
def receiver(db: str) -> Iterator[Receiver]:
    with Receiver(sources(max_body=4096), db) as running:
        yield running


def post(receiver: Receiver, path: str, body: bytes, headers: dict[str, str]) -> httpx.Response:
    return httpx.post(receiver.url + path, content=body, headers=headers, timeout=10)


def stored(db: str) -> list[tuple[str, str, bytes]]:
    return [(d.source, d.id, d.body) for d in read(db)]


def counter(receiver: Receiver, source: str, outcome: str) -> float:
    text = httpx.get(receiver.url + "/metrics").text
    line = f'relaywire_ingest_deliveries_total{{outcome="{outcome}",source="{source}"}} '
    [value] = [row[len(line) :] for row in text.splitlines() if row.startswith(line)]
    return float(value)


# -- 200 -------------------------------------------------------------------------------------------


def test_a_verified_delivery_is_stored_then_answered(receiver: Receiver, db: str) -> None:
    body, headers = linktor_delivery("evt_1", text="hello")
    reply = post(receiver, "/hooks/linktor", body, headers)
    assert (reply.status_code, reply.json()) == (200, {"status": "stored"})
    [delivery] = read(db)  # stored before the answer came back
    assert (delivery.source, delivery.id, delivery.body) == ("linktor", "evt_1", body)
    assert delivery.headers["x-linktor-signature"] == headers["x-linktor-signature"]
    assert delivery.headers["content-type"] == "application/json"
    assert "host" not in delivery.headers and "content-length" not in delivery.headers


def test_repeated_headers_are_kept_joined_and_credentials_dropped(
    receiver: Receiver, db: str
) -> None:
    body = b'{"id":"evt_h"}'
    head = (
        b"POST /hooks/linktor HTTP/1.1\r\nHost: t\r\nContent-Length: 14\r\n"
        b"X-Linktor-Signature: " + hmac_hex(LINKTOR_SECRET, body).encode() + b"\r\n"
        b"X-Tag: a\r\nX-Tag: b\r\nAuthorization: Bearer secret-token\r\nCookie: s=1"
    )
    assert status_of(raw_request(receiver.port, head, body)) == 200
    [delivery] = read(db)
    assert delivery.headers["x-tag"] == "a, b"
    assert "authorization" not in delivery.headers and "cookie" not in delivery.headers


def test_a_duplicate_id_is_answered_200_and_stored_once(receiver: Receiver, db: str) -> None:
    body = b'{"type":"invoice.paid","n":1}'
    headers = standard_headers(body, "msg_dup")
    assert post(receiver, "/hooks/std", body, headers).json() == {"status": "stored"}
    for _ in range(3):
        reply = post(receiver, "/hooks/std", body, headers)
        assert (reply.status_code, reply.json()) == (200, {"status": "duplicate"})
    assert stored(db) == [("std", "msg_dup", body)]
    assert counter(receiver, "std", "accepted") == 1
    assert counter(receiver, "std", "duplicate") == 3


def test_concurrent_requests_share_commits_and_all_are_stored(receiver: Receiver, db: str) -> None:
    bodies = {f"msg_{i}": orjson.dumps({"i": i, "pad": "x" * 200}) for i in range(200)}

    def send(ids: list[str]) -> None:
        with httpx.Client(base_url=receiver.url) as client:
            for msg_id in ids:
                body = bodies[msg_id]
                reply = client.post(
                    "/hooks/std", content=body, headers=standard_headers(body, msg_id)
                )
                assert reply.status_code == 200

    ids = sorted(bodies)
    threads = [threading.Thread(target=send, args=(ids[i::8],)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted((i, b) for _, i, b in stored(db)) == sorted(bodies.items())
    metrics = httpx.get(receiver.url + "/metrics").text
    assert "relaywire_ingest_batch_size_count" in metrics
    assert 'relaywire_ingest_request_seconds_count{source="std"} 200.0' in metrics


def test_the_generic_hmac_scheme_reads_its_id_from_a_header(receiver: Receiver, db: str) -> None:
    body = b"plain text is fine: only the signature is checked"
    headers = {"x-signature": "sha256=" + hmac_hex(HMAC_SECRET, body), "x-delivery-id": "d-1"}
    assert post(receiver, "/hooks/generic", body, headers).status_code == 200
    assert stored(db) == [("generic", "d-1", body)]


# -- rotation --------------------------------------------------------------------------------------


def test_old_and_new_secrets_are_both_accepted(receiver: Receiver, db: str) -> None:
    old_body, old_headers = linktor_delivery("evt_old", secret=LINKTOR_SECRET)
    new_body, new_headers = linktor_delivery("evt_new", secret=NEW_LINKTOR_SECRET)
    other_body, other_headers = linktor_delivery("evt_other", secret="not-a-configured-secret")
    assert post(receiver, "/hooks/linktor", old_body, old_headers).status_code == 200
    assert post(receiver, "/hooks/linktor", new_body, new_headers).status_code == 200
    assert post(receiver, "/hooks/linktor", other_body, other_headers).status_code == 401
    assert [i for _, i, _ in stored(db)] == ["evt_old", "evt_new"]


def test_secrets_from_an_environment_variable_rotate_too(
    db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STD_SECRETS", f"{STANDARD_SECRET}, whsec_bmV3LXNlY3JldC1rZXktZm9yLXRlc3Rz")
    source = Source("std", "/in", "standard", secrets_env="STD_SECRETS")
    with Receiver([source], db) as receiver:
        for secret, msg_id in [
            (STANDARD_SECRET, "a"),
            ("whsec_bmV3LXNlY3JldC1rZXktZm9yLXRlc3Rz", "b"),
        ]:
            body = b"{}"
            assert (
                post(receiver, "/in", body, standard_headers(body, msg_id, secret)).status_code
                == 200
            )
    assert [i for _, i, _ in stored(db)] == ["a", "b"]


# -- 401 -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "make", "reason"),
    [
        ("/hooks/linktor", lambda b: {}, "missing X-Linktor-Signature header"),
        ("/hooks/linktor", lambda b: {"x-linktor-signature": "00" * 32}, "signature mismatch"),
        (
            "/hooks/linktor",
            lambda b: {**linktor_headers(b), "x-linktor-timestamp": "1000"},
            "outside the tolerance",
        ),
        ("/hooks/std", lambda b: {}, 'MissingHeaderError: missing required header "webhook-id"'),
        (
            "/hooks/std",
            lambda b: standard_headers(b, "m1", timestamp=1000),
            "TimestampOutOfToleranceError",
        ),
        (
            "/hooks/std",
            lambda b: {**standard_headers(b, "m1"), "webhook-signature": "v1,AAAA"},
            "InvalidSignatureError",
        ),
        (
            "/hooks/std",
            lambda b: {**standard_headers(b, "m1"), "webhook-timestamp": "soon"},
            "InvalidTimestampError",
        ),
        ("/hooks/generic", lambda b: {"x-delivery-id": "1"}, "missing x-signature header"),
        (
            "/hooks/generic",
            lambda b: {"x-signature": hmac_hex(HMAC_SECRET, b), "x-delivery-id": "1"},
            "signature mismatch",  # the configured prefix is missing
        ),
    ],
)
def test_bad_or_missing_signatures_are_401_counted_and_logged_without_the_secret(
    receiver: Receiver,
    db: str,
    caplog: pytest.LogCaptureFixture,
    path: str,
    make: Any,
    reason: str,
) -> None:
    body = b'{"id":"evt_forged","amount":1000000}'
    with caplog.at_level(logging.WARNING, logger="relaywire.ingest"):
        reply = post(receiver, path, body, make(body))
    assert reply.status_code == 401
    assert reply.json() == {"error": "signature verification failed"}
    assert stored(db) == []
    source = path.rsplit("/", 1)[1]
    assert counter(receiver, source, "rejected") == 1
    [line] = [r.getMessage() for r in caplog.records if r.name == "relaywire.ingest"]
    assert reason in line and f"refused a delivery to {source} from 127.0.0.1:" in line
    for secret in (LINKTOR_SECRET, NEW_LINKTOR_SECRET, STANDARD_SECRET, HMAC_SECRET):
        assert secret not in caplog.text
        assert secret.removeprefix("whsec_") not in caplog.text


def test_a_tampered_body_is_refused(receiver: Receiver, db: str) -> None:
    body, headers = linktor_delivery("evt_1", amount=10)
    assert post(receiver, "/hooks/linktor", body.replace(b"10", b"99"), headers).status_code == 401
    assert stored(db) == []


def test_the_refusal_log_is_rate_limited(
    receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    started = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="relaywire.ingest"), httpx.Client() as client:
        for _ in range(40):
            client.post(receiver.url + "/hooks/std", content=b"{}", headers={})
    seconds_spanned = int(time.monotonic() - started) + 2
    lines = [r.getMessage() for r in caplog.records if r.name == "relaywire.ingest"]
    assert 1 <= len(lines) <= 10 * seconds_spanned  # at most 10 a second
    assert counter(receiver, "std", "rejected") == 40


def test_the_refusal_log_counts_what_it_left_out(caplog: pytest.LogCaptureFixture) -> None:
    from relaywire.ingest._app import _RejectLog

    now = [100.0]
    log = _RejectLog("std", clock=lambda: now[0])
    with caplog.at_level(logging.WARNING, logger="relaywire.ingest"):
        for _ in range(25):
            log("signature mismatch", ("127.0.0.1", 5000))
        now[0] = 101.0
        log("signature mismatch", None)
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 11
    assert (
        lines[-1]
        == "refused a delivery to std from unknown peer: signature mismatch (+15 more not logged)"
    )


# -- 400: each malformed input class ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (b"not json", "the body is not JSON, so the delivery id cannot be read"),
        (b"[1, 2]", "the body has no 'id' (the delivery id)"),
        (b'{"type": "x"}', "the body has no 'id' (the delivery id)"),
        (b'{"id": {"nested": 1}}', "the delivery id 'id' must be a string or an integer"),
        (b'{"id": true}', "the delivery id 'id' must be a string or an integer"),
        (b'{"id": 1.5}', "the delivery id 'id' must be a string or an integer"),
        (b'{"id": ""}', "the delivery id is empty"),
        (orjson.dumps({"id": "x" * 257}), "the delivery id is longer than 256 characters"),
    ],
)
def test_a_verified_body_without_a_usable_id_is_400(
    receiver: Receiver, db: str, body: bytes, error: str
) -> None:
    reply = post(receiver, "/hooks/linktor", body, linktor_headers(body))
    assert (reply.status_code, reply.json()) == (400, {"error": error})
    assert stored(db) == []
    assert counter(receiver, "linktor", "malformed") == 1


def test_an_integer_id_is_kept_as_text(receiver: Receiver, db: str) -> None:
    body = b'{"id": 12345}'
    assert post(receiver, "/hooks/linktor", body, linktor_headers(body)).status_code == 200
    assert stored(db) == [("linktor", "12345", body)]


def test_a_missing_or_undecodable_id_header_is_400(receiver: Receiver) -> None:
    body = b"x"
    signature = "sha256=" + hmac_hex(HMAC_SECRET, body)
    reply = post(receiver, "/hooks/generic", body, {"x-signature": signature})
    assert reply.json() == {"error": "the delivery id header x-delivery-id is missing"}
    head = (
        b"POST /hooks/generic HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\n"
        b"X-Signature: " + signature.encode() + b"\r\nX-Delivery-Id: \xff\xfe"
    )
    answer = raw_request(receiver.port, head, body)
    assert status_of(answer) == 400 and b"not UTF-8" in answer


def test_a_compressed_body_is_400(receiver: Receiver) -> None:
    body, headers = linktor_delivery("evt_1")
    reply = post(receiver, "/hooks/linktor", body, {**headers, "content-encoding": "gzip"})
    assert reply.status_code == 400
    assert "Content-Encoding" in reply.json()["error"]


def test_broken_chunk_framing_is_400(receiver: Receiver) -> None:
    head = b"POST /hooks/linktor HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked"
    assert status_of(raw_request(receiver.port, head, b"zz\r\nabc\r\n0\r\n\r\n")) == 400


def test_an_invalid_content_length_is_400(receiver: Receiver) -> None:
    head = b"POST /hooks/linktor HTTP/1.1\r\nHost: t\r\nContent-Length: -5"
    assert status_of(raw_request(receiver.port, head, b"{}")) == 400


# -- 404, 405 --------------------------------------------------------------------------------------


def test_unknown_paths_are_404_and_other_methods_405(receiver: Receiver) -> None:
    reply = httpx.post(receiver.url + "/hooks/unknown", content=b"{}")
    assert (reply.status_code, reply.json()) == (404, {"error": "no source at this path"})
    assert httpx.get(receiver.url + "/").status_code == 404
    assert httpx.post(receiver.url + "/health").status_code == 404
    reply = httpx.get(receiver.url + "/hooks/linktor")
    assert reply.status_code == 405 and reply.headers["allow"] == "POST"


# -- 413 -------------------------------------------------------------------------------------------


def test_a_declared_body_over_the_limit_is_413_before_reading_it(receiver: Receiver) -> None:
    # 10 MiB declared, 10 bytes sent: the answer comes without waiting for the rest.
    head = b"POST /hooks/linktor HTTP/1.1\r\nHost: t\r\nContent-Length: 10485760"
    answer = raw_request(receiver.port, head, b"0123456789")
    assert status_of(answer) == 413
    assert b"larger than 4096 bytes" in answer


def test_a_chunked_body_is_cut_off_at_the_limit(receiver: Receiver, db: str) -> None:
    # One 5000-byte chunk and no terminating chunk: the receiver stops at 4096 bytes and answers.
    head = b"POST /hooks/linktor HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked"
    answer = raw_request(receiver.port, head, b"1388\r\n" + b"x" * 5000 + b"\r\n")
    assert status_of(answer) == 413
    # At the limit exactly it is read and verified as usual.
    body = b'{"id":"edge","pad":"' + b"p" * (4096 - 22) + b'"}'
    assert len(body) == 4096
    assert post(receiver, "/hooks/linktor", body, linktor_headers(body)).status_code == 200
    assert stored(db) == [("linktor", "edge", body)]
    assert counter(receiver, "linktor", "too_large") == 1


# -- 503 -------------------------------------------------------------------------------------------


def test_a_full_write_queue_is_503_with_retry_after(tmp_path: Path) -> None:
    path = tmp_path / "events.db"
    url = f"sqlite:///{path}"
    with Receiver(sources(), url, max_pending=1) as receiver:
        first_body, first_headers = linktor_delivery("evt_first")
        assert post(receiver, "/hooks/linktor", first_body, first_headers).status_code == 200
        # Another process holds the write lock: the next batch waits in the queue.
        blocker = sqlite3.connect(path, isolation_level=None)
        blocker.execute("BEGIN IMMEDIATE")
        held: dict[str, httpx.Response] = {}
        body, headers = linktor_delivery("evt_waiting")
        waiting = threading.Thread(
            target=lambda: held.setdefault("reply", post(receiver, "/hooks/linktor", body, headers))
        )
        waiting.start()
        deadline = time.monotonic() + 10
        while httpx.get(receiver.url + "/health").json().get("pending") != 1:
            assert time.monotonic() < deadline
            time.sleep(0.01)
        full_body, full_headers = linktor_delivery("evt_refused")
        reply = post(receiver, "/hooks/linktor", full_body, full_headers)
        assert reply.status_code == 503
        assert reply.headers["retry-after"] == "1"
        assert reply.json() == {"error": "the write queue is full"}
        blocker.execute("ROLLBACK")
        blocker.close()
        waiting.join(15)
        assert held["reply"].status_code == 200  # answered once its commit went through
        assert counter(receiver, "linktor", "unavailable") == 1
    assert [i for _, i, _ in stored(url)] == ["evt_first", "evt_waiting"]


def test_an_unavailable_sink_is_503_then_recovers_with_nothing_lost(redis_server: Any) -> None:
    url = redis_server.url("events", timeout="0.5")
    with Receiver(sources(), url) as receiver:
        body, headers = linktor_delivery("evt_before")
        assert post(receiver, "/hooks/linktor", body, headers).status_code == 200
        assert httpx.get(receiver.url + "/health").status_code == 200

        redis_server.stop()
        body2, headers2 = linktor_delivery("evt_during")
        reply = post(receiver, "/hooks/linktor", body2, headers2)
        assert reply.status_code == 503 and reply.headers["retry-after"] == "1"
        health = httpx.get(receiver.url + "/health")
        assert health.status_code == 503 and health.headers["retry-after"] == "1"
        assert "sink_up 0.0" in httpx.get(receiver.url + "/metrics").text

        redis_server.start()  # same port and directory: the AOF is replayed
        deadline = time.monotonic() + 15
        while httpx.get(receiver.url + "/health").status_code != 200:
            assert time.monotonic() < deadline, "the receiver never saw the sink come back"
            time.sleep(0.05)
        assert post(receiver, "/hooks/linktor", body2, headers2).status_code == 200  # the retry
    assert [i for _, i, _ in stored(url)] == ["evt_before", "evt_during"]


def test_health_is_503_until_the_sink_can_be_reached(tmp_path: Path) -> None:
    from _ingest_servers import free_port

    url = f"redis://127.0.0.1:{free_port()}/0?stream=s&timeout=0.2"
    with Receiver(sources(), url) as receiver:
        reply = httpx.get(receiver.url + "/health")
        assert reply.status_code == 503
        assert "Redis is not reachable" in reply.json()["error"]
        body, headers = linktor_delivery("evt_1")
        assert post(receiver, "/hooks/linktor", body, headers).status_code == 503


def test_health_and_metrics(receiver: Receiver) -> None:
    reply = httpx.get(receiver.url + "/health")
    assert (reply.status_code, reply.json()) == (200, {"status": "ok", "pending": 0})
    metrics = httpx.get(receiver.url + "/metrics")
    assert metrics.headers["content-type"].startswith("text/plain")
    for name in (
        "relaywire_ingest_deliveries_total",
        "relaywire_ingest_request_seconds",
        "relaywire_ingest_batch_size",
        "relaywire_ingest_sink_up 1.0",
    ):
        assert name in metrics.text


def test_bodies_over_the_sinks_own_limit_are_413(tmp_path: Path) -> None:
    """JetStream refuses messages over the server's max_payload: the receiver answers 413 for
    them (before reading), instead of failing the write."""
    from _ingest_servers import NatsServer

    server = NatsServer(tmp_path / "nats")
    server.extra.append("max_payload: 65536")
    with server, Receiver(sources(), server.url("EVENTS")) as receiver:
        limit = 65536 - 16 * 1024
        body, headers = linktor_delivery("evt_big", pad="x" * (limit + 100))
        reply = post(receiver, "/hooks/linktor", body, headers)
        assert reply.status_code == 413
        assert reply.json() == {"error": f"the body is larger than {limit} bytes"}
        body, headers = linktor_delivery("evt_fits", pad="x" * (limit - 200))
        assert post(receiver, "/hooks/linktor", body, headers).status_code == 200
        assert [d.id for d in read(server.url("EVENTS"))] == ["evt_fits"]
