"""The ``relaywire`` command: ``relaywire demo`` runs the main job."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from relaywire import __version__


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="relaywire",
        description="Fast, reliable Python clients for Daguito and Linktor, on a Rust core.",
    )
    parser.add_argument("--version", action="version", version=f"relaywire {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    demo = commands.add_parser(
        "demo",
        help="show what relaywire does, offline, with a short speed table",
        description="Sign and verify sample webhooks with each scheme, reject tampered ones, "
        "and time relaywire against the standard-library path side by side.",
    )
    demo.add_argument(
        "--no-speed", action="store_true", help="skip the speed table (runs in well under a second)"
    )
    emulator = commands.add_parser(
        "emulator",
        help="run the local Daguito + Linktor emulator until interrupted",
        description="Serve both platforms' protocols on a local port for offline development: "
        "Daguito at the root, Linktor under /linktor (SDK protocol) and /linktor/api/v1 "
        "(self-hosted server protocol). Needs the relaywire[emulator] extra.",
    )
    emulator.add_argument(
        "--host", default="127.0.0.1", help="address to bind (default: %(default)s)"
    )
    emulator.add_argument(
        "--port",
        type=int,
        default=8750,
        help="port to bind; 0 picks a free one (default: %(default)s)",
    )
    emulator.add_argument(
        "--no-seed", action="store_true", help="start empty, without the demo credentials and data"
    )
    emulator.add_argument(
        "--log-level",
        default="warning",
        choices=["critical", "error", "warning", "info", "debug"],
        help="server log level (default: %(default)s)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = _build_parser()
    args = parser.parse_args(argv)
    if args.command == "demo":
        from relaywire.demo import run_demo

        return run_demo(speed=not args.no_speed)
    if args.command == "emulator":
        from relaywire.emulator_cli import run_emulator

        return run_emulator(
            host=args.host, port=args.port, seed=not args.no_seed, log_level=args.log_level
        )
    parser.print_help()
    return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
