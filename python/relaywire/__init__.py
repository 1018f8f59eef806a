"""relaywire: fast, reliable Python clients for Daguito and Linktor, on a Rust core."""

import os as _os
from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("relaywire")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
    __version__ = "0.0.0"

# RELAYWIRE_LOG=debug|info|warning: a redacting stderr handler on the relaywire, daguito and
# linktor loggers (relaywire.redaction.configure_from_env). Read once, here.
if _os.environ.get("RELAYWIRE_LOG"):
    from relaywire.redaction import configure_from_env as _configure_from_env

    _configure_from_env()

__all__ = ["__version__"]
