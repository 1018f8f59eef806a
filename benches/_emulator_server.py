"""The emulator for bench_daguito.py, in a process of its own, with paced token streams.

``python benches/_emulator_server.py TOKEN_DELAY`` starts :class:`relaywire.emulator.Emulator`
(seeded: webhook ``wh_demo``, token ``sk_wh_demo``), sets the stream fault ``token_delay`` for
every session (the HTTP one-shot route ``POST /h/{token}`` is not affected), prints the base URL
and serves until SIGTERM or until its stdin closes.
"""

from __future__ import annotations

import signal
import sys
import threading

from relaywire.emulator import Emulator


def _wait_for_eof(stop: threading.Event) -> None:
    sys.stdin.read()
    stop.set()


def main() -> int:
    token_delay = float(sys.argv[1]) if len(sys.argv) > 1 else 0.0
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda signum, frame: stop.set())
    with Emulator() as emulator:
        emulator.faults.stream(token_delay=token_delay)
        print(emulator.url, flush=True)
        # Stop with the parent even if it dies without terminating us.
        threading.Thread(target=_wait_for_eof, args=(stop,), daemon=True).start()
        stop.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
