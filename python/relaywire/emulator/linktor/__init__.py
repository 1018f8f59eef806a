"""The Linktor platform, under ``/linktor``, in two dialects (spec/linktor.md).

``/linktor/api/v1`` speaks the self-hosted server's protocol, ``/linktor`` the SDK protocol;
one store sits behind both, and the realtime hub and the webhook sender watch its events.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.routing import BaseRoute, Mount

if TYPE_CHECKING:
    from relaywire.emulator._context import EmulatorContext


def routes(ctx: EmulatorContext) -> list[BaseRoute]:
    from relaywire.emulator.linktor import realtime, rest, simulate, webhooks
    from relaywire.emulator.linktor.dialect import Dialect, render_sdk_error, render_server_error

    ctx.renderers.register("/linktor", render_sdk_error)
    ctx.renderers.register("/linktor/api/v1", render_server_error)
    hub = realtime.RealtimeHub(ctx)
    sender = webhooks.WebhookSender(ctx)
    ctx.linktor_hub = hub
    ctx.linktor_webhooks = sender

    def dialect_routes(dialect: Dialect) -> list[BaseRoute]:
        return [
            *realtime.routes(hub, dialect),
            *webhooks.routes(sender, dialect),
            *simulate.routes(ctx, dialect),
            *rest.routes(ctx, dialect),
        ]

    return [
        Mount("/linktor/api/v1", routes=dialect_routes(Dialect.SERVER)),
        Mount("/linktor", routes=dialect_routes(Dialect.SDK)),
    ]
