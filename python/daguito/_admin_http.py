"""HTTP for the admin services (daguito-sdk's ``daguito._admin_http``), and the decoding of their
response bodies.

``request_json`` keeps daguito-sdk's contract (GET/DELETE/POST/PATCH only, POST/PATCH always send
a JSON object, 204 or an empty body gives None, every failure is a :class:`DaguitoError`) on top
of :mod:`daguito._http`, so errors also carry ``request_id``, read a ``"message"`` field (bug D6)
and are :class:`~daguito.errors.InvalidTokenError` for 401/403 and
:class:`~daguito.errors.RateLimitError` for 429. GET and DELETE are retried (connection errors,
429, 5xx, honouring ``Retry-After``); POST and PATCH never are.

The ``wire_*`` helpers read one field of a decoded body. They coerce what daguito-sdk coerced
(numbers to strings, numeric strings to numbers, ``null`` or an empty value to the field's empty
value) and raise :class:`DaguitoError` naming the field for a value of the wrong JSON type (text
where a number belongs, a string where an array belongs, an array entry that is not an object),
where daguito-sdk crashed with ``KeyError``, ``TypeError``, ``ValueError`` or
``AttributeError``, or sometimes silently read garbage (the characters of a string as a list).
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import httpx

from daguito._http import RETRY_IDEMPOTENT, decode_json, raise_for_status, request
from daguito.errors import (
    DaguitoError,
)
from relaywire.transport.http import RetryPolicy

__all__ = [
    "DaguitoError",
    "SharedClient",
    "call",
    "expect_object",
    "objects_in",
    "request_json",
    "wire_bool",
    "wire_float",
    "wire_int",
    "wire_int_map",
    "wire_list",
    "wire_object",
    "wire_objects",
    "wire_opt_float",
    "wire_opt_int",
    "wire_opt_object",
    "wire_opt_str",
    "wire_str",
    "wire_str_list",
]

_METHODS = frozenset({"GET", "DELETE", "POST", "PATCH"})
_WITH_BODY = frozenset({"POST", "PATCH"})
_IDEMPOTENT = frozenset({"GET", "DELETE"})


async def request_json(
    client: httpx.AsyncClient,
    method: str,
    url: str,
    *,
    body: dict[str, Any] | None = None,
    headers: Mapping[str, str] | None = None,
    timeout: float | httpx.Timeout | None = None,
    retry: RetryPolicy | None = RETRY_IDEMPOTENT,
) -> Any:
    """One admin request on ``client``; the decoded JSON body, or None for 204 or no body.

    ``headers``, ``timeout`` (a total deadline in seconds, or an ``httpx.Timeout``) and ``retry``
    (used for GET and DELETE only) are relaywire additions.
    """
    if method not in _METHODS:
        raise DaguitoError(f"unsupported method: {method}")
    payload = (body or {}) if method in _WITH_BODY else None
    response = await request(
        DaguitoError,
        method,
        url,
        client=client,
        headers=dict(headers) if headers else None,
        json=payload,
        timeout=timeout,
        retry=retry if method in _IDEMPOTENT else None,
    )
    raise_for_status(DaguitoError, response)
    if response.status_code == 204:
        return None
    return decode_json(DaguitoError, response)


class SharedClient:
    """The ``client_factory`` that :class:`daguito.Daguito` gives its services.

    The services recognise it and send every request on the one client ``get_client()`` returns
    (never closing it) with ``headers``, ``timeout`` and ``retry``. Called like daguito-sdk's
    zero-argument factory, it gives an async context manager that lends that client without
    closing it; the authorization headers are not on the lent client, :func:`call` adds them.
    """

    __slots__ = ("_get_client", "headers", "retry", "timeout")

    def __init__(
        self,
        get_client: Callable[[], httpx.AsyncClient],
        *,
        headers: Mapping[str, str],
        timeout: float | httpx.Timeout | None,
        retry: RetryPolicy,
    ) -> None:
        self._get_client = get_client
        self.headers = dict(headers)
        self.timeout = timeout
        self.retry = retry

    def client(self) -> httpx.AsyncClient:
        """The shared client (call it from a coroutine)."""
        return self._get_client()

    def __call__(self) -> AbstractAsyncContextManager[httpx.AsyncClient]:
        return self._lend()

    @asynccontextmanager
    async def _lend(self) -> AsyncIterator[httpx.AsyncClient]:
        yield self._get_client()


async def call(
    client_factory: Any, method: str, url: str, *, body: dict[str, Any] | None = None
) -> Any:
    """What every admin service method does: one :func:`request_json` on the shared client of a
    :class:`SharedClient`, or, for a plain zero-argument factory (daguito-sdk's contract), on a
    client made for this call and closed after it."""
    if isinstance(client_factory, SharedClient):
        return await request_json(
            client_factory.client(),
            method,
            url,
            body=body,
            headers=client_factory.headers,
            timeout=client_factory.timeout,
            retry=client_factory.retry,
        )
    async with client_factory() as client:
        return await request_json(client, method, url, body=body)


# -- decoding response bodies --------------------------------------------------------------------


def _describe(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return f"the number {value!r}"
    if isinstance(value, str):
        text = value if len(value) <= 40 else value[:37] + "..."
        return f"the string {text!r}"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _invalid(where: str, expected: str, value: Any) -> DaguitoError:
    return DaguitoError(f"invalid response: {where} must be {expected}, got {_describe(value)}")


def expect_object(data: Any, what: str) -> dict[str, Any]:
    """``data`` if it is a JSON object, else a :class:`DaguitoError` naming the route ``what``."""
    if isinstance(data, dict):
        return data
    raise DaguitoError(f"expected a JSON object from {what}, got {_describe(data)}")


def wire_str(data: Mapping[str, Any], key: str, where: str) -> str:
    """A string field; ``null`` or missing is ``""``, a number becomes its text."""
    value = data.get(key)
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)):
        return str(value)
    raise _invalid(f"{where}.{key}", "a string", value)


def wire_opt_str(data: Mapping[str, Any], key: str, where: str) -> str | None:
    """A nullable string field; a number becomes its text."""
    if data.get(key) is None:
        return None
    return wire_str(data, key, where)


def _to_int(value: Any, where: str) -> int:
    if isinstance(value, int):  # bool included: true counts as 1, as daguito-sdk did
        return int(value)
    if isinstance(value, float) and math.isfinite(value):
        return int(value)
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            pass
    raise _invalid(where, "an integer", value)


def wire_int(data: Mapping[str, Any], key: str, where: str, default: int = 0) -> int:
    """An integer field; ``null`` or missing is ``default``, a float is truncated."""
    value = data.get(key)
    return default if value is None else _to_int(value, f"{where}.{key}")


def wire_opt_int(data: Mapping[str, Any], key: str, where: str) -> int | None:
    """A nullable integer field."""
    value = data.get(key)
    return None if value is None else _to_int(value, f"{where}.{key}")


def _to_float(value: Any, where: str) -> float:
    if isinstance(value, (int, float)) and math.isfinite(value):
        return float(value)
    if isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            pass
        else:
            if math.isfinite(number):
                return number
    raise _invalid(where, "a finite number", value)


def wire_float(data: Mapping[str, Any], key: str, where: str, default: float = 0.0) -> float:
    """A number field; ``null`` or missing is ``default``."""
    value = data.get(key)
    return default if value is None else _to_float(value, f"{where}.{key}")


def wire_opt_float(data: Mapping[str, Any], key: str, where: str) -> float | None:
    """A nullable number field."""
    value = data.get(key)
    return None if value is None else _to_float(value, f"{where}.{key}")


_TRUE = frozenset({"true", "1", "yes"})
_FALSE = frozenset({"false", "0", "no", ""})


def wire_bool(data: Mapping[str, Any], key: str, where: str) -> bool:
    """A boolean field; ``null`` or missing is False, numbers and ``"true"``/``"false"`` too."""
    value = data.get(key)
    if value is None:
        return False
    if isinstance(value, (bool, int, float)):
        return bool(value)
    if isinstance(value, str):
        text = value.strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
    raise _invalid(f"{where}.{key}", "a boolean", value)


def wire_object(data: Mapping[str, Any], key: str, where: str) -> dict[str, Any]:
    """An object field; ``null``, missing or empty (``[]`` from some encoders) is ``{}``."""
    value = data.get(key)
    if not value:
        return {}
    if isinstance(value, dict):
        return value
    raise _invalid(f"{where}.{key}", "an object", value)


def wire_opt_object(data: Mapping[str, Any], key: str, where: str) -> dict[str, Any] | None:
    """A nullable object field (``null``, missing or empty non-object is None)."""
    value = data.get(key)
    if isinstance(value, dict):
        return value
    if not value:
        return None
    raise _invalid(f"{where}.{key}", "an object or null", value)


def wire_list(data: Mapping[str, Any], key: str, where: str) -> list[Any]:
    """An array field; ``null``, missing or empty is ``[]``."""
    value = data.get(key)
    if not value:
        return []
    if isinstance(value, list):
        return value
    raise _invalid(f"{where}.{key}", "an array", value)


def wire_str_list(data: Mapping[str, Any], key: str, where: str) -> list[str]:
    """An array of strings; entries that are not strings are dropped (as daguito-sdk did)."""
    return [item for item in wire_list(data, key, where) if isinstance(item, str)]


def wire_objects(data: Mapping[str, Any], key: str, where: str) -> list[dict[str, Any]]:
    """An array of objects; any other entry is an error."""
    return objects_in(wire_list(data, key, where), f"{where}.{key}")


def objects_in(items: list[Any], where: str) -> list[dict[str, Any]]:
    """``items`` if every entry is an object, else a :class:`DaguitoError` naming the first."""
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            raise _invalid(f"{where}[{index}]", "an object", item)
    return items


def wire_int_map(data: Mapping[str, Any], key: str, where: str) -> dict[str, int]:
    """An object of counts; entries whose value is not a number are dropped (as daguito-sdk
    did), numeric strings are read."""
    result: dict[str, int] = {}
    for name, value in wire_object(data, key, where).items():
        if value is None or isinstance(value, (dict, list)):
            continue
        try:
            result[str(name)] = _to_int(value, where)
        except DaguitoError:
            continue
    return result
