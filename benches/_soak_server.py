"""The server side of benches/soak.py, in a process of its own: the emulator with its fault
injection on, and a chaos proxy in front of its WebSockets.

    python benches/_soak_server.py CONFIG_JSON

It prints one JSON line, ``{"url": <the emulator>, "proxy": <the proxy's base URL>}``, and
serves until its stdin closes (or SIGTERM); then it prints the proxy's counts as one JSON line
and exits. The configuration (see ``soak.py``) sets:

* ``token_delay``: the emulator's slow-token fault, for every stream session;
* ``rate_limit`` / ``rate_window``: the Linktor rate limit (429 with ``Retry-After``);
* ``fault_interval``: every so many seconds, the next Linktor REST requests fail with 500,
  502 or 503 (some with ``Retry-After``), in turn;
* ``drop_interval`` / ``drop_fraction``: every so many seconds the proxy aborts that share
  of its live connections, both ways (the clients see a reset: close code 1006);
* ``flap_seconds``: for that long after each drop, the proxy accepts new connections and
  aborts them at once (a server that accepts and drops: a client without backoff storms).

The proxy runs on the emulator's own event loop and counts, per wall-clock second, the
connections it accepted (connection attempts), the ones it dropped and the ones it flapped.
"""

from __future__ import annotations

import asyncio
import json
import random
import signal
import sys
import threading
import time
from collections import Counter
from typing import Any, TextIO

from relaywire.emulator import Emulator, RateLimit


def print_tasks(out: TextIO) -> None:
    """Where each task of the running loop is suspended: every frame down its chain of awaits
    (``Task.print_stack`` shows only the outermost one)."""
    for task in asyncio.all_tasks():
        if task is asyncio.current_task():
            continue
        print(f"{task!r}", file=out)
        coro: Any = task.get_coro()
        while coro is not None:
            frame = getattr(coro, "cr_frame", None) or getattr(coro, "ag_frame", None)
            frame = frame or getattr(coro, "gi_frame", None)
            if frame is not None:
                code = frame.f_code
                print(f"    {code.co_filename}:{frame.f_lineno} {code.co_name}", file=out)
            coro = (
                getattr(coro, "cr_await", None)
                or getattr(coro, "ag_await", None)
                or getattr(coro, "gi_yieldfrom", None)
            )
    out.flush()


async def _print_tasks() -> None:
    print_tasks(sys.stderr)


class _Half(asyncio.Protocol):
    """One side of a proxied connection; writes what it reads to its peer, in order, with flow
    control both ways. What the client sends before the upstream connection exists waits
    (with an end of stream, if one came) and is written the moment it is made."""

    def __init__(self, link: Link) -> None:
        self.link = link
        self.transport: asyncio.Transport | None = None
        self.peer: _Half | None = None
        self.pending: list[bytes] = []
        self.pending_eof = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        peer = self.peer
        if self.link.closed:
            transport.abort()
        elif peer is not None and (peer.pending or peer.pending_eof):
            for data in peer.pending:
                transport.write(data)
            peer.pending.clear()
            if peer.pending_eof and transport.can_write_eof():
                transport.write_eof()

    def _writable(self) -> asyncio.Transport | None:
        """The peer's transport, when it can take data (None while it is being made)."""
        peer = self.peer
        if self.link.closed or peer is None or peer.transport is None:
            return None
        return None if peer.transport.is_closing() else peer.transport

    def data_received(self, data: bytes) -> None:
        if self.link.closed:
            return
        target = self._writable()
        if target is not None:
            target.write(data)
        elif self.peer is not None and self.peer.transport is None:
            self.pending.append(data)

    def eof_received(self) -> bool | None:
        target = self._writable()
        if target is not None and target.can_write_eof():
            target.write_eof()
            return True
        if not self.link.closed and self.peer is not None and self.peer.transport is None:
            self.pending_eof = True
            return True
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        self.link.close()

    def pause_writing(self) -> None:
        if self.peer is not None and self.peer.transport is not None:
            self.peer.transport.pause_reading()

    def resume_writing(self) -> None:
        if self.peer is not None and self.peer.transport is not None:
            self.peer.transport.resume_reading()


class Link:
    """A client connection and its connection to the emulator."""

    def __init__(self, proxy: ChaosProxy) -> None:
        self.proxy = proxy
        self.client = _Half(self)
        self.server = _Half(self)
        self.client.peer, self.server.peer = self.server, self.client
        self.closed = False

    async def open_upstream(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            await loop.create_connection(lambda: self.server, "127.0.0.1", self.proxy.target)
        except OSError:
            self.close()

    def close(self, abort: bool = False) -> None:
        if self.closed:
            return
        self.closed = True
        self.proxy.links.discard(self)
        for half in (self.client, self.server):
            if half.transport is not None:
                if abort:
                    half.transport.abort()
                else:
                    half.transport.close()


class _Flap(asyncio.Protocol):
    """Accepts, then drops at once."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        transport.abort()  # type: ignore[attr-defined]


class ChaosProxy:
    def __init__(
        self, target: int, drop_interval: float, drop_fraction: float, flap_seconds: float
    ) -> None:
        self.target = target
        self.drop_interval = drop_interval
        self.drop_fraction = drop_fraction
        self.flap_seconds = flap_seconds
        self.flap_until = 0.0
        self.links: set[Link] = set()
        self.attempts: Counter[int] = Counter()
        self.drops: Counter[int] = Counter()
        self.flaps: Counter[int] = Counter()
        self.rng = random.Random(14)
        self.server: asyncio.Server | None = None
        self.dropper: asyncio.Task[None] | None = None

    async def start(self) -> int:
        loop = asyncio.get_running_loop()
        self.server = await loop.create_server(self._accept, "127.0.0.1", 0, backlog=4096)
        if self.drop_interval > 0:
            self.dropper = loop.create_task(self._drop_loop())
        port: int = self.server.sockets[0].getsockname()[1]
        return port

    def _accept(self) -> asyncio.Protocol:
        now = time.time()
        self.attempts[int(now)] += 1
        if now < self.flap_until:
            self.flaps[int(now)] += 1
            return _Flap()
        link = Link(self)
        self.links.add(link)
        asyncio.get_running_loop().create_task(link.open_upstream())
        return link.client

    async def _drop_loop(self) -> None:
        while True:
            await asyncio.sleep(self.drop_interval)
            live = list(self.links)
            count = round(len(live) * self.drop_fraction)
            for link in self.rng.sample(live, min(count, len(live))):
                link.close(abort=True)
            now = time.time()
            self.drops[int(now)] += count
            self.flap_until = now + self.flap_seconds

    async def stop(self) -> dict[str, Any]:
        if self.dropper is not None:
            self.dropper.cancel()
        if self.server is not None:
            self.server.close()
        for link in list(self.links):
            link.close(abort=True)
        return {
            "attempts": dict(self.attempts),
            "drops": dict(self.drops),
            "flaps": dict(self.flaps),
        }


def fault_schedule(emu: Emulator, interval: float, stop: threading.Event) -> None:
    """Every ``interval`` seconds the next Linktor REST requests fail, with 500, 502 or 503 in
    turn (503 with a ``Retry-After``).

    A batch is queued only once the one before it was used up: faults queued while few
    requests come (the run winding down, the final listing) must not pile up, or a client that
    backs off between its retries meets more queued failures than it has retries, and the
    backlog outgrows it for good (a server that fails every request)."""
    turn = 0
    while not stop.wait(interval):
        if emu.faults.pending_http():
            continue
        status = (500, 502, 503)[turn % 3]
        retry_after = 0.2 if status == 503 else None
        emu.faults.http(status, 3, path_prefix="/linktor", retry_after=retry_after)
        turn += 1


def main() -> int:
    config = json.loads(sys.argv[1])
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda signum, frame: stop.set())
    rate_limit = RateLimit(config["rate_limit"], config["rate_window"])
    with Emulator(rate_limit=rate_limit) as emu:
        # SIGUSR1: print where the emulator's tasks wait (soak.py sends it when a run
        # overruns); from a thread, since the handler runs on the main thread, which waits.
        signal.signal(
            signal.SIGUSR1,
            lambda signum, frame: threading.Thread(
                target=emu.call, args=(_print_tasks,), daemon=True
            ).start(),
        )
        emu.faults.stream(token_delay=config["token_delay"])
        proxy = ChaosProxy(
            emu.port, config["drop_interval"], config["drop_fraction"], config["flap_seconds"]
        )
        port = emu.call(proxy.start)
        print(json.dumps({"url": emu.url, "proxy": f"http://127.0.0.1:{port}"}), flush=True)
        threading.Thread(
            target=fault_schedule, args=(emu, config["fault_interval"], stop), daemon=True
        ).start()

        def wait_for_eof() -> None:
            sys.stdin.read()
            stop.set()

        threading.Thread(target=wait_for_eof, daemon=True).start()
        stop.wait()
        print(json.dumps(emu.call(proxy.stop)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
