"""``relaywire ingest``: serve the webhook receiver; ``tail`` and ``stats`` read a sink.

::

    relaywire ingest --config ingest.toml [--host H] [--port 8760] [--sink URL] [--workers N]
    relaywire ingest tail --sink URL [--after CURSOR] [--follow]
    relaywire ingest stats [--sink URL]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

__all__ = ["add_arguments", "run"]

_DEFAULT_SINK = "sqlite:///relaywire-ingest.db"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", help="the sources, as a TOML file (see the README's Ingest)")
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to bind (default: %(default)s)"
    )
    parser.add_argument("--port", type=int, default=8760, help="port (default: %(default)s)")
    parser.add_argument(
        "--sink",
        help=f"where deliveries are stored: sqlite:///FILE, nats://HOST:PORT/STREAM or "
        f"redis://HOST:PORT/DB?stream=NAME (default: the config's sink, else {_DEFAULT_SINK})",
    )
    parser.add_argument(
        "--workers", type=int, default=1, help="worker processes (default: %(default)s)"
    )
    parser.add_argument(
        "--server",
        choices=["granian", "uvicorn"],
        default="granian",
        help="HTTP server (default: %(default)s, the faster one here; see the README)",
    )
    parser.add_argument(
        "--log-level",
        default="warning",
        choices=["critical", "error", "warning", "info", "debug"],
        help="log level (default: %(default)s)",
    )
    commands = parser.add_subparsers(dest="ingest_command", metavar="{tail,stats}")
    tail = commands.add_parser(
        "tail",
        help="print stored deliveries as JSON lines",
        description="Print stored "
        "deliveries in order as JSON lines: source, id, received_at, headers, body (UTF-8 text, "
        "or base64 in body_base64 when it is not UTF-8) and cursor.",
    )
    _sink_options(tail)
    tail.add_argument("--after", help="start after this cursor (default: from the start)")
    tail.add_argument(
        "--follow", action="store_true", help="keep printing new deliveries until interrupted"
    )
    tail.add_argument(
        "--interval", type=float, default=0.5, help="seconds between polls with --follow"
    )
    stats = commands.add_parser(
        "stats",
        help="count stored deliveries per source",
        description="Print what a sink holds: deliveries per source, the first and last "
        "cursor and receive time.",
    )
    _sink_options(stats)
    stats.add_argument("--json", action="store_true", help="print one JSON object")


def _sink_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--sink", help=f"the sink URL (default: --config's sink, else {_DEFAULT_SINK})"
    )
    parser.add_argument("--config", help="take the sink from this TOML file's `sink`")


def run(args: argparse.Namespace) -> int:
    metrics_dir = None
    if args.ingest_command is None and args.workers > 1:
        # Before prometheus_client is imported: it picks its multiprocess mode at import, and
        # the workers inherit this process's modules.
        metrics_dir = tempfile.mkdtemp(prefix="relaywire-ingest-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
    try:
        import relaywire.ingest  # noqa: F401
    except ImportError as exc:
        print(f"relaywire ingest: {exc}", file=sys.stderr)
        return 1
    from relaywire.ingest import IngestConfigError, SinkError

    try:
        if args.ingest_command == "tail":
            return _tail(args)
        if args.ingest_command == "stats":
            return _stats(args)
        return _serve(args)
    except (IngestConfigError, SinkError) as exc:
        print(f"relaywire ingest: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    finally:
        if metrics_dir is not None:
            shutil.rmtree(metrics_dir, ignore_errors=True)


def _sink_url(args: argparse.Namespace) -> str:
    from relaywire.ingest import load_config

    if args.sink:
        return str(args.sink)
    if args.config:
        configured = load_config(args.config).sink
        if configured:
            return configured
    return _DEFAULT_SINK


def _serve(args: argparse.Namespace) -> int:
    from relaywire.ingest import load_config, open_sink
    from relaywire.ingest._app import IngestApp
    from relaywire.ingest._server import CONFIG_ENV, LOG_LEVEL_ENV, SINK_ENV

    if not args.config:
        print("relaywire ingest: --config FILE is required to serve", file=sys.stderr)
        return 2
    if args.workers < 1:
        print("relaywire ingest: --workers must be at least 1", file=sys.stderr)
        return 2
    config_path = str(Path(args.config).resolve())
    config = load_config(config_path)
    sink_url = args.sink or config.sink or _DEFAULT_SINK
    # Fail here, once, on what every worker would fail on: secrets, schemes, the sink URL.
    probe = IngestApp(config.sources, open_sink(sink_url))
    os.environ[CONFIG_ENV] = config_path
    os.environ[SINK_ENV] = sink_url
    os.environ[LOG_LEVEL_ENV] = args.log_level
    host = f"[{args.host}]" if ":" in args.host else args.host
    print(
        f"relaywire ingest on http://{host}:{args.port} ({args.server}, {args.workers} "
        f"worker{'s' if args.workers > 1 else ''}), sink {probe.sink.redacted_url()}",
        flush=True,
    )
    for source in config.sources:
        print(f"  {source.name:<16} POST {source.path}  ({source.scheme})", flush=True)
    print("  health GET /health, metrics GET /metrics; Ctrl+C stops", flush=True)
    if args.server == "uvicorn":
        _serve_uvicorn(args)
    else:
        _serve_granian(args)
    return 0


def _serve_granian(args: argparse.Namespace) -> None:
    from granian import Granian
    from granian.constants import Interfaces, Loops

    Granian(
        "relaywire.ingest._server:app_from_environment",
        factory=True,
        address=args.host,
        port=args.port,
        # RSGI, granian's own interface: IngestApp implements it, and a body read through it
        # costs a fraction of one through ASGI's receive() (benches/bench_ingest.py).
        interface=Interfaces.RSGI,
        workers=args.workers,
        loop=Loops.uvloop,
        backlog=4096,
        log_level=args.log_level,
        log_access=False,
    ).serve()


def _serve_uvicorn(args: argparse.Namespace) -> None:
    import signal

    import uvicorn

    # uvicorn re-raises the signal that stopped it once it has shut down; with these handlers
    # in place that ends in a normal exit (0) instead of a death by signal.
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: None)
    uvicorn.run(
        "relaywire.ingest._server:app_from_environment",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        loop="uvloop",
        http="httptools",
        lifespan="on",
        log_level=args.log_level,
        access_log=False,
        backlog=4096,
    )


def _as_json(delivery: Any) -> str:
    from base64 import b64encode

    shown: dict[str, Any] = {
        "source": delivery.source,
        "id": delivery.id,
        "received_at": delivery.received_at.isoformat(),
        "headers": delivery.headers,
    }
    try:
        shown["body"] = delivery.body.decode("utf-8")
    except UnicodeDecodeError:
        shown["body_base64"] = b64encode(delivery.body).decode("ascii")
    shown["cursor"] = delivery.cursor
    return json.dumps(shown, ensure_ascii=False)


def _tail(args: argparse.Namespace) -> int:
    from relaywire.ingest import read

    url = _sink_url(args)
    cursor = args.after
    while True:
        for delivery in read(url, after=cursor):
            print(_as_json(delivery), flush=True)
            cursor = delivery.cursor
        if not args.follow:
            return 0
        time.sleep(args.interval)


def _stats(args: argparse.Namespace) -> int:
    from relaywire.ingest import open_sink, stats

    url = _sink_url(args)
    result = stats(url)
    if args.json:
        print(
            json.dumps(
                {
                    "sink": open_sink(url).redacted_url(),
                    "total": result.total,
                    "per_source": result.per_source,
                    "first_cursor": result.first_cursor,
                    "last_cursor": result.last_cursor,
                    "first_received_at": _iso(result.first_received_at),
                    "last_received_at": _iso(result.last_received_at),
                    "details": result.details,
                }
            )
        )
        return 0
    print(f"sink {open_sink(url).redacted_url()}: {result.total} deliveries")
    for source, count in result.per_source.items():
        print(f"  {source:<16} {count}")
    if result.total:
        print(f"  first  {_iso(result.first_received_at)}  cursor {result.first_cursor}")
        print(f"  last   {_iso(result.last_received_at)}  cursor {result.last_cursor}")
    for key, value in result.details.items():
        print(f"  {key}: {value}")
    return 0


def _iso(value: Any) -> str | None:
    return None if value is None else str(value.isoformat())
