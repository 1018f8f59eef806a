"""The receiver's configuration: the shared ``[[sources]]`` (:mod:`relaywire.sources`) plus
what only a receiver needs.

::

    sink = "sqlite:///events.db"   # the default sink (--sink overrides it)

    [[sources]]
    name = "linktor"               # the label in metrics and in stored deliveries
    path = "/hooks/linktor"        # required here: the receiver routes by it
    scheme = "linktor"             # linktor | standard | hmac | any registered scheme
    secrets = ["whsec_..."]        # one or more (rotation); or secrets_env = "NAME"
    # tolerance = 300, max_body = 1048576, id = "body:id" | "header:webhook-id" | "sha256"

The receiver's own rules: every source has a path, paths are unique, ``/health`` and
``/metrics`` are reserved, and ``sink`` is the only other top-level key. Every mistake is an
:class:`IngestConfigError` that names the source and the key, never a secret.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from relaywire.sources import (
    DEFAULT_MAX_BODY,
    Source,
    SourceConfigError,
    load_toml,
    parse_sources,
)
from relaywire.sources import check_sources as check_shared

__all__ = [
    "DEFAULT_MAX_BODY",
    "IngestConfig",
    "IngestConfigError",
    "check_sources",
    "load_config",
    "parse_config",
]

#: The shared class under its ingest name: ``except IngestConfigError`` catches every
#: configuration error, whether the receiver's rules or the shared format raised it.
IngestConfigError = SourceConfigError

_RESERVED_PATHS = frozenset({"/health", "/metrics"})


@dataclass(frozen=True)
class IngestConfig:
    """The parsed file: its sources and, optionally, the default sink URL."""

    sources: tuple[Source, ...]
    sink: str | None = None


def check_sources(sources: Sequence[Source]) -> None:
    """The shared checks (:func:`relaywire.sources.check_sources`), and that each source has
    a path of its own that the receiver does not reserve."""
    check_shared(sources)
    _check_paths(sources)


def _check_paths(sources: Sequence[Source]) -> None:
    paths: set[str] = set()
    for source in sources:
        label = f"source {source.name!r}"
        if not source.path:
            raise IngestConfigError(f"{label}: path is required (the receiver routes by it)")
        if source.path in _RESERVED_PATHS:
            raise IngestConfigError(f"{label}: path {source.path} is reserved by the receiver")
        if source.path in paths:
            raise IngestConfigError(f"path {source.path} is used by two sources")
        paths.add(source.path)


def parse_config(data: Mapping[str, Any]) -> IngestConfig:
    """Build an :class:`IngestConfig` from already-parsed TOML data."""
    unknown = sorted(set(data) - {"sources", "sink"})
    if unknown:
        raise IngestConfigError(
            f"unknown top-level key(s) {', '.join(unknown)}; known: sink, sources"
        )
    sink = data.get("sink")
    if sink is not None and (not isinstance(sink, str) or not sink):
        raise IngestConfigError("sink must be a URL string")
    sources = parse_sources(data.get("sources"), require_path=True)
    _check_paths(sources)
    return IngestConfig(sources=sources, sink=sink)


def load_config(path: str | os.PathLike[str]) -> IngestConfig:
    """Read and validate an ingest TOML file."""
    return load_toml(path, parse_config)
