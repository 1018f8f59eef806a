"""A webhook receiver that verifies, de-duplicates and durably stores every delivery.

::

    from relaywire.ingest import Receiver, Source, read

    sources = [Source("linktor", "/hooks/linktor", "linktor", secrets=["whsec_..."])]
    with Receiver(sources, "sqlite:///events.db") as receiver:
        ...  # senders POST to receiver.url + "/hooks/linktor"
    for delivery in read("sqlite:///events.db"):
        print(delivery.source, delivery.id, delivery.body)

Each request is verified on its raw bytes, then its delivery id is read, then it joins a group
commit; it is answered 200 only once its batch is durable in the sink (SQLite, NATS JetStream
or Redis Streams), and a duplicate id is answered 200 and stored once. ``relaywire ingest``
serves the same :class:`IngestApp` from a TOML file. It needs the ``relaywire[ingest]`` extra.
Sources and their schemes are those of :mod:`relaywire.sources` (``Source``, ``Scheme``,
``SCHEMES``, ``register_scheme`` are re-exported here), shared with ``relaywire verify``.
This package uses :mod:`relaywire.webhooks` and never imports the ``daguito`` or ``linktor``
client packages.
"""

import logging

try:
    import prometheus_client  # noqa: F401
except ImportError as exc:  # pragma: no cover - depends on the installed extras
    raise ImportError(
        "relaywire.ingest needs the ingest extra: pip install 'relaywire[ingest]'"
    ) from exc

from relaywire.ingest._app import IngestApp
from relaywire.ingest._config import IngestConfig, IngestConfigError, load_config, parse_config
from relaywire.ingest._read import EventDecoders, aread, astats, read, stats
from relaywire.ingest._server import Receiver
from relaywire.ingest._sink import (
    SINKS,
    Delivery,
    DeliveryEventError,
    Record,
    Sink,
    SinkError,
    SinkStats,
    SinkUnavailableError,
    open_sink,
)
from relaywire.sources import SCHEMES, Scheme, Source, register_scheme

# A library logs through its own logger and leaves the output to the application.
logging.getLogger("relaywire.ingest").addHandler(logging.NullHandler())

__all__ = [
    "SCHEMES",
    "SINKS",
    "Delivery",
    "DeliveryEventError",
    "EventDecoders",
    "IngestApp",
    "IngestConfig",
    "IngestConfigError",
    "Receiver",
    "Record",
    "Scheme",
    "Sink",
    "SinkError",
    "SinkStats",
    "SinkUnavailableError",
    "Source",
    "aread",
    "astats",
    "load_config",
    "open_sink",
    "parse_config",
    "read",
    "register_scheme",
    "stats",
]
