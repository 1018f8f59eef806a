"""A local Daguito + Linktor server: develop and test offline against a real peer.

::

    from relaywire.emulator import Emulator

    with Emulator() as emu:
        ...  # point clients at emu.url (Daguito) or emu.linktor_url (Linktor)

Run it from a shell with ``relaywire emulator``. It needs the ``relaywire[emulator]`` extra
(starlette and uvicorn). It speaks only the wire protocols: it never imports the ``daguito`` or
``linktor`` client packages.
"""

try:
    import starlette  # noqa: F401
    import uvicorn  # noqa: F401
except ImportError as exc:  # pragma: no cover - depends on the installed extras
    raise ImportError(
        "relaywire.emulator needs the emulator extra: pip install 'relaywire[emulator]'"
    ) from exc

from relaywire.emulator._context import EmulatorConfig
from relaywire.emulator._faults import Faults, HttpFault, StreamFault
from relaywire.emulator._http import RateLimit
from relaywire.emulator._server import Emulator, build_app

__all__ = [
    "Emulator",
    "EmulatorConfig",
    "Faults",
    "HttpFault",
    "RateLimit",
    "StreamFault",
    "build_app",
]
