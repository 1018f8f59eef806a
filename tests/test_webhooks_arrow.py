"""``verify_arrow``: deliveries in Arrow columns, verified in place, with the answers of the
single verifications."""

from __future__ import annotations

import base64
import threading
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from _schemes import CASE_IDS, CASES, Case
from _support import outcome

from relaywire._arrow import SCHEME_DEFAULT
from relaywire.webhooks import (
    HmacVerifier,
    LinktorVerifier,
    StandardWebhook,
    Twilio,
    verify_arrow,
)

NOW = 1_700_000_000
WHSEC = "whsec_" + base64.b64encode(b"arrow standard key bytes").decode()


def rows_for(case: Case, count: int) -> tuple[list[Any], list[dict[str, Any]]]:
    """Deliveries for ``case``: genuine, tampered, with a header missing, and sent late."""
    bodies: list[Any] = []
    headers: list[dict[str, Any]] = []
    for i in range(count):
        ts = NOW - 400 if i % 11 == 4 else NOW
        body = case.body(ts, str(i).encode())
        signed: dict[str, Any] = dict(case.sign(body, ts))
        if i % 7 == 1:
            body = case.body(ts, b"tampered")
        elif i % 7 == 2:
            signed.pop(next(iter(signed)))
        bodies.append(body)
        headers.append(signed)
    return bodies, headers


def table_for(case: Case, bodies: list[Any], headers: list[dict[str, Any]]) -> pa.Table:
    names = sorted({name for h in headers for name in h})
    columns: dict[str, Any] = {"body": pa.array(bodies, pa.binary())}
    for name in names:
        columns[name] = pa.array([h.get(name) for h in headers], pa.string())
    if case.url is not None:
        columns["url"] = pa.array([case.url] * len(bodies), pa.string())
    return pa.table(columns)


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_answers_equal_single_verifications(case: Case) -> None:
    verifier = case.verifier()
    bodies, headers = rows_for(case, 400)
    table = table_for(case, bodies, headers)
    url = {"url": "url"} if case.url is not None else {}
    found = verify_arrow(verifier, table, now=NOW, **url)
    assert isinstance(found, pa.BooleanArray) and found.null_count == 0
    singles = [
        outcome(lambda b=b, h=h: verifier.verify(b, h, **case.options(NOW))) is None
        for b, h in zip(bodies, headers, strict=True)
    ]
    assert found.to_pylist() == singles
    assert found.to_pylist() == verifier.verify_many(
        bodies, headers, **case.batch(NOW, len(bodies))
    )
    assert True in singles and False in singles


def test_linktor_verifier_and_its_optional_timestamp() -> None:
    verifier = LinktorVerifier("arrow linktor secret")
    bodies = [b'{"id":"evt_%d"}' % i for i in range(50)]
    signatures = [verifier.sign(b) for b in bodies]
    stamps = [None if i % 2 else str(NOW + (400 if i % 5 == 0 else 0)) for i in range(50)]
    table = pa.table(
        {"body": bodies, "X-Linktor-Signature": signatures, "X-Linktor-Timestamp": stamps}
    )
    expected = [
        verifier.verify_request(
            b,
            {k: v for k, v in (("x-linktor-signature", s), ("x-linktor-timestamp", t)) if v},
            now=NOW,
        )
        for b, s, t in zip(bodies, signatures, stamps, strict=True)
    ]
    assert verify_arrow(verifier, table, now=NOW).to_pylist() == expected
    assert False in expected
    # The timestamp column may be absent altogether.
    assert (
        verify_arrow(verifier, table.drop_columns(["X-Linktor-Timestamp"]), now=NOW).to_pylist()
        == [True] * 50
    )


def standard_table(count: int = 200) -> tuple[StandardWebhook, pa.Table]:
    webhook = StandardWebhook(WHSEC)
    bodies = [b'{"n":%d}' % i for i in range(count)]
    ids = [f"msg_{i}" for i in range(count)]
    signatures = [
        webhook.sign(i, NOW, b) if n % 10 else "v1,bm9wZQ=="
        for n, (i, b) in enumerate(zip(ids, bodies, strict=True))
    ]
    table = pa.table(
        {
            "body": pa.array(bodies, pa.binary()),
            "webhook-id": ids,
            "webhook-timestamp": [str(NOW)] * count,
            "webhook-signature": signatures,
        }
    )
    return webhook, table


EXPECTED = [n % 10 != 0 for n in range(200)]


@pytest.mark.parametrize(
    "body_type",
    [
        pa.binary(),
        pa.large_binary(),
        pa.string(),
        pa.large_string(),
        pa.binary_view(),
        pa.string_view(),
    ],
    ids=str,
)
def test_column_types(body_type: pa.DataType) -> None:
    webhook, table = standard_table()
    columns = {name: table[name] for name in table.column_names}
    columns["body"] = table["body"].cast(body_type)
    columns["webhook-signature"] = table["webhook-signature"].cast(pa.large_string())
    columns["webhook-id"] = table["webhook-id"].dictionary_encode()
    assert verify_arrow(webhook, pa.table(columns), now=NOW).to_pylist() == EXPECTED


def test_slices_chunks_batches_and_empty() -> None:
    webhook, table = standard_table()
    assert verify_arrow(webhook, table.slice(37, 100), now=NOW).to_pylist() == EXPECTED[37:137]
    chunked = pa.Table.from_batches(table.to_batches(max_chunksize=23))
    assert verify_arrow(webhook, chunked, now=NOW).to_pylist() == EXPECTED
    batch = table.to_batches()[0].slice(5, 50)
    assert verify_arrow(webhook, batch, now=NOW).to_pylist() == EXPECTED[5:55]
    empty = verify_arrow(webhook, table.slice(0, 0), now=NOW)
    assert len(empty) == 0 and empty.type == pa.bool_()


def test_nulls() -> None:
    webhook, table = standard_table(20)
    body = pa.array(
        [None if i == 3 else v for i, v in enumerate(table["body"].to_pylist())], pa.binary()
    )
    ids = pa.array([None if i == 4 else v for i, v in enumerate(table["webhook-id"].to_pylist())])
    nulled = table.set_column(0, "body", body).set_column(1, "webhook-id", ids)
    expected = [n % 10 != 0 and n not in (3, 4) for n in range(20)]
    assert verify_arrow(webhook, nulled, now=NOW).to_pylist() == expected


def test_header_columns_by_mapping_case_and_svix_fallback() -> None:
    webhook, table = standard_table()
    renamed = table.rename_columns(["payload", "Webhook-Id", "ts", "sig"])
    found = verify_arrow(
        webhook,
        renamed,
        body="payload",
        headers={"webhook-timestamp": "ts", "Webhook-Signature": "sig"},
        now=NOW,
    )
    assert found.to_pylist() == EXPECTED
    # svix-id fills in where webhook-id is null.
    ids = table["webhook-id"].to_pylist()
    mixed = table.set_column(
        1, "webhook-id", pa.array([None if i % 2 else v for i, v in enumerate(ids)])
    )
    mixed = mixed.append_column(
        "svix-id", pa.array([v if i % 2 else None for i, v in enumerate(ids)])
    )
    assert verify_arrow(webhook, mixed, now=NOW).to_pylist() == EXPECTED


def test_times_per_row_and_tolerance() -> None:
    webhook, table = standard_table()
    late = verify_arrow(webhook, table, now=NOW + 400)
    assert late.to_pylist() == [False] * 200
    assert verify_arrow(webhook, table, now=NOW + 400, tolerance=None).to_pylist() == EXPECTED
    assert verify_arrow(webhook, table, now=NOW + 400, tolerance=500).to_pylist() == EXPECTED
    assert (
        verify_arrow(webhook, table, now=NOW + 400, tolerance=SCHEME_DEFAULT).to_pylist()
        == [False] * 200
    )
    received = [NOW + (1000 if i % 3 == 0 else 10) for i in range(200)]
    expected = [e and i % 3 != 0 for i, e in enumerate(EXPECTED)]
    for column in (
        pa.array(received, pa.int64()),
        pa.array([float(r) for r in received]),
        pa.array([r * 1_000_000 for r in received], pa.timestamp("us", "UTC")),
        pa.array([r * 1000 for r in received], pa.timestamp("ms")),
    ):
        timed = table.append_column("received_at", column)
        assert verify_arrow(webhook, timed, now="received_at").to_pylist() == expected
    # A null time skips that row's timestamp check.
    nulls = table.append_column("received_at", pa.array([None] * 200, pa.float64()))
    assert verify_arrow(webhook, nulls, now="received_at").to_pylist() == EXPECTED


def peak_arrow_allocation(call: Any) -> int:
    """The most bytes Arrow's memory pool held at once during ``call()``, above the start."""
    tracked = pa.proxy_memory_pool(pa.default_memory_pool())
    previous = pa.default_memory_pool()
    pa.set_memory_pool(tracked)
    try:
        call()
    finally:
        pa.set_memory_pool(previous)
    return int(tracked.max_memory())


def test_binary_columns_are_read_in_place() -> None:
    """Verifying 4 MiB of bodies allocates only the answers in Arrow's memory pool; a column
    that has to be cast (a view type) shows what a copy would cost."""
    webhook = StandardWebhook(WHSEC)
    bodies = [bytes([i % 251]) * 1024 for i in range(4096)]
    table = pa.table(
        {
            "body": pa.array(bodies, pa.binary()),
            "webhook-id": ["m"] * 4096,
            "webhook-timestamp": [str(NOW)] * 4096,
            "webhook-signature": [webhook.sign("m", NOW, b) for b in bodies],
        }
    ).combine_chunks()
    in_place = peak_arrow_allocation(lambda: verify_arrow(webhook, table, now=NOW))
    assert in_place < 64 * 1024
    viewed = table.set_column(0, "body", table["body"].cast(pa.binary_view()))
    copied = peak_arrow_allocation(lambda: verify_arrow(webhook, viewed, now=NOW))
    assert copied >= 4 * 1024 * 1024
    assert pc.all(verify_arrow(webhook, table, now=NOW)).as_py()


def test_many_threads_at_once() -> None:
    webhook, table = standard_table()
    results: list[list[bool]] = []
    lock = threading.Lock()

    def work() -> None:
        found = verify_arrow(webhook, table, now=NOW).to_pylist()
        with lock:
            results.append(found)

    threads = [threading.Thread(target=work) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert results == [EXPECTED] * 6


def test_errors() -> None:
    webhook, table = standard_table(10)
    with pytest.raises(TypeError, match="HmacVerifier"):
        verify_arrow(HmacVerifier("s"), table)
    with pytest.raises(TypeError, match="Table or RecordBatch"):
        verify_arrow(webhook, table.to_pydict())  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="'payload'"):
        verify_arrow(webhook, table, body="payload")
    with pytest.raises(ValueError, match="webhook-signature"):
        verify_arrow(webhook, table.drop_columns(["webhook-signature"]))
    with pytest.raises(ValueError, match="'nope'"):
        verify_arrow(webhook, table, headers={"webhook-id": "nope"})
    with pytest.raises(TypeError, match="binary or string"):
        verify_arrow(webhook, table.set_column(0, "body", pa.array(range(10))))
    with pytest.raises(TypeError, match="timestamp or numeric"):
        verify_arrow(webhook, table, now="webhook-id")
    twilio = Twilio("t")
    form = pa.table({"body": [b"a=1"], "X-Twilio-Signature": ["x"]})
    with pytest.raises(ValueError, match="url="):
        verify_arrow(twilio, form)
    with pytest.raises(ValueError, match="tolerance"):
        verify_arrow(webhook, table, tolerance=-1)
