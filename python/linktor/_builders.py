"""Linktor models built by the Rust core in one call: self-hosted server bodies (this module),
realtime events and webhook events (below, for :mod:`linktor.websocket` and
:mod:`linktor.utils.webhook`).

The adaptation rules of :mod:`linktor._dialect` (``adapt_message``, ``adapt_conversation``...)
exist twice: as the Python functions, which stay the reference and the fallback, and as their
Rust twin (``rust/adapt.rs``), which reads the same tables (handed over from ``_dialect`` by
:func:`rules`) and calls ``_dialect._media_mime`` for what Python's ``mimetypes`` decides. The
Rust side builds only what it knows to be exactly the Python path's result (the same objects,
down to the fields set); for anything else it declines, and the whole body goes through the
Python path, whose errors are then the ones raised. ``tests/test_linktor_native.py`` compares
both on random records, which is what keeps the two from drifting apart.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from linktor import _dialect
from relaywire.models import DialectPlan, LinktorRules, ModelPlan, RealtimeEvents, plan_for

__all__ = ["realtime_events", "rules", "server_items", "server_one"]

#: The Rust name of each of ``_dialect``'s adaptation functions (``None``: the record as it is).
ADAPTERS: dict[Callable[..., Any] | None, str] = {
    None: "plain",
    _dialect.adapt_message: "message",
    _dialect.adapt_conversation: "conversation",
    _dialect.adapt_contact: "contact",
    _dialect.adapt_channel: "channel",
    _dialect.adapt_bot: "bot",
    _dialect.adapt_knowledge_base: "knowledge_base",
    _dialect.adapt_kb_item: "kb_item",
    _dialect.adapt_flow: "flow",
}

#: Above this code point no character is whitespace (``str.isspace``); tested.
LAST_SPACE = 0x3000


@functools.cache
def rules() -> LinktorRules:
    """``_dialect``'s tables, as the Rust rules read them."""
    enums = _dialect._enums()
    return LinktorRules(
        # Every enum with its nearest words; the rules take the kinds they fit (and say which
        # one is missing, if any).
        fits={
            kind: (sorted(words), dict(_dialect._NEAREST.get(kind, {})))
            for kind, words in enums.items()
        },
        media_content_types=sorted(_dialect._MEDIA_CONTENT_TYPES),
        channel_status=dict(_dialect._CHANNEL_STATUS),
        weekdays=dict(_dialect._WEEKDAYS),
        unknown_channel_type=_dialect.UNKNOWN_CHANNEL_TYPE,
        spaces="".join(c for c in map(chr, range(LAST_SPACE + 1)) if c.isspace()),
        media_mime=_dialect._media_mime,
    )


_server_plans: dict[tuple[type[Any], str], DialectPlan | None] = {}


def server_plan(model: type[Any], adapt: Callable[..., Any] | None) -> DialectPlan | None:
    """The native plan of ``model`` for server records adapted by ``adapt``, if there is one."""
    adapter = ADAPTERS.get(adapt)
    if adapter is None:
        return None
    key = (model, adapter)
    try:
        return _server_plans[key]
    except KeyError:
        pass
    plan = plan_for(model)
    native = DialectPlan(plan, adapter, rules()) if plan is not None else None
    _server_plans[key] = native
    return native


def server_one(
    model: type[Any],
    adapt: Callable[..., Any] | None,
    content: bytes,
    channel_types: dict[str, str] | None = None,
) -> Any:
    """``model`` from a one-record server answer, or ``None`` (the Python path decides); for a
    conversation whose channel ``channel_types`` does not know yet, that channel's id."""
    plan = server_plan(model, adapt)
    return plan.one(content, channel_types) if plan is not None else None


def server_items(
    model: type[Any],
    adapt: Callable[..., Any] | None,
    content: bytes,
    channel_types: dict[str, str] | None = None,
) -> Any:
    """A server list answer with its records built as ``model``: what ``server_page`` reads
    (the array itself, or ``{"data", "meta", "pagination"}``), or ``None`` (the Python path
    decides). Conversations whose channel is not known yet are their channel ids."""
    plan = server_plan(model, adapt)
    found = plan.items(content, channel_types) if plan is not None else None
    if found is None:
        return None
    items, meta, pagination, bare = found
    return items if bare else {"data": items, "meta": meta, "pagination": pagination}


# -- realtime events -----------------------------------------------------------------------------


def realtime_events(
    events: Mapping[str, tuple[str, type[Any]]],
    unknown: type[Any],
    python: Iterable[str],
    eager: Iterable[str] = (),
) -> RealtimeEvents | None:
    """The frame table of :class:`relaywire.streams.EnvelopeDecoder`: for each frame type of
    ``events``, the rule that reads its payload and its event model's plan; ``python`` are the
    types left to the Python path, and any other type becomes ``unknown(type=..., payload=...)``;
    a deferring decoder builds the ``eager`` types at once. ``None`` when the models have no
    plans (every frame then takes the Python path)."""
    unknown_plan = plan_for(unknown)
    if unknown_plan is None:
        return None
    table: dict[str, tuple[str, ModelPlan]] = {}
    passed = set(python)
    for frame_type, (rule, model) in events.items():
        plan = plan_for(model)
        if plan is None:
            passed.add(frame_type)
        else:
            table[frame_type] = (rule, plan)
    return RealtimeEvents(
        table, unknown=unknown_plan, python=sorted(passed), rules=rules(), eager=sorted(eager)
    )
