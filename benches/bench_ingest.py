"""relaywire ingest against what users write today, and against the fastest bare server.

Every server runs in its own process on 127.0.0.1; the load generator is wrk (Debian's package),
in its own process, with one thread and 64 connections, replaying distinct pre-signed Standard
Webhooks deliveries (about 1 KiB of JSON each) from a pool made before each run. Rows:

* **ours**: ``relaywire ingest`` with the SQLite sink and one worker (granian), and the same app
  on uvicorn (httptools, uvloop), which is how the command's server was chosen;
* **baseline**: a Starlette route on uvicorn (httptools, uvloop, as ``uvicorn[standard]``
  installs them) verifying with ``standardwebhooks`` and doing an sqlite3 insert and commit per
  request (WAL, synchronous=FULL);
* **floor**: granian, one worker, a bare ASGI app answering 200 without reading the request;
* **durable floor** (informative): granian, one worker, an RSGI app that only reads the body and
  stores it by group commit in SQLite (WAL, synchronous=FULL, the COMMIT on a thread) before
  answering 200: no verification, id, de-duplication, headers or metrics, so no receiver that
  does them stores faster on this server;
* informative: 2 workers, NATS JetStream (one node, and a 3-node cluster with 3 replicas),
  Redis Streams (append-only file fsynced always).

Maximum throughput is wrk's closed loop (each connection sends its next request when the answer
arrives). Debian's wrk has no fixed-rate mode (that is wrk2), so the paced runs (p99 at half our
maximum, the load curve) schedule requests from wrk's ``delay()`` hook: one schedule at the
offered rate shared by all 64 connections, on CLOCK_MONOTONIC through LuaJIT's FFI; a
connection sends when the next slot comes. Below saturation that offers the rate; at and past
it, at most 64 requests are outstanding, so the offered rate falls to what the server answers
and latencies there read low (no coordinated-omission correction as in wrk2). Accepted means
answered 2xx; for our SQLite rows the bench also checks that the database holds every delivery
answered 200 (and at most the requests in flight at the end besides).

    pip install -e '.[ingest,bench]' && python benches/bench_ingest.py [--duration 5] [--quick]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))  # the server helpers the ingest tests use

from _ingest_servers import NatsCluster, NatsServer, RedisServer  # noqa: E402

from relaywire.webhooks import StandardWebhook  # noqa: E402

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
CONNECTIONS = 64
PATH = "/hooks/std"

LUA = r"""
local requests = {}
local count = 0
local next_index = 0
init = function(args)
  local data = assert(io.open(args[1], "rb")):read("*a")
  local position = 1
  for line in io.lines(args[2]) do
    local length = tonumber(line)
    count = count + 1
    requests[count] = data:sub(position, position + length - 1)
    position = position + length
  end
end
request = function()
  next_index = next_index % count + 1
  return requests[next_index]
end
%DELAY%
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '\n{"requests":%d,"duration_us":%d,"connect":%d,"read":%d,"write":%d,"status":%d,' ..
    '"timeout":%d,"p50_us":%d,"p99_us":%d,"max_us":%d}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99), latency.max))
end
"""


# A fixed rate from one thread: one schedule shared by every connection (wrk calls delay()
# before each request), read from CLOCK_MONOTONIC through LuaJIT's FFI. A connection sends when
# its slot comes; when the server is behind, up to 64 requests wait for answers (closed loop).
PACING = r"""
local ffi = require("ffi")
ffi.cdef[[
typedef struct { long tv_sec; long tv_nsec; } relaywire_timespec;
int clock_gettime(int clock, relaywire_timespec *ts);
]]
local clock = ffi.new("relaywire_timespec")
local function now_ms()
  ffi.C.clock_gettime(1, clock)
  return tonumber(clock.tv_sec) * 1000 + tonumber(clock.tv_nsec) / 1e6
end
local interval = %INTERVAL%
local next_at = nil
delay = function()
  local now = now_ms()
  if next_at == nil or next_at < now - 1000 then next_at = now end
  next_at = next_at + interval
  local wait = next_at - now
  if wait < 0 then return 0 end
  return wait
end
"""


@dataclass
class Result:
    name: str
    requests: int
    non_2xx: int
    socket_errors: int
    seconds: float
    p50_ms: float
    p99_ms: float
    pool: int
    note: str = ""

    @property
    def accepted(self) -> int:
        return self.requests - self.non_2xx

    @property
    def rate(self) -> float:
        return self.accepted / self.seconds

    @property
    def wrapped(self) -> bool:
        return self.requests > self.pool


@dataclass
class Bench:
    duration: float
    workdir: Path
    results: list[Result] = field(default_factory=list)
    warmed_up: int = 0

    # -- load ------------------------------------------------------------------------------------

    def pool(self, port: int, size: int) -> tuple[Path, Path]:
        """``size`` distinct signed deliveries as raw HTTP requests, and their lengths."""
        hook = StandardWebhook(SECRET)
        now = int(time.time())
        pad = "x" * 900
        data = self.workdir / "pool.bin"
        index = self.workdir / "pool.idx"
        with data.open("wb") as out, index.open("w") as lengths:
            for i in range(size):
                msg_id = f"msg_{now}_{i}"
                body = (
                    f'{{"type":"invoice.paid","id":"{msg_id}","data":{{"amount":{i},'
                    f'"currency":"eur","note":"{pad}"}}}}'
                ).encode()
                head = (
                    f"POST {PATH} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                    f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
                    f"webhook-id: {msg_id}\r\nwebhook-timestamp: {now}\r\n"
                    f"webhook-signature: {hook.sign(msg_id, now, body)}\r\n\r\n"
                ).encode()
                out.write(head + body)
                lengths.write(f"{len(head) + len(body)}\n")
        return data, index

    def wrk(
        self,
        name: str,
        port: int,
        *,
        rate: float | None = None,
        cap: float = 40_000,
        note: str = "",
    ) -> Result:
        duration = self.duration if rate is None else max(2.0, self.duration * 0.6)
        size = int(duration * (rate if rate else cap) * 1.3) + 1000
        data, index = self.pool(port, size)
        delay = "" if rate is None else PACING.replace("%INTERVAL%", repr(1000 / rate))
        script = self.workdir / "replay.lua"
        script.write_text(LUA.replace("%DELAY%", delay))
        command = [
            "wrk", "-t1", f"-c{CONNECTIONS}", f"-d{duration:.0f}s", "--timeout", "10s",
            "-s", str(script), f"http://127.0.0.1:{port}{PATH}", "--", str(data), str(index),
        ]  # fmt: skip
        output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
        stats = json.loads(output.strip().splitlines()[-1])
        result = Result(
            name=name,
            requests=stats["requests"],
            non_2xx=stats["status"],
            socket_errors=stats["connect"] + stats["read"] + stats["write"] + stats["timeout"],
            seconds=stats["duration_us"] / 1e6,
            p50_ms=stats["p50_us"] / 1000,
            p99_ms=stats["p99_us"] / 1000,
            pool=size,
            note=note,
        )
        if result.wrapped:
            result.note += " (pool wrapped: some requests were repeats)"
        return result

    def measure(self, name: str, port: int, **kwargs: Any) -> Result:
        # Warm up (imports, connections, page cache); its deliveries are stored too.
        self.warmed_up = self.wrk(name, port, rate=2000).accepted
        result = self.wrk(name, port, **kwargs)
        self.results.append(result)
        print(_row(result), flush=True)
        return result


# -- servers ---------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_http(port: int, path: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=1) as reply:
                if reply.status == 200:
                    return
        except OSError as exc:
            if getattr(exc, "code", None) not in (None, 404, 405, 503):
                return
            if getattr(exc, "code", None) in (404, 405):
                return
        time.sleep(0.05)
    raise RuntimeError(f"nothing answered on port {port}")


@contextlib.contextmanager
def _serving(argv: list[str], port: int, ready: str, env: dict[str, str]) -> Iterator[None]:
    process = subprocess.Popen(
        argv,
        env={**os.environ, **env},
        cwd=HERE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        _wait_http(port, ready, process)
        yield
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, 15)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, 9)
            process.wait()


def ours(workdir: Path, sink: str, *, workers: int = 1, server: str = "granian") -> Any:
    config = workdir / "ingest.toml"
    config.write_text(
        f'[[sources]]\nname = "std"\npath = "{PATH}"\nscheme = "standard"\nsecrets = ["{SECRET}"]\n'
    )
    port = _free_port()
    argv = [
        sys.executable, "-m", "relaywire", "ingest", "--config", str(config),
        "--port", str(port), "--sink", sink, "--workers", str(workers), "--server", server,
    ]  # fmt: skip
    return port, _serving(argv, port, "/health", {})


def baseline(workdir: Path) -> Any:
    port = _free_port()
    argv = [
        sys.executable, "-m", "uvicorn", "--factory", "_ingest_apps:baseline",
        "--port", str(port), "--http", "httptools", "--loop", "uvloop",
        "--no-access-log", "--log-level", "warning", "--backlog", "4096",
    ]  # fmt: skip
    env = {"BENCH_DB": str(workdir / "baseline.db"), "BENCH_SECRET": SECRET}
    return port, _serving(argv, port, "/", env)


def _granian(interface: str, target: str, env: Callable[[int], dict[str, str]]) -> Any:
    """granian, one worker, uvloop, serving ``target`` of ``_ingest_apps`` on a free port."""
    port = _free_port()
    argv = [
        sys.executable, "-m", "granian", "--interface", interface, "--workers", "1",
        "--loop", "uvloop", "--port", str(port), "--no-ws", "--log-level", "warning",
        "--backlog", "4096", f"_ingest_apps:{target}",
    ]  # fmt: skip
    return port, _serving(argv, port, "/", env(port))


def floor() -> Any:
    return _granian("asgi", "floor", lambda port: {})


def durable_floor(workdir: Path) -> Any:
    def env(port: int) -> dict[str, str]:
        return {"BENCH_DB": str(workdir / f"durable-floor-{port}.db"), "BENCH_COMMIT": "thread"}

    return _granian("rsgi", "durable_floor", env)


def _drop_databases(workdir: Path) -> None:
    """Remove the runs' SQLite files once their server stopped and they were checked: every run
    starts from an empty database, and the bench's disk use stays bounded (a round writes
    several hundred MB). The sync makes the file system finish the removal (on a disk mounted
    with ``discard``, the trims of the freed blocks) before the next run starts, not during it."""
    for path in workdir.glob("*.db*"):
        path.unlink()
    os.sync()


def _rows(path: Path) -> int:
    with contextlib.closing(sqlite3.connect(path)) as db:
        return int(db.execute("SELECT COUNT(*) FROM deliveries").fetchone()[0])


# -- report ----------------------------------------------------------------------------------------


def _row(r: Result) -> str:
    extra = f", {r.non_2xx} non-2xx" if r.non_2xx else ""
    extra += f", {r.socket_errors} socket errors" if r.socket_errors else ""
    return (
        f"  {r.name:<46} {r.rate:>9,.0f}/s   p50 {r.p50_ms:6.2f} ms   p99 {r.p99_ms:7.2f} ms"
        f"{extra}{r.note}"
    )


def _plot(curves: dict[str, list[tuple[float, float]]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(7, 4.5), dpi=110)
    for name, points in curves.items():
        xs, ys = zip(*points, strict=True)
        axes.plot(xs, ys, marker="o", label=name)
    top = max(max(x for x, _ in p) for p in curves.values())
    axes.plot([0, top], [0, top], color="grey", linestyle=":", linewidth=1, label="offered")
    axes.set_xlabel("offered load (requests/s; wrk, 64 connections on one schedule)")
    axes.set_ylabel("answered 2xx per second (ours, baseline: stored)")
    axes.set_title("relaywire ingest: accepted deliveries vs offered load")
    axes.grid(True, alpha=0.3)
    axes.legend()
    figure.tight_layout()
    figure.savefig(path)
    print(f"\nplot written to {path}")


def _median(results: list[Result]) -> Result:
    return sorted(results, key=lambda r: r.rate)[len(results) // 2]


def _checked(bench: Bench, db: Path, result: Result) -> str:
    """Every 2xx is in the database; at most the requests in flight at the end are extra."""
    rows = _rows(db)
    accepted = result.accepted + bench.warmed_up
    ok = accepted <= rows <= accepted + 2 * CONNECTIONS
    return f"{'ok' if ok else 'MISMATCH'} ({rows} rows, {accepted} answered 200)"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per maximum run")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of the targeted rows")
    parser.add_argument("--quick", action="store_true", help="skip the informative rows")
    parser.add_argument("--no-curve", action="store_true", help="skip the load curve and plot")
    parser.add_argument(
        "--plot", default=str(HERE / "ingest_load.png"), help="PNG path (default: %(default)s)"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="relaywire-bench-ingest-") as tmp:
        work = Path(tmp)
        bench = Bench(args.duration, work)
        print(
            f"wrk -t1 -c{CONNECTIONS}, {args.duration:.0f} s per run, ~1 KiB Standard Webhooks, "
            f"{args.rounds} rounds (contenders alternated; the median round is shown)\n"
        )
        names = {
            "ours": "ours: SQLite, 1 worker (granian)",
            "uvicorn": "ours: SQLite, 1 worker (uvicorn, httptools, uvloop)",
            "baseline": "baseline: Starlette + standardwebhooks + commit",
            "floor": "floor: granian, 1 worker, bare ASGI 200",
            "durable": "durable floor: read + SQLite group commit only",
        }
        runs: dict[str, list[Result]] = {key: [] for key in names}
        checks: list[str] = []
        for round_ in range(args.rounds):
            # The order flips every round, so that no contender always runs first (or last).
            order = list(names) if round_ % 2 == 0 else list(reversed(names))
            for key in order:
                name = names[key]
                db = work / f"{key}-{round_}.db"
                if key == "ours":
                    port, serving = ours(work, f"sqlite:///{db}")
                elif key == "uvicorn":
                    port, serving = ours(work, f"sqlite:///{db}", server="uvicorn")
                elif key == "baseline":
                    port, serving = baseline(work)
                elif key == "durable":
                    port, serving = durable_floor(work)
                else:
                    port, serving = floor()
                with serving:
                    result = bench.measure(name, port, cap=60_000 if key == "floor" else 40_000)
                runs[key].append(result)
                if key in ("ours", "uvicorn"):
                    checks.append(_checked(bench, db, result))
                _drop_databases(work)
        mine, mine_uvicorn, base, bare, durable = (_median(runs[key]) for key in names)

        half = mine.rate / 2
        paced_runs = []
        for round_ in range(args.rounds):
            port, serving = ours(work, f"sqlite:///{work / f'half-{round_}.db'}")
            with serving:
                paced_runs.append(
                    bench.measure(f"ours at half its max ({half:,.0f}/s offered)", port, rate=half)
                )
            _drop_databases(work)
        paced = sorted(paced_runs, key=lambda r: r.p99_ms)[len(paced_runs) // 2]

        if not args.quick:
            print()
            port, serving = ours(work, f"sqlite:///{work / 'two.db'}", workers=2)
            with serving:
                bench.measure("ours: SQLite, 2 workers", port)
            _drop_databases(work)
            with NatsServer(work / "nats1") as nats1:
                port, serving = ours(work, nats1.url("BENCH"))
                with serving:
                    bench.measure("ours: JetStream, 1 node", port)
            with NatsCluster(work / "nats3") as cluster:
                port, serving = ours(work, cluster.url("BENCH", replicas="3"))
                with serving:
                    bench.measure("ours: JetStream, 3 nodes, 3 replicas", port)
            with RedisServer(work / "redis") as redis:
                port, serving = ours(work, redis.url("bench"))
                with serving:
                    bench.measure("ours: Redis Streams, appendfsync always", port)

        if not args.no_curve:
            _curve(bench, work, top=max(bare.rate, mine.rate) * 1.15, plot=Path(args.plot))

    print("\nmedian rounds")
    for result in (mine, mine_uvicorn, base, bare, durable, paced):
        print(_row(result))
    print("\nratios (this run)")
    print(f"  ours / baseline          {mine.rate / base.rate:6.2f}x   target >= 5x")
    print(f"  ours / floor             {mine.rate / bare.rate:6.2f}x   target >= 0.5x")
    rounds = ", ".join(
        f"{d.rate / f.rate:.2f}x" for d, f in zip(runs["durable"], runs["floor"], strict=True)
    )
    print(f"  durable floor / floor    {durable.rate / bare.rate:6.2f}x   (rounds: {rounds})")
    print(f"  p99 at half our max      {paced.p99_ms:6.2f} ms  target <= 25 ms")
    print(f"  granian / uvicorn (ours) {mine.rate / mine_uvicorn.rate:6.2f}x")
    print(f"  SQLite rows vs 200s      {'; '.join(checks)}")
    return 0


def _curve(bench: Bench, work: Path, *, top: float, plot: Path) -> None:
    print("\nload curve (paced)", flush=True)
    curves: dict[str, list[tuple[float, float]]] = {}
    rates = [top * f for f in (0.1, 0.25, 0.4, 0.55, 0.7, 0.85, 1.0)]
    contenders: list[tuple[str, Any]] = [
        ("ours (SQLite, 1 worker)", lambda: ours(work, f"sqlite:///{work / 'curve.db'}")),
        ("baseline", lambda: baseline(work)),
        ("floor (bare granian)", floor),
    ]
    for label, make in contenders:
        port, serving = make()
        points = []
        with serving:
            bench.wrk(label, port, rate=2000)
            for rate in rates:
                r = bench.wrk(label, port, rate=rate)
                points.append((rate, r.rate))
                print(
                    f"  {label:<26} offered {rate:>8,.0f}/s  accepted {r.rate:>8,.0f}/s  "
                    f"p50 {r.p50_ms:6.2f} ms  p99 {r.p99_ms:6.2f} ms",
                    flush=True,
                )
        curves[label] = points
        _drop_databases(work)
    _plot(curves, plot)


if __name__ == "__main__":
    sys.exit(main())
