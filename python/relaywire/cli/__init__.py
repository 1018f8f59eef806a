"""The ``relaywire`` command, the top floor: one module per command and one per part of the demo.

``relaywire demo`` runs the main job; ``relaywire emulator`` serves the local emulator;
``relaywire verify`` re-verifies archived webhook deliveries; ``relaywire ingest`` serves the
webhook receiver. Each
command module has ``add_arguments(parser)`` and ``run(args) -> int`` and is imported only when its
command runs, so ``relaywire --help`` stays fast and an extra that is not installed only affects its
own command.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from relaywire import __version__

__all__ = ["main"]

# command -> (module, help, description)
_COMMANDS: dict[str, tuple[str, str, str]] = {
    "demo": (
        "relaywire.cli.demo",
        "show what relaywire does, offline, with a short speed table",
        "Sign and verify sample webhooks with each scheme, reject tampered ones, time relaywire "
        "against the standard-library path side by side, then walk through both clients against "
        "an embedded emulator.",
    ),
    "emulator": (
        "relaywire.cli.emulator",
        "run the local Daguito + Linktor emulator until interrupted",
        "Serve both platforms' protocols on a local port for offline development: Daguito at the "
        "root, Linktor under /linktor (SDK protocol) and /linktor/api/v1 (self-hosted server "
        "protocol). Needs the relaywire[emulator] extra.",
    ),
    "verify": (
        "relaywire.cli.verify",
        "re-verify archived webhook deliveries against the sources' secrets",
        "Verify every delivery of a JSON lines archive (or an ingest sink URL) with the "
        "[[sources]] of a TOML file, on every core; print counts per source and per failure "
        "cause; exit 1 if any delivery fails.",
    ),
    "ingest": (
        "relaywire.cli.ingest",
        "receive webhooks: verify, de-duplicate and store each delivery durably",
        "Serve a webhook receiver for the sources in a TOML file: every delivery is verified "
        "on its raw bytes, de-duplicated on its id and durably stored (SQLite, NATS JetStream "
        "or Redis Streams) before it is answered 200. `tail` and `stats` read a sink. Needs "
        "the relaywire[ingest] extra.",
    ),
}


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="relaywire",
        description="Fast, reliable Python clients for Daguito and Linktor, on a Rust core.",
    )
    parser.add_argument("--version", action="version", version=f"relaywire {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module_name, help_text, description) in _COMMANDS.items():
        sub = commands.add_parser(name, help=help_text, description=description)
        importlib.import_module(module_name).add_arguments(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = _build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    module = importlib.import_module(_COMMANDS[args.command][0])
    result: int = module.run(args)
    return result


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
