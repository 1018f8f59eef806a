"""Placeholder: being written."""

from __future__ import annotations

from typing import Any

from starlette.routing import BaseRoute


class RealtimeHub:
    def __init__(self, ctx: Any) -> None:
        self.ctx = ctx


def routes(*args: Any) -> list[BaseRoute]:
    return []
