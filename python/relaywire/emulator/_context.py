"""What every part of the emulator shares: configuration, state, faults, background tasks."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any

from relaywire.emulator._faults import Faults
from relaywire.emulator._http import ErrorRenderers, RateLimit, RateLimiter
from relaywire.emulator.daguito.state import DaguitoState
from relaywire.emulator.linktor.dialect import SERVER_PROFILES, Jwt
from relaywire.emulator.linktor.store import LinktorStore

__all__ = ["EmulatorConfig", "EmulatorContext"]

_log = logging.getLogger("relaywire.emulator")


@dataclass(frozen=True)
class EmulatorConfig:
    """Everything a test may want to set when it builds an :class:`~relaywire.emulator.Emulator`.

    * ``seed``: load the demo credentials and data (the README lists them).
    * ``rate_limit``: a :class:`RateLimit` for the Linktor API, or ``None`` (off).
    * ``webhook_retry_delays``: seconds between attempts of an outgoing Linktor webhook; one
      attempt more than there are delays.
    * ``webhook_timeout``: seconds an outgoing webhook receiver has to answer.
    * ``upload_ttl``: seconds a presigned Daguito upload URL stays valid.
    * ``max_audio_frame``: the largest audio frame accepted (bytes); larger ones get an ``error``.
    * ``max_tool_wait_ms``: an upper bound on how long a ``/tool`` command waits for the client's
      ``tool_result`` (the client's ``client_timeout_ms`` is honoured below it).
    * ``jwt_secret``: the HS256 secret of Linktor JWTs (random when ``None``).
    * ``linktor_server_profile``: how ``/linktor/api/v1`` behaves. ``"code"`` (the default)
      does what the self-hosted server's code does, its limits included (README, "What the
      self-hosted server does"); ``"documented"`` gives the richer behaviour its documentation
      describes but its code does not implement. ``/linktor`` is the same in both.
    """

    seed: bool = True
    rate_limit: RateLimit | None = None
    webhook_retry_delays: tuple[float, ...] = (1.0, 5.0, 30.0)
    webhook_timeout: float = 10.0
    upload_ttl: int = 900
    max_audio_frame: int = 256 * 1024
    max_tool_wait_ms: int = 120_000
    jwt_secret: bytes | None = None
    linktor_server_profile: str = "code"

    def __post_init__(self) -> None:
        if self.linktor_server_profile not in SERVER_PROFILES:
            raise ValueError(
                "linktor_server_profile must be one of "
                + ", ".join(repr(p) for p in SERVER_PROFILES)
                + f", not {self.linktor_server_profile!r}"
            )
        if any(delay < 0 for delay in self.webhook_retry_delays):
            raise ValueError("webhook_retry_delays must be >= 0")
        if self.webhook_timeout <= 0 or self.upload_ttl <= 0 or self.max_audio_frame <= 0:
            raise ValueError("webhook_timeout, upload_ttl and max_audio_frame must be > 0")


class EmulatorContext:
    """The live state of one emulator, handed to every route module."""

    def __init__(self, config: EmulatorConfig) -> None:
        self.config = config
        self.faults = Faults()
        self.limiter = RateLimiter(config.rate_limit)
        self.renderers = ErrorRenderers()
        self.daguito = DaguitoState(seed=config.seed, upload_ttl=config.upload_ttl)
        self.linktor = LinktorStore(seed=config.seed)
        self.jwt = Jwt(config.jwt_secret)
        self._tasks: set[asyncio.Task[Any]] = set()
        # Shutdown hooks run on the server loop when the emulator stops (close clients, sockets).
        self.on_shutdown: list[Any] = []
        # Set by the Linktor part: its realtime hub and its outgoing-webhook sender (and, in
        # the "code" profile, the server dialect's own hub).
        self.linktor_hub: Any = None
        self.linktor_webhooks: Any = None
        self.linktor_code_hub: Any = None
        # Set by the Daguito part: the stream session registry and the audio session stats.
        self.daguito_stream: Any = None
        self.daguito_audio: Any = None

    def spawn(self, coro: Coroutine[Any, Any, Any], name: str | None = None) -> asyncio.Task[Any]:
        """Run ``coro`` in the background, keeping a strong reference until it ends; its
        exception, if any, is logged rather than lost."""
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            _log.error("emulator task %s failed", task.get_name(), exc_info=task.exception())

    async def shutdown(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        for hook in self.on_shutdown:
            result = hook()
            if asyncio.iscoroutine(result):
                await result
