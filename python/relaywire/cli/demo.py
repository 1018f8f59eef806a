"""``relaywire demo``: what relaywire does, offline, in a few seconds.

The parts run in order: webhook verification on the Rust core (:mod:`.demo_webhooks`), then the
Daguito and Linktor clients against an embedded emulator (:mod:`.demo_daguito`,
:mod:`.demo_linktor`), then the emulator's webhooks into an embedded receiver
(:mod:`.demo_ingest`).
"""

from __future__ import annotations

import argparse
import json

from relaywire import __version__

__all__ = ["add_arguments", "run", "run_demo"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--no-speed", action="store_true", help="skip the speed table (runs in well under a second)"
    )


def run(args: argparse.Namespace) -> int:
    return run_demo(speed=not args.no_speed)


def run_demo(*, speed: bool = True) -> int:
    from relaywire.cli.demo_webhooks import SAMPLE_EVENT, show_schemes, speed_table

    print(f"relaywire {__version__} demo\n")
    print("Webhook verification on the Rust core\n")
    show_schemes(json.dumps(SAMPLE_EVENT, ensure_ascii=False).encode("utf-8"))
    if speed:
        speed_table()
    print()
    from relaywire.cli.demo_daguito import run_daguito_demo
    from relaywire.cli.demo_ingest import run_ingest_demo
    from relaywire.cli.demo_linktor import run_linktor_demo
    from relaywire.emulator import Emulator

    with Emulator() as emulator:
        print(f"Emulator serving on {emulator.url}\n")
        failed = run_daguito_demo(emulator.url)
        failed |= run_linktor_demo(emulator.linktor_url)
        failed |= run_ingest_demo(emulator.linktor_url)
    return failed
