"""The emulator's own machinery: lifecycle, request ids, HTTP faults, rate limiting, search."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import httpx
import pytest

from relaywire.emulator import Emulator, HttpFault, RateLimit, StreamFault
from relaywire.emulator._search import Chunk, SearchIndex, chunk_text, tokenize


def test_health_and_urls(emu: Emulator) -> None:
    response = httpx.get(f"{emu.url}/health")
    assert response.status_code == 200
    assert response.json()["status"] == "healthy"
    assert emu.url.startswith("http://127.0.0.1:")
    assert emu.ws_url == "ws" + emu.url.removeprefix("http")
    assert emu.linktor_url == f"{emu.url}/linktor"
    assert emu.linktor_server_url == f"{emu.url}/linktor/api/v1"


def test_not_running_is_a_clear_error() -> None:
    emulator = Emulator()
    with pytest.raises(RuntimeError, match="not running"):
        _ = emulator.url
    emulator.start()
    emulator.stop()
    emulator.stop()  # idempotent
    with pytest.raises(RuntimeError, match="not running"):
        _ = emulator.url


def test_two_emulators_have_separate_state() -> None:
    with Emulator() as first, Emulator(seed=False) as second:
        assert first.port != second.port
        assert "conv_demo" in first.linktor.conversations
        assert second.linktor.conversations == {}
        assert httpx.get(f"{second.url}/health").status_code == 200


def test_port_in_use_raises_oserror(emu: Emulator) -> None:
    with pytest.raises(OSError):
        Emulator(port=emu.port).start()


def test_start_twice_raises(emu: Emulator) -> None:
    with pytest.raises(RuntimeError, match="already running"):
        emu.start()


@pytest.mark.parametrize("path", ["/health", "/nope", "/linktor/nope", "/linktor/api/v1/nope"])
def test_request_id_echoed_or_generated(emu: Emulator, path: str) -> None:
    echoed = httpx.get(f"{emu.url}{path}", headers={"X-Request-ID": "req-123"})
    assert echoed.headers["x-request-id"] == "req-123"
    generated = httpx.get(f"{emu.url}{path}")
    assert len(generated.headers["x-request-id"]) == 36


def test_unknown_routes_use_each_platforms_shape(emu: Emulator) -> None:
    daguito = httpx.get(f"{emu.url}/nope")
    assert (daguito.status_code, daguito.json()) == (404, {"error": "no route for GET /nope"})
    sdk = httpx.get(f"{emu.url}/linktor/nope", headers={"X-Request-ID": "r1"})
    assert sdk.status_code == 404
    assert sdk.json()["status"] == 404 and sdk.json()["requestId"] == "r1"
    server = httpx.get(f"{emu.url}/linktor/api/v1/nope")
    assert (server.status_code, server.text) == (404, "404 page not found")
    assert server.headers["content-type"].startswith("text/plain")


@pytest.mark.parametrize("status", [429, 500, 503])
def test_http_fault_answers_the_next_n_requests(emu: Emulator, status: int) -> None:
    emu.faults.http(status, 2, retry_after=3)
    first = httpx.get(f"{emu.url}/health")
    second = httpx.get(f"{emu.url}/health")
    third = httpx.get(f"{emu.url}/health")
    assert [first.status_code, second.status_code, third.status_code] == [status, status, 200]
    assert first.headers["retry-after"] == "3"
    assert first.headers["x-request-id"]


def test_http_fault_in_each_dialects_error_shape(emu: Emulator) -> None:
    emu.faults.http(503, 3)
    sdk = httpx.get(f"{emu.linktor_url}/conversations", headers={"X-Request-ID": "abc"})
    assert sdk.json() == {
        "code": "SERVICE_UNAVAILABLE",
        "message": "injected fault: HTTP 503",
        "status": 503,
        "requestId": "abc",
        "details": None,
    }
    server = httpx.get(f"{emu.linktor_server_url}/conversations")
    assert server.json() == {
        "success": False,
        "error": {"code": "SERVICE_UNAVAILABLE", "message": "injected fault: HTTP 503"},
    }
    daguito = httpx.post(f"{emu.url}/h/sk_wh_demo", json={})
    assert (daguito.status_code, daguito.json()) == (503, {"error": "injected fault: HTTP 503"})


def test_http_fault_only_matches_its_prefix(emu: Emulator) -> None:
    emu.faults.http(500, path_prefix="/linktor")
    assert httpx.get(f"{emu.url}/health").status_code == 200
    assert httpx.get(f"{emu.linktor_url}/nope").status_code == 500
    assert httpx.get(f"{emu.linktor_url}/nope").status_code == 404


def test_dropped_connection_mid_response(emu: Emulator) -> None:
    emu.faults.http(None)
    with pytest.raises(httpx.RemoteProtocolError):
        httpx.get(f"{emu.url}/health")
    assert httpx.get(f"{emu.url}/health").status_code == 200


def test_pending_http_counts_the_requests_queued_faults_will_still_fail(emu: Emulator) -> None:
    assert emu.faults.pending_http() == 0
    emu.faults.http(500, 2)
    emu.faults.http(503, 1, path_prefix="/linktor")
    assert emu.faults.pending_http() == 3
    assert httpx.get(f"{emu.url}/health").status_code == 500
    assert emu.faults.pending_http() == 2
    emu.faults.clear()
    assert emu.faults.pending_http() == 0


def test_faults_clear(emu: Emulator) -> None:
    emu.faults.http(500, 5)
    emu.faults.stream(token_delay=0.5)
    emu.faults.clear()
    assert httpx.get(f"{emu.url}/health").status_code == 200
    assert emu.faults.stream_fault(None) == StreamFault()


def test_stream_fault_per_session_overrides_global(emu: Emulator) -> None:
    emu.faults.stream(token_delay=0.25)
    emu.faults.stream("py_one", close_after_ready=True)
    assert emu.faults.stream_fault("py_one").close_after_ready
    assert emu.faults.stream_fault("py_one").token_delay == 0
    assert emu.faults.stream_fault("py_other").token_delay == 0.25
    emu.faults.stream("py_one")  # no fields: back to the global fault
    assert emu.faults.stream_fault("py_one").token_delay == 0.25


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"refuse_auth": "maybe"}, "refuse_auth"),
        ({"token_delay": -1.0}, "token_delay"),
        ({"clean_close_after_tokens": -1}, "clean_close_after_tokens"),
    ],
)
def test_bad_stream_fault_is_a_value_error(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        StreamFault(**kwargs)  # type: ignore[arg-type]


def test_bad_http_fault_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="count"):
        HttpFault(500, count=0)
    with pytest.raises(ValueError, match="status"):
        HttpFault(200)


def test_bad_emulator_options_are_value_errors() -> None:
    with pytest.raises(ValueError, match="webhook_retry_delays"):
        Emulator(webhook_retry_delays=(-1.0,))
    with pytest.raises(ValueError, match="rate limit"):
        RateLimit(0)


def test_rate_limit_headers_and_429(emu: Emulator) -> None:
    emu.set_rate_limit(2, window=60)
    headers = {"X-API-Key": "lk_demo"}
    first = httpx.get(f"{emu.linktor_url}/nope", headers=headers)
    assert first.headers["x-ratelimit-limit"] == "2"
    assert first.headers["x-ratelimit-remaining"] == "1"
    assert int(first.headers["x-ratelimit-reset"]) > time.time()
    httpx.get(f"{emu.linktor_url}/nope", headers=headers)
    limited = httpx.get(f"{emu.linktor_url}/nope", headers=headers)
    assert limited.status_code == 429
    assert 1 <= int(limited.headers["retry-after"]) <= 60
    assert limited.headers["x-ratelimit-remaining"] == "0"
    body = limited.json()
    assert body["code"] == "RATE_LIMITED" and body["status"] == 429
    assert body["retry_after"] == int(limited.headers["retry-after"])
    # Another credential has its own window; Daguito is not limited.
    other = httpx.get(f"{emu.linktor_url}/nope", headers={"X-API-Key": "other"})
    assert other.status_code == 404
    assert httpx.get(f"{emu.url}/health").status_code == 200
    server = httpx.get(f"{emu.linktor_server_url}/nope", headers=headers)
    assert server.status_code == 429
    assert server.json()["code"] == "RATE_LIMITED"
    emu.set_rate_limit(None)
    assert httpx.get(f"{emu.linktor_url}/nope", headers=headers).status_code == 404


def test_rate_limit_configured_at_construction() -> None:
    with Emulator(rate_limit=RateLimit(1, 60)) as emulator:
        assert httpx.get(f"{emulator.linktor_url}/x").status_code == 404
        assert httpx.get(f"{emulator.linktor_url}/x").status_code == 429


def test_call_runs_on_the_server_loop(emu: Emulator) -> None:
    async def coroutine() -> int:
        return 7

    assert emu.call(lambda: 1 + 1) == 2
    assert emu.call(coroutine) == 7


# -- search ---------------------------------------------------------------------------------------


def test_tokenize_folds_case_accents_and_suffixes() -> None:
    assert tokenize("Resetting the PASSWORDS, café!") == ["reset", "password", "cafe"]


def test_chunking_respects_size_and_overlap() -> None:
    text = " ".join(f"word{i}" for i in range(400))
    chunks = chunk_text(text, size=200, overlap=40)
    assert all(len(chunk) <= 200 for chunk in chunks)
    assert chunks[0].startswith("word0 ")
    assert chunks[-1].endswith("word399")
    # Every word survives, and consecutive chunks overlap.
    assert set(text.split()) == {word for chunk in chunks for word in chunk.split()}
    assert chunks[1].split()[0] in chunks[0].split()
    assert chunk_text("   ") == []
    with pytest.raises(ValueError):
        chunk_text("x", size=10, overlap=10)


def test_bm25_ranks_the_relevant_chunk_first() -> None:
    index = SearchIndex()
    docs = [
        "To reset your password, open Settings and choose Reset password.",
        "Our office hours are nine to five, Monday to Friday.",
        "Shipping takes three to five business days.",
    ]
    for number, text in enumerate(docs):
        index.add(Chunk(f"c{number}", text, "src", {"n": number}))
    hits = index.search("how do I reset my password?", top_k=2)
    assert hits[0][0].id == "c0"
    assert 0 < hits[0][1] <= 1
    assert index.search("password", source_ids=["other"]) == []
    assert index.search("password", metadata_equals={"n": 1}) == []
    assert index.search("the of and") == []
    index.remove("c0")
    assert [chunk.id for chunk, _ in index.search("reset password")] == []
    assert len(index) == 2


# -- command line ---------------------------------------------------------------------------------


def test_cli_emulator_serves_until_interrupted() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "relaywire", "emulator", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        assert first.startswith("relaywire emulator listening on http://127.0.0.1:")
        url = first.rsplit(" ", 1)[1].strip()
        assert httpx.get(f"{url}/health").status_code == 200
        lines = [process.stdout.readline() for _ in range(8)]
        assert any("sk_wh_demo" in line for line in lines)
        assert any("lk_demo" in line and "demo-password" in line for line in lines)
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=20)
        assert process.returncode == 0, err
        assert "stopped" in out
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()


def test_cli_emulator_port_in_use(emu: Emulator) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "relaywire", "emulator", "--port", str(emu.port)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 1
    assert "cannot listen" in result.stderr
