"""The Linktor platform, under ``/linktor``, in two dialects (spec/linktor.md).

``/linktor/api/v1`` speaks the self-hosted server's protocol, ``/linktor`` the SDK protocol;
one store sits behind both, and the realtime hub and the webhook sender watch its events. In
the default ``"code"`` profile the server dialect behaves as the server's code does
(``rest_code``, ``inbound``, ``realtime.CodeHub``); ``"documented"`` keeps the richer behaviour
its documentation describes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.routing import BaseRoute, Mount

if TYPE_CHECKING:
    from relaywire.emulator._context import EmulatorContext


def routes(ctx: EmulatorContext) -> list[BaseRoute]:
    from relaywire.emulator.linktor import inbound, realtime, rest, simulate, webhooks
    from relaywire.emulator.linktor.dialect import (
        Dialect,
        is_code_profile,
        render_sdk_error,
        render_server_code_error,
        render_server_error,
    )

    code = is_code_profile(ctx)
    ctx.renderers.register("/linktor", render_sdk_error)
    ctx.renderers.register(
        "/linktor/api/v1", render_server_code_error if code else render_server_error
    )
    hub = realtime.RealtimeHub(ctx)
    sender = webhooks.WebhookSender(ctx)
    ctx.linktor_hub = hub
    ctx.linktor_webhooks = sender

    def dialect_routes(dialect: Dialect) -> list[BaseRoute]:
        if dialect is Dialect.SERVER and code:
            # The server's own realtime hub and inbound channel webhooks; no webhook
            # management and no deliveries (the server never creates its producer).
            ctx.linktor_code_hub = realtime.CodeHub(ctx)
            return [
                *realtime.code_routes(ctx.linktor_code_hub),
                *inbound.routes(ctx),
                *simulate.routes(ctx, dialect),
                *rest.routes(ctx, dialect),
            ]
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
