"""The emulator's app and its runner: ``with Emulator() as emu:`` serves on a free port."""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Any, TypeVar, overload

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from relaywire import __version__
from relaywire._uvicorn_thread import ThreadedUvicorn
from relaywire.emulator import daguito as daguito_part
from relaywire.emulator import linktor as linktor_part
from relaywire.emulator._context import EmulatorConfig, EmulatorContext
from relaywire.emulator._faults import Faults
from relaywire.emulator._http import ApiError, EdgeMiddleware, RateLimit, json_response
from relaywire.emulator.daguito.state import DaguitoState
from relaywire.emulator.linktor.store import LinktorStore
from relaywire.redaction import install

__all__ = ["Emulator", "build_app"]

T = TypeVar("T")


def build_app(ctx: EmulatorContext) -> Starlette:
    """The ASGI app: Daguito at the root, Linktor under ``/linktor``, ``GET /health``."""

    async def health(request: Request) -> Response:
        return json_response({"status": "healthy", "emulator": "relaywire", "version": __version__})

    def render_api_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ApiError)
        rid = str(request.scope.get("state", {}).get("request_id", ""))
        return ctx.renderers.render(request.url.path, exc, rid)

    def render_http_exception(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        rid = str(request.scope.get("state", {}).get("request_id", ""))
        if exc.status_code in (404, 405):
            error = ApiError(
                404, "ROUTE_NOT_FOUND", f"no route for {request.method} {request.url.path}"
            )
        else:
            error = ApiError(exc.status_code, "BAD_REQUEST", str(exc.detail))
        return ctx.renderers.render(request.url.path, error, rid)

    routes = [
        Route("/health", health, methods=["GET"]),
        *daguito_part.routes(ctx),
        *linktor_part.routes(ctx),
    ]
    app = Starlette(
        routes=routes,
        exception_handlers={ApiError: render_api_error, HTTPException: render_http_exception},
    )
    app.add_middleware(
        EdgeMiddleware, faults=ctx.faults, limiter=ctx.limiter, renderers=ctx.renderers
    )
    return app


class Emulator:
    """A real Daguito + Linktor server on loopback, for tests, demos and offline development.

    ``with Emulator() as emu:`` binds a free port on 127.0.0.1, serves from a background thread
    and returns once the server accepts connections; leaving the block stops it. ``emu.url`` is
    the base URL (Daguito at the root, Linktor under ``/linktor`` and ``/linktor/api/v1``).
    Options are those of :class:`EmulatorConfig`; faults are switched through ``emu.faults``.

    TLS: with ``ssl_certfile`` (a PEM certificate chain) and ``ssl_keyfile`` (its private key,
    or ``None`` when the chain file holds it), the emulator serves HTTPS and WSS only, and
    ``emu.url`` / ``emu.ws_url`` are ``https://`` / ``wss://`` URLs. Clients must trust the
    certificate's CA (``SSL_CERT_FILE``, or an ``ssl`` context / ``httpx`` client of theirs).
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        seed: bool = True,
        rate_limit: RateLimit | None = None,
        webhook_retry_delays: tuple[float, ...] = (1.0, 5.0, 30.0),
        webhook_timeout: float = 10.0,
        upload_ttl: int = 900,
        max_audio_frame: int = 256 * 1024,
        max_tool_wait_ms: int = 120_000,
        jwt_secret: bytes | None = None,
        linktor_server_profile: str = "code",
        log_level: str = "warning",
        ssl_certfile: str | os.PathLike[str] | None = None,
        ssl_keyfile: str | os.PathLike[str] | None = None,
    ) -> None:
        if ssl_keyfile is not None and ssl_certfile is None:
            raise ValueError("ssl_keyfile needs ssl_certfile")
        self.host = host
        self.ssl_certfile = None if ssl_certfile is None else os.fspath(ssl_certfile)
        self.ssl_keyfile = None if ssl_keyfile is None else os.fspath(ssl_keyfile)
        self._requested_port = port
        self.config = EmulatorConfig(
            seed=seed,
            rate_limit=rate_limit,
            webhook_retry_delays=tuple(webhook_retry_delays),
            webhook_timeout=webhook_timeout,
            upload_ttl=upload_ttl,
            max_audio_frame=max_audio_frame,
            max_tool_wait_ms=max_tool_wait_ms,
            jwt_secret=jwt_secret,
            linktor_server_profile=linktor_server_profile,
        )
        self.log_level = log_level
        self.context = EmulatorContext(self.config)
        self._app = build_app(self.context)
        self._runner: ThreadedUvicorn | None = None
        self.port = 0

    # -- what tests use ---------------------------------------------------------------------------

    @property
    def faults(self) -> Faults:
        return self.context.faults

    @property
    def daguito(self) -> DaguitoState:
        return self.context.daguito

    @property
    def linktor(self) -> LinktorStore:
        return self.context.linktor

    @property
    def url(self) -> str:
        """The base URL, for example ``http://127.0.0.1:8750``."""
        self._require_running()
        host = f"[{self.host}]" if ":" in self.host else self.host
        scheme = "https" if self.ssl_certfile is not None else "http"
        return f"{scheme}://{host}:{self.port}"

    @property
    def ws_url(self) -> str:
        """The base URL for WebSockets: ``ws://`` (``wss://`` with TLS)."""
        return "ws" + self.url[len("http") :]

    @property
    def linktor_url(self) -> str:
        """The Linktor SDK-protocol base URL (``/linktor``)."""
        return f"{self.url}/linktor"

    @property
    def linktor_server_url(self) -> str:
        """The Linktor self-hosted-server base URL (``/linktor/api/v1``)."""
        return f"{self.url}/linktor/api/v1"

    @property
    def webhook_deliveries(self) -> list[dict[str, Any]]:
        """The outgoing Linktor webhook deliveries so far (a copy), oldest first."""
        sender = self.context.linktor_webhooks
        return self.call(sender.delivery_log) if sender is not None else []

    def set_rate_limit(self, limit: int | None, window: float = 60.0) -> None:
        """Switch the Linktor rate limit on (``limit`` requests per ``window`` seconds per
        credential) or off (``None``)."""
        self.context.limiter.configure(None if limit is None else RateLimit(limit, window))

    @overload
    def call(self, fn: Callable[..., Awaitable[T]], *args: Any, **kwargs: Any) -> T: ...
    @overload
    def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T: ...
    def call(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Run ``fn`` on the server's event loop and return its result (awaited if it is a
        coroutine). Use it to change state from a test thread, e.g.
        ``emu.call(emu.linktor.add_message, "conv_demo", direction="inbound", ...)``."""
        loop = self._require_running()

        async def run() -> Any:
            result = fn(*args, **kwargs)
            if asyncio.iscoroutine(result):
                return await result
            return result

        if _running_loop() is loop:
            raise RuntimeError("Emulator.call cannot be used from the emulator's own loop")
        future: concurrent.futures.Future[Any] = asyncio.run_coroutine_threadsafe(run(), loop)
        return future.result(timeout=30)

    # -- lifecycle --------------------------------------------------------------------------------

    def start(self, timeout: float = 15.0) -> Emulator:
        """Bind, serve in a background thread, and return when the server accepts connections."""
        if self._runner is not None:
            raise RuntimeError("the emulator is already running")
        # uvicorn logs each WebSocket upgrade with its query string (a Daguito token) at INFO.
        install(("uvicorn.error", "uvicorn.access"))
        runner = ThreadedUvicorn(
            self._app,
            host=self.host,
            port=self._requested_port,
            name="relaywire-emulator",
            label="the emulator",
            after_serving=self.context.shutdown,
            lifespan="off",
            log_level=self.log_level,
            ws="websockets-sansio",
            # Token frames are tiny; compressing each one would cost more than it saves.
            ws_per_message_deflate=False,
            ws_max_size=16 * 1024 * 1024,
            backlog=4096,
            timeout_graceful_shutdown=2,
            timeout_keep_alive=30,
            ssl_certfile=self.ssl_certfile,
            ssl_keyfile=self.ssl_keyfile,
        )
        runner.start(timeout)
        self._runner = runner
        self.port = runner.port
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Stop serving and wait for the thread to end. Idempotent."""
        runner, self._runner = self._runner, None
        if runner is not None:
            runner.stop(timeout)

    def _require_running(self) -> asyncio.AbstractEventLoop:
        runner = self._runner
        if runner is None or not runner.started or runner.loop is None:
            raise RuntimeError("the emulator is not running; use `with Emulator() as emu:`")
        return runner.loop

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = f"url={self.url!r}" if self._runner is not None else "stopped"
        return f"<Emulator {state}>"


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None
