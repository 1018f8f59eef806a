"""Shared test configuration."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from hypothesis import settings

from relaywire.emulator import Emulator

# CI runs the property tests derandomized, so that a run's result depends only on the code;
# locally each run explores new examples.
settings.register_profile("ci", derandomize=True, deadline=None)
settings.register_profile("dev", deadline=None)
settings.load_profile("ci" if os.environ.get("CI") else "dev")

_S = TypeVar("_S")


@pytest.fixture
def emu(request: pytest.FixtureRequest) -> Iterator[Emulator]:
    """A fresh emulator on 127.0.0.1 and a free port, with the demo seeds (starts in ~40 ms).

    Its Linktor server dialect runs the default ``"code"`` profile; a test marked with
    ``_emulator_support.DOCUMENTED`` gets the ``"documented"`` one (``emu`` parametrized
    indirectly)."""
    profile = getattr(request, "param", "code")
    with Emulator(linktor_server_profile=profile) as emulator:
        yield emulator


# -- relaywire.ingest: real redis-server and nats-server on loopback ------------------------------


def _server_or_skip(make: Callable[[], _S]) -> _S:
    """Start a server; a missing binary skips locally and fails under CI (CI must install it)."""
    from _ingest_servers import ServerMissingError

    try:
        return make()
    except ServerMissingError as exc:
        if os.environ.get("CI"):
            pytest.fail(f"{exc}: .ci/run must install it")
        pytest.skip(str(exc))


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[Any]:
    """A redis-server with an fsynced AOF on a free loopback port."""
    from _ingest_servers import RedisServer

    server = _server_or_skip(lambda: RedisServer(tmp_path / "redis").start())
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def nats_server(tmp_path: Path) -> Iterator[Any]:
    """A single JetStream nats-server on a free loopback port."""
    from _ingest_servers import NatsServer

    server = _server_or_skip(lambda: NatsServer(tmp_path / "nats").start())
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def nats_cluster(tmp_path: Path) -> Iterator[Any]:
    """Three JetStream nats-server nodes routed to each other on free loopback ports."""
    from _ingest_servers import NatsCluster

    cluster = _server_or_skip(lambda: NatsCluster(tmp_path / "cluster").start())
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def redis_cluster(tmp_path: Path) -> Iterator[Any]:
    """Three redis-server primaries joined into a Redis Cluster on free loopback ports."""
    from _ingest_servers import RedisCluster

    cluster = _server_or_skip(lambda: RedisCluster(tmp_path / "redis-cluster").start())
    try:
        yield cluster
    finally:
        cluster.stop()
