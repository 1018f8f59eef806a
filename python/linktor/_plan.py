"""One implementation per API method, run by a sync or an async executor.

A resource method is written once, as a *plan*: a generator that yields :class:`Request`
descriptions, receives each :class:`Reply`, and returns the method's result. It does no I/O, so
the same plan runs under :class:`~linktor.utils.http.HttpClient` (blocking) and
:class:`~linktor.utils.http.AsyncHttpClient` (awaiting). A plan may send several requests (the
self-hosted server sometimes needs two calls where the SDK protocol needs one), and errors raised
by a request are thrown back into the plan, which may handle them or let them propagate.

The :class:`operation` and :class:`paginated` descriptors turn a plan-returning method of a shared
resource class into a blocking method on a sync resource (``SyncResource``) and a coroutine
method on an async one (``AsyncResource``), with the same name, parameters and docstring. Their
``__get__`` overloads give type checkers the exact signature of each twin.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import (
    AsyncIterator,
    Callable,
    Coroutine,
    Generator,
    Iterator,
    Mapping,
    Sequence,
)
from dataclasses import dataclass, field
from typing import Any, Concatenate, Generic, ParamSpec, Protocol, TypeVar, overload

from linktor.types._base import LinktorModel

__all__ = [
    "AsyncResource",
    "AsyncTransport",
    "Pages",
    "Plan",
    "Reply",
    "Request",
    "SyncResource",
    "SyncTransport",
    "drive_async",
    "drive_sync",
    "operation",
    "paginated",
]

P = ParamSpec("P")
T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)

#: Query parameters as (name, value) pairs, already encoded for the wire.
QueryParams = Sequence[tuple[str, str]]
#: ``files=`` for httpx: field name -> (file name, bytes, content type).
Files = Mapping[str, tuple[str, bytes, str]]


@dataclass(frozen=True, slots=True)
class Request:
    """One HTTP request of a plan: everything but the base URL, the credentials and the pool.

    ``content`` is an already encoded JSON body (``json_body`` says so, for the Content-Type);
    ``files``/``form`` make a multipart body. ``idempotency_key`` lets the transport retry a
    non-idempotent method safely.
    """

    method: str
    path: str
    params: QueryParams | None = None
    content: bytes | None = None
    files: Files | None = None
    form: Mapping[str, str] | None = None
    idempotency_key: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)

    @property
    def json_body(self) -> bool:
        return self.content is not None


@dataclass(frozen=True, slots=True)
class Reply:
    """A successful (< 400) HTTP answer, read in full."""

    status: int
    content: bytes
    headers: Mapping[str, str]
    method: str
    url: str

    @property
    def request_id(self) -> str | None:
        return self.headers.get("x-request-id")


#: A method's plan: yields requests, receives replies, returns the result.
Plan = Generator[Request, Reply, T]


def drive_sync(plan: Plan[T], execute: Callable[[Request], Reply]) -> T:
    """Run ``plan`` to its result, executing each request with ``execute``."""
    reply: Reply | None = None
    try:
        request = next(plan)
        while True:
            try:
                reply = execute(request)
            except Exception as exc:  # the plan may handle it; if not, it comes back out
                request = plan.throw(exc)
            else:
                request = plan.send(reply)
    except StopIteration as stop:
        result: T = stop.value
        return _stamped(result, reply)


async def drive_async(plan: Plan[T], execute: Callable[[Request], Coroutine[Any, Any, Reply]]) -> T:
    """The awaiting twin of :func:`drive_sync`."""
    reply: Reply | None = None
    try:
        request = next(plan)
        while True:
            try:
                reply = await execute(request)
            except Exception as exc:
                request = plan.throw(exc)
            else:
                request = plan.send(reply)
    except StopIteration as stop:
        result: T = stop.value
        return _stamped(result, reply)


def _stamped(result: T, reply: Reply | None) -> T:
    """``result``, with the request id of the answer it came from as ``_request_id`` when it is
    a model: an instance attribute, not a pydantic field (not dumped, not compared)."""
    if reply is not None and isinstance(result, LinktorModel):
        object.__setattr__(result, "_request_id", reply.request_id)
    return result


class SyncTransport(Protocol):
    """What a sync resource needs from its HTTP client."""

    @property
    def dialect(self) -> Any: ...

    def execute(self, request: Request) -> Reply: ...


class AsyncTransport(Protocol):
    """What an async resource needs from its HTTP client."""

    @property
    def dialect(self) -> Any: ...

    async def execute(self, request: Request) -> Reply: ...


class SyncResource:
    """Base of the blocking resource classes: methods run their plan on ``_http``."""

    _http: SyncTransport

    def __init__(self, http: SyncTransport) -> None:
        self._http = http

    def _run(self, plan: Plan[T]) -> T:
        return drive_sync(plan, self._http.execute)


class AsyncResource:
    """Base of the async resource classes: methods are coroutines awaiting ``_http``."""

    _http: AsyncTransport

    def __init__(self, http: AsyncTransport) -> None:
        self._http = http

    async def _run(self, plan: Plan[T]) -> T:
        return await drive_async(plan, self._http.execute)


class operation(Generic[P, T]):
    """Decorate a plan-returning method of a shared resource class.

    On a :class:`SyncResource` the attribute is a function returning ``T``; on an
    :class:`AsyncResource` it is a coroutine function returning ``T``. The bound function is
    cached in the instance ``__dict__``, so later lookups cost a plain attribute read.
    """

    def __init__(self, fn: Callable[Concatenate[Any, P], Plan[T]]) -> None:
        self.plan = fn
        self.name = fn.__name__
        functools.update_wrapper(self, fn)  # type: ignore[arg-type]

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    @overload
    def __get__(self, obj: None, owner: type | None = None) -> operation[P, T]: ...
    @overload
    def __get__(self, obj: SyncResource, owner: type | None = None) -> Callable[P, T]: ...
    @overload
    def __get__(
        self, obj: AsyncResource, owner: type | None = None
    ) -> Callable[P, Coroutine[Any, Any, T]]: ...
    def __get__(self, obj: object, owner: type | None = None) -> Any:
        if obj is None:
            return self
        fn = self.plan
        bound: Callable[..., Any]
        if isinstance(obj, AsyncResource):
            run_async = obj._run

            async def bound_async(*args: Any, **kwargs: Any) -> Any:
                return await run_async(fn(obj, *args, **kwargs))

            bound = bound_async
        elif isinstance(obj, SyncResource):
            run_sync = obj._run

            def bound_sync(*args: Any, **kwargs: Any) -> Any:
                return run_sync(fn(obj, *args, **kwargs))

            bound = bound_sync
        else:
            raise TypeError(f"{self.name}() needs a sync or an async resource, not {obj!r}")
        _present_as(bound, fn)
        obj.__dict__[self.name] = bound
        return bound


@dataclass
class Pages(Generic[T_co]):
    """What an auto-paginating method returns from its shared body: how to fetch one page
    (a plan from query parameters to a page) and the caller's first parameters."""

    fetch: Callable[[dict[str, Any]], Plan[Any]]
    params: dict[str, Any]


class paginated(Generic[P, T]):
    """Decorate a method returning :class:`Pages`: an iterator over every item of every page on
    a sync resource, an async iterator on an async resource (use ``async for``)."""

    def __init__(self, fn: Callable[Concatenate[Any, P], Pages[T]]) -> None:
        self.pages = fn
        self.name = fn.__name__
        functools.update_wrapper(self, fn)  # type: ignore[arg-type]

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    @overload
    def __get__(self, obj: None, owner: type | None = None) -> paginated[P, T]: ...
    @overload
    def __get__(self, obj: SyncResource, owner: type | None = None) -> Callable[P, Iterator[T]]: ...
    @overload
    def __get__(
        self, obj: AsyncResource, owner: type | None = None
    ) -> Callable[P, AsyncIterator[T]]: ...
    def __get__(self, obj: object, owner: type | None = None) -> Any:
        if obj is None:
            return self
        from linktor._pagination import iterate_async, iterate_sync

        fn = self.pages
        bound: Callable[..., Any]
        if isinstance(obj, AsyncResource):
            run_async = obj._run

            def bound_async(*args: Any, **kwargs: Any) -> AsyncIterator[Any]:
                return iterate_async(fn(obj, *args, **kwargs), run_async)

            bound = bound_async
        elif isinstance(obj, SyncResource):
            run_sync = obj._run

            def bound_sync(*args: Any, **kwargs: Any) -> Iterator[Any]:
                return iterate_sync(fn(obj, *args, **kwargs), run_sync)

            bound = bound_sync
        else:
            raise TypeError(f"{self.name}() needs a sync or an async resource, not {obj!r}")
        _present_as(bound, fn)
        obj.__dict__[self.name] = bound
        return bound


@functools.cache
def _public_signature(fn: Callable[..., Any]) -> inspect.Signature:
    """``fn``'s signature without ``self`` (and without the plan's return annotation)."""
    signature = inspect.signature(fn)
    parameters = list(signature.parameters.values())[1:]
    return signature.replace(parameters=parameters, return_annotation=inspect.Signature.empty)


def _present_as(bound: Callable[..., Any], fn: Callable[..., Any]) -> None:
    """Give ``bound`` the name, docstring and (``self``-less) signature of ``fn``."""
    functools.update_wrapper(bound, fn)
    del bound.__wrapped__  # type: ignore[attr-defined]
    bound.__signature__ = _public_signature(fn)  # type: ignore[attr-defined]
