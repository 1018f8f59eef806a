"""Sources: what the receiver accepts, from a TOML file or built as objects.

::

    [[sources]]
    name = "linktor"               # the label in metrics and in stored deliveries
    path = "/hooks/linktor"
    scheme = "linktor"             # linktor | standard | hmac | any registered scheme
    secrets = ["whsec_..."]        # one or more (rotation); or secrets_env = "NAME"
    # tolerance = 300, max_body = 1048576, id = "body:id" | "header:webhook-id" | "sha256"

A top-level ``sink = "sqlite:///events.db"`` is the default sink (``--sink`` overrides it).
Scheme-specific keys (``header``, ``encoding``, ``prefix`` for ``hmac``) sit in the same table.
Every mistake is an :class:`IngestConfigError` that names the source and the key, never a secret.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

__all__ = [
    "DEFAULT_MAX_BODY",
    "DEFAULT_TOLERANCE",
    "IngestConfig",
    "IngestConfigError",
    "Source",
    "load_config",
    "parse_config",
]

DEFAULT_MAX_BODY = 1024 * 1024
DEFAULT_TOLERANCE = 300.0
# Names become metric labels, NATS subject tokens and Redis key parts: keep them plain.
_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_RESERVED_PATHS = frozenset({"/health", "/metrics"})
_SOURCE_KEYS = frozenset(
    {"name", "path", "scheme", "secrets", "secrets_env", "tolerance", "max_body", "id"}
)


class IngestConfigError(ValueError):
    """A source or the configuration file is invalid; the message says which key and why."""


@dataclass(frozen=True)
class Source:
    """One webhook sender: where it posts, how its deliveries are verified and identified.

    ``secrets`` and ``secrets_env`` (an environment variable holding comma-separated secrets)
    may both be given; a delivery passes when any secret verifies it, so a new secret can be
    added before the sender switches and the old one removed after. ``tolerance`` left out
    (``None``) is the scheme's own default: 300 seconds, 60 for Linear. ``id`` says where the
    delivery id is read: ``"body:<key>"`` (a top-level key, or a dotted path, of the JSON
    body), ``"header:<name>"``, or ``"sha256"`` (the hex digest of the raw body). ``options``
    holds the scheme's own keys (``header``, ``encoding``, ``prefix`` for ``hmac``).
    Secrets never appear in the ``repr``.
    """

    name: str
    path: str
    scheme: str
    secrets: Sequence[str] = field(default=(), repr=False)
    secrets_env: str | None = None
    tolerance: float | None = None
    max_body: int = DEFAULT_MAX_BODY
    id: str | None = None
    options: Mapping[str, Any] = field(default_factory=dict)

    def resolved_secrets(self, environ: Mapping[str, str] | None = None) -> tuple[str, ...]:
        """The secrets from ``secrets`` and ``secrets_env``, in that order."""
        found = [s for s in self.secrets]
        if self.secrets_env is not None:
            env = os.environ if environ is None else environ
            raw = env.get(self.secrets_env)
            if raw is None:
                raise IngestConfigError(
                    f"source {self.name!r}: environment variable {self.secrets_env} is not set"
                )
            found += [part.strip() for part in raw.split(",") if part.strip()]
        if not found:
            where = f" (variable {self.secrets_env} is empty)" if self.secrets_env else ""
            raise IngestConfigError(f"source {self.name!r}: no secret given{where}")
        return tuple(found)

    def validate(self) -> None:
        """Raise :class:`IngestConfigError` for a field that cannot work."""
        label = f"source {self.name!r}"
        if not isinstance(self.name, str) or not _NAME.match(self.name):
            raise IngestConfigError(
                f"source name {self.name!r} must be 1-64 letters, digits, '_' or '-'"
            )
        if not isinstance(self.path, str) or not self.path.startswith("/") or "?" in self.path:
            raise IngestConfigError(f"{label}: path must start with '/' and have no query")
        if self.path in _RESERVED_PATHS:
            raise IngestConfigError(f"{label}: path {self.path} is reserved by the receiver")
        if isinstance(self.secrets, str) or not all(isinstance(s, str) and s for s in self.secrets):
            raise IngestConfigError(f"{label}: secrets must be a list of non-empty strings")
        if self.secrets_env is not None and (
            not isinstance(self.secrets_env, str) or not self.secrets_env
        ):
            raise IngestConfigError(f"{label}: secrets_env must name an environment variable")
        if not self.secrets and self.secrets_env is None:
            raise IngestConfigError(f'{label}: give secrets = [...] or secrets_env = "NAME"')
        if self.tolerance is not None and (
            isinstance(self.tolerance, bool)
            or not isinstance(self.tolerance, (int, float))
            or not 0 < self.tolerance <= 31 * 24 * 3600
        ):
            raise IngestConfigError(f"{label}: tolerance must be seconds in (0, 31 days]")
        if (
            isinstance(self.max_body, bool)
            or not isinstance(self.max_body, int)
            or not 0 < self.max_body <= 64 * 1024 * 1024
        ):
            raise IngestConfigError(f"{label}: max_body must be bytes in [1, 64 MiB]")
        if self.id is not None:
            parse_id_rule(self.id, label)


@dataclass(frozen=True)
class IngestConfig:
    """The parsed file: its sources and, optionally, the default sink URL."""

    sources: tuple[Source, ...]
    sink: str | None = None


def parse_id_rule(rule: str, label: str = "source") -> tuple[str, str]:
    """``"body:data.id"`` -> ``("body", "data.id")``; ``"sha256"`` -> ``("sha256", "")``."""
    if isinstance(rule, str):
        if rule == "sha256":
            return "sha256", ""
        kind, _, where = rule.partition(":")
        if kind in ("body", "header") and where and where.strip() == where:
            return kind, where.lower() if kind == "header" else where
    raise IngestConfigError(
        f'{label}: id must be "body:<key>", "header:<name>" or "sha256", not {rule!r}'
    )


def _source_from_table(table: Any, index: int) -> Source:
    label = f"sources[{index}]"
    if not isinstance(table, dict):
        raise IngestConfigError(f"{label} must be a table ([[sources]])")
    if isinstance(table.get("name"), str):
        label = f"{label} ({table['name']})"
    for key in ("name", "path", "scheme"):
        if key not in table:
            raise IngestConfigError(f"{label}: {key} is required")
    from relaywire.ingest._schemes import get_scheme  # the registry knows each scheme's keys

    scheme = get_scheme(table["scheme"], label)
    known = _SOURCE_KEYS | scheme.options.keys()
    unknown = sorted(set(table) - known)
    if unknown:
        raise IngestConfigError(
            f"{label}: unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}"
        )
    secrets = table.get("secrets", [])
    if not isinstance(secrets, list) or not all(isinstance(s, str) for s in secrets):
        raise IngestConfigError(f"{label}: secrets must be a list of strings")
    source = Source(
        name=table["name"],
        path=table["path"],
        scheme=table["scheme"],
        secrets=tuple(secrets),
        secrets_env=table.get("secrets_env"),
        tolerance=table.get("tolerance"),
        max_body=table.get("max_body", DEFAULT_MAX_BODY),
        id=table.get("id"),
        options={k: v for k, v in table.items() if k in scheme.options},
    )
    return source


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
    tables = data.get("sources")
    if not isinstance(tables, list) or not tables:
        raise IngestConfigError("at least one [[sources]] table is required")
    sources = tuple(_source_from_table(t, i) for i, t in enumerate(tables))
    check_sources(sources)
    return IngestConfig(sources=sources, sink=sink)


def check_sources(sources: Sequence[Source]) -> None:
    """Validate each source and that names and paths are unique."""
    from relaywire.ingest._schemes import get_scheme

    if not sources:
        raise IngestConfigError("at least one source is required")
    names: set[str] = set()
    paths: set[str] = set()
    for source in sources:
        if not isinstance(source, Source):
            raise IngestConfigError(f"sources must be Source objects, not {type(source).__name__}")
        source.validate()
        get_scheme(source.scheme, f"source {source.name!r}").check_options(source)
        if source.name in names:
            raise IngestConfigError(f"source name {source.name!r} is used twice")
        if source.path in paths:
            raise IngestConfigError(f"path {source.path} is used by two sources")
        names.add(source.name)
        paths.add(source.path)


def load_config(path: str | os.PathLike[str]) -> IngestConfig:
    """Read and validate an ingest TOML file."""
    file = Path(path)
    try:
        raw = file.read_bytes()
    except OSError as exc:
        raise IngestConfigError(f"cannot read {file}: {exc.strerror or exc}") from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise IngestConfigError(f"{file}: not valid TOML: {exc}") from None
    try:
        return parse_config(data)
    except IngestConfigError as exc:
        raise IngestConfigError(f"{file}: {exc}") from None
