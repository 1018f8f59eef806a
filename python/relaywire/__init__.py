"""relaywire: fast, reliable Python clients for Daguito and Linktor, on a Rust core."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("relaywire")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
    __version__ = "0.0.0"

__all__ = ["__version__"]
