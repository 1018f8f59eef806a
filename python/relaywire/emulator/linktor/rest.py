"""Linktor's REST API in both dialects over one store (spec/linktor.md 1.4 and 3.5).

The SDK dialect (mounted at ``/linktor``) serves what the official SDKs call; the server dialect
(mounted at ``/linktor/api/v1``) serves the self-hosted server's route table. The handlers live
in ``rest_messaging`` (auth, conversations, contacts, channels, users), ``rest_knowledge``
(knowledge bases), ``rest_ai`` (bots, agents, completions, embeddings, flows) and
``rest_insights`` (analytics, VRE); ``rest_core`` has what they share.
"""

from __future__ import annotations

from starlette.routing import BaseRoute

from relaywire.emulator._context import EmulatorContext
from relaywire.emulator.linktor import rest_ai, rest_insights, rest_knowledge, rest_messaging
from relaywire.emulator.linktor.dialect import Dialect
from relaywire.emulator.linktor.rest_core import Api

__all__ = ["routes"]


def routes(ctx: EmulatorContext, dialect: Dialect) -> list[BaseRoute]:
    """The REST routes of one dialect, relative to its mount point."""
    api = Api(ctx, dialect)
    for part in (rest_messaging, rest_knowledge, rest_ai, rest_insights):
        part.register(api)
    return api.routes
