"""The Daguito platform, served at the root of the emulator (spec/daguito.md section 2)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.routing import BaseRoute

if TYPE_CHECKING:
    from relaywire.emulator._context import EmulatorContext


def routes(ctx: EmulatorContext) -> list[BaseRoute]:
    from relaywire.emulator.daguito import audio, http, stream

    return [*http.routes(ctx), *stream.routes(ctx), *audio.routes(ctx)]
