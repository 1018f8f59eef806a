"""``verify_arrow``: webhook deliveries stored as Arrow columns, verified in place.

The building block for data-lake pipelines: a Parquet archive read with ``pyarrow`` (or one
partition of it on a Dask worker) is verified without a Python object per delivery. Binary and
string columns are handed to the Rust core as their Arrow buffers (validity, offsets, data)
through the buffer protocol, with no copy, and verified on every core with the GIL released.
Needs the ``arrow`` extra (``pip install 'relaywire[arrow]'``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final

from relaywire import _native

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["SCHEME_DEFAULT", "verify_arrow"]


class _SchemeDefault:
    def __repr__(self) -> str:
        return "SCHEME_DEFAULT"


#: ``tolerance=SCHEME_DEFAULT`` uses the verifier's own default (300 s; 60 s for Linear).
SCHEME_DEFAULT: Final = _SchemeDefault()

# The defaults of the verifiers' ``verify`` methods; schemes without a timestamp have none.
_DEFAULT_TOLERANCE: dict[type, float | None] = {
    _native.StandardWebhook: 300.0,
    _native.LinktorVerifier: 300.0,
    _native.Stripe: 300.0,
    _native.Slack: 300.0,
    _native.Discord: 300.0,
    _native.Linear: 60.0,
    _native.GitHub: None,
    _native.Shopify: None,
    _native.Meta: None,
    _native.Twilio: None,
}
# Slots a delivery may lack (Linktor's timestamp is optional); every other slot needs a column.
_OPTIONAL_SLOTS: dict[type, frozenset[int]] = {_native.LinktorVerifier: frozenset({1})}


def _pyarrow() -> Any:
    try:
        import pyarrow
        import pyarrow.compute  # a submodule: pyarrow does not import it
    except ImportError:
        raise ImportError("verify_arrow needs pyarrow: pip install 'relaywire[arrow]'") from None
    return pyarrow


def _binary_spec(pa: Any, array: Any, what: str) -> tuple[bool, int, Any, Any, Any]:
    """``(large, offset, validity, offsets, data)`` of a binary or string array, in place when
    it already is one (other types, such as views or dictionaries, are cast first)."""
    kind = array.type
    if pa.types.is_binary(kind) or pa.types.is_string(kind):
        large = False
    elif pa.types.is_large_binary(kind) or pa.types.is_large_string(kind):
        large = True
    else:
        try:
            array = array.cast(pa.large_binary())
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            raise TypeError(f"{what} must be a binary or string column, not {kind}") from None
        large = True
    validity, offsets, data = array.buffers()[:3]
    if data is None:  # an array of only nulls or empty values may have no data buffer
        data = pa.py_buffer(b"")
    return large, array.offset, validity, offsets, data


def _times_spec(pa: Any, array: Any, what: str) -> tuple[int, Any, Any]:
    """``(offset, validity, values)`` of the array as float64 seconds since the epoch."""
    kind = array.type
    if pa.types.is_timestamp(kind):
        micros = array.cast(pa.timestamp("us", kind.tz)).cast(pa.int64())
        array = pa.compute.divide(micros.cast(pa.float64()), 1e6)
    elif pa.types.is_integer(kind) or pa.types.is_floating(kind):
        array = array.cast(pa.float64())
    else:
        raise TypeError(f"{what} must be a timestamp or numeric (seconds) column, not {kind}")
    validity, values = array.buffers()[:2]
    return array.offset, validity, values


def _column_index(names: list[str], wanted: str, *, exact: bool) -> int | None:
    if wanted in names:
        return names.index(wanted)
    if not exact:
        lowered = [name.lower() for name in names]
        if wanted.lower() in lowered:
            return lowered.index(wanted.lower())
    return None


def verify_arrow(
    verifier: Any,
    data: pa.Table | pa.RecordBatch,
    *,
    body: str = "body",
    headers: Mapping[str, str] | None = None,
    url: str | None = None,
    tolerance: float | _SchemeDefault | None = SCHEME_DEFAULT,
    now: float | str | None = None,
) -> pa.BooleanArray:
    """Whether each row of ``data`` is a genuine delivery, as a boolean array (no nulls).

    ``verifier`` is a verifier of :mod:`relaywire.webhooks` that reads headers:
    :class:`StandardWebhook`, :class:`LinktorVerifier` or a provider class. ``data`` is a
    ``pyarrow.Table`` or ``RecordBatch`` holding the raw bodies in the ``body`` column and each
    header the scheme reads in a column of the header's name (matched case-insensitively; for
    Standard Webhooks, ``svix-`` columns fill in where ``webhook-`` ones are absent or null),
    or in the column ``headers`` maps its name to. ``url`` names the column of request URLs
    (Twilio). A null header is a missing header; a null body fails.

    ``now`` is the current time for every row (the clock when ``None``), or the name of a
    column of each row's own time (for an archive: when it was received), timestamps or
    numbers of seconds; ``tolerance=None`` skips the timestamp check, and by default the
    verifier's own tolerance applies. Binary and string columns are read in place, and the
    rows are verified on every core with the GIL released.
    """
    pa = _pyarrow()
    slots = _native._arrow_slots(verifier)  # TypeError for a verifier that has no headers
    if isinstance(data, pa.Table):
        schema, batches = data.schema, data.to_batches()
    elif isinstance(data, pa.RecordBatch):
        schema, batches = data.schema, [data]
    else:
        raise TypeError(f"data must be a pyarrow Table or RecordBatch, not {type(data).__name__}")
    names = list(schema.names)
    mapping = {name.lower(): column for name, column in (headers or {}).items()}

    def index_of(column: str, what: str) -> int:
        found = _column_index(names, column, exact=True)
        if found is None:
            raise ValueError(f"no column {column!r} for {what}; the columns are {names}")
        return found

    body_index = index_of(body, "the bodies")
    slot_indexes: list[list[tuple[int, int]]] = []
    optional = _OPTIONAL_SLOTS.get(type(verifier), frozenset())
    for slot, slot_names in enumerate(slots):
        found: list[tuple[int, int]] = []
        for preference, name in enumerate(slot_names):
            if name in mapping:
                found.append((preference, index_of(mapping[name], f"header {name!r}")))
            else:
                index = _column_index(names, name, exact=False)
                if index is not None:
                    found.append((preference, index))
        if not found and slot not in optional:
            raise ValueError(
                f"no column for header {slot_names[0]!r}: name a column so, or map it with "
                f"headers={{{slot_names[0]!r}: '<column>'}}; the columns are {names}"
            )
        slot_indexes.append(found)
    url_index = index_of(url, "the request URLs") if url is not None else None
    if url_index is None and isinstance(verifier, _native.Twilio):
        raise ValueError("a Twilio signature covers the request URL: pass url='<column>'")
    times_index = index_of(now, "the times") if isinstance(now, str) else None
    fixed_now = None if isinstance(now, str) else now
    if isinstance(tolerance, _SchemeDefault):
        tolerance = _DEFAULT_TOLERANCE.get(type(verifier), 300.0)

    results = []
    for batch in batches:
        rows = batch.num_rows
        column = batch.column
        answers = _native._verify_arrow_batch(
            verifier,
            rows,
            _binary_spec(pa, column(body_index), "the body column"),
            [
                [(pref, _binary_spec(pa, column(index), names[index])) for pref, index in found]
                for found in slot_indexes
            ],
            None if url_index is None else _binary_spec(pa, column(url_index), "the URL column"),
            None if times_index is None else _times_spec(pa, column(times_index), "the now column"),
            tolerance,
            fixed_now,
        )
        results.append(
            pa.BooleanArray.from_buffers(pa.bool_(), rows, [None, pa.py_buffer(answers)])
        )
    if len(results) == 1:
        return results[0]
    if not results:
        return pa.array([], type=pa.bool_())
    return pa.concat_arrays(results)
