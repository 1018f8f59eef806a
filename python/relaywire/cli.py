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
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = _build_parser()
    args = parser.parse_args(argv)
    if args.command == "demo":
        from relaywire.demo import run_demo

        return run_demo(speed=not args.no_speed)
    parser.print_help()
    return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
