"""Sink adapters, one module per engine (see :data:`relaywire.ingest.SINKS`)."""
