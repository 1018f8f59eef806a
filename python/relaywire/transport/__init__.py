"""relaywire's transport layer: pooled HTTP with retries (:mod:`.http`), a sync runner
(:mod:`.sync`), reconnect backoff (:mod:`.backoff`), transport errors (:mod:`.errors`) and a
WebSocket client whose receive path is one native call per read (:mod:`.ws`).

``daguito`` and ``linktor`` build on it; it knows neither platform. Import the submodules
directly: this package imports nothing, so a WebSocket-only user never loads httpx.
"""
