"""Scale-out: stateless receiver processes in front of an engine that replicates.

Two ``relaywire ingest`` processes share one JetStream stream, and one Redis stream: the same
delivery sent to both is stored once. On a 3-node JetStream cluster with 3 replicas, the stream
leader is killed under load, then a second node, so that no quorum is left: the receivers answer
503 meanwhile, recover when the nodes come back, and every delivery they acknowledged is stored,
once.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import nats
from _ingest_servers import NatsCluster
from _ingest_support import STANDARD_SECRET, receiver_process, standard_headers

from relaywire.ingest import read

CONFIG = f"""
[[sources]]
name = "std"
path = "/hooks/std"
scheme = "standard"
secrets = ["{STANDARD_SECRET}"]
"""


def post(url: str, msg_id: str, body: bytes) -> httpx.Response:
    return httpx.post(url + "/hooks/std", content=body, headers=standard_headers(body, msg_id))


def two_receivers_store_once(tmp_path: Path, sink: str) -> None:
    with (
        receiver_process(tmp_path, CONFIG, sink) as first,
        receiver_process(tmp_path, CONFIG, sink) as second,
    ):
        body = b'{"type":"order.created","n":1}'
        answers = [post(r.url, "msg_shared", body).json() for r in (first, second, first)]
        assert answers == [{"status": "stored"}, {"status": "duplicate"}, {"status": "duplicate"}]
        for i in range(20):
            receiver = (first, second)[i % 2]
            assert post(receiver.url, f"msg_{i}", f'{{"n":{i}}}'.encode()).status_code == 200
        # Both at once, many times: still one copy.
        with httpx.Client() as client:
            racing = b'{"race":true}'
            headers = standard_headers(racing, "msg_race")

            def race(url: str) -> int:
                return client.post(url + "/hooks/std", content=racing, headers=headers).status_code

            threads = [threading.Thread(target=race, args=(r.url,)) for r in (first, second) * 4]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
    stored = [(d.id, d.body) for d in read(sink)]
    ids = [i for i, _ in stored]
    assert sorted(ids) == sorted(["msg_shared", "msg_race", *(f"msg_{i}" for i in range(20))])
    assert stored[0] == ("msg_shared", body)


def test_two_receivers_share_one_jetstream_stream(tmp_path: Path, nats_server: Any) -> None:
    two_receivers_store_once(tmp_path, nats_server.url("EVENTS"))


def test_two_receivers_share_one_redis_stream(tmp_path: Path, redis_server: Any) -> None:
    two_receivers_store_once(tmp_path, redis_server.url("events"))


def test_two_receivers_share_one_stream_on_redis_cluster(
    tmp_path: Path, redis_cluster: Any
) -> None:
    two_receivers_store_once(tmp_path, redis_cluster.url("events"))


# -- the 3-node JetStream cluster ------------------------------------------------------------------


async def _stream_leader(servers: list[str], stream: str) -> str:
    nc = await nats.connect(servers=servers, connect_timeout=2, max_reconnect_attempts=2)
    try:
        info = await nc.jetstream(timeout=2).stream_info(stream)
        assert info.cluster is not None and info.cluster.leader
        return str(info.cluster.leader)
    finally:
        await nc.close()


class Sender:
    """Senders that behave like a webhook platform: each delivery is retried (after 503s and
    connection errors) until it is answered 200, spread over the receivers."""

    def __init__(self, urls: list[str], count: int) -> None:
        self.urls = urls
        self.todo = [f"msg_{i}" for i in range(count)]
        self.acknowledged: set[str] = set()
        self.statuses: dict[int | str, int] = {}
        self.lock = threading.Lock()
        self.deadline = time.monotonic() + 120
        self.threads = [threading.Thread(target=self._run, args=(i,)) for i in range(4)]

    def _record(self, status: int | str) -> None:
        with self.lock:
            self.statuses[status] = self.statuses.get(status, 0) + 1

    def _run(self, index: int) -> None:
        urls = itertools.cycle(self.urls[index % len(self.urls) :] + self.urls)
        with httpx.Client(timeout=5) as client:
            for msg_id in self.todo[index::4]:
                body = f'{{"id":"{msg_id}","pad":"{"x" * 200}"}}'.encode()
                while time.monotonic() < self.deadline:
                    try:
                        reply = client.post(
                            next(urls) + "/hooks/std",
                            content=body,
                            headers=standard_headers(body, msg_id),
                        )
                    except httpx.HTTPError as exc:
                        self._record(type(exc).__name__)
                        time.sleep(0.05)
                        continue
                    self._record(reply.status_code)
                    if reply.status_code == 200:
                        with self.lock:
                            self.acknowledged.add(msg_id)
                        break
                    time.sleep(0.05)

    def seen(self, status: int | str) -> int:
        with self.lock:
            return self.statuses.get(status, 0)

    def count(self) -> int:
        with self.lock:
            return len(self.acknowledged)

    def __enter__(self) -> Sender:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        for thread in self.threads:
            thread.join(150)


def _wait(condition: Any, what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


def test_losing_the_stream_leader_and_quorum_under_load(
    tmp_path: Path, nats_cluster: NatsCluster
) -> None:
    cluster = nats_cluster
    sink = cluster.url("EVENTS", replicas="3", timeout="1")
    servers = [f"nats://{node.address}" for node in cluster.nodes]
    total = 600
    with contextlib.ExitStack() as stack:
        receivers = [
            stack.enter_context(receiver_process(tmp_path, CONFIG, sink)) for _ in range(2)
        ]
        with Sender([r.url for r in receivers], total) as sender:
            _wait(lambda: sender.count() >= 100, "the first deliveries were never acknowledged")
            leader = cluster.node(asyncio.run(_stream_leader(servers, "EVENTS")))
            leader.stop(kill=True)  # SIGKILL the stream leader under load
            survivor = next(node for node in cluster.nodes if node is not leader)
            survivor.stop(kill=True)  # and a second node: no quorum is left
            _wait(lambda: sender.seen(503) > 0, "no 503 while the stream had no quorum")
            unavailable = [httpx.get(r.url + "/health").status_code for r in receivers]
            assert 503 in unavailable
            leader.start()
            survivor.start()
            # Recovery: both receivers ready again, and the load finishes.
            for receiver in receivers:
                _wait(
                    lambda r=receiver: httpx.get(r.url + "/health").status_code == 200,
                    "a receiver never recovered",
                )
        assert sender.count() == total, sender.statuses
    stored = [d.id for d in read(cluster.url("EVENTS"))]
    assert len(stored) == len(set(stored)), "a delivery was stored twice"
    assert set(stored) == sender.acknowledged  # no acknowledged delivery was lost
