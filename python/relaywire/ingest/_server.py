"""Serving the receiver: in a background thread (:class:`Receiver`) or as the command's server.

``relaywire ingest`` serves with granian (one process per worker, Rust HTTP/1.1 under the ASGI
app), which measured faster than uvicorn with httptools and uvloop for this app (README, Ingest).
The embedded :class:`Receiver` runs uvicorn in a thread of the calling process
(:mod:`relaywire._uvicorn_thread`, shared with the emulator), for tests and
the demo, where a port chosen by the OS and an in-process stop matter more than throughput.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from types import TracebackType

from relaywire._uvicorn_thread import ThreadedUvicorn
from relaywire.ingest._app import IngestApp
from relaywire.ingest._config import IngestConfigError, load_config
from relaywire.ingest._sink import Sink
from relaywire.sources import Source

__all__ = [
    "CONFIG_ENV",
    "DEFAULT_PORT",
    "DEFAULT_SINK",
    "LOG_LEVEL_ENV",
    "SINK_ENV",
    "Receiver",
    "app_from_environment",
]

DEFAULT_PORT = 8760
DEFAULT_SINK = "sqlite:///relaywire-ingest.db"
# How the command hands its configuration to each worker process.
CONFIG_ENV = "RELAYWIRE_INGEST_CONFIG"
SINK_ENV = "RELAYWIRE_INGEST_SINK"
LOG_LEVEL_ENV = "RELAYWIRE_INGEST_LOG_LEVEL"


def app_from_environment() -> IngestApp:
    """The app a worker serves: config file and sink URL from the command's environment."""
    path = os.environ.get(CONFIG_ENV)
    if not path:
        raise IngestConfigError(f"{CONFIG_ENV} is not set")
    config = load_config(path)
    if not logging.getLogger().handlers:  # the command's workers log refusals to stderr
        logging.basicConfig(
            level=os.environ.get(LOG_LEVEL_ENV, "WARNING").upper(),
            format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        )
    sink = os.environ.get(SINK_ENV) or config.sink or DEFAULT_SINK
    return IngestApp(config.sources, sink)


class Receiver:
    """A receiver on loopback in a background thread::

        with Receiver(sources, "sqlite:///events.db") as receiver:
            receiver.url  # http://127.0.0.1:<free port>

    ``start()`` returns once the server accepts connections (the sink may still be connecting;
    ``/health`` says when it is ready). Leaving the block stops serving and closes the sink.
    """

    def __init__(
        self,
        sources: Sequence[Source],
        sink: Sink | str,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        max_pending: int = 20_000,
        log_level: str = "warning",
    ) -> None:
        self.app = IngestApp(sources, sink, max_pending=max_pending)
        self.host = host
        self.port = port
        self.log_level = log_level
        self._runner: ThreadedUvicorn | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def start(self, timeout: float = 15.0) -> Receiver:
        if self._runner is not None:
            raise RuntimeError("the receiver is already running")
        runner = ThreadedUvicorn(
            self.app,
            host=self.host,
            port=self.port,
            name="relaywire-ingest",
            label="the receiver",
            lifespan="on",  # opens the sink; shutdown closes it
            log_level=self.log_level,
            backlog=4096,
            timeout_graceful_shutdown=5,
        )
        runner.start(timeout)
        self._runner = runner
        self.port = runner.port
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Stop serving (the batch in flight finishes) and wait for the thread. Idempotent."""
        runner, self._runner = self._runner, None
        if runner is not None:
            runner.stop(timeout)

    def __enter__(self) -> Receiver:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self._runner is not None else "stopped"
        return f"<Receiver {self.url} {state} {self.app!r}>"
