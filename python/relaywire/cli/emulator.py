"""``relaywire emulator``: serve the emulator in the foreground and print how to reach it."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from types import FrameType

__all__ = ["add_arguments", "run", "run_emulator"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to bind (default: %(default)s)"
    )
    parser.add_argument(
        "--port",
        type=int,
        default=8750,
        help="port to bind; 0 picks a free one (default: %(default)s)",
    )
    parser.add_argument(
        "--no-seed", action="store_true", help="start empty, without the demo credentials and data"
    )
    parser.add_argument(
        "--linktor-server-profile",
        default="code",
        choices=["code", "documented"],
        help="how /linktor/api/v1 behaves: 'code' does what the self-hosted server's code does, "
        "limits included; 'documented' what its documentation describes (default: %(default)s)",
    )
    parser.add_argument("--ssl-certfile", help="serve HTTPS/WSS with this PEM certificate chain")
    parser.add_argument(
        "--ssl-keyfile", help="the certificate's private key (if not in --ssl-certfile)"
    )
    parser.add_argument(
        "--log-level",
        default="warning",
        choices=["critical", "error", "warning", "info", "debug"],
        help="server log level (default: %(default)s)",
    )


def run(args: argparse.Namespace) -> int:
    return run_emulator(
        host=args.host,
        port=args.port,
        seed=not args.no_seed,
        log_level=args.log_level,
        linktor_server_profile=args.linktor_server_profile,
        ssl_certfile=args.ssl_certfile,
        ssl_keyfile=args.ssl_keyfile,
    )


def run_emulator(
    *,
    host: str,
    port: int,
    seed: bool,
    log_level: str,
    linktor_server_profile: str = "code",
    ssl_certfile: str | None = None,
    ssl_keyfile: str | None = None,
) -> int:
    try:
        from relaywire.emulator import Emulator
    except ImportError as exc:
        print(f"relaywire emulator: {exc}", file=sys.stderr)
        return 1
    from relaywire.emulator.daguito import state as dg
    from relaywire.emulator.linktor import store as lk

    try:
        emulator = Emulator(
            host=host,
            port=port,
            seed=seed,
            log_level=log_level,
            linktor_server_profile=linktor_server_profile,
            ssl_certfile=ssl_certfile,
            ssl_keyfile=ssl_keyfile,
        )
    except ValueError as exc:
        print(f"relaywire emulator: {exc}", file=sys.stderr)
        return 2
    try:
        emulator.start()
    except RuntimeError as exc:  # for example an unreadable certificate
        print(f"relaywire emulator: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"relaywire emulator: cannot listen on {host}:{port}: {exc}", file=sys.stderr)
        return 1
    stop = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    lines = [
        f"relaywire emulator listening on {emulator.url}",
        f"  health            GET {emulator.url}/health",
        f"  Daguito           {emulator.url}  (stream: {emulator.ws_url}/v1/webhooks/<id>/stream)",
        f"  Linktor (SDK)     {emulator.linktor_url}  (realtime: {emulator.ws_url}/linktor/ws)",
        f"  Linktor (server)  {emulator.linktor_server_url}  "
        f"(profile {linktor_server_profile!r}; realtime: {emulator.ws_url}/linktor/api/v1/ws)",
    ]
    if seed:
        lines += [
            "demo credentials:",
            f"  Daguito  webhook {dg.DEMO_WEBHOOK_ID} token {dg.DEMO_WEBHOOK_TOKEN}; "
            f"org key {dg.DEMO_ORG_KEY}; account key {dg.DEMO_ACCOUNT_KEY}; "
            f"KB source {dg.DEMO_SOURCE_ID}; flow slug {dg.DEMO_FLOW_SLUG}",
            f"  Linktor  API key {lk.DEMO_API_KEY}; login {lk.DEMO_EMAIL} / {lk.DEMO_PASSWORD}; "
            f"conversation {lk.DEMO_CONVERSATION_ID}",
        ]
    lines.append("press Ctrl+C to stop")
    print("\n".join(lines), flush=True)
    try:
        while not stop.wait(0.5):
            pass
    finally:
        emulator.stop()
    print("relaywire emulator stopped", flush=True)
    return 0
